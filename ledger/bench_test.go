package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/ledger/ledgertest"
)

// BenchmarkLedger measures the ledger's overhead per record in a
// 100,000-order run sent in batches of 100, as the engine does it: Lookup,
// Begin and Record per batch. The first iteration writes new keys; later
// ones update existing keys with new hashes. Run it with -benchtime=1x (one
// run) or a few x; the metric is µs/record.
func BenchmarkLedger(b *testing.B) {
	const orders, batchSize = 100_000, 100
	for _, d := range ledgertest.Dialects {
		b.Run(d.Name, func(b *testing.B) {
			ctx := context.Background()
			s, err := ledger.Open(ctx, d.DSN(b))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			keys := make([]string, orders)
			for i := range keys {
				keys[i] = fmt.Sprintf("1%011d/1", i)
			}
			var tLookup, tBegin, tRecord time.Duration
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				run, err := s.StartRun(ctx, "bench", ledger.TriggerCLI, time.Now())
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < orders; i += batchSize {
					batch := keys[i : i+batchSize]
					t := time.Now()
					if _, err := s.Lookup(ctx, "bench", "futureshop", batch); err != nil {
						b.Fatal(err)
					}
					tLookup += time.Since(t)
					sends := make([]ledger.Send, len(batch))
					outs := make([]ledger.Outcome, len(batch))
					for j, k := range batch {
						payload, hash, _ := engine.EncodePayload(map[string]any{
							"invoice_no": fmt.Sprint(n, "-", k), "shipping_date": "2026-11-27", "expected_arrival": "",
						})
						sends[j] = ledger.Send{Key: k, Hash: hash, Payload: payload}
						outs[j] = ledger.Outcome{Key: k, Status: ledger.StatusOK}
					}
					t = time.Now()
					if err := s.Begin(ctx, run, "bench", "futureshop", sends); err != nil {
						b.Fatal(err)
					}
					tBegin += time.Since(t)
					t = time.Now()
					if err := s.Record(ctx, run, "bench", "futureshop", outs); err != nil {
						b.Fatal(err)
					}
					tRecord += time.Since(t)
				}
				if err := s.FinishRun(ctx, run, time.Now(), ledger.Counts{Sent: orders, OK: orders}, ""); err != nil {
					b.Fatal(err)
				}
			}
			records := float64(b.N * orders)
			b.ReportMetric(float64(b.Elapsed().Microseconds())/records, "µs/record")
			b.ReportMetric(float64(tLookup.Microseconds())/records, "lookup-µs/record")
			b.ReportMetric(float64(tBegin.Microseconds())/records, "begin-µs/record")
			b.ReportMetric(float64(tRecord.Microseconds())/records, "record-µs/record")
		})
	}
}
