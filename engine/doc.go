// Package engine turns HCL job files into compiled jobs and runs them.
//
// A job reads records from a source connector, keeps those that pass every
// named filter, maps each to a destination payload, sends payloads in
// batches and applies post-export actions to those that succeeded. Filters
// and mappings are expr-lang expressions compiled once at load against the
// source's declared fields, so mistakes surface in validate, not at run time.
//
// A record's path, one stage a file:
//
//	load         load.go       files and paths → HCL bodies; variables.go: variable blocks and values
//	decode       decode.go     job blocks → Job, connectors built through the Registry (connector.go);
//	                           foreach.go: a block's for_each → one Job per key, shipping["a"]
//	compile      compile.go    filter and map expressions → programs, type-checked; funcs.go: helpers
//	stream       stream.go     the source loop: a record at a time
//	eval         eval.go       filters and mappings → Item (record.go: Status, Item, Counts)
//	batch        batch.go      Items → batches, the ledger's begin (ledger.go)
//	send         batch.go      Conn.Write, then the ledger's record
//	after_export batch.go      applyActions, on what the destination accepted
//
// run.go drives a run (locks, stop, summary); plan.go prints what a run
// would do from the same stream and eval, sending nothing. savedplan.go
// keeps a plan in a file (plan -out) and apply.go sends exactly it, through
// the same batches, once its premises are checked. share.go lets
// runs at once read one pass of a shared source (SharePasses).
//
// The engine knows no connector by name: connectors declare their fields and
// decode their own configuration, and main registers them in a Registry. It
// is not an HTTP client, a CSV parser or a scheduler.
package engine
