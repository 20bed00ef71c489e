package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

// The tests' fixed clock: 2026-11-28 10:00 in Tokyo.
var testNow = time.Date(2026, 11, 28, 10, 0, 0, 0, time.FixedZone("JST", 9*3600))

// orderFields are the test source's fields, a small GoQ export.
var orderFields = []engine.Field{
	{Name: "order_no", Kind: engine.String},
	{Name: "status", Kind: engine.String},
	{Name: "shipped", Kind: engine.Date},
	{Name: "tracking", Kind: engine.String},
	{Name: "qty", Kind: engine.Int},
	{Name: "buyer", Kind: engine.String, Personal: true},
}

// shipFields are the test destination's fields, a small futureshop.
var shipFields = []engine.Field{
	{Name: "order_no", Kind: engine.String, Required: true, MaxBytes: 12},
	{Name: "shipping_date", Kind: engine.Date},
	{Name: "invoice", Kind: engine.String, MaxBytes: 10},
	{Name: "qty", Kind: engine.Int},
	{Name: "name", Kind: engine.String},
}

var completeAction = []engine.Action{{Name: "complete", Doc: "mark the order done"}}

// shipJob is the job most tests run: one filter, a few mappings, one
// post-export action. %s is replaced by extra blocks.
const shipJob = `job "ship" {
  source "test" {}
  destination "test" {}
  filter "not cancelled" {
    when = "status != 'cancel'"
  }
  map {
    order_no      = "order_no"
    shipping_date = "shipped"
    invoice       = "tracking"
  }
  after_export {
    complete = true
  }
}
`

// order is a record of the test source.
func order(no, status, tracking string) engine.Record {
	return engine.Record{
		"order_no": no, "status": status, "tracking": tracking,
		"shipped": time.Date(2026, 11, 27, 0, 0, 0, 0, testNow.Location()),
	}
}

// rows makes a row per record.
func rows(recs ...engine.Record) []enginetest.Row {
	out := make([]enginetest.Row, len(recs))
	for i, r := range recs {
		out[i] = enginetest.Row{Rec: r}
	}
	return out
}

// fixture is a job over a scripted source and destination.
type fixture struct {
	src *enginetest.Source
	dst *enginetest.Destination
	job *engine.Job
}

func newFixture(t testing.TB, text string, src enginetest.SourceConfig, dst enginetest.DestinationConfig) *fixture {
	t.Helper()
	if src.Fields == nil {
		src.Fields = orderFields
	}
	if src.Label == "" {
		src.Label = "order_no"
	}
	if dst.Fields == nil {
		dst.Fields = shipFields
	}
	if dst.Actions == nil && strings.Contains(text, "after_export") {
		dst.Actions = completeAction
	}
	f := &fixture{src: enginetest.NewSource(src), dst: enginetest.NewDestination(dst)}
	f.job = enginetest.Load(t, f.src, f.dst, text, engine.LoadOptions{Now: testNow})
	return f
}
