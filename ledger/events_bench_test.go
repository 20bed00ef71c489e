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

// BenchmarkEvents measures what the story costs for 100,000 orders: one
// run sends them all (Begin and Record in batches of 100, the events
// written in the same transactions), then one run reads them all
// unchanged (Note), which must add no row. It reports the events table's
// size with its indexes, bytes per event, and the time each run spent in
// the calls. Run it with -benchtime=1x:
//
//	go test ./ledger -run '^$' -bench BenchmarkEvents -benchtime=1x
func BenchmarkEvents(b *testing.B) {
	const orders, batchSize = 100_000, 100
	for _, d := range ledgertest.Dialects {
		b.Run(d.Name, func(b *testing.B) {
			ctx := context.Background()
			s, err := ledger.Open(ctx, d.DSN(b))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var tSend, tNote time.Duration
			for n := 0; n < b.N; n++ {
				run, err := s.StartRun(ctx, "bench", ledger.TriggerCLI, time.Now())
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				for i := 0; i < orders; i += batchSize {
					sends := make([]ledger.Send, batchSize)
					outs := make([]ledger.Outcome, batchSize)
					for j := range sends {
						no := fmt.Sprintf("1%011d", i+j)
						// The shipping example's payload, as the ledger keeps it.
						payload, hash, _ := engine.EncodePayload(map[string]any{"order_no": no,
							"invoice_no": fmt.Sprintf("%012d", n*orders+i+j), "shipping_date": "2026-11-27", "expected_arrival": ""})
						sends[j] = ledger.Send{Key: no + "/1", Label: no, Hash: hash, Payload: payload}
						outs[j] = ledger.Outcome{Key: no + "/1", Status: ledger.StatusOK}
					}
					if err := s.Begin(ctx, run, "bench", "futureshop", sends); err != nil {
						b.Fatal(err)
					}
					if err := s.Record(ctx, run, "bench", "futureshop", outs); err != nil {
						b.Fatal(err)
					}
				}
				tSend += time.Since(start)

				again, err := s.StartRun(ctx, "bench", ledger.TriggerCLI, time.Now())
				if err != nil {
					b.Fatal(err)
				}
				start = time.Now()
				notes := make([]ledger.Note, 0, 1000)
				for i := 0; i < orders; i++ {
					no := fmt.Sprintf("1%011d", i)
					notes = append(notes, ledger.Note{Label: no, Key: no + "/1", Event: ledger.EventUnchanged})
					if len(notes) == cap(notes) {
						if err := s.Note(ctx, again, "bench", "futureshop", notes); err != nil {
							b.Fatal(err)
						}
						notes = notes[:0]
					}
				}
				tNote += time.Since(start)
			}
			b.StopTimer()
			var rows int64
			if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM ledger_events`).Scan(&rows); err != nil {
				b.Fatal(err)
			}
			if rows != int64(b.N*orders) {
				b.Errorf("%d events, want %d: the unchanged run added some", rows, b.N*orders)
			}
			size := tableSize(b, s, d.Name)
			b.ReportMetric(float64(size)/float64(rows), "bytes/event")
			if d.Name == "postgres" {
				// Turning pending into the outcome leaves a dead row version
				// until autovacuum makes its space reusable; this is the size
				// without them.
				if _, err := s.DB().ExecContext(ctx, `VACUUM FULL ledger_events`); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(tableSize(b, s, d.Name))/float64(rows), "bytes/event-vacuumed")
			}
			b.ReportMetric(float64(size)/float64(b.N)/1e6, "MB/100k-orders")
			b.ReportMetric(float64(tSend.Microseconds())/float64(b.N*orders), "send-µs/order")
			b.ReportMetric(float64(tNote.Microseconds())/float64(b.N*orders), "unchanged-µs/order")
		})
	}
}

// tableSize is the bytes ledger_events and its indexes take.
func tableSize(b *testing.B, s *ledger.Store, dialect string) int64 {
	ctx := context.Background()
	var size int64
	q := `SELECT pg_total_relation_size('ledger_events')`
	if dialect == "sqlite" {
		q = `SELECT sum(pgsize) FROM dbstat WHERE name = 'ledger_events' OR name LIKE 'ledger_events_%'`
	}
	if err := s.DB().QueryRowContext(ctx, q).Scan(&size); err != nil {
		b.Fatalf("size of ledger_events: %v", err)
	}
	return size
}
