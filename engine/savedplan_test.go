package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

// typedJob maps a field of every kind, so that a saved plan's payloads
// must come back from JSON with their types.
const typedJob = `job "typed" {
  source "test" {}
  destination "test" {}
  filter "not cancelled" {
    when = "status != 'cancel'"
  }
  map {
    order_no      = "order_no"
    shipping_date = "shipped"
    qty           = "qty"
    weight        = "1.5"
    gift          = "status == 'gift'"
    updated       = "updated"
  }
}
`

func typedFixture(t testing.TB, n int) *fixture {
	t.Helper()
	src := enginetest.SourceConfig{Fields: []engine.Field{
		{Name: "order_no", Kind: engine.String},
		{Name: "status", Kind: engine.String},
		{Name: "shipped", Kind: engine.Date},
		{Name: "qty", Kind: engine.Int},
		{Name: "updated", Kind: engine.Time},
	}}
	dst := enginetest.DestinationConfig{Fields: []engine.Field{
		{Name: "order_no", Kind: engine.String, Required: true},
		{Name: "shipping_date", Kind: engine.Date},
		{Name: "qty", Kind: engine.Int},
		{Name: "weight", Kind: engine.Float},
		{Name: "gift", Kind: engine.Bool},
		{Name: "updated", Kind: engine.Time},
	}, Scope: "test shop"}
	f := newFixture(t, typedJob, src, dst)
	var recs []engine.Record
	for i := range n {
		status := "new"
		switch i % 3 {
		case 1:
			status = "gift"
		case 2:
			status = "cancel"
		}
		recs = append(recs, engine.Record{"order_no": fmt.Sprintf("%06d", i), "status": status, "qty": int64(i),
			"shipped": time.Date(2026, 11, 27, 0, 0, 0, 0, testNow.Location()),
			"updated": testNow.Add(-time.Duration(i) * time.Minute)})
	}
	f.src.SetRows(rows(recs...)...)
	return f
}

// TestSavedPlanApply: a plan saved, written and read back sends exactly the
// payloads it planned, with their types, and nothing else.
func TestSavedPlanApply(t *testing.T) {
	ctx := context.Background()
	f := typedFixture(t, 9)
	cfg := &engine.Config{Jobs: []*engine.Job{f.job}}
	sp, err := engine.NewSavedPlan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var shown bytes.Buffer
	counts, err := f.job.Plan(ctx, &shown, engine.PlanOptions{Now: testNow, Save: sp})
	if err != nil || counts.Send != 6 || len(sp.Orders) != 6 {
		t.Fatalf("plan: %v, %+v, %d orders saved", err, counts, len(sp.Orders))
	}
	var planned []map[string]any
	for _, o := range sp.Orders {
		planned = append(planned, o.Payload)
	}
	var file bytes.Buffer
	if err := sp.Write(&file); err != nil {
		t.Fatal(err)
	}
	got, err := engine.ReadPlan(&file)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Check(cfg, f.job, testNow.Add(time.Minute), time.Hour); err != nil {
		t.Fatal(err)
	}
	sum, err := f.job.Apply(ctx, got, engine.RunOptions{Ledger: enginetest.NewLedger(), Now: testNow.Add(time.Minute)})
	if err != nil || !sum.Succeeded() || sum.OK != 6 {
		t.Fatalf("apply: %v, %+v", err, sum)
	}
	var sent []map[string]any
	for _, c := range f.dst.Calls() {
		if c.Op == "write" {
			for _, p := range c.Payloads {
				sent = append(sent, p.Values)
			}
		}
	}
	if !reflect.DeepEqual(sent, planned) {
		t.Errorf("sent:\n%#v\nplanned:\n%#v", sent, planned)
	}
}

