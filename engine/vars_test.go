package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqsync/runner/connectors/goq"
	"github.com/goqsync/runner/engine"
)

// TestVariableOrder: RUNNER_VAR_ environment variables come first, then
// -var and -var-file in command-line order, the last one winning, as
// Terraform applies TF_VAR_, -var and -var-file.
func TestVariableOrder(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.hcl")
	os.WriteFile(job, []byte(`variable "d" {
  default = "default"
}
variable "n" {
  type    = number
  default = 0
}
job "x" {
  description = "${var.d} ${var.n}"
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
}
`), 0o644)
	fileA := filepath.Join(dir, "a.vars.hcl")
	os.WriteFile(fileA, []byte("d = \"file a\"\n"), 0o644)
	fileB := filepath.Join(dir, "b.vars.hcl")
	os.WriteFile(fileB, []byte("d = \"file b\"\nn = 2\n"), 0o644)
	v := func(s string) engine.VarArg { return engine.VarArg{Value: s} }
	f := func(p string) engine.VarArg { return engine.VarArg{File: true, Value: p} }
	tests := []struct {
		name string
		env  map[string]string
		args []engine.VarArg
		want string
	}{
		{"defaults", nil, nil, "default 0"},
		{"environment", map[string]string{"RUNNER_VAR_d": "env", "RUNNER_VAR_n": "7"}, nil, "env 7"},
		{"-var beats the environment", map[string]string{"RUNNER_VAR_d": "env"}, []engine.VarArg{v("d=flag")}, "flag 0"},
		{"file then -var", nil, []engine.VarArg{f(fileA), v("d=flag")}, "flag 0"},
		{"-var then file", nil, []engine.VarArg{v("d=flag"), f(fileA)}, "file a 0"},
		{"file, -var, file", nil, []engine.VarArg{f(fileA), v("d=flag"), f(fileB)}, "file b 2"},
		{"file beats the environment", map[string]string{"RUNNER_VAR_n": "7"}, []engine.VarArg{f(fileA)}, "file a 7"},
	}
	reg := engine.NewRegistry()
	goq.Register(reg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { s, ok := tt.env[k]; return s, ok }
			cfg, diags := engine.Load([]string{job}, engine.LoadOptions{Registry: reg, Vars: tt.args, LookupEnv: lookup})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if got := cfg.Jobs[0].Description; got != tt.want {
				t.Errorf("description = %q, want %q", got, tt.want)
			}
		})
	}
	// A bad environment value is named by its variable, without the value.
	lookup := func(k string) (string, bool) {
		if k == "RUNNER_VAR_n" {
			return "not-a-number-s3cret", true
		}
		return "", false
	}
	_, diags := engine.Load([]string{job}, engine.LoadOptions{Registry: reg, LookupEnv: lookup})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "RUNNER_VAR_n") {
		t.Errorf("bad RUNNER_VAR_n: %v", diags)
	}
	for _, d := range diags {
		if strings.Contains(d.Summary+d.Detail, "s3cret") {
			t.Errorf("a diagnostic shows the environment value: %s; %s", d.Summary, d.Detail)
		}
	}
}
