// Package reconcile checks, after runs, that a destination still holds what
// the ledger says it accepted: staff edit tracking numbers in the shop's
// admin, another tool may overwrite them.
//
// Check lists the job's accepted ledger entries of a window, reads the
// destination's current values for all of them through its Reader (for
// futureshop, the order search, a batch of order numbers a call), and
// reports each record as in sync, drifted (field, value sent, value held
// now), not completed (a post-export action of the job, such as 処理済み, no
// longer holds) or missing. Requeue marks what drifted in the ledger, so
// that the engine's unchanged rule no longer skips it and the next run sends
// it again.
//
// It never writes to the destination, takes no lock (its caller does) and
// decides nothing about sending: that is the engine's.
package reconcile
