package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/ledger/ledgertest"
)

const (
	job  = "shipping-to-futureshop"
	dest = "futureshop"
)

var t0 = time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)

func open(t *testing.T, dsn string) *ledger.Store {
	t.Helper()
	s, err := ledger.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func send(key string, values map[string]any) ledger.Send {
	payload, hash, err := engine.EncodePayload(values)
	if err != nil {
		panic(err)
	}
	return ledger.Send{Key: key, Hash: hash, Payload: payload}
}

// batch runs one batch through the ledger as the engine does: Begin, then
// Record with the given statuses.
func batch(t *testing.T, s *ledger.Store, runID int64, sends []ledger.Send, statuses ...string) {
	t.Helper()
	ctx := context.Background()
	if err := s.Begin(ctx, runID, job, dest, sends); err != nil {
		t.Fatalf("Begin: %v", err)
	}
	var outs []ledger.Outcome
	for i, sd := range sends {
		o := ledger.Outcome{Key: sd.Key, Status: statuses[i]}
		if o.Status != ledger.StatusOK {
			o.Code, o.Message = "CannotUpdateStorePickup", "store pickup"
		}
		outs = append(outs, o)
	}
	if err := s.Record(ctx, runID, job, dest, outs); err != nil {
		t.Fatalf("Record: %v", err)
	}
}

func lookup(t *testing.T, s *ledger.Store, keys ...string) map[string]ledger.Entry {
	t.Helper()
	got, err := s.Lookup(context.Background(), job, dest, keys)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	return got
}

func startRun(t *testing.T, s *ledger.Store, name, trigger string, at time.Time) int64 {
	t.Helper()
	id, err := s.StartRun(context.Background(), name, trigger, at)
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	return id
}

var cases = []struct {
	name string
	fn   func(t *testing.T, dsn string)
}{
	{"skip-unchanged", func(t *testing.T, dsn string) {
		s := open(t, dsn)
		a := send("100000001201/1", map[string]any{"invoice_no": "1234-5678-9012", "shipping_date": "2026-11-27"})
		b := send("100000001202/1", map[string]any{"invoice_no": "", "shipping_date": "2026-11-27"})
		run := startRun(t, s, job, ledger.TriggerSchedule, t0)
		batch(t, s, run, []ledger.Send{a, b}, ledger.StatusOK, ledger.StatusOK)

		// Same values in another map order: same hash.
		a2 := send(a.Key, map[string]any{"shipping_date": "2026-11-27", "invoice_no": "1234-5678-9012"})
		// A changed tracking number is sent again.
		b2 := send(b.Key, map[string]any{"invoice_no": "9999", "shipping_date": "2026-11-27"})
		got := lookup(t, s, a.Key, b.Key, "unknown")
		if len(got) != 2 {
			t.Fatalf("Lookup returned %d entries, want 2: %v", len(got), got)
		}
		if !unchanged(got[a.Key], a2.Hash) {
			t.Errorf("%s: not unchanged: %+v", a.Key, got[a.Key])
		}
		if unchanged(got[b.Key], b2.Hash) {
			t.Errorf("%s: unchanged despite a new tracking number", b.Key)
		}
		if e := got[a.Key]; string(e.Payload) != string(a.Payload) || e.Attempts != 1 || e.RunID != run {
			t.Errorf("entry = %+v", e)
		}
	}},
	{"retry-failed", func(t *testing.T, dsn string) {
		s := open(t, dsn)
		a := send("A/1", map[string]any{"invoice_no": "1"})
		run1 := startRun(t, s, job, ledger.TriggerSchedule, t0)
		batch(t, s, run1, []ledger.Send{a}, ledger.StatusFailed)
		e := lookup(t, s, a.Key)[a.Key]
		if e.Status != ledger.StatusFailed || unchanged(e, a.Hash) || e.Code == "" || e.Attempts != 1 {
			t.Fatalf("after failure: %+v", e)
		}
		run2 := startRun(t, s, job, ledger.TriggerSchedule, t0.Add(10*time.Minute))
		batch(t, s, run2, []ledger.Send{a}, ledger.StatusOK)
		e = lookup(t, s, a.Key)[a.Key]
		if e.Status != ledger.StatusOK || !unchanged(e, a.Hash) || e.Code != "" || e.Attempts != 2 || e.RunID != run2 {
			t.Fatalf("after retry: %+v", e)
		}
		if !e.FirstAt.Before(e.LastAt) && !e.FirstAt.Equal(e.LastAt) {
			t.Errorf("first_at %v after last_at %v", e.FirstAt, e.LastAt)
		}
	}},
	{"park-permanent-and-retry", func(t *testing.T, dsn string) {
		s := open(t, dsn)
		ctx := context.Background()
		a, b, c := send("A/1", map[string]any{"x": 1}), send("B/1", map[string]any{"x": 2}), send("C/1", map[string]any{"x": 3})
		run := startRun(t, s, job, ledger.TriggerCLI, t0)
		batch(t, s, run, []ledger.Send{a, b, c}, ledger.StatusParked, ledger.StatusParked, ledger.StatusOK)
		if err := s.Record(ctx, 0, "other-job", dest, []ledger.Outcome{{Key: "Z/1", Status: ledger.StatusParked, Code: "TooMany"}}); err != nil {
			t.Fatal(err)
		}

		parked, err := s.Parked(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if len(parked) != 2 || parked[0].Key != "A/1" || parked[1].Key != "B/1" || parked[0].Code != "CannotUpdateStorePickup" {
			t.Fatalf("Parked(job) = %+v", parked)
		}
		if all, err := s.Parked(ctx, ""); err != nil || len(all) != 3 {
			t.Fatalf("Parked(\"\") = %d entries, %v; want 3", len(all), err)
		}

		if n, err := s.Retry(ctx, job, []string{"A/1", "C/1", "nope"}); err != nil || n != 1 {
			t.Fatalf("Retry(A, C, nope) = %d, %v; want 1 (C is ok, not parked)", n, err)
		}
		if n, err := s.Retry(ctx, job, nil); err != nil || n != 1 {
			t.Fatalf("Retry(all) = %d, %v; want 1", n, err)
		}
		if n, err := s.Retry(ctx, job, nil); err != nil || n != 0 {
			t.Fatalf("second Retry(all) = %d, %v; want 0", n, err)
		}
		got := lookup(t, s, a.Key, b.Key, c.Key)
		for k, want := range map[string]string{a.Key: "failed", b.Key: "failed", c.Key: "ok"} {
			if got[k].Status != want {
				t.Errorf("%s: status %s, want %s", k, got[k].Status, want)
			}
		}
		if p, _ := s.Parked(ctx, "other-job"); len(p) != 1 {
			t.Errorf("Retry of %s touched other-job", job)
		}
		if err := s.Record(ctx, 0, job, dest, []ledger.Outcome{{Key: "A/1", Status: "weird"}}); err == nil {
			t.Error("Record accepted an invalid status")
		}
	}},
	{"pending-after-crash", func(t *testing.T, dsn string) {
		ctx := context.Background()
		s, err := ledger.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		a := send("A/1", map[string]any{"invoice_no": "1"})
		b := send("B/1", map[string]any{"invoice_no": "2"})
		run := startRun(t, s, job, ledger.TriggerSchedule, t0)
		batch(t, s, run, []ledger.Send{a}, ledger.StatusOK)
		// Second run changes a; the process dies after Begin, before Record
		// (the request may or may not have reached futureshop).
		a2 := send(a.Key, map[string]any{"invoice_no": "1b"})
		run2 := startRun(t, s, job, ledger.TriggerSchedule, t0.Add(time.Minute))
		if err := s.Begin(ctx, run2, job, dest, []ledger.Send{a2, b}); err != nil {
			t.Fatal(err)
		}
		s.Close()

		s = open(t, dsn)
		got := lookup(t, s, a.Key, b.Key)
		for _, sd := range []ledger.Send{a2, b} {
			e := got[sd.Key]
			if e.Status != ledger.StatusPending || e.Hash != sd.Hash || unchanged(e, sd.Hash) || e.RunID != run2 {
				t.Errorf("%s after crash: %+v", sd.Key, e)
			}
		}
		if e := got[a.Key]; e.Attempts != 1 {
			t.Errorf("attempts = %d, want 1 (Begin does not count)", e.Attempts)
		}
		r, err := s.Run(ctx, run2)
		if err != nil || !r.EndedAt.IsZero() {
			t.Errorf("killed run = %+v, %v; want no end", r, err)
		}
		// The rerun sends both and proves them accepted.
		run3 := startRun(t, s, job, ledger.TriggerSchedule, t0.Add(2*time.Minute))
		batch(t, s, run3, []ledger.Send{a2, b}, ledger.StatusOK, ledger.StatusOK)
		got = lookup(t, s, a.Key, b.Key)
		if !unchanged(got[a.Key], a2.Hash) || !unchanged(got[b.Key], b.Hash) {
			t.Errorf("after rerun: %+v", got)
		}
	}},
	{"history", func(t *testing.T, dsn string) {
		s := open(t, dsn)
		ctx := context.Background()
		r1 := startRun(t, s, job, ledger.TriggerSchedule, t0)
		batch(t, s, r1, []ledger.Send{send("A/1", map[string]any{"x": 1}), send("B/1", map[string]any{"x": 1})},
			ledger.StatusOK, ledger.StatusFailed)
		batch(t, s, r1, []ledger.Send{send("C/1", map[string]any{"x": 1})}, ledger.StatusParked)

		// Progress is visible while the run is going.
		got, err := s.Run(ctx, r1)
		if err != nil {
			t.Fatal(err)
		}
		want := ledger.Counts{Sent: 3, OK: 1, Failed: 1, Parked: 1}
		if got.Counts != want || !got.EndedAt.IsZero() || got.Trigger != "schedule" || !got.StartedAt.Equal(t0) {
			t.Fatalf("running run = %+v, want counts %+v", got, want)
		}
		final := ledger.Counts{Sent: 3, OK: 1, Failed: 1, Parked: 1, Unchanged: 7, Excluded: 2, Errors: 1}
		if err := s.FinishRun(ctx, r1, t0.Add(time.Minute), final, "orders.csv:14: bad date"); err != nil {
			t.Fatal(err)
		}
		r2 := startRun(t, s, "order-import", ledger.TriggerManual, t0.Add(2*time.Minute))
		r3 := startRun(t, s, job, ledger.TriggerManual, t0.Add(3*time.Minute))
		if err := s.FinishRun(ctx, r3, t0.Add(4*time.Minute), ledger.Counts{Unchanged: 10}, ""); err != nil {
			t.Fatal(err)
		}

		h, err := s.History(ctx, job, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || h[0].ID != r3 || h[1].ID != r1 {
			t.Fatalf("History(job) = %+v, want runs %d, %d", h, r3, r1)
		}
		if h[1].Counts != final || h[1].Error == "" || !h[1].EndedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("finished run = %+v", h[1])
		}
		if all, err := s.History(ctx, "", 2); err != nil || len(all) != 2 || all[0].ID != r3 || all[1].ID != r2 {
			t.Errorf("History(\"\", 2) = %+v, %v", all, err)
		}
		if _, err := s.Run(ctx, 999999); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Run(999999) error = %v, want ErrNotFound", err)
		}
		if err := s.FinishRun(ctx, 999999, t0, ledger.Counts{}, ""); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("FinishRun(999999) error = %v, want ErrNotFound", err)
		}
	}},
	{"concurrent-open", func(t *testing.T, dsn string) {
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		stores := make([]*ledger.Store, n)
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = ledger.Open(context.Background(), dsn) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Open %d: %v", i, err)
			}
			defer stores[i].Close()
		}
		// Every store works, and they see each other's writes.
		for i, s := range stores {
			batch(t, s, 0, []ledger.Send{send(fmt.Sprint("K/", i), map[string]any{"i": i})}, ledger.StatusOK)
		}
		if got := lookup(t, stores[0], "K/0", "K/1", "K/2", "K/3"); len(got) != n {
			t.Errorf("Lookup = %d entries, want %d", len(got), n)
		}
	}},
}

func TestLedger(t *testing.T) {
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, d.DSN(t)) })
			}
		})
	}
}

// unchanged is the engine's rule, for reading the entries tests get back.
func unchanged(e ledger.Entry, hash string) bool {
	return e.Status == ledger.StatusOK && e.Hash == hash
}

// TestLedgerVocabulary: the engine decides entry statuses and the ledger
// stores and queries them; the two spell them the same.
func TestLedgerVocabulary(t *testing.T) {
	for _, p := range [][2]string{
		{engine.LedgerOK, ledger.StatusOK},
		{engine.LedgerPending, ledger.StatusPending},
		{engine.LedgerFailed, ledger.StatusFailed},
		{engine.LedgerParked, ledger.StatusParked},
		{engine.LedgerStaged, ledger.StatusStaged},
		{engine.LedgerResolved, ledger.StatusResolved},
	} {
		if p[0] != p[1] {
			t.Errorf("engine says %q, ledger says %q", p[0], p[1])
		}
	}
}