// TestSavedPlanStale: under apply's lock, an order whose row changed or
// whose ledger entry another run changed is not sent.
func TestSavedPlanStale(t *testing.T) {
	ctx := context.Background()
	f := typedFixture(t, 6)
	led := enginetest.NewLedger()
	sp, err := engine.NewSavedPlan(&engine.Config{Jobs: []*engine.Job{f.job}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.job.Plan(ctx, &bytes.Buffer{}, engine.PlanOptions{Now: testNow, Save: sp, Ledger: led, LedgerName: "test"}); err != nil {
		t.Fatal(err)
	}
	// Another run sends order 000001, then 000003's row changes and 000004
	// leaves the source.
	other := typedFixture(t, 6)
	other.src.SetRows(rows(engine.Record{"order_no": "000001", "status": "gift", "qty": int64(1),
		"shipped": time.Date(2026, 11, 27, 0, 0, 0, 0, testNow.Location()), "updated": testNow.Add(-time.Minute)})...)
	if _, err := other.job.Run(ctx, engine.RunOptions{Ledger: led, Now: testNow}); err != nil {
		t.Fatal(err)
	}
	var keep []engine.Record
	for i := range 6 {
		if i == 4 {
			continue
		}
		r := engine.Record{"order_no": fmt.Sprintf("%06d", i), "status": []string{"new", "gift", "cancel"}[i%3], "qty": int64(i),
			"shipped": time.Date(2026, 11, 27, 0, 0, 0, 0, testNow.Location()), "updated": testNow.Add(-time.Duration(i) * time.Minute)}
		if i == 3 {
			r["qty"] = int64(33)
		}
		keep = append(keep, r)
	}
	f.src.SetRows(rows(keep...)...)
	sum, err := f.job.Apply(ctx, sp, engine.RunOptions{Ledger: led, Now: testNow.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for _, fl := range sum.Failures {
		if fl.Stage == "stale" {
			stale = append(stale, fl.Key+": "+fl.Message)
		}
	}
	want := []string{
		"000001: its ledger entry changed since the plan: none then, ok with payload",
		"000003: its row changed since the plan",
		"000004: its row is no longer in the source",
	}
	if sum.Stale != 3 || len(stale) != 3 {
		t.Fatalf("stale %d: %q", sum.Stale, stale)
	}
	for i := range want {
		if !strings.HasPrefix(stale[i], want[i]) {
			t.Errorf("stale[%d] = %q, want %q…", i, stale[i], want[i])
		}
	}
	var sent []string
	for _, c := range f.dst.Calls() {
		if c.Op == "write" {
			sent = append(sent, c.Keys()...)
		}
	}
	if strings.Join(sent, " ") != "000000" {
		t.Errorf("apply sent %v, want only 000000", sent)
	}
	if sum.Succeeded() {
		t.Error("an apply with stale orders reports success")
	}
}

// TestReadPlan: what is not a saved plan of this version is refused with
// a reason.
func TestReadPlan(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, "not a saved plan: EOF"},
		{"not JSON", `job "x" {}`, "not a saved plan: invalid JSON at byte 1"},
		{"another format", `{"format":"terraform","format_version":1}`, `not a saved plan (format "terraform", want "runner-plan")`},
		{"a later version", `{"format":"runner-plan","format_version":2}`, "saved plan format version 2; this runner reads version 1"},
		{"cut short", `{"format":"runner-plan","format_version":1,"orders":[{"key":"a"`, "not a saved plan: unexpected EOF"},
		{"a payload not an object", `{"format":"runner-plan","format_version":1,"orders":[{"key":"a","payload":3}]}`, "not a saved plan: json: cannot unmarshal number"},
		{"no orders", `{"format":"runner-plan","format_version":1,"job":"x","orders":[]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := engine.ReadPlan(strings.NewReader(tt.in))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.want == "" && p.Job != "x":
				t.Errorf("job %q", p.Job)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("error %v, want %q…", err, tt.want)
			}
		})
	}
}

// FuzzReadPlan: no input makes the reader panic, and what it accepts
// writes back to a plan it accepts again.
func FuzzReadPlan(f *testing.F) {
	f.Add([]byte(`{"format":"runner-plan","format_version":1,"job":"x","orders":[{"key":"a","pos":"f:2","row":{"hash":"ab"},"hash":"cd","payload":{"n":1.5,"s":"x"}}]}`))
	f.Add([]byte(`{"format":"runner-plan","format_version":1,"cost":{"calls":[{"kind":"token","n":1}],"total":1}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := engine.ReadPlan(bytes.NewReader(in))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := p.Write(&out); err != nil {
			return // a value JSON cannot hold (a huge number) is refused, not written half
		}
		if _, err := engine.ReadPlan(&out); err != nil {
			t.Fatalf("a plan written back does not read: %v\n%s", err, out.Bytes())
		}
		p.Show(&bytes.Buffer{}, false)
	})
}

// BenchmarkSavedPlan writes and reads a saved plan of 100,000 orders
// shaped as the shipping job's, and reports the file's size.
func BenchmarkSavedPlan(b *testing.B) {
	const n = 100_000
	sp := &engine.SavedPlan{Format: engine.PlanFormat, FormatVersion: engine.PlanFormatVersion, Job: "shipping-to-futureshop",
		Now: testNow, TimeZone: "Asia/Tokyo", Fields: []string{"order_no", "shipping_date", "invoice_no", "expected_arrival"}}
	for i := range n {
		no := fmt.Sprintf("1%011d", i)
		p := map[string]any{"order_no": no, "shipping_date": "2026-11-27", "invoice_no": fmt.Sprintf("%012d", i*7919), "expected_arrival": ""}
		sp.Orders = append(sp.Orders, engine.PlannedOrder{Key: no + "/1", Label: no, Pos: fmt.Sprintf("orders.csv:%d", i+2),
			Row:  engine.Fingerprint{Updated: testNow.Add(-time.Duration(i) * time.Second), Hash: fmt.Sprintf("%064x", i)},
			Hash: engine.PayloadHash(engine.Payload{Values: p}), Payload: p})
	}
	var file bytes.Buffer
	if err := sp.Write(&file); err != nil {
		b.Fatal(err)
	}
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			if err := sp.Write(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(file.Len()), "file-bytes")
	})
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			if _, err := engine.ReadPlan(bytes.NewReader(file.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(file.Len()), "file-bytes")
	})
}
