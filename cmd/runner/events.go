package main

import (
	"context"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
)

// Note hands the ledger what a run made of the records it did not send;
// the ledger keeps each only when it changed.
func (l engineLedger) Note(ctx context.Context, run int64, job, dest string, notes []engine.LedgerNote) error {
	out := make([]ledger.Note, 0, len(notes))
	for _, n := range notes {
		ln := ledger.Note{Label: n.Label, Key: n.Key, Reason: n.Reason}
		switch n.Status {
		case engine.Unchanged:
			ln.Event = ledger.EventUnchanged
		case engine.Excluded:
			ln.Event = ledger.EventExcluded
		case engine.Skipped:
			ln.Event = ledger.EventSkipped
		case engine.Parked:
			ln.Event, ln.Reason = ledger.EventSkipped, "parked: "+n.Reason
		case engine.Invalid:
			ln.Event = ledger.EventError
		default:
			continue
		}
		out = append(out, ln)
	}
	return l.s.Note(ctx, run, job, dest, out)
}
