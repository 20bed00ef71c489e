// Package parked retries and resolves parked records: the checks and the
// lock that `runner retry`, `runner resolve` and serve's console share, so
// that a person pressing a button and a person typing a command are held
// to the same rules.
//
// It is not the ledger (which stores the entries) nor a run: it changes
// entries only while holding the job's lock, so that a run in flight never
// has its outcomes changed under it.
package parked
