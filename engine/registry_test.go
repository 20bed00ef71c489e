package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/goqsync/runner/connectors/futureshop"
	"github.com/goqsync/runner/connectors/goq"
	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

func TestRegisterRejects(t *testing.T) {
	newSrc := func(hcl.Body, *engine.Settings) (engine.Source, hcl.Diagnostics) { return nil, nil }
	newDst := func(hcl.Body, *engine.Settings) (engine.Destination, hcl.Diagnostics) { return nil, nil }
	tests := []struct {
		name string
		fn   func(r *engine.Registry)
		want string // in the panic; "" for none
	}{
		{"source", func(r *engine.Registry) { r.RegisterSource(engine.SourceInfo{Name: "a", New: newSrc}) }, ""},
		{"source twice", func(r *engine.Registry) {
			r.RegisterSource(engine.SourceInfo{Name: "a", New: newSrc})
			r.RegisterSource(engine.SourceInfo{Name: "a", New: newSrc})
		}, "twice"},
		{"source without a name", func(r *engine.Registry) { r.RegisterSource(engine.SourceInfo{New: newSrc}) }, "required"},
		{"source without a factory", func(r *engine.Registry) { r.RegisterSource(engine.SourceInfo{Name: "a"}) }, "required"},
		{"same name, source and destination", func(r *engine.Registry) {
			r.RegisterSource(engine.SourceInfo{Name: "a", New: newSrc})
			r.RegisterDestination(engine.DestinationInfo{Name: "a", New: newDst})
		}, ""},
		{"destination twice", func(r *engine.Registry) {
			r.RegisterDestination(engine.DestinationInfo{Name: "a", New: newDst})
			r.RegisterDestination(engine.DestinationInfo{Name: "a", New: newDst})
		}, "twice"},
		{"destination without a factory", func(r *engine.Registry) { r.RegisterDestination(engine.DestinationInfo{Name: "a"}) }, "required"},
		{"action twice", func(r *engine.Registry) {
			r.RegisterDestination(engine.DestinationInfo{Name: "a", New: newDst, Actions: []engine.Action{{Name: "x"}, {Name: "x"}}})
		}, "declared twice"},
		{"action without a name", func(r *engine.Registry) {
			r.RegisterDestination(engine.DestinationInfo{Name: "a", New: newDst, Actions: []engine.Action{{}}})
		}, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				switch {
				case tt.want == "" && r != nil:
					t.Fatalf("panic %v", r)
				case tt.want != "" && (r == nil || !strings.Contains(r.(string), tt.want)):
					t.Fatalf("panic %v, want one saying %q", r, tt.want)
				}
			}()
			tt.fn(engine.NewRegistry())
		})
	}
}

// TestAfterExport: the engine reads after_export against the actions the
// destination declares, and hands the destination the ones turned on.
func TestAfterExport(t *testing.T) {
	reg := engine.NewRegistry()
	goq.Register(reg)
	futureshop.Register(reg)
	const fs = `
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
`
	const csv = `
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
`
	tests := []struct {
		name, body, after string
		actions           []string
		err               string // in the first error's summary and detail
		line              int    // the error's line within after_export, its first line 1
	}{
		{"none", fs, "", nil, "", 0},
		{"on", fs, "complete_order = true", []string{"complete_order"}, "", 0},
		{"off", fs, "complete_order = false", nil, "", 0},
		{"misspelt", fs, "\ncomplete_ordr = true", nil, "Unknown post-export action Destination futureshop has no post-export action complete_ordr; it has complete_order. Did you mean complete_order?", 2},
		{"not a bool", fs, "complete_order = \"yes\"", nil, "it must be true or false", 1},
		{"a destination without actions", csv, "complete_order = true", nil, "Destination goq_csv has no post-export actions", 1},
		{"a block", fs, "complete_order {}", nil, "Unexpected \"complete_order\" block", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "job \"x\" {" + tt.body
			if tt.after != "" {
				src += "  after_export {\n" + tt.after + "\n  }\n"
			}
			src += "}\n"
			path := filepath.Join(t.TempDir(), "job.hcl")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
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
				open := strings.Count(src[:strings.Index(src, "after_export")], "\n") + 1
				if d.Subject == nil || d.Subject.Start.Line != open+tt.line {
					t.Errorf("error at %v, want line %d", d.Subject, open+tt.line)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if got := cfg.Jobs[0].Actions; strings.Join(got, ",") != strings.Join(tt.actions, ",") {
				t.Errorf("Actions = %q, want %q", got, tt.actions)
			}
		})
	}
}

// TestActionNeeds: an action that assumes a field is set (Action.Needs)
// draws a warning, at the after_export line, unless a filter reads what
// the field's mapping reads.
func TestActionNeeds(t *testing.T) {
	const job = `job "ship" {
  source "test" {}
  destination "test" {}
%s
  map {
    order_no = "order_no"
%s
  }
  after_export {
    complete = true
  }
}
`
	tests := []struct {
		name, filter, mapping string
		warn                  string // in the warning's detail; "" for none
	}{
		{"guarded", `  filter "shipped" {
    when = "shipped != nil"
  }`, `    shipping_date = "shipped"`, ""},
		{"guarded inside an expression", `  filter "recent" {
    when = "within_days(shipped, 3) && status != 'hold'"
  }`, `    shipping_date = "ymd(shipped)"`, ""},
		{"unguarded", `  filter "status" {
    when = "status != 'hold'"
  }`, `    shipping_date = "shipped"`, `no filter reads shipped, which shipping_date comes from, so a record without shipped gets complete too. A filter keeps such records out: filter "has-shipped" { when = "shipped != nil" }.`},
		{"unmapped", "", "", "the job maps no shipping_date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "job.hcl")
			if err := os.WriteFile(path, []byte(fmt.Sprintf(job, tt.filter, tt.mapping)), 0o644); err != nil {
				t.Fatal(err)
			}
			src := enginetest.NewSource(enginetest.SourceConfig{Fields: []engine.Field{
				{Name: "order_no", Kind: engine.String}, {Name: "status", Kind: engine.String}, {Name: "shipped", Kind: engine.Date}}, Label: "order_no"})
			dst := enginetest.NewDestination(enginetest.DestinationConfig{
				Fields:  []engine.Field{{Name: "order_no", Kind: engine.String, Required: true}, {Name: "shipping_date", Kind: engine.Date}},
				Actions: []engine.Action{{Name: "complete", Needs: []string{"shipping_date"}}}})
			reg := engine.NewRegistry()
			enginetest.Register(reg, src, dst)
			_, diags := engine.Load([]string{path}, engine.LoadOptions{Registry: reg, LookupEnv: func(string) (string, bool) { return "", false }})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			switch {
			case tt.warn == "" && len(diags) > 0:
				t.Errorf("unexpected %v", diags)
			case tt.warn != "" && (len(diags) != 1 || !strings.Contains(diags[0].Detail, tt.warn)):
				t.Errorf("diags %v, want a warning saying %q", diags, tt.warn)
			case tt.warn != "" && diags[0].Subject.Start.Line != strings.Count(fmt.Sprintf(job, tt.filter, tt.mapping)[:strings.Index(fmt.Sprintf(job, tt.filter, tt.mapping), "complete =")], "\n")+1:
				t.Errorf("warning at %v, want the after_export line", diags[0].Subject)
			}
		})
	}
}
