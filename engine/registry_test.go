package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/goqsync/runner/connectors/futureshop"
	"github.com/goqsync/runner/connectors/goq"
	"github.com/goqsync/runner/engine"
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
