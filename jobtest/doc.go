// Package jobtest runs the tests of job files: *.test.hcl files next to
// the jobs, in the spirit of terraform test. Each run block names a job, pins
// its clock, gives it variables and an input (rows of a GoQ export, or the
// orders of a futureshop test shop) and says what must become of each order:
// sent with a payload, excluded by a filter, an error; with command = "run",
// also what the shop was asked and holds afterwards.
//
// Load parses and checks test files against the jobs beside them, with the
// engine's diagnostics; Suite.Run runs them, and Report writes the results
// in go test's forms, text or test2json.
package jobtest
