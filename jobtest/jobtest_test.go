package jobtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop"
	"github.com/goqsync/runner/connectors/goq"
	"github.com/goqsync/runner/engine"
)

func registry() *engine.Registry {
	r := engine.NewRegistry()
	goq.Register(r)
	futureshop.Register(r)
	return r
}

// recorder keeps the results a suite reports.
type recorder struct{ results []Result }

func (r *recorder) StartFile(string)                         {}
func (r *recorder) StartRun(string, string)                  {}
func (r *recorder) EndRun(res Result)                        { r.results = append(r.results, res) }
func (r *recorder) EndFile(string, bool, int, time.Duration) {}

const job = `
job "j" {
  source "goq_csv" {
    path     = "/nonexistent/never-read.csv"
    encoding = "cp932"
  }
  destination "futureshop" {
    api_domain    = "shop.invalid"
    shop_key      = "k"
    client_id     = "c"
    client_secret = "s"
  }
  filter "recent" { when = "within_days(updated_at, 2)" }
  map {
    order_no   = "order_no"
    invoice_no = "tracking_no"
  }
}
`

// TestRun checks each fate and each way an expectation can differ, and
// that the job file's own path, encoding and shop are replaced.
func TestRun(t *testing.T) {
	const rows = `
  input {
    rows = [
      { 受注番号 = "1", 最終更新日時 = "2026-11-26 00:00:00", お荷物伝票番号 = "A" },
      { 受注番号 = "2", 最終更新日時 = "2026-11-25 23:59:59", お荷物伝票番号 = "B" },
      { 受注番号 = "3", 最終更新日時 = "2026-11-27 00:00:00", お荷物伝票番号 = "" },
    ]
  }
  now = "2026-11-28T10:00:00+09:00"
`
	tests := []struct {
		name, expect string
		fails        []string
	}{
		{"pass", `
  expect "1" { send = { invoice_no = "A" } }
  expect "2" { excluded = "recent" }
  expect "3" {
    send  = { order_no = "3" }
    exact = true
  }
  expect "4" { absent = true }`, nil},
		{"fate", `expect "2" { send = {} }`, []string{`order 2: want send, got excluded by filter "recent"`}},
		{"field", `expect "1" { send = { invoice_no = "B" } }`, []string{`order 1: invoice_no: want "B", got "A"`}},
		{"unsent", `expect "3" { send = { invoice_no = "" } }`, []string{`order 3: invoice_no: want "", got none (not sent)`}},
		{"exact", `
  expect "1" {
    send  = { order_no = "1" }
    exact = true
  }`, []string{`order 1: invoice_no: want none, got "A"`}},
		{"missing", `expect "9" { excluded = "recent" }`, []string{`order 9: want excluded by filter "recent", got no record of it`}},
		{"present", `expect "1" { absent = true }`, []string{`order 1: want absent (never read), got send`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "job.hcl"), job)
			write(t, filepath.Join(dir, "job.test.hcl"), "run \""+tt.name+"\" {\n"+rows+tt.expect+"\n}\n")
			suite, diags := Load([]string{filepath.Join(dir, "job.test.hcl")}, Options{Registry: registry()})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			var rec recorder
			pass := suite.Run(context.Background(), nil, &rec)
			if len(rec.results) != 1 {
				t.Fatalf("%d results, want 1", len(rec.results))
			}
			got := rec.results[0].Failures
			if pass != (len(tt.fails) == 0) || len(got) != len(tt.fails) {
				t.Fatalf("pass %v, failures:\n%s\nwant:\n%s", pass, strings.Join(got, "\n"), strings.Join(tt.fails, "\n"))
			}
			for i, want := range tt.fails {
				if !strings.HasSuffix(got[i], want) {
					t.Errorf("failure %d:\n%s\nwant it to end in\n%s", i, got[i], want)
				}
			}
		})
	}
}

func write(t *testing.T, name, s string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
