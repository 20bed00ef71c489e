package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/goqsync/runner/version"
)

var update = flag.Bool("update", false, "rewrite golden files")

// env builds a lookupEnv over a fixed map, so tests never see the
// developer's own environment.
func env(kv ...string) func(string) (string, bool) {
	// No ledger unless a test gives one: goldens must not depend on what
	// earlier runs left behind.
	m := map[string]string{"RUNNER_DATABASE": filepath.Join(os.TempDir(), "runner-test-no-such-dir", "state.db")}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// invoke runs the command in-process and returns its transcript.
func invoke(t *testing.T, lookup func(string) (string, bool), args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(context.Background(), args, &out, &errb, lookup)
	return fmt.Sprintf("$ runner %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), code, out.String(), errb.String()), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

const (
	sample   = "../../testdata/orders-sample.csv"
	shipping = "../../examples/goq-to-futureshop.hcl"
	shops    = "../../examples/goq-to-futureshop-shops.hcl"
	seedNow  = "2026-11-28T10:00:00+09:00"
)

func TestGolden(t *testing.T) {
	tmp := t.TempDir()
	points := variant(t, tmp, "points-caveat.hcl", `points_activation = "注文完了時に有効"`, `points_activation = "処理済み時に有効"`)
	creds := env("FUTURESHOP_API_DOMAIN", "127.0.0.1:1", "FUTURESHOP_SHOP_KEY", "k", "FUTURESHOP_CLIENT_ID", "c", "FUTURESHOP_CLIENT_SECRET", "s")
	tests := []struct {
		name string
		env  func(string) (string, bool)
		args []string
		code int
	}{
		{"validate-examples", env(), []string{"validate", "../../examples"}, 0},
		{"validate-typo-field", env(), []string{"validate", "testdata/jobs/typo-field.hcl"}, 1},
		{"validate-expr-syntax", env(), []string{"validate", "testdata/jobs/expr-syntax.hcl"}, 1},
		{"validate-unknown-connector", env(), []string{"validate", "testdata/jobs/unknown-connector.hcl"}, 1},
		{"validate-missing-mapping", env(), []string{"validate", "testdata/jobs/missing-mapping.hcl"}, 1},
		{"validate-duplicate-job", env(), []string{"validate", "testdata/jobs/duplicate-job.hcl"}, 1},
		{"validate-hcl-syntax", env(), []string{"validate", "testdata/jobs/hcl-syntax.hcl"}, 1},
		{"validate-bad-vars", env(), []string{"validate", "testdata/jobs/bad-vars.hcl"}, 1},
		{"validate-json", env(), []string{"validate", "-json", "testdata/jobs/typo-field.hcl"}, 1},
		{"validate-github", env("GITHUB_ACTIONS", "true"), []string{"validate", "testdata/jobs/typo-field.hcl"}, 1},
		{"validate-undeclared-var", env(), []string{"validate", "-var", "goq_exprt=x.csv", shipping}, 1},
		{"validate-misspelt-argument", env(), []string{"validate", "testdata/jobs/misspelt-argument.hcl"}, 1},
		{"validate-misspelt-var", env(), []string{"validate", "testdata/jobs/misspelt-var.hcl"}, 1},
		{"validate-misspelt-json", env(), []string{"validate", "-json", "testdata/jobs/misspelt-argument.hcl"}, 1},
		{"plan-sample", env(), []string{"plan", "-var", "goq_export=" + sample, "-now", seedNow, shipping}, 0},
		{"plan-sample-json", env(), []string{"plan", "-json", "-var", "goq_export=" + sample, "-now", seedNow, shipping}, 0},
		{"plan-points-caveat", env(), []string{"plan", "-var", "goq_export=" + sample, "-now", seedNow, points}, 0},
		{"validate-points-caveat", env(), []string{"validate", points}, 0},
		{"validate-points-caveat-strict", env(), []string{"validate", "-strict", points}, 1},
		{"plan-missing-var", env(), []string{"plan", "-now", seedNow, shipping}, 2},
		{"run-unset-secret", env("FUTURESHOP_API_DOMAIN", "127.0.0.1:1"), []string{"run", "-var", "goq_export=" + sample, "-now", seedNow, shipping}, 2},
		{"plan-unknown-job", creds, []string{"plan", "-job", "shiping-to-futureshop", "-var", "goq_export=" + sample, shipping}, 2},
		{"unknown-command", env(), []string{"valdate"}, 2},
		{"plan-shops", env(), []string{"plan", "-var-file", "testdata/shops/two.vars.hcl", "-var", "goq_export_all=" + sample, "-now", seedNow, "-summary", shops}, 1},
		{"plan-shops-one", env(), []string{"plan", "-var-file", "testdata/shops/two.vars.hcl", "-var", "goq_export_all=" + sample, "-now", seedNow, "-summary", "-job", `shipping["a"]`, shops}, 0},
		{"plan-shops-missing-var", env(), []string{"plan", "-var", "goq_export_all=" + sample, "-now", seedNow, shops}, 2},
		{"run-shops-unset-secret", env("SHOP_A_API_DOMAIN", "127.0.0.1:1", "SHOP_A_SHOP_KEY", "k", "SHOP_A_CLIENT_ID", "c", "SHOP_A_CLIENT_SECRET", "s", "SHOP_B_API_DOMAIN", "127.0.0.1:1"),
			[]string{"run", "-var-file", "testdata/shops/two.vars.hcl", "-var", "goq_export_all=" + sample, "-now", seedNow, shops}, 2},
		{"plan-shops-unknown-job", env(), []string{"plan", "-var-file", "testdata/shops/two.vars.hcl", "-var", "goq_export_all=" + sample, "-job", `shipping["c"]`, shops}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, code := invoke(t, tt.env, tt.args...)
			got = strings.ReplaceAll(got, tmp, "$TMP")
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, got)
			}
			golden(t, tt.name, got)
		})
	}
}

