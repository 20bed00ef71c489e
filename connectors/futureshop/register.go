package futureshop

import "github.com/goqsync/runner/engine"

// Register adds the source and the destination "futureshop" to r.
func Register(r *engine.Registry) {
	r.Sources["futureshop"] = NewSource
	r.Destinations["futureshop"] = NewDestination
}
