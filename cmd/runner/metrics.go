package main

import (
	"crypto/subtle"
	"fmt"
	"net/http"

	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/metrics"
)

// serveMetrics adds GET /metrics, in Prometheus text format, to serve's
// API, behind the API's token when one is set: job names and counts are
// not for anyone on the network.
func serveMetrics(api http.Handler, mp *metrics.Provider, token string) http.Handler {
	h := mp.Handler()
	if h == nil {
		return api
	}
	if token != "" {
		want := []byte("Bearer " + token)
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="runner"`)
				http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	mux.Handle("/", api)
	return mux
}

// observeLedger publishes the gauges read from serve's ledger for as long
// as serve runs; jobs lists the loaded jobs.
func (c *cli) observeLedger(st *ledger.Store, jobs func() []string) func() {
	stop, err := metrics.ObserveLedger(c.metrics.MeterProvider(), st, jobs)
	if err != nil {
		// Metrics are for watching; serve runs the jobs without them.
		fmt.Fprintf(c.stderr, "runner serve: metrics: %v\n", err)
		return func() {}
	}
	return func() { stop() }
}