// TestFmtIdempotent formats every example twice: the first pass must
// change nothing (examples are kept formatted) and so must the second.
func TestFmtIdempotent(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.hcl")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	dir := t.TempDir()
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The copies, not the originals: fmt -check must not write, and the
	// examples must come back byte for byte.
	if out, code := invoke(t, env(), "fmt", "-check", dir); code != 0 {
		t.Fatalf("examples are not formatted:\n%s", out)
	}
	for _, f := range files {
		orig, _ := os.ReadFile(f)
		copied, _ := os.ReadFile(filepath.Join(dir, filepath.Base(f)))
		if !bytes.Equal(orig, copied) {
			t.Errorf("fmt -check changed %s", filepath.Base(f))
		}
	}
	// A messy copy formats, then formats to itself.
	messy := filepath.Join(dir, "messy.hcl")
	os.WriteFile(messy, []byte("job \"x\" {\nsource \"goq_csv\" {\npath=\"a.csv\"\n}\n  map {\n order_no=\"order_no\"\n invoice_no   =  \"tracking_no\"\n}\n}\n"), 0o644)
	if _, code := invoke(t, env(), "fmt", messy); code != 0 {
		t.Fatal("fmt failed")
	}
	once, _ := os.ReadFile(messy)
	if _, code := invoke(t, env(), "fmt", "-check", messy); code != 0 {
		t.Fatalf("second fmt would change the file:\n%s", once)
	}
	// -diff shows the change as a unified diff and leaves the file alone.
	os.WriteFile(messy, []byte("job \"x\" {\nsource \"goq_csv\" {\npath=\"a.csv\"\n}\n}\n"), 0o644)
	out, code := invoke(t, env(), "fmt", "-diff", messy)
	wantDiff := "--- " + messy + "\n+++ " + messy + " (formatted)\n@@ -1,5 +1,5 @@\n job \"x\" {\n-source \"goq_csv\" {\n-path=\"a.csv\"\n-}\n+  source \"goq_csv\" {\n+    path = \"a.csv\"\n+  }\n }\n"
	if code != 0 || !strings.Contains(out, "--- stdout\n"+wantDiff+"--- stderr\n") {
		t.Errorf("fmt -diff: exit %d\n%s\nwant\n%s", code, out, wantDiff)
	}
	if b, _ := os.ReadFile(messy); !strings.HasPrefix(string(b), "job \"x\" {\nsource") {
		t.Error("fmt -diff wrote the file")
	}
	// A file that does not parse is refused and left alone.
	broken := filepath.Join(dir, "broken.hcl")
	os.WriteFile(broken, []byte("job \"x\" {\n"), 0o644)
	out, code = invoke(t, env(), "fmt", broken)
	if code != 1 || !strings.Contains(out, "does not parse") {
		t.Fatalf("broken file: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(broken); string(b) != "job \"x\" {\n" {
		t.Fatal("fmt changed a file that does not parse")
	}
}

// TestTimeZoneDataLinked: the binary carries its own zone database, so
// Asia/Tokyo loads in a minimal container.
func TestTimeZoneDataLinked(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !strings.Contains("\n"+string(out), "\ntime/tzdata\n") {
		t.Error("runner does not link time/tzdata")
	}
}

// TestHelpAndVersion: help goes to stdout with exit 0, once; a flag after
// the paths is named as such; version names the build.
func TestHelpAndVersion(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		stdout     string // a line the output must hold
		stderr     string
		onceStdout string // must appear exactly once in stdout
	}{
		{args: []string{"validate", "-h"}, stdout: "usage: runner validate [flags] [PATH...]", onceStdout: "usage:"},
		{args: []string{"retry", "-h"}, stdout: "usage: runner retry [flags] JOB [KEY...]", onceStdout: "usage:"},
		{args: []string{"plan", "-help"}, stdout: "-compare", onceStdout: "usage:"},
		{args: []string{"help", "run"}, stdout: "usage: runner run [flags] PATH...", onceStdout: "usage:"},
		{args: []string{"help"}, stdout: "help [COMMAND]"},
		{args: []string{"validate", "../../examples", "-h"}, stdout: "usage: runner validate", onceStdout: "usage:"},
		{args: []string{"help", "nope"}, code: exitConfig, stderr: `runner help: unknown command "nope"`},
		{args: []string{"validate", "../../examples", "-json"}, code: exitConfig, stderr: "runner validate: flags come before paths: put -json before ../../examples"},
		{args: []string{"plan", "x.hcl", "-var=a=b"}, code: exitConfig, stderr: "flags come before paths: put -var=a=b before x.hcl"},
		{args: []string{"retry", "-nope"}, code: exitConfig, stderr: "flag provided but not defined: -nope"},
		{args: []string{"retry"}, code: exitConfig, stderr: "usage: runner retry"},
		{args: []string{"version"}, stdout: "runner " + version.Current().String()},
		{args: []string{"-version"}, stdout: "runner " + version.Current().String()},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runMain(context.Background(), tt.args, &out, &errb, env())
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out.String())
			}
			if !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, errb.String())
			}
			if tt.code == 0 && errb.Len() != 0 {
				t.Errorf("stderr is not empty:\n%s", errb.String())
			}
			if tt.onceStdout != "" && strings.Count(out.String(), tt.onceStdout) != 1 {
				t.Errorf("%q appears %d times:\n%s", tt.onceStdout, strings.Count(out.String(), tt.onceStdout), out.String())
			}
		})
	}
}

