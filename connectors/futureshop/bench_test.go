package futureshop

import (
	"context"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
)

// BenchmarkShippingExport10k ships and completes 10,000 orders against the
// test server, client and server both at benchRate requests per second.
// Each 100 orders cost two calls (shipping, complete), so the rate allows
// benchRate×50 orders/s; "ratio" is the share of that the export reaches.
//
//	go test -run '^$' -bench ShippingExport10k ./connectors/futureshop/
func BenchmarkShippingExport10k(b *testing.B) {
	const (
		n         = 10000
		benchRate = 50.0
	)
	srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(benchRate, 2))
	defer srv.Close()
	payloads := shipped(seed(srv, n))
	d := newDest(b, srv, "", true) // rate_limit = testRate
	if d.cfg.rateLimit != benchRate {
		b.Fatalf("client rate %v, want %v", d.cfg.rateLimit, benchRate)
	}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		failed, err := export(ctx, b, d, payloads)
		if err != nil || len(failed) > 0 {
			b.Fatalf("export: %v, %d failed", err, len(failed))
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	perSec := float64(n*b.N) / elapsed.Seconds()
	b.ReportMetric(perSec, "orders/s")
	b.ReportMetric(perSec/(benchRate*maxOrdersPerUpdate/2), "ratio")
	for _, r := range srv.Requests() {
		if r.Status == 429 {
			b.Fatalf("the server refused a request with 429: the client exceeded the rate")
		}
	}
}
