package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

// runWant is what a run should have done.
type runWant struct {
	err         string // a substring of the run's error; "" for none
	counts      engine.Counts
	ok, failed  int
	parked      int // newly parked
	batches     int
	pending     int
	notSent     int
	interrupted bool
	actions     map[string]int
	failures    []string          // "key pos stage[ [code]]: message"
	ops         []string          // the destination's calls
	ledger      map[string]string // key → status afterwards; nil: not checked
	runError    string            // the history's error text for the run
	archived    []string
	kept        []string
	caveatKeys  []string
}

// ok3 is the run of the three orders of rows3 with everything accepted,
// in batches of two.
var ok3 = runWant{
	counts: engine.Counts{Read: 3, Send: 3}, ok: 3, batches: 2,
	actions: map[string]int{"complete": 3},
	ops:     []string{"write 1001,1002", "complete 1001,1002", "write 1003", "complete 1003", "close"},
	ledger:  map[string]string{"1001": "ok", "1002": "ok", "1003": "ok"},
}

func rows3() []enginetest.Row {
	return rows(order("1001", "shipped", "T1"), order("1002", "shipped", "T2"), order("1003", "shipped", "T3"))
}

// hashOf is the ledger hash of the payload order(no, ..., tracking) maps to.
func hashOf(no, tracking string) string {
	return engine.PayloadHash(engine.Payload{Values: map[string]any{
		"order_no": no, "shipping_date": "2026-11-27", "invoice": tracking}})
}

