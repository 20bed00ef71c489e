package goq

import "github.com/goqsync/runner/engine"

// Len implements engine.Sized: the rows the first pass found with an order
// number, each a record (a superseded row is read and skipped), so that a
// run's progress can say how much is left.
func (r *Rows) Len() int { return r.sv.rows }

var _ engine.Sized = (*Rows)(nil)
