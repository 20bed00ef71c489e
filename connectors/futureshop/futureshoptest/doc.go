// Package futureshoptest provides a fake futureshop admin API for tests
// and demos, in the spirit of net/http/httptest.
//
// NewServer starts it on 127.0.0.1 (or on a listener of the caller's,
// WithListener) over an in-memory shop that callers seed (AddOrder, Seed,
// SampleOrders, LoadState), inspect (Order, Orders, SaveState, and the
// request log Requests, or WithRequestLog as requests are answered). It serves the token endpoint, the order search with cursor
// paging through nextUrl, order detail, the 発送API and the 処理済み API,
// and is strict where the real service is: Bearer token and X-SHOP-KEY on
// every call, exact JSON shapes (unknown keys in requests are rejected; the
// answers have the shapes of bodies captured from the real API: the search
// nests shippingInfo and lists no productNo, the detail is flat), byte limits,
// at most 100 orders per update, token expiry and a request budget answered
// with 429 and Retry-After. Faults can be injected: 5xx and 503 answers,
// slow responses, malformed JSON, per-order failures, and store-pickup
// shipments that fail with CannotUpdateStorePickup.
//
// It is not futureshop: where the public API material is silent (the status
// enum, the page size, the exact codes of validation errors) it makes a
// documented choice, and a client passing against it must still be tried
// against the real service.
package futureshoptest
