package goq

import "github.com/goqsync/runner/engine"

// Register adds the goq_csv source and destination to r.
func Register(r *engine.Registry) {
	r.Sources["goq_csv"] = NewSource
	r.Destinations["goq_csv"] = NewDestination
}
