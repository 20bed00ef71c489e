package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/goqsync/runner/connectors/futureshop"
	"github.com/goqsync/runner/connectors/goq"
	"github.com/goqsync/runner/engine"
)

// TestReconcileBlock: a job's reconcile block is decoded next to its own
// schedule, in the job's time zone, and its mistakes are named where they are.
func TestReconcileBlock(t *testing.T) {
	reg := engine.NewRegistry()
	goq.Register(reg)
	futureshop.Register(reg)
	const job = `job "x" {
  time_zone = "Asia/Tokyo"
  source "goq_csv" {
    path = "a.csv"
  }
  destination "futureshop" {
    api_domain    = "shop.example.jp"
    shop_key      = "k"
    client_id     = "c"
    client_secret = "s"
  }
  map {
    order_no = "order_no"
  }
%s}
`
	const toCSV = `job "x" {
  source "goq_csv" {
    path = "a.csv"
  }
  destination "goq_csv" {
    dir     = "out"
    columns = ["order_no"]
  }
  map {
    order_no = "order_no"
  }
%s}
`
	tests := []struct {
		job         string
		name, block string
		next        time.Time // after 2026-11-28 10:03 JST; zero: no block
		requeue     bool
		err         string
		line        int // of the error, in the file
	}{
		{name: "none"},
		{name: "daily", block: "reconcile {\n  schedule = \"daily 06:00\"\n}\n", next: time.Date(2026, 11, 29, 6, 0, 0, 0, time.FixedZone("JST", 9*3600))},
		{name: "cron and requeue", block: "reconcile {\n  schedule = \"30 10 * * *\"\n  requeue = true\n}\n", next: time.Date(2026, 11, 28, 10, 30, 0, 0, time.FixedZone("JST", 9*3600)), requeue: true},
		{name: "bad schedule", block: "reconcile {\n  schedule = \"daily 6am\"\n}\n", err: `The reconcile schedule "daily 6am" of job "x" is not valid`, line: 16},
		{name: "no schedule", block: "reconcile {\n}\n", err: "schedule", line: 15},
		{name: "requeue not a bool", block: "reconcile {\n  schedule = \"daily 06:00\"\n  requeue = \"yes\"\n}\n", err: "must be true or false", line: 17},
		{name: "a destination that cannot read back", job: toCSV, block: "reconcile {\n  schedule = \"daily 06:00\"\n}\n", err: "Destination goq_csv cannot read back what it holds", line: 12},
		{name: "twice", block: "reconcile {\n  schedule = \"daily 06:00\"\n}\nreconcile {\n  schedule = \"daily 07:00\"\n}\n", err: "Duplicate reconcile block", line: 18},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "job.hcl")
			src := job
			if tt.job != "" {
				src = tt.job
			}
			if err := os.WriteFile(path, []byte(strings.Replace(src, "%s", tt.block, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, diags := engine.Load([]string{path}, engine.LoadOptions{Registry: reg, LookupEnv: func(string) (string, bool) { return "", false }})
			if tt.err != "" {
				if !diags.HasErrors() {
					t.Fatalf("no error, want %q", tt.err)
				}
				d := diags.Errs()[0].(*hcl.Diagnostic)
				if got := d.Summary + " " + d.Detail; !strings.Contains(got, tt.err) {
					t.Errorf("error %q, want %q", got, tt.err)
				}
				if d.Subject == nil || d.Subject.Start.Line != tt.line {
					t.Errorf("error at %v, want line %d", d.Subject, tt.line)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			r := cfg.Jobs[0].Reconcile
			if tt.next.IsZero() {
				if r != nil {
					t.Fatalf("Reconcile = %+v, want nil", r)
				}
				return
			}
			from := time.Date(2026, 11, 28, 10, 3, 0, 0, cfg.Jobs[0].Location)
			if r == nil || !r.Schedule.Next(from).Equal(tt.next) || r.Requeue != tt.requeue {
				t.Fatalf("Reconcile = %+v, want next %v, requeue %v", r, tt.next, tt.requeue)
			}
		})
	}
}
