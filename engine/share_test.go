package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

// passJob is an instance per status: each takes the records of its own.
const passJob = `variable "shops" {
  type = map(string)
}
job "ship" {
  for_each = var.shops
  source "test" {}
  destination "test" {}
  filter "mine" {
    when = "status == each.value"
  }
  map {
    order_no = "order_no"
  }
}
`

func loadPass(t *testing.T, src enginetest.SourceConfig, dst enginetest.DestinationConfig) ([]*engine.Job, *enginetest.Source, *enginetest.Destination) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job.hcl")
	if err := os.WriteFile(path, []byte(passJob), 0o644); err != nil {
		t.Fatal(err)
	}
	src.Fields, src.Label = orderFields, "order_no"
	dst.Fields = shipFields
	s, d := enginetest.NewSource(src), enginetest.NewDestination(dst)
	reg := engine.NewRegistry()
	enginetest.Register(reg, s, d)
	cfg, diags := engine.Load([]string{path}, engine.LoadOptions{Registry: reg, Now: testNow,
		Vars:      []engine.VarArg{{Value: `shops={ a = "x", b = "y", c = "z" }`}},
		LookupEnv: func(string) (string, bool) { return "", false }})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return cfg.Jobs, s, d
}

func passRows(n int) []enginetest.Row {
	var recs []engine.Record
	for i := range n {
		recs = append(recs, order(fmt.Sprint(100000+i), []string{"x", "y", "z"}[i%3], "T"))
	}
	return rows(recs...)
}

// runPasses runs every job of p at once, as runner run does.
func runPasses(t *testing.T, p *engine.Passes, skip map[int]bool) []engine.RunSummary {
	t.Helper()
	sums := make([]engine.RunSummary, len(p.Jobs))
	var wg sync.WaitGroup
	for i, j := range p.Jobs {
		if skip[i] {
			p.Done(i) // its run ended before it read: a lock refused it
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.Done(i)
			sum, err := j.Run(context.Background(), engine.RunOptions{Now: testNow})
			if err != nil {
				t.Errorf("%s: %v", j.Name, err)
			}
			sums[i] = sum
		}()
	}
	wg.Wait()
	return sums
}

// TestSharePasses: instances reading the same export at once read it in
// one pass, each record offered to every one, and each sends its own.
func TestSharePasses(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		shares  []string
		skip    map[int]bool
		decoded int
		groups  string
	}{
		{name: "one pass for three", key: "export.csv", decoded: 300, groups: "[[0 1 2]]"},
		{name: "a source that does not share is read by each", decoded: 900, groups: "[[0] [1] [2]]"},
		{name: "one that never reads does not hold up the others", key: "export.csv", skip: map[int]bool{1: true}, decoded: 300, groups: "[[0 1 2]]"},
		// One would wait for the other's lock while the pass waits for it.
		{name: "jobs sharing a shop's budget read apart", key: "export.csv", shares: []string{"shop"}, decoded: 900, groups: "[[0] [1] [2]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs, src, dst := loadPass(t, enginetest.SourceConfig{Rows: passRows(300), ShareKey: tt.key},
				enginetest.DestinationConfig{BatchSize: 100, Shares: tt.shares})
			p := engine.SharePasses(jobs, 0)
			if got := fmt.Sprint(p.Groups); got != tt.groups {
				t.Errorf("groups %s, want %s", got, tt.groups)
			}
			var sums []engine.RunSummary
			if tt.shares != nil {
				for _, g := range p.Groups { // apart: one group after the other
					for _, i := range g {
						sum, err := p.Jobs[i].Run(context.Background(), engine.RunOptions{Now: testNow})
						if err != nil {
							t.Fatal(err)
						}
						p.Done(i)
						sums = append(sums, sum)
					}
				}
			} else {
				sums = runPasses(t, p, tt.skip)
			}
			if got := src.Decoded(); got != tt.decoded {
				t.Errorf("%d rows decoded, want %d", got, tt.decoded)
			}
			for i, s := range sums {
				if tt.skip[i] {
					continue
				}
				if s.Counts.Read != 300 || s.Counts.Send != 100 || s.OK != 100 {
					t.Errorf("%s: read %d, sent %d, ok %d; want 300, 100, 100", s.Job, s.Counts.Read, s.Counts.Send, s.OK)
				}
			}
			sent := map[string]int{}
			for _, c := range dst.Calls() {
				if c.Op == "write" {
					for _, k := range c.Keys() {
						sent[k]++
					}
				}
			}
			want := 300 - 100*len(tt.skip)
			if len(sent) != want {
				t.Errorf("%d records sent, want %d", len(sent), want)
			}
			for k, n := range sent {
				if n != 1 {
					t.Errorf("%s sent %d times", k, n)
				}
			}
		})
	}
}

// TestSharePassOpenError: a source that cannot open fails every run of its
// pass, and is tried once.
func TestSharePassOpenError(t *testing.T) {
	boom := fmt.Errorf("export.csv: no such file")
	jobs, src, _ := loadPass(t, enginetest.SourceConfig{ShareKey: "export.csv", OpenErr: boom},
		enginetest.DestinationConfig{BatchSize: 100})
	p := engine.SharePasses(jobs, 0)
	var wg sync.WaitGroup
	errs := make([]error, len(p.Jobs))
	for i, j := range p.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.Done(i)
			_, errs[i] = j.Run(context.Background(), engine.RunOptions{Now: testNow})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("%s: %v, want the source's error", p.Jobs[i].Name, err)
		}
	}
	if n := len(src.Opens()); n != 1 {
		t.Errorf("source opened %d times, want once", n)
	}
}
