package engine_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop"
	"github.com/goqsync/runner/connectors/goq"
	"github.com/goqsync/runner/engine"
)

func loadSeedJob(tb testing.TB) *engine.Job {
	tb.Helper()
	reg := engine.NewRegistry()
	goq.Register(reg)
	futureshop.Register(reg)
	now, _ := time.Parse(time.RFC3339, "2026-11-28T10:00:00+09:00")
	cfg, diags := engine.Load([]string{"../examples/goq-to-futureshop.hcl"}, engine.LoadOptions{
		Registry: reg, Vars: []engine.VarArg{{Value: "goq_export=../testdata/orders-sample.csv"}}, Now: now,
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	j, _ := cfg.Job("shipping-to-futureshop")
	return j
}

// sampleRecords reads the sample export through the real reader.
func sampleRecords(tb testing.TB, j *engine.Job) []engine.Record {
	recs, err := j.Source.Open(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	defer recs.Close()
	var out []engine.Record
	for {
		rec := engine.Record{}
		if _, err := recs.Next(context.Background(), rec); err == io.EOF {
			break
		} else if err != nil {
			tb.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// BenchmarkSeedJob measures the filter+map cost per record of the seed
// shipping job, over the sample's mix of included and excluded orders.
func BenchmarkSeedJob(b *testing.B) {
	j := loadSeedJob(b)
	recs := sampleRecords(b, j)
	eval := j.EvalFunc()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		eval(recs[i%len(recs)])
	}
}

// BenchmarkSeedJobIncluded is the worst case: every record passes all
// four filters and is mapped.
func BenchmarkSeedJobIncluded(b *testing.B) {
	j := loadSeedJob(b)
	recs := sampleRecords(b, j)
	rec := recs[0] // 100000001201: included, every field set
	eval := j.EvalFunc()
	if eval(rec) != engine.Send {
		b.Fatal("record 1 should be sent")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		eval(rec)
	}
}

// BenchmarkRunCompile is what a run pays once to bind the seed job's
// expressions to its clock.
func BenchmarkRunCompile(b *testing.B) {
	j := loadSeedJob(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := j.CompileForRun(); err != nil {
			b.Fatal(err)
		}
	}
}
