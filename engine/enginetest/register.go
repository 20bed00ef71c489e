package enginetest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/goqsync/runner/engine"
	"github.com/hashicorp/hcl/v2"
)

// Name is what job files call the source and the destination Register adds.
const Name = "test"

// Register adds src as source "test" and dst as destination "test" to r.
// Their blocks take no settings: the test configures them in Go. Every
// job that names them shares the same src and dst.
func Register(r *engine.Registry, src *Source, dst *Destination) {
	r.RegisterSource(engine.SourceInfo{
		Name: Name, Doc: "scripted records, for tests", Fields: src.Fields(),
		New: func(body hcl.Body, _ *engine.Settings) (engine.Source, hcl.Diagnostics) {
			_, diags := body.Content(&hcl.BodySchema{})
			return src, diags
		},
	})
	r.RegisterDestination(engine.DestinationInfo{
		Name: Name, Doc: "scripted answers, for tests", Fields: dst.Fields(), Actions: dst.cfg.Actions,
		New: func(body hcl.Body, _ *engine.Settings) (engine.Destination, hcl.Diagnostics) {
			_, diags := body.Content(&hcl.BodySchema{})
			return dst, diags
		},
	})
}

// Load writes text to a job file in t's temporary directory and loads it
// with src and dst registered; opts.Registry is replaced. It fails t on
// any error diagnostic and returns the config's only job.
func Load(t testing.TB, src *Source, dst *Destination, text string, opts engine.LoadOptions) *engine.Job {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job.hcl")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Registry = engine.NewRegistry()
	Register(opts.Registry, src, dst)
	if opts.LookupEnv == nil {
		opts.LookupEnv = func(string) (string, bool) { return "", false }
	}
	cfg, diags := engine.Load([]string{path}, opts)
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	if len(cfg.Jobs) != 1 {
		t.Fatalf("load: %d jobs, want 1", len(cfg.Jobs))
	}
	return cfg.Jobs[0]
}
