package engine_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// A connector is what a job file names in source "NAME" or destination
// "NAME": a SourceInfo or DestinationInfo in the Registry main fills. Its
// New decodes the connector's own block; the engine compiles the job's
// filters and mappings against the fields it declares, so mistakes show
// in validate, before anything runs.

// shelf is a source: parcels waiting on a shelf.
type shelf struct{ parcels []engine.Record }

var shelfFields = []engine.Field{
	{Name: "parcel", Kind: engine.String, Doc: "the parcel's number"},
	{Name: "packed", Kind: engine.Bool},
	{Name: "packed_on", Kind: engine.Date},
}

func (s *shelf) Fields() []engine.Field { return shelfFields }
func (s *shelf) Label() string          { return "parcel" }

func (s *shelf) Open(ctx context.Context) (engine.Records, error) {
	return &shelfRecords{rows: s.parcels}, nil
}

// shelfRecords streams the parcels, one record at a time.
type shelfRecords struct {
	rows []engine.Record
	n    int
}

func (r *shelfRecords) Next(ctx context.Context, rec engine.Record) (engine.Meta, error) {
	if r.n == len(r.rows) {
		return engine.Meta{}, io.EOF
	}
	r.n++
	maps.Copy(rec, r.rows[r.n-1])
	return engine.Meta{Pos: fmt.Sprintf("shelf:%d", r.n)}, nil
}

func (r *shelfRecords) Close() error { return nil }

// printer is a destination that prints what it is sent, after a prefix
// its block sets.
type printer struct{ prefix string }

func (p *printer) Fields() []engine.Field {
	return []engine.Field{
		{Name: "parcel", Kind: engine.String, Required: true, MaxBytes: 8},
		{Name: "date", Kind: engine.Date},
	}
}

func (p *printer) Key(values map[string]any) string { return values["parcel"].(string) }
func (p *printer) BatchSize() int                   { return 2 }

func (p *printer) Open(ctx context.Context) (engine.Conn, error) {
	return &printerConn{prefix: p.prefix}, nil
}

type printerConn struct{ prefix string }

// Write answers one Result per payload, in order; an error would mean
// the whole batch failed.
func (c *printerConn) Write(ctx context.Context, batch []engine.Payload) ([]engine.Result, error) {
	out := make([]engine.Result, len(batch))
	for i, p := range batch {
		if p.Key == "P-3" {
			out[i] = engine.Result{Code: "E42", Message: "no such parcel", Permanent: true}
			continue
		}
		fmt.Printf("%s write %s %v\n", c.prefix, p.Key, p.Values["date"])
		out[i] = engine.Result{OK: true}
	}
	return out, nil
}

// Apply runs a post-export action on the payloads Write accepted.
func (c *printerConn) Apply(ctx context.Context, action string, batch []engine.Payload) ([]engine.Result, error) {
	out := make([]engine.Result, len(batch))
	for i, p := range batch {
		fmt.Printf("%s %s %s\n", c.prefix, action, p.Key)
		out[i] = engine.Result{OK: true}
	}
	return out, nil
}

func (c *printerConn) Close(ctx context.Context) error { return nil }

// Example registers a source and a destination, loads a job file that
// names them, plans the job and runs it.
func Example() {
	reg := engine.NewRegistry()
	parcels := []engine.Record{
		{"parcel": "P-1", "packed": true, "packed_on": time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)},
		{"parcel": "P-2", "packed": false},
		{"parcel": "P-3", "packed": true},
	}
	reg.RegisterSource(engine.SourceInfo{
		Name:   "shelf",
		Doc:    "parcels on a shelf",
		Fields: shelfFields,
		New: func(body hcl.Body, s *engine.Settings) (engine.Source, hcl.Diagnostics) {
			_, diags := body.Content(&hcl.BodySchema{}) // no settings: refuse any
			return &shelf{parcels: parcels}, diags
		},
	})
	reg.RegisterDestination(engine.DestinationInfo{
		Name:     "printer",
		Doc:      "prints what it is sent",
		Settings: []engine.Setting{{Name: "prefix", Doc: "what each line starts with"}},
		Fields:   (&printer{}).Fields(),
		Actions:  []engine.Action{{Name: "notify", Doc: "tell the buyer"}},
		New: func(body hcl.Body, s *engine.Settings) (engine.Destination, hcl.Diagnostics) {
			content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "prefix"}}})
			p := &printer{prefix: ">"}
			if a, ok := content.Attributes["prefix"]; ok {
				v, d := a.Expr.Value(s.Eval) // var.x and env("X") work here
				diags = append(diags, d...)
				if !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
					p.prefix = v.AsString()
				}
			}
			return p, diags
		},
	})

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "parcels.hcl")
	os.WriteFile(path, []byte(`job "parcels" {
  source "shelf" {}
  destination "printer" {
    prefix = "printer:"
  }
  filter "packed" {
    when = "packed"
  }
  map {
    parcel = "parcel"
    date   = "packed_on"
  }
  after_export {
    notify = true
  }
}
`), 0o644)
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	cfg, diags := engine.Load([]string{path}, engine.LoadOptions{Registry: reg, Now: now})
	if diags.HasErrors() {
		fmt.Println(diags)
		return
	}
	job, _ := cfg.Job("parcels")

	ctx := context.Background()
	if _, err := job.Plan(ctx, os.Stdout, engine.PlanOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println()
	sum, err := job.Run(ctx, engine.RunOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s; %d ok, %d failed\n", sum.Counts, sum.OK, sum.Failed)
	for _, f := range sum.Failures {
		fmt.Printf("failed %s at %s [%s]: %s\n", f.Key, f.Stage, f.Code, f.Message)
	}
	// Output:
	// Job "parcels": shelf → printer, now 2026-11-28T19:00:00+09:00 (Asia/Tokyo)
	//
	// + P-1  shelf:1
	//     parcel = "P-1"
	//     date   = "2026-11-27"
	// - P-2  shelf:2  excluded by filter "packed": packed = false
	// + P-3  shelf:3
	//     parcel = "P-3"
	//
	// After export: notify, for each record whose export succeeds.
	// Plan: 2 to send, 1 excluded, 0 errors (3 records read).
	//
	// printer: write P-1 2026-11-27
	// printer: notify P-1
	// 2 to send, 1 excluded, 0 errors (3 records read); 1 ok, 1 failed
	// failed P-3 at write [E42]: no such parcel
}
