// Package futureshop connects the runner to futureshop's admin API (v2).
//
// It provides the destination "futureshop", which writes ship dates,
// tracking numbers and arrival dates through the 発送API and can move orders
// to 処理済み afterwards, and the source "futureshop", which reads recent
// orders through the order search, one record per product line. Register
// adds both to an engine.Registry.
//
// The client under them keeps to the shop's request budget: one rate
// limiter per set of credentials is shared by every job in the process,
// retries back off with jitter and honour Retry-After, every call has a
// timeout and its own OpenTelemetry span. It sends only the fields a job
// maps, because futureshop blanks a field sent as "". Secrets never appear
// in errors or spans.
//
// Names the public API material leaves unconfirmed (the carrier key, the
// status enum, the page size parameter, the points API) live in api.go.
//
// This package is not a general futureshop SDK: it covers the calls the two
// sync flows need. It does not activate buyers' points; it reports the
// orders whose points need a person (see the destination's Caveat).
// A fake of the service for tests and demos is in package futureshoptest.
package futureshop
