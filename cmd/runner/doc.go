// Command runner validates, formats, plans and runs HCL job files that
// move order data between GoQSystem and futureshop, and serves them on a
// schedule.
//
// This package only wires things up: flags, settings from the
// environment (RUNNER_*), tracing, the ledger, and the connectors job files
// may name. What a job means lives in package engine; how each system is
// spoken to lives in the connectors.
package main