func TestRun(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name   string
		job    string // shipJob when empty
		rows   []enginetest.Row
		src    enginetest.SourceConfig
		dst    enginetest.DestinationConfig
		noLdg  bool
		opts   engine.RunOptions
		script func(d *enginetest.Destination, l *enginetest.Ledger, stop chan struct{})
		want   runWant
	}{
		{name: "all accepted", rows: rows3(), want: ok3},
		{name: "without a ledger", rows: rows3(), noLdg: true, want: func() runWant {
			w := ok3
			w.ledger = nil
			return w
		}()},
		{
			name: "a bad row is a failure, and the others go",
			rows: []enginetest.Row{{Rec: order("1001", "shipped", "T1")}, {Err: boom}, {Rec: order("1003", "shipped", "T3")}},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 2, Errors: 1}, ok: 2, batches: 1,
				actions:  map[string]int{"complete": 2},
				failures: []string{" test:2 source: boom"},
				ops:      []string{"write 1001,1003", "complete 1001,1003", "close"},
				ledger:   map[string]string{"1001": "ok", "1003": "ok"},
			},
		},
		{
			name: "filters exclude, and skipped rows are not read",
			rows: []enginetest.Row{
				{Rec: order("1001", "cancel", "T1")},
				{Rec: order("1002", "shipped", "T2"), Skip: "superseded by test:3"},
				{Rec: order("1002", "shipped", "T2b")},
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 1, Excluded: 1, Skipped: 1}, ok: 1, batches: 1,
				actions: map[string]int{"complete": 1},
				ops:     []string{"write 1002", "complete 1002", "close"},
				ledger:  map[string]string{"1002": "ok"},
			},
		},
		{
			name: "the same key twice in a run is sent once",
			rows: rows(order("1001", "shipped", "T1"), order("1001", "shipped", "T1-again"), order("1002", "shipped", "T2")),
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 2, Skipped: 1}, ok: 2, batches: 1,
				actions: map[string]int{"complete": 2},
				ops:     []string{"write 1001,1002", "complete 1001,1002", "close"},
				ledger:  map[string]string{"1001": "ok", "1002": "ok"},
			},
		},
		{
			name: "a required field without a value and a value over its limit are errors",
			rows: rows(order("1001", "shipped", "T1"),
				engine.Record{"status": "shipped"},
				order("1003", "shipped", "TRACKING-0123456789"),
				order("1234567890123", "shipped", "T4")),
			want: runWant{
				counts: engine.Counts{Read: 4, Send: 1, Errors: 3}, ok: 1, batches: 1,
				actions: map[string]int{"complete": 1},
				failures: []string{
					` test:2 map: order_no: "order_no" gave no value, and test requires one`,
					`1003 test:3 map: invoice: "TRACKING-0123456789" is 19 bytes, over the limit of 10`,
					`1234567890123 test:4 map: order_no: "1234567890123" is 13 bytes, over the limit of 12`,
				},
				ops:    []string{"write 1001", "complete 1001", "close"},
				ledger: map[string]string{"1001": "ok"},
			},
		},
		{
			name: "a whole-batch write failure fails its records and skips their actions",
			rows: rows3(),
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Script("write", 1, enginetest.Step{Err: boom})
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 3}, ok: 1, failed: 2, batches: 2,
				actions:  map[string]int{"complete": 1},
				failures: []string{"1001 test:1 write: boom", "1002 test:2 write: boom"},
				ops:      []string{"write 1001,1002", "write 1003", "complete 1003", "close"},
				ledger:   map[string]string{"1001": "failed", "1002": "failed", "1003": "ok"},
			},
		},
		{
			name: "a short result slice fails the whole batch",
			rows: rows3(),
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Script("write", 1, enginetest.Step{Short: 1})
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 3}, ok: 1, failed: 2, batches: 2,
				actions: map[string]int{"complete": 1},
				failures: []string{
					"1001 test:1 write: destination test returned 1 results for 2 records",
					"1002 test:2 write: destination test returned 1 results for 2 records",
				},
				ops:    []string{"write 1001,1002", "write 1003", "complete 1003", "close"},
				ledger: map[string]string{"1001": "failed", "1002": "failed", "1003": "ok"},
			},
		},
		{
			name: "a rejected record fails, a permanent rejection is parked, and actions go only to accepted writes",
			rows: rows3(),
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Answer("write", "1001", engine.Result{Code: "E1", Message: "try later"})
				d.Answer("write", "1002", engine.Result{Code: "P1", Message: "store pickup", Permanent: true})
				d.Answer("write", "1003", engine.Result{})
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 3}, failed: 3, parked: 1, batches: 2,
				actions: map[string]int{},
				failures: []string{
					"1001 test:1 write [E1]: try later",
					"1002 test:2 write [P1]: store pickup",
					"1003 test:3 write: destination test did not accept the record and gave no reason",
				},
				ops:      []string{"write 1001,1002", "write 1003", "close"},
				ledger:   map[string]string{"1001": "failed", "1002": "parked", "1003": "failed"},
				runError: "",
			},
		},
		{
			name: "a failed action fails its record",
			rows: rows3(),
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Answer("write", "1001", engine.Result{Message: "no"})
				d.Answer("complete", "1002", engine.Result{Code: "C9", Message: "already done"})
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 3}, ok: 1, failed: 2, batches: 2,
				actions:  map[string]int{"complete": 1},
				failures: []string{"1001 test:1 write: no", "1002 test:2 complete [C9]: already done"},
				ops:      []string{"write 1001,1002", "complete 1002", "write 1003", "complete 1003", "close"},
				ledger:   map[string]string{"1001": "failed", "1002": "failed", "1003": "ok"},
			},
		},
		{
			name: "an action's error fails its batch",
			rows: rows3(),
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Script("complete", 2, enginetest.Step{Err: boom})
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 3}, ok: 2, failed: 1, batches: 2,
				actions:  map[string]int{"complete": 2},
				failures: []string{"1003 test:3 complete: boom"},
				ops:      ok3.ops,
				ledger:   map[string]string{"1001": "ok", "1002": "ok", "1003": "failed"},
			},
		},
		{
			name: "an action's short result slice fails its batch",
			rows: rows3(),
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Script("complete", 1, enginetest.Step{Short: 2})
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 3}, ok: 1, failed: 2, batches: 2,
				actions: map[string]int{"complete": 1},
				failures: []string{
					"1001 test:1 complete: complete returned 0 results for 2 records",
					"1002 test:2 complete: complete returned 0 results for 2 records",
				},
				ops:    ok3.ops,
				ledger: map[string]string{"1001": "failed", "1002": "failed", "1003": "ok"},
			},
		},
		{
			name: "an error that stops the run in Write leaves its batch pending",
			rows: rows3(),
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Script("write", 2, enginetest.Step{Err: enginetest.StopRun(errors.New("credentials refused"))})
			},
			want: runWant{
				err:    "destination test: write: credentials refused",
				counts: engine.Counts{Read: 3, Send: 3}, ok: 2, batches: 2, pending: 1,
				actions:  map[string]int{"complete": 2},
				ops:      []string{"write 1001,1002", "complete 1001,1002", "write 1003", "close"},
				ledger:   map[string]string{"1001": "ok", "1002": "ok", "1003": "pending"},
				runError: "destination test: write: credentials refused",
			},
		},
		{
			name: "an error that stops the run in an action leaves its batch pending",
			rows: rows3(),
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Script("complete", 1, enginetest.Step{Err: enginetest.StopRun(errors.New("unreachable"))})
			},
			want: runWant{
				err:    "destination test: complete: unreachable",
				counts: engine.Counts{Read: 2, Send: 2}, batches: 1, pending: 2,
				actions: map[string]int{},
				ops:     []string{"write 1001,1002", "complete 1001,1002", "close"},
				ledger:  map[string]string{"1001": "pending", "1002": "pending"},
			},
		},
		{
			name: "what is read after a batch that stops the run is counted not sent",
			rows: rows(order("1001", "shipped", "T1"), order("1002", "shipped", "T2"), order("1003", "shipped", "T3"), order("1004", "shipped", "T4")),
			script: func(d *enginetest.Destination, l *enginetest.Ledger, _ chan struct{}) {
				l.Put("ship", "test", "1001", enginetest.Entry{Status: engine.LedgerOK, Hash: hashOf("1001", "T1")})
				d.Script("write", 1, enginetest.Step{Err: enginetest.StopRun(errors.New("unreachable"))})
			},
			want: runWant{
				err:    "destination test: write: unreachable",
				counts: engine.Counts{Read: 3, Send: 2, Unchanged: 1}, batches: 1, pending: 2, notSent: 1,
				actions: map[string]int{},
				ops:     []string{"write 1002,1003", "close"},
				ledger:  map[string]string{"1001": "ok", "1002": "pending", "1003": "pending"},
			},
		},
		{
			name: "an unchanged record is not sent, unless forced; a changed or failed one is",
			rows: rows3(),
			script: func(_ *enginetest.Destination, l *enginetest.Ledger, _ chan struct{}) {
				l.Put("ship", "test", "1001", enginetest.Entry{Status: engine.LedgerOK, Hash: hashOf("1001", "T1")})
				l.Put("ship", "test", "1002", enginetest.Entry{Status: engine.LedgerOK, Hash: hashOf("1002", "T2-old")})
				l.Put("ship", "test", "1003", enginetest.Entry{Status: engine.LedgerFailed, Hash: hashOf("1003", "T3")})
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 2, Unchanged: 1}, ok: 2, batches: 1,
				actions: map[string]int{"complete": 2},
				ops:     []string{"write 1002,1003", "complete 1002,1003", "close"},
				ledger:  map[string]string{"1001": "ok", "1002": "ok", "1003": "ok"},
			},
		},
		{
			name: "force sends an unchanged record",
			rows: rows3(),
			opts: engine.RunOptions{Force: true},
			script: func(_ *enginetest.Destination, l *enginetest.Ledger, _ chan struct{}) {
				l.Put("ship", "test", "1001", enginetest.Entry{Status: engine.LedgerOK, Hash: hashOf("1001", "T1")})
			},
			want: ok3,
		},
		{
			name: "a parked record waits for runner retry",
			rows: rows3(),
			opts: engine.RunOptions{Force: true},
			script: func(_ *enginetest.Destination, l *enginetest.Ledger, _ chan struct{}) {
				l.Put("ship", "test", "1002", enginetest.Entry{Status: engine.LedgerParked, Code: "P1", Message: "store pickup"})
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 2, Parked: 1}, ok: 2, batches: 1,
				actions: map[string]int{"complete": 2},
				ops:     []string{"write 1001,1003", "complete 1001,1003", "close"},
				ledger:  map[string]string{"1001": "ok", "1002": "parked", "1003": "ok"},
			},
		},
		{
			name: "a run adopts the entries of the scope it had before",
			rows: rows3(),
			dst:  enginetest.DestinationConfig{Scope: "shop-a", BatchSize: 2},
			script: func(_ *enginetest.Destination, l *enginetest.Ledger, _ chan struct{}) {
				l.Put("ship", "test", "1001", enginetest.Entry{Status: engine.LedgerOK, Hash: hashOf("1001", "T1")})
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 2, Unchanged: 1}, ok: 2, batches: 1,
				actions: map[string]int{"complete": 2},
				ops:     []string{"write 1002,1003", "complete 1002,1003", "close"},
				// The scope checked is shop-a's; "test" is empty now.
				ledger: map[string]string{"1001": "ok", "1002": "ok", "1003": "ok"},
			},
		},
		{
			name: "records staged by a crashed run are settled first",
			rows: rows3(),
			dst:  enginetest.DestinationConfig{StageToken: "t2", BatchSize: 2},
			script: func(d *enginetest.Destination, l *enginetest.Ledger, _ chan struct{}) {
				l.Put("ship", "test", "1001", enginetest.Entry{Status: engine.LedgerStaged, Token: "t0", Hash: hashOf("1001", "T1")})
				l.Put("ship", "test", "1002", enginetest.Entry{Status: engine.LedgerStaged, Token: "t1", Hash: hashOf("1002", "T2")})
				d.Commit("t0", true)
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 2, Unchanged: 1}, ok: 2, batches: 1,
				actions: map[string]int{"complete": 2},
				ops:     []string{"write 1002,1003", "complete 1002,1003", "close"},
				ledger:  map[string]string{"1001": "ok", "1002": "ok", "1003": "ok"},
			},
		},
		{
			name: "a commit that fails fails what it staged",
			rows: rows3(),
			dst:  enginetest.DestinationConfig{StageToken: "t1", BatchSize: 2},
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Script("close", 1, enginetest.Step{Err: boom})
			},
			want: runWant{
				err:    "destination test: boom",
				counts: engine.Counts{Read: 3, Send: 3}, ok: 0, failed: 3, batches: 2,
				actions: map[string]int{"complete": 3},
				failures: []string{
					"1001 test:1 commit: destination test: boom",
					"1002 test:2 commit: destination test: boom",
					"1003 test:3 commit: destination test: boom",
				},
				ops:    ok3.ops,
				ledger: map[string]string{"1001": "failed", "1002": "failed", "1003": "failed"},
			},
		},
		{
			name: "a commit that failed but happened counts",
			rows: rows3(),
			dst:  enginetest.DestinationConfig{StageToken: "t1", BatchSize: 2},
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Script("close", 1, enginetest.Step{Err: boom, Do: func() { d.Commit("t1", true) }})
			},
			want: ok3,
		},
		{
			name: "a close that fails fails the run",
			rows: rows3(),
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Script("close", 1, enginetest.Step{Err: boom})
			},
			want: func() runWant {
				w := ok3
				w.err, w.runError = "destination test: boom", "destination test: boom"
				return w
			}(),
		},
		{
			name: "inputs are archived once every record in them is settled",
			rows: []enginetest.Row{
				{Rec: order("1001", "shipped", "T1"), Unit: "a.csv"},
				{Rec: order("1002", "cancel", "T2"), Unit: "a.csv"},
				{Rec: order("1003", "shipped", "T3"), Unit: "b.csv"},
				{Err: boom, Unit: "c.csv"},
				{Rec: order("1005", "shipped", "T5"), Unit: "d.csv"},
			},
			src: enginetest.SourceConfig{Units: []string{"a.csv", "b.csv", "c.csv", "d.csv", "empty.csv"}, Retires: true},
			script: func(d *enginetest.Destination, l *enginetest.Ledger, _ chan struct{}) {
				d.Answer("write", "1003", engine.Result{Message: "no"})
				l.Put("ship", "test", "1005", enginetest.Entry{Status: engine.LedgerParked, Code: "P"})
			},
			want: runWant{
				counts: engine.Counts{Read: 5, Send: 2, Excluded: 1, Errors: 1, Parked: 1}, ok: 1, failed: 1, batches: 1,
				actions:  map[string]int{"complete": 1},
				failures: []string{"1003 test:3 write: no", " test:4 source: boom"},
				ops:      []string{"write 1001,1003", "complete 1001", "close"},
				archived: []string{"a.csv", "empty.csv"},
				kept:     []string{"b.csv", "c.csv", "d.csv"},
			},
		},
		{
			name: "a caveat lists the records the actions touched",
			rows: rows3(),
			dst:  enginetest.DestinationConfig{Caveat: "activate points by hand", BatchSize: 2},
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Answer("complete", "1002", engine.Result{Message: "no"})
			},
			want: runWant{
				counts: engine.Counts{Read: 3, Send: 3}, ok: 2, failed: 1, batches: 2,
				actions:    map[string]int{"complete": 2},
				failures:   []string{"1002 test:2 complete: no"},
				ops:        ok3.ops,
				caveatKeys: []string{"1001", "1003"},
			},
		},
		{
			name: "stop ends the run after the batch in flight",
			rows: rows3(),
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, stop chan struct{}) {
				d.Script("write", 1, enginetest.Step{Do: func() { close(stop) }, Delay: 50 * time.Millisecond})
			},
			want: runWant{
				counts: engine.Counts{Read: 2, Send: 2}, ok: 2, batches: 1, interrupted: true,
				actions:  map[string]int{"complete": 2},
				ops:      []string{"write 1001,1002", "complete 1001,1002", "close"},
				ledger:   map[string]string{"1001": "ok", "1002": "ok"},
				runError: "interrupted",
			},
		},
		{
			name: "a timeout ends the run after the batch in flight",
			rows: rows3(),
			opts: engine.RunOptions{Timeout: 10 * time.Millisecond},
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Script("write", 1, enginetest.Step{Delay: 200 * time.Millisecond})
			},
			want: runWant{
				err:    "the run's deadline of 10ms passed; stopped after the batch in flight, 0 record(s) read but not sent",
				counts: engine.Counts{Read: 2, Send: 2}, ok: 2, batches: 1,
				actions: map[string]int{"complete": 2},
				ops:     []string{"write 1001,1002", "complete 1001,1002", "close"},
				ledger:  map[string]string{"1001": "ok", "1002": "ok"},
			},
		},
		{
			name: "a lost lock ends the run after the batch in flight",
			rows: rows3(),
			script: func(d *enginetest.Destination, l *enginetest.Ledger, _ chan struct{}) {
				d.Script("write", 1, enginetest.Step{Do: func() { l.Lose(engine.JobLock("ship")) }, Delay: 50 * time.Millisecond})
			},
			want: runWant{
				err:    "the run lost its lock",
				counts: engine.Counts{Read: 2, Send: 2}, ok: 2, batches: 1,
				actions: map[string]int{"complete": 2},
				ops:     []string{"write 1001,1002", "complete 1001,1002", "close"},
			},
		},
		{
			name: "a source that breaks ends the run",
			rows: rows3(),
			src:  enginetest.SourceConfig{EndErr: boom},
			want: runWant{
				err:    "source test: boom",
				counts: engine.Counts{Read: 2, Send: 2}, ok: 2, batches: 1, notSent: 1,
				actions: map[string]int{"complete": 2},
				ops:     []string{"write 1001,1002", "complete 1001,1002", "close"},
			},
		},
		{
			name: "a source that cannot open",
			rows: rows3(),
			src:  enginetest.SourceConfig{OpenErr: boom},
			want: runWant{err: "source test: boom", actions: map[string]int{}, ops: []string{"close"}, runError: "source test: boom"},
		},
		{
			name: "a destination that cannot open",
			rows: rows3(),
			script: func(d *enginetest.Destination, _ *enginetest.Ledger, _ chan struct{}) {
				d.Script("open", 1, enginetest.Step{Err: boom})
			},
			want: runWant{err: "destination test: boom", actions: map[string]int{}},
		},
	}
	for _, method := range []string{"Lock", "StartRun", "Adopt", "Staged", "Settle", "Lookup", "Begin", "Record", "FinishRun"} {
		tt := tests[0]
		tt.name = "the ledger's " + method + " fails"
		tt.dst = enginetest.DestinationConfig{Scope: "shop-a", StageToken: "t1", BatchSize: 2}
		tt.script = func(_ *enginetest.Destination, l *enginetest.Ledger, _ chan struct{}) {
			l.Put("ship", "shop-a", "1009", enginetest.Entry{Status: engine.LedgerStaged, Token: "t0"})
			l.Fail(method, boom)
		}
		tt.want = runWant{err: "ledger: " + method + ": boom"}
		tests = append(tests, tt)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.dst.BatchSize == 0 {
				tt.dst.BatchSize = 2
			}
			job := tt.job
			if job == "" {
				job = shipJob
			}
			tt.src.Rows = tt.rows
			f := newFixture(t, job, tt.src, tt.dst)
			l := enginetest.NewLedger()
			stop := make(chan struct{})
			if tt.script != nil {
				tt.script(f.dst, l, stop)
			}
			opts := tt.opts
			opts.Stop = stop
			if !tt.noLdg {
				opts.Ledger = l
			}
			var log bytes.Buffer
			opts.Log = jsonLog(&log)
			sum, err := f.job.Run(context.Background(), opts)
			checkRun(t, sum, err, tt.want)
			if tt.want.err != "" && strings.HasPrefix(tt.name, "the ledger's") {
				return // what else happened depends on where it broke
			}
			if got := f.dst.Ops(); !slices.Equal(got, tt.want.ops) {
				t.Errorf("calls:\n got %q\nwant %q", got, tt.want.ops)
			}
			if tt.want.ledger != nil {
				if got := l.Statuses("ship", f.job.Scope()); !maps.Equal(got, tt.want.ledger) {
					t.Errorf("ledger = %v, want %v", got, tt.want.ledger)
				}
			}
			if got := f.src.Archived(); !slices.Equal(got, tt.want.archived) {
				t.Errorf("archived = %q, want %q", got, tt.want.archived)
			}
			checkLog(t, log.String(), sum)
			if tt.noLdg {
				if sum.RunID != 0 || sum.Scope != "" || len(l.Runs()) != 0 {
					t.Errorf("a run without a ledger has run id %d, scope %q", sum.RunID, sum.Scope)
				}
				return
			}
			runs := l.Runs()
			if len(runs) != 1 {
				if tt.want.err == "destination test: boom" || sum.RunID != 0 {
					t.Fatalf("history has %d runs, want 1", len(runs))
				}
				return
			}
			r := runs[0]
			if r.ID != sum.RunID || r.Ended.IsZero() || r.Trigger != opts.Trigger {
				t.Errorf("history: %+v, want run %d ended", r, sum.RunID)
			}
			wantErr := tt.want.runError
			if wantErr == "" && err != nil {
				wantErr = err.Error()
			}
			if r.Error != wantErr {
				t.Errorf("history error = %q, want %q", r.Error, wantErr)
			}
			if r.OK != sum.OK || r.Parked != sum.NewlyParked || r.Failed != sum.Failed-sum.NewlyParked || r.Sent != sum.Counts.Send {
				t.Errorf("history counts %+v disagree with summary %+v", r, sum)
			}
		})
	}
}

