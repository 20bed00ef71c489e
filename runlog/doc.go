// Package runlog is how the runner tells an operator about its runs: one
// log/slog logger, text or JSON lines on standard error with the trace id
// of the span in the context, and a run's progress, as a line rewritten in
// place on a terminal or as a log line every few seconds elsewhere.
//
// What a command produces (a plan, a run's summary, -json output) is not a
// log and does not go through here.
package runlog
