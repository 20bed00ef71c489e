package engine_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

// TestPlanJapaneseFields: a destination whose fields are named in Japanese
// (a goq_csv import's headers) gets its payload's "=" lined up by display
// width, as with ASCII names.
func TestPlanJapaneseFields(t *testing.T) {
	const job = `job "import" {
  source "test" {}
  destination "test" {}
  map {
    受注番号 = "order_no"
    出荷日   = "shipped"
    note     = "tracking"
  }
}
`
	f := newFixture(t, job, enginetest.SourceConfig{Rows: rows(order("1001", "shipped", "ﾊﾝｶｸ"))},
		enginetest.DestinationConfig{Fields: []engine.Field{
			{Name: "受注番号", Kind: engine.String, Required: true},
			{Name: "出荷日", Kind: engine.Date},
			{Name: "note", Kind: engine.String},
		}})
	var out bytes.Buffer
	if _, err := f.job.Plan(context.Background(), &out, engine.PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-japanese-fields.txt", out.Bytes())
}