func checkRun(t *testing.T, sum engine.RunSummary, err error, want runWant) {
	t.Helper()
	switch {
	case want.err == "" && err != nil:
		t.Fatalf("run: %v", err)
	case want.err != "" && (err == nil || !strings.Contains(err.Error(), want.err)):
		t.Fatalf("run error = %v, want %q", err, want.err)
	}
	if want.err != "" && want.actions == nil {
		return // only the error is asked about
	}
	if sum.Counts != want.counts {
		t.Errorf("counts = %+v, want %+v", sum.Counts, want.counts)
	}
	got := fmt.Sprintf("ok %d failed %d parked %d batches %d pending %d not sent %d interrupted %v",
		sum.OK, sum.Failed, sum.NewlyParked, sum.Batches, sum.Pending, sum.NotSent, sum.Interrupted)
	wantS := fmt.Sprintf("ok %d failed %d parked %d batches %d pending %d not sent %d interrupted %v",
		want.ok, want.failed, want.parked, want.batches, want.pending, want.notSent, want.interrupted)
	if got != wantS {
		t.Errorf("summary: %s\n    want: %s", got, wantS)
	}
	if !maps.Equal(sum.Actions, want.actions) {
		t.Errorf("actions = %v, want %v", sum.Actions, want.actions)
	}
	var lines []string
	for _, f := range sum.Failures {
		s := f.Key + " " + f.Pos + " " + f.Stage
		if f.Code != "" {
			s += " [" + f.Code + "]"
		}
		lines = append(lines, s+": "+f.Message)
	}
	if !slices.Equal(lines, want.failures) {
		t.Errorf("failures:\n got %q\nwant %q", lines, want.failures)
	}
	var caveatKeys []string
	for _, e := range sum.SideEffects {
		caveatKeys = append(caveatKeys, e.Keys...)
	}
	if !slices.Equal(sum.Kept, want.kept) || !slices.Equal(caveatKeys, want.caveatKeys) {
		t.Errorf("kept %q, side effect keys %q; want %q, %q", sum.Kept, caveatKeys, want.kept, want.caveatKeys)
	}
	wantOK := want.failed == 0 && want.counts.Errors == 0 && !want.interrupted && want.pending == 0
	if sum.Succeeded() != wantOK {
		t.Errorf("Succeeded() = %v, want %v", sum.Succeeded(), wantOK)
	}
}

// checkLog checks the log (JSON lines) has one line per failure, in order,
// with its record key, and that every line names the job, and the run
// once it has an id.
func checkLog(t *testing.T, log string, sum engine.RunSummary) {
	t.Helper()
	var keys []string
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if line == "" {
			continue
		}
		var l struct {
			Msg    string `json:"msg"`
			Job    string `json:"job"`
			RunID  int64  `json:"run_id"`
			Record string `json:"record"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Errorf("log line %q is not JSON: %v", line, err)
			continue
		}
		if l.Job != sum.Job {
			t.Errorf("log line %q does not name job %q", line, sum.Job)
		}
		if l.Msg == "record failed" {
			keys = append(keys, l.Record)
			if l.RunID != sum.RunID {
				t.Errorf("log line %q: run id %d, want %d", line, l.RunID, sum.RunID)
			}
		}
	}
	var want []string
	for _, f := range sum.Failures {
		if f.Stage != "commit" { // the run's error says it once, for them all
			want = append(want, f.Key)
		}
	}
	if !slices.Equal(keys, want) {
		t.Errorf("log has failure lines for %q, want %q:\n%s", keys, want, log)
	}
}

// jsonLog is a run's logger writing JSON lines, debug and up, to w.
func jsonLog(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
