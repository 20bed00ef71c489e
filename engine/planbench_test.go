package engine_test

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop"
	"github.com/goqsync/runner/connectors/goq"
	"github.com/goqsync/runner/engine"
)

// BenchmarkPlanExport plans a large GoQ export with the seed job, as
// runner plan and plan -json do, to a discarded output: set PLAN_EXPORT to the file
// (go run ./connectors/goq/goqtest/genexport writes a 1,000,000-row one).
func BenchmarkPlanExport(b *testing.B) {
	path := os.Getenv("PLAN_EXPORT")
	if path == "" {
		b.Skip("set PLAN_EXPORT to a GoQ export")
	}
	reg := engine.NewRegistry()
	goq.Register(reg)
	futureshop.Register(reg)
	now, _ := time.Parse(time.RFC3339, "2026-11-28T10:00:00+09:00")
	cfg, diags := engine.Load([]string{"../examples/goq-to-futureshop.hcl"}, engine.LoadOptions{
		Registry: reg, Vars: []engine.VarArg{{Value: "goq_export=" + path}}, Now: now,
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	j, _ := cfg.Job("shipping-to-futureshop")
	for _, asJSON := range []bool{false, true} {
		name := "text"
		if asJSON {
			name = "json"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := j.Plan(context.Background(), io.Discard, engine.PlanOptions{JSON: asJSON}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
