package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

// shopsJob makes a job instance per shop: each.key and each.value in HCL
// (the description) and in record expressions (a filter and a mapping).
const shopsJob = `variable "shops" {
  type = map(object({ status = string, prefix = string }))
}
job "ship" {
  for_each    = var.shops
  description = "${each.key}: ${each.value.prefix}"
  source "test" {}
  destination "test" {}
  filter "status" {
    when = "status == each.value.status"
  }
  map {
    order_no = "order_no"
    invoice  = "each.key + '-' + tracking"
  }
}
`

func loadText(t *testing.T, text string, opts engine.LoadOptions) (*engine.Config, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job.hcl")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	src := enginetest.NewSource(enginetest.SourceConfig{Fields: orderFields, Label: "order_no",
		Rows: rows(order("1001", "shipped", "T1"), order("1002", "held", "T2"))})
	dst := enginetest.NewDestination(enginetest.DestinationConfig{Fields: shipFields})
	opts.Registry = engine.NewRegistry()
	enginetest.Register(opts.Registry, src, dst)
	opts.LookupEnv = func(string) (string, bool) { return "", false }
	opts.Now = testNow
	cfg, diags := engine.Load([]string{path}, opts)
	var b strings.Builder
	if len(diags) > 0 {
		cfg.DiagWriter().WriteText(&b, diags)
	}
	return cfg, strings.ReplaceAll(b.String(), filepath.Dir(path)+string(filepath.Separator), "")
}

func TestForEachInstances(t *testing.T) {
	cfg, diags := loadText(t, shopsJob, engine.LoadOptions{Vars: []engine.VarArg{
		{Value: `shops={ b = { status = "held", prefix = "B" }, a = { status = "shipped", prefix = "A" } }`}}})
	if diags != "" {
		t.Fatal(diags)
	}
	var got []string
	for _, j := range cfg.Jobs {
		var sent []string
		err := j.Each(context.Background(), testNow, func(it engine.Item) error {
			if it.Status == engine.Send {
				sent = append(sent, it.Payload.Values["order_no"].(string)+"="+it.Payload.Values["invoice"].(string))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, j.Name+" ("+j.Block+", "+j.Key+", "+j.Description+"): "+strings.Join(sent, " "))
	}
	want := []string{
		`ship["a"] (ship, a, a: A): 1001=a-T1`,
		`ship["b"] (ship, b, b: B): 1002=b-T2`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("instances:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, ok := cfg.Job(`ship["b"]`); !ok {
		t.Error(`cfg.Job("ship[\"b\"]") not found`)
	}
}

// TestForEachDiagnostics: mistakes with each are named where they are, and
// a mistake every instance makes is said once.
func TestForEachDiagnostics(t *testing.T) {
	two := engine.LoadOptions{Vars: []engine.VarArg{{Value: `shops={ a = { status = "x", prefix = "A" }, b = { status = "y", prefix = "B" } }`}}}
	tests := []struct {
		name     string
		old, new string // replaced in shopsJob
		opts     engine.LoadOptions
		want     []string // lines of the diagnostics, each once
		jobs     []string
	}{
		{name: "without a value, one placeholder instance is checked",
			jobs: []string{"ship[each.key]"}},
		{name: "a typo in each.value's attribute", old: `each.value.status"`, new: `each.value.stauts"`, opts: two,
			want: []string{`job.hcl:10:34: error: Unsupported attribute; The expression of filter "status" reads each.value.stauts, but each.value has no attribute of that name. Did you mean each.value.status? Its attributes: prefix, status.`}},
		{name: "a member of each that is not there", old: `each.key + '-'`, new: `each.name + '-'`, opts: two,
			want: []string{`job.hcl:14:22: error: Unsupported attribute; The expression of mapping "invoice" reads each.name, but each has only key and value.`}},
		{name: "each in a job without for_each", old: "  for_each    = var.shops\n  description = \"${each.key}: ${each.value.prefix}\"\n", new: "", opts: two,
			want: []string{
				`job.hcl:8:23: error: Reference to each outside for_each; The expression of filter "status" reads each, which only a job with for_each has: each.key and each.value are its instance's.`,
				`job.hcl:12:17: error: Reference to each outside for_each; The expression of mapping "invoice" reads each, which only a job with for_each has: each.key and each.value are its instance's.`,
			}},
		{name: "each in HCL in a job without for_each", old: "  for_each    = var.shops\n", new: "", opts: two,
			want: []string{
				`job.hcl:5:20: error: Reference to each outside for_each; Job "ship" reads each, which only a job with for_each has: each.key and each.value are its instance's.`,
				`job.hcl:5:33: error: Reference to each outside for_each; Job "ship" reads each, which only a job with for_each has: each.key and each.value are its instance's.`,
				`job.hcl:9:23: error: Reference to each outside for_each; The expression of filter "status" reads each, which only a job with for_each has: each.key and each.value are its instance's.`,
				`job.hcl:13:17: error: Reference to each outside for_each; The expression of mapping "invoice" reads each, which only a job with for_each has: each.key and each.value are its instance's.`,
			}},
		{name: "a list", old: "for_each    = var.shops", new: `for_each    = ["a", "b"]`, opts: two,
			want: []string{`job.hcl:5:17: error: Invalid for_each argument; The for_each of job "ship" is a list, whose keys would move when an element is added or removed: use toset() or a map; it takes a map, an object or a set of strings, one job instance per key.`}},
		{name: "a mistake of one instance names it", old: `description = "${each.key}: ${each.value.prefix}"`, new: `time_zone = each.value.prefix == "A" ? "Asia/Tokyo" : "Mars/Olympus"`, opts: two,
			want: []string{`job.hcl:6:15: error: Unknown time zone; Job ship["b"] has time_zone "Mars/Olympus", which is not a zone this build knows. Use an IANA name such as "Asia/Tokyo".`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := shopsJob
			if tt.old != "" {
				if !strings.Contains(text, tt.old) {
					t.Fatalf("%q not in the job", tt.old)
				}
				text = strings.Replace(text, tt.old, tt.new, 1)
			}
			cfg, diags := loadText(t, text, tt.opts)
			var lines []string
			for _, l := range strings.Split(diags, "\n") {
				if strings.Contains(l, ": error: ") || strings.Contains(l, ": warning: ") {
					lines = append(lines, l)
				}
			}
			if strings.Join(lines, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", diags, strings.Join(tt.want, "\n"))
			}
			if tt.jobs != nil {
				var names []string
				for _, j := range cfg.Jobs {
					names = append(names, j.Name)
				}
				if strings.Join(names, " ") != strings.Join(tt.jobs, " ") {
					t.Errorf("jobs %v, want %v", names, tt.jobs)
				}
			}
		})
	}
}
