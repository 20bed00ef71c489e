// Package engine turns HCL job files into compiled jobs and runs them.
//
// A job reads records from a source connector, keeps those that pass every
// named filter, maps each to a destination payload, sends payloads in
// batches and applies post-export actions to those that succeeded. Filters
// and mappings are expr-lang expressions compiled once at load against the
// source's declared fields, so mistakes surface in validate, not at run time.
//
// The engine knows no connector by name: connectors declare their fields and
// decode their own configuration, and main registers them in a Registry. It
// is not an HTTP client, a CSV parser or a scheduler.
package engine
