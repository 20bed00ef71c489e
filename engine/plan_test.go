package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// planRows has a record of every fate a plan shows.
func planRows() []enginetest.Row {
	long := order("1008", "shipped", "T8")
	long["tracking"] = strings.Repeat("長", 100)
	noTracking := order("1007", "shipped", "")
	delete(noTracking, "tracking")
	return []enginetest.Row{
		{Rec: order("1001", "shipped", "T1")},
		{Rec: order("1002", "cancel", "T2")},
		{Rec: order("1003", "shipped", "T3"), Skip: "superseded by test:9"},
		{Err: errors.New("column 4: not a date"), Pos: "orders.csv:5"},
		{Rec: order("1005", "shipped", "T5")}, // unchanged with a ledger
		{Rec: order("1006", "shipped", "T6")}, // parked with a ledger
		{Rec: noTracking},
		{Rec: long},
		{Rec: order("1001", "shipped", "T1-again")},
		{Rec: order("1010", "shipped", "")},
	}
}

// TestPlanGolden writes the plan of planRows as text and JSON, without a
// ledger, with one, and comparing with what the destination holds.
func TestPlanGolden(t *testing.T) {
	tests := []struct {
		name   string
		ledger bool
		opts   engine.PlanOptions
	}{
		{name: "plan"},
		{name: "plan-ledger", ledger: true},
		{name: "plan-force", ledger: true, opts: engine.PlanOptions{Force: true}},
		{name: "plan-compare", opts: engine.PlanOptions{Compare: true}},
	}
	for _, tt := range tests {
		for _, asJSON := range []bool{false, true} {
			name := tt.name + ".txt"
			if asJSON {
				name = tt.name + ".json"
			}
			t.Run(name, func(t *testing.T) {
				f := newFixture(t, shipJob, enginetest.SourceConfig{Rows: planRows()},
					enginetest.DestinationConfig{Scope: "shop-a", Caveat: "activate the points of these orders by hand"})
				opts := tt.opts
				opts.JSON = asJSON
				if tt.ledger {
					l := enginetest.NewLedger()
					// A ledger from before scopes: the plan reads it too.
					l.Put("ship", "test", "1005", enginetest.Entry{Status: engine.LedgerOK, Hash: hashOf("1005", "T5")})
					l.Put("ship", "shop-a", "1006", enginetest.Entry{Status: engine.LedgerParked, Code: "P1", Message: "store pickup"})
					l.Put("ship", "shop-a", "1001", enginetest.Entry{Status: engine.LedgerOK, Hash: hashOf("1001", "old")})
					opts.Ledger, opts.LedgerName = l, "ledger.db"
				}
				f.dst.Hold("1001", map[string]any{"order_no": "1001", "shipping_date": "2026-11-27", "invoice": "T0"})
				f.dst.Hold("1005", map[string]any{"order_no": "1005", "shipping_date": "2026-11-27", "invoice": "T5"})
				var out bytes.Buffer
				counts, err := f.job.Plan(context.Background(), &out, opts)
				if err != nil {
					t.Fatal(err)
				}
				if asJSON {
					var p planJSON
					if err := json.Unmarshal(out.Bytes(), &p); err != nil {
						t.Fatalf("not JSON: %v", err)
					}
					if p.Summary != counts || len(p.Items) != counts.Read {
						t.Errorf("summary %+v and %d items; Plan returned %+v", p.Summary, len(p.Items), counts)
					}
					// With -compare, "changes" is there for every record
					// compared, empty when nothing would change.
					var raw struct{ Items []map[string]any }
					json.Unmarshal(out.Bytes(), &raw)
					for _, it := range raw.Items {
						_, has := it["changes"]
						if compared := opts.Compare && (it["status"] == "send" || it["status"] == "unchanged"); has != compared {
							t.Errorf("item %v: has changes %v, want %v", it["pos"], has, compared)
						}
					}
				}
				golden(t, name, out.Bytes())
				if ops := f.dst.Ops(); len(ops) != 0 {
					t.Errorf("a plan called the destination: %q", ops)
				}
			})
		}
	}
}

// failWriter fails once it has taken n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

