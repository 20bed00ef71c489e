package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// timings are the parts of runner test's output that differ run to run.
var timings = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\(\d+\.\d+s\)`), "(0.00s)"},
	{regexp.MustCompile(`\t\d+\.\d+s`), "\t0.000s"},
	{regexp.MustCompile(`\\t\d+\.\d+s`), `\t0.000s`},
	{regexp.MustCompile(`"Time":"[^"]*"`), `"Time":"T"`},
	{regexp.MustCompile(`"Elapsed":[0-9.]+`), `"Elapsed":0`},
}

func TestTestCommand(t *testing.T) {
	tmp := t.TempDir()
	// A copy of the example whose 最終更新日 window is a day shorter: its
	// tests must fail, naming the orders on the old edge and the filter.
	rewrite(t, shipping, tmp, "goq-to-futureshop.hcl", "within_days(updated_at, 4)", "within_days(updated_at, 3)")
	tests, err := os.ReadFile("../../examples/goq-to-futureshop.test.hcl")
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("../../testdata/orders-sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	tests = []byte(strings.ReplaceAll(string(tests), "../testdata/orders-sample.csv", abs))
	if err := os.WriteFile(filepath.Join(tmp, "goq-to-futureshop.test.hcl"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"test-examples", []string{"test", "../../examples"}, 0},
		{"test-examples-json", []string{"test", "-json", "-run", "store|against", "../../examples"}, 0},
		{"test-verbose", []string{"test", "-v", "-run", "^store-and-status$", "../../examples/goq-to-futureshop.test.hcl"}, 0},
		{"test-window-changed", []string{"test", tmp}, 1},
		{"test-window-changed-json", []string{"test", "-json", "-run", "updated", tmp}, 1},
		{"test-mistakes", []string{"test", "testdata/jobtest"}, 2},
		{"validate-test-mistakes", []string{"validate", "testdata/jobtest"}, 1},
		{"test-bad-run-flag", []string{"test", "-run", "(", "../../examples"}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, code := invoke(t, env(), tt.args...)
			got = strings.ReplaceAll(got, tmp, "$TMP")
			for _, r := range timings {
				got = r.re.ReplaceAllString(got, r.with)
			}
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, got)
			}
			golden(t, tt.name, got)
		})
	}
}

// TestWindowChangeNamesOrderAndFilter is the point of runner test: a
// filter's window moved by a day fails on the order at the old edge.
func TestWindowChangeNamesOrderAndFilter(t *testing.T) {
	tmp := t.TempDir()
	rewrite(t, shipping, tmp, "goq-to-futureshop.hcl", "within_days(ordered_at, 170)", "within_days(ordered_at, 169)")
	tests, err := os.ReadFile("../../examples/goq-to-futureshop.test.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "goq-to-futureshop.test.hcl"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	got, code := invoke(t, env(), "test", "-run", "ordered", tmp)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailed, got)
	}
	want := `order 100000001208: want send, got excluded by filter "ordered-170d"`
	if !strings.Contains(got, want) || !strings.Contains(got, "--- FAIL: ordered-within-170-days") {
		t.Errorf("want a failure saying %s\n%s", want, got)
	}
}