// TestCommandSpans: validate and plan trace too, with the console exporter
// on stderr so spans never mix with a command's output.
func TestCommandSpans(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "../../examples"},
		{"plan", "-var", "goq_export=../../testdata/orders-sample.csv", "-now", "2026-11-28T10:00:00+09:00", "../../examples/goq-to-futureshop.hcl"},
	} {
		var out, errb bytes.Buffer
		code := runMain(context.Background(), args, &out, &errb, env("OTEL_TRACES_EXPORTER", "console"))
		if code != exitOK {
			t.Fatalf("%s: exit %d\n%s", args[0], code, errb.String())
		}
		if !strings.Contains(errb.String(), `"Name": "`+args[0]+`"`) {
			t.Errorf("%s: no %q span on stderr:\n%s", args[0], args[0], engineClip(errb.String()))
		}
		if strings.Contains(out.String(), `"Name"`) {
			t.Errorf("%s: spans on stdout", args[0])
		}
	}
}

// TestMain lets the parallel tests overlap on a one-core machine too: they
// wait on child processes, schedules and rate limits rather than compute,
// and go test would run them one at a time there (-parallel defaults to
// GOMAXPROCS). Four at once on one core, as they wait; an explicit
// -parallel stands.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && runtime.GOMAXPROCS(0) < 2 {
		flag.Set("test.parallel", "4")
	}
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}