// TestPlanErrors: what stops a plan is its error, and a source that
// cannot open leaves no half plan.
func TestPlanErrors(t *testing.T) {
	boom := errors.New("boom")
	many := make([]enginetest.Row, 1000)
	for i := range many {
		many[i] = enginetest.Row{Rec: order(fmt.Sprint(2000+i), "shipped", "T")}
	}
	tests := []struct {
		name    string
		src     enginetest.SourceConfig
		opts    engine.PlanOptions
		w       *failWriter
		script  func(*enginetest.Destination, *enginetest.Ledger)
		wantErr string
		counts  engine.Counts
	}{
		{name: "source cannot open", src: enginetest.SourceConfig{OpenErr: boom}, wantErr: "source test: boom"},
		{name: "source breaks", src: enginetest.SourceConfig{Rows: rows3(), EndErr: boom}, wantErr: "source test: boom"},
		{name: "ledger lookup fails", src: enginetest.SourceConfig{Rows: rows3()}, opts: engine.PlanOptions{Ledger: enginetest.NewLedger()},
			script: func(_ *enginetest.Destination, l *enginetest.Ledger) { l.Fail("Lookup", boom) }, wantErr: "Lookup: boom"},
		{name: "compare fails", src: enginetest.SourceConfig{Rows: rows3()}, opts: engine.PlanOptions{Compare: true},
			script: func(d *enginetest.Destination, _ *enginetest.Ledger) {
				d.Script("current", 1, enginetest.Step{Err: boom})
			},
			wantErr: "destination test: boom"},
		{name: "compare reads too few", src: enginetest.SourceConfig{Rows: rows3()}, opts: engine.PlanOptions{Compare: true},
			script: func(d *enginetest.Destination, _ *enginetest.Ledger) {
				d.Script("current", 1, enginetest.Step{Short: 1})
			},
			wantErr: "destination test: read 2 records for 3"},
		{name: "compare with nothing to send", src: enginetest.SourceConfig{Rows: rows(order("1", "cancel", ""))}, opts: engine.PlanOptions{Compare: true},
			counts: engine.Counts{Read: 1, Excluded: 1}},
		{name: "the writer fails", src: enginetest.SourceConfig{Rows: rows3()}, w: &failWriter{n: 10}, wantErr: "disk full"},
		{name: "the writer fails before the end", src: enginetest.SourceConfig{Rows: many}, w: &failWriter{n: 10}, wantErr: "disk full"},
		{name: "many records", src: enginetest.SourceConfig{Rows: many}, opts: engine.PlanOptions{Compare: true}, counts: engine.Counts{Read: 1000, Send: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, shipJob, tt.src, enginetest.DestinationConfig{})
			l, _ := tt.opts.Ledger.(*enginetest.Ledger)
			if tt.script != nil {
				tt.script(f.dst, l)
			}
			var out bytes.Buffer
			var w interface{ Write([]byte) (int, error) } = &out
			if tt.w != nil {
				w = tt.w
			}
			counts, err := f.job.Plan(context.Background(), w, tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("plan error = %v, want %q", err, tt.wantErr)
			case tt.wantErr == "" && counts != tt.counts:
				t.Errorf("counts = %+v, want %+v", counts, tt.counts)
			}
			if tt.name == "source cannot open" && out.Len() != 0 {
				t.Errorf("a plan whose source did not open wrote:\n%s", out.String())
			}
		})
	}
}

// TestPlanExclusionValues: an excluded record's line shows what its filter
// read, in the job's zone, and for within_days the age and the window's
// first day, whether the day count is written or a variable.
func TestPlanExclusionValues(t *testing.T) {
	const job = `variable "days" {
  default = 3
}
job "ship" {
  time_zone = "Asia/Tokyo"
  source "test" {}
  destination "test" {}
  filter "shipped-3d" {
    when = "within_days(shipped, vars.days)"
  }
  filter "recent" {
    when = "within_days(shipped, 2) && status != 'hold'"
  }
  map {
    order_no = "order_no"
  }
}
`
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, testNow.Location())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	recs := []engine.Record{
		{"order_no": "1", "status": "ok", "shipped": at("2026-11-24 23:59:59")},
		{"order_no": "2", "status": "ok"},
		{"order_no": "3", "status": "hold", "shipped": at("2026-11-27 09:30:00")},
		{"order_no": "4", "status": "ok", "shipped": at("2026-11-30 00:00:00")},
	}
	f := newFixture(t, job, enginetest.SourceConfig{Rows: rows(recs...)}, enginetest.DestinationConfig{Fields: []engine.Field{{Name: "order_no", Kind: engine.String, Required: true}}})
	var text, js bytes.Buffer
	if _, err := f.job.Plan(context.Background(), &text, engine.PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.job.Plan(context.Background(), &js, engine.PlanOptions{JSON: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`- 1  test:1  excluded by filter "shipped-3d": shipped = 2026-11-24 23:59:59 (4 days ago; the window starts 2026-11-25)`,
		`- 2  test:2  excluded by filter "shipped-3d": shipped = unset`,
		`- 3  test:3  excluded by filter "recent": shipped = 2026-11-27 09:30 (1 day ago; the window starts 2026-11-26), status = "hold"`,
	} {
		if !strings.Contains(text.String(), want+"\n") {
			t.Errorf("plan lacks %q:\n%s", want, text.String())
		}
	}
	if !strings.Contains(js.String(), `"values":{"shipped":"2026-11-24T23:59:59+09:00"}`) || !strings.Contains(js.String(), `"values":{"shipped":null}`) {
		t.Errorf("plan -json lacks the values:\n%s", js.String())
	}
}
