package engine_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqsync/runner/connectors/futureshop"
	"github.com/goqsync/runner/connectors/goq"
	"github.com/goqsync/runner/engine"
)

// FuzzLoad feeds arbitrary job files to the loader: whatever the bytes,
// it must answer with diagnostics, never a panic.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../examples/*.hcl")
	more, _ := filepath.Glob("../cmd/runner/testdata/jobs/*.hcl")
	for _, p := range append(seeds, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`job "x" { map { order_no = "let a = 1; a +" } }`))
	// Nesting deep enough to overflow a parser's stack, were it not refused.
	f.Add([]byte("variable \"x\" {\n  default = " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n}\n"))
	f.Add([]byte("variable \"x\" {\n  default = \"" + strings.Repeat("${", 200) + "1" + strings.Repeat("}", 200) + "\"\n}\n"))
	f.Add([]byte(`job "x" { filter "f" { when = "` + strings.Repeat("(", 200) + "true" + strings.Repeat(")", 200) + `" } }`))
	reg := engine.NewRegistry()
	goq.Register(reg)
	futureshop.Register(reg)
	f.Fuzz(func(t *testing.T, src []byte) {
		path := filepath.Join(t.TempDir(), "job.hcl")
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, diags := engine.Load([]string{path}, engine.LoadOptions{Registry: reg, LookupEnv: func(string) (string, bool) { return "", false }})
		for _, d := range diags {
			if d.Summary == "" {
				t.Fatalf("diagnostic without a summary: %#v", d)
			}
		}
		var sink discard
		cfg.DiagWriter().WriteText(&sink, diags)
		// Formatting what parses is idempotent: fmt -check passes on fmt's output.
		once, fdiags := engine.Format(src, path)
		if fdiags.HasErrors() {
			return
		}
		twice, fdiags := engine.Format(once, path)
		if fdiags.HasErrors() {
			t.Fatalf("formatted source does not parse: %s\n%s", fdiags, once)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("formatting is not idempotent:\n--- once\n%s\n--- twice\n%s", once, twice)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
