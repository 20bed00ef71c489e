// Package enginetest is an in-memory harness for the engine's own tests: a
// Source of scripted records, a Destination whose Conn answers as a test
// scripts it and records every call, and a map-backed Ledger that keeps the
// real ledger's rules (locks, begin before send, outcome to status, staged
// commits, adoption, run history). Register puts the source and destination
// in a Registry as "test", so that a job file in a test can name them.
//
// It is for tests only. It is not a model of any real connector: it has no
// network, files or retries, and nothing it does is meant to be fast. The
// Ledger keeps no payload history and no attempts beyond a count, and runs
// no migrations; package ledger is the real one.
package enginetest
