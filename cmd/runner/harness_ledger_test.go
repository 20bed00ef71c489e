package main

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
	"github.com/goqsync/runner/ledger"
)

// TestHarnessLedgerMatches drives the engine's in-memory test ledger and
// the real one, through the adapter a run uses, with the same calls, and
// compares what each then holds: the engine's own tests are only as good
// as the harness's likeness to the real thing.
func TestHarnessLedgerMatches(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := ledger.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ledgers := map[string]engine.Ledger{"real": engineLedger{s: st, command: "run"}, "harness": enginetest.NewLedger()}
		const job = "j"
		keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
		send := func(keys ...string) []engine.LedgerSend {
			var out []engine.LedgerSend
			for _, k := range keys {
				out = append(out, engine.LedgerSend{Key: k, Hash: "h-" + k, Payload: []byte(`{"k":"` + k + `"}`)})
			}
			return out
		}
		payloads := func(keys ...string) []engine.Payload {
			var out []engine.Payload
			for _, k := range keys {
				out = append(out, engine.Payload{Key: k})
			}
			return out
		}
		ok, fail := engine.Result{OK: true, Code: "200"}, engine.Result{Code: "E1", Message: "try later"}
		park := engine.Result{Code: "P1", Message: "store pickup", Permanent: true}
		runs := map[string]int64{}
		steps := []struct {
			name string
			do   func(l engine.Ledger, run1, run2 int64) error
		}{
			{"begin", func(l engine.Ledger, r1, _ int64) error { return l.Begin(ctx, r1, job, "s", send("a", "b", "c", "d")) }},
			{"record", func(l engine.Ledger, r1, _ int64) error {
				return l.Record(ctx, r1, job, "s", engine.Outcomes(payloads("a", "b", "c", "d"), []engine.Result{ok, fail, park, ok}, ""))
			}},
			{"a later run begins", func(l engine.Ledger, _, r2 int64) error { return l.Begin(ctx, r2, job, "s", send("a", "e")) }},
			{"the earlier run's record does not undo it", func(l engine.Ledger, r1, _ int64) error {
				return l.Record(ctx, r1, job, "s", engine.Outcomes(payloads("a"), []engine.Result{fail}, ""))
			}},
			{"staged", func(l engine.Ledger, _, r2 int64) error {
				return l.Record(ctx, r2, job, "s", engine.Outcomes(payloads("a", "e"), []engine.Result{ok, ok}, "t1"))
			}},
			{"settled", func(l engine.Ledger, _, _ int64) error { return l.Settle(ctx, job, "s", "t1", engine.LedgerOK, "") }},
			{"a key no run began", func(l engine.Ledger, _, r2 int64) error {
				return l.Record(ctx, r2, job, "s", engine.Outcomes(payloads("f"), []engine.Result{ok}, ""))
			}},
			{"adopted", func(l engine.Ledger, _, _ int64) error { return l.Adopt(ctx, job, "s", "s2") }},
			{"adopted once", func(l engine.Ledger, _, r2 int64) error {
				if err := l.Begin(ctx, r2, job, "s", send("b")); err != nil {
					return err
				}
				return l.Adopt(ctx, job, "s", "s2")
			}},
			{"staged twice", func(l engine.Ledger, _, r2 int64) error {
				if err := l.Begin(ctx, r2, job, "s2", send("g", "h")); err != nil {
					return err
				}
				if err := l.Record(ctx, r2, job, "s2", engine.Outcomes(payloads("g"), []engine.Result{ok}, "t2")); err != nil {
					return err
				}
				return l.Record(ctx, r2, job, "s2", engine.Outcomes(payloads("h"), []engine.Result{ok}, "t3"))
			}},
			{"one commit not made, one failed", func(l engine.Ledger, _, _ int64) error {
				if err := l.Settle(ctx, job, "s2", "t2", engine.LedgerPending, ""); err != nil {
					return err
				}
				return l.Settle(ctx, job, "s2", "t3", engine.LedgerFailed, "commit failed")
			}},
		}
		for name, l := range ledgers {
			r1, err := l.StartRun(ctx, job, "cli", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			r2, err := l.StartRun(ctx, job, "schedule", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			runs[name+"1"], runs[name+"2"] = r1, r2
		}
		for _, step := range steps {
			held := map[string]string{}
			for name, l := range ledgers {
				if err := step.do(l, runs[name+"1"], runs[name+"2"]); err != nil {
					t.Fatalf("%s: %s: %v", step.name, name, err)
				}
				var s string
				for _, scope := range []string{"s", "s2"} {
					got, err := l.Lookup(ctx, job, scope, keys)
					if err != nil {
						t.Fatal(err)
					}
					for _, k := range slices.Sorted(maps.Keys(got)) {
						e := got[k]
						s += scope + "/" + k + " " + e.Status + " " + e.Hash + " " + e.Code + " " + e.Message + "\n"
					}
					tokens, err := l.Staged(ctx, job, scope)
					if err != nil {
						t.Fatal(err)
					}
					slices.Sort(tokens)
					s += scope + " staged " + slices.Concat(tokens, []string{""})[0] + "\n"
				}
				held[name] = s
			}
			if held["real"] != held["harness"] {
				t.Errorf("after %q:\nreal:\n%s\nharness:\n%s", step.name, held["real"], held["harness"])
			}
		}
		// Locks: a second taker is told who holds it; once free, it is free.
		for name, l := range ledgers {
			lk, err := l.Lock(ctx, "job:"+job, job)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			_, err = l.Lock(ctx, "job:"+job, job)
			if _, ok := err.(interface{ Holder() string }); !ok {
				t.Errorf("%s: second lock: %v, want an error with a holder", name, err)
			}
			lk.Unlock()
			lk2, err := l.Lock(ctx, "job:"+job, job)
			if err != nil {
				t.Errorf("%s: lock after unlock: %v", name, err)
			} else {
				lk2.Unlock()
			}
		}
	})
}
