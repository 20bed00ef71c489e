package jobtest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/goqsync/runner/engine"
)

// Options says how to load and run tests.
type Options struct {
	// Registry holds the connectors the jobs may name.
	Registry *engine.Registry
}

// Suite is a loaded set of test files.
type Suite struct {
	Files []*File
	// Sources holds the text of every test and job file read, so that
	// diagnostics can quote their lines.
	Sources map[string]*hcl.File
	opts    Options
}

// DiagWriter returns a writer that can quote the suite's source lines.
func (s *Suite) DiagWriter() *engine.DiagWriter { return &engine.DiagWriter{Files: s.Sources} }

// IsTestFile reports whether name is a test file.
func IsTestFile(name string) bool { return strings.HasSuffix(name, engine.TestFileSuffix) }

// ExpandPaths turns files and directories into test files: a directory
// contributes its *.test.hcl files. none lists the directories that hold none.
func ExpandPaths(paths []string) (files, none []string, err error) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("test files: %w", err)
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*"+engine.TestFileSuffix))
		if err != nil {
			return nil, nil, err
		}
		if len(m) == 0 {
			none = append(none, p)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	return files, none, nil
}

// Load parses test files and checks each run against the jobs beside its
// file: the job exists, its variables load, the filters and payload fields
// it names are the job's. Every mistake is a diagnostic with its place.
func Load(files []string, opts Options) (*Suite, hcl.Diagnostics) {
	s := &Suite{Sources: map[string]*hcl.File{}, opts: opts}
	p := hclparse.NewParser()
	var diags hcl.Diagnostics
	for _, name := range files {
		f, d := parseFile(p, name)
		diags = append(diags, d...)
		// A file with mistakes is still checked against its jobs, so that
		// one pass names every mistake; the suite will not run.
		s.Files = append(s.Files, f)
	}
	for k, v := range p.Files() {
		s.Sources[k] = v
	}
	for _, f := range s.Files {
		for _, r := range f.Runs {
			_, _, d := s.load(r, nil)
			diags = append(diags, d...)
		}
	}
	engine.SortDiags(diags)
	return s, diags
}

// load loads the jobs of r's directory as r sees them and checks r against
// the job it tests.
func (s *Suite) load(r *Run, overrides []engine.Override) (*engine.Config, *engine.Job, hcl.Diagnostics) {
	cfg, diags := engine.Load([]string{r.file.Dir}, engine.LoadOptions{
		Registry: s.opts.Registry, Vars: r.Vars, Now: r.Now, Overrides: overrides,
		// A test reads no environment: secrets are the test shop's, and
		// the same test passes on every machine.
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	for k, v := range cfg.Files {
		s.Sources[k] = v
	}
	if diags.HasErrors() {
		return cfg, nil, diags
	}
	// Warnings about the job files are theirs: validate and plan show them
	// once, not once per run block that loads them.
	diags = nil
	j, d := pick(cfg, r)
	diags = append(diags, d...)
	if j == nil {
		return cfg, nil, diags
	}
	return cfg, j, append(diags, check(j, r)...)
}

func pick(cfg *engine.Config, r *Run) (*engine.Job, hcl.Diagnostics) {
	var names []string
	for _, j := range cfg.Jobs {
		names = append(names, j.Name)
	}
	if r.Job == "" {
		if len(cfg.Jobs) == 1 {
			return cfg.Jobs[0], nil
		}
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing job",
			Detail:  fmt.Sprintf("Run %q must say which job it tests: %s holds %s; add job = \"NAME\".", r.Name, r.file.Dir, strings.Join(names, ", ")),
			Subject: r.DeclRange.Ptr()}}
	}
	if j, ok := cfg.Job(r.Job); ok {
		return j, nil
	}
	detail := fmt.Sprintf("There is no job named %q in %s.", r.Job, r.file.Dir)
	if m := engine.Suggest(r.Job, names); m != "" {
		detail += fmt.Sprintf(" Did you mean %q?", m)
	}
	return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown job",
		Detail: detail + fmt.Sprintf(" Its jobs: %s.", strings.Join(names, ", ")), Subject: r.jobRange()}}
}

func (r *Run) jobRange() *hcl.Range {
	if r.JobAt != nil {
		return r.JobAt
	}
	return r.DeclRange.Ptr()
}

// check compares what r names with the job it tests.
func check(j *engine.Job, r *Run) hcl.Diagnostics {
	var diags hcl.Diagnostics
	fail := func(rng hcl.Range, summary, detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()})
	}
	feeds := feeder(j.SourceType)
	switch {
	case feeds == "":
		fail(r.DeclRange, "Source not testable", fmt.Sprintf("Job %q reads source %s, which runner test cannot feed; it feeds goq_csv (an input block) and futureshop (a shop block).", j.Name, j.SourceType))
	case feeds == "input" && r.Input == nil:
		fail(r.DeclRange, "Missing input block", fmt.Sprintf("Job %q reads a %s export: run %q needs an input block with its rows (csv, rows or file).", j.Name, j.SourceType, r.Name))
	case feeds == "shop" && r.Input != nil:
		fail(r.Input.Rng, "Unexpected input block", fmt.Sprintf("Job %q reads the futureshop order search: give its orders in a shop block, not an input block.", j.Name))
	}
	if r.Command == "run" && j.DestType != "futureshop" && j.DestType != "goq_csv" {
		fail(r.DeclRange, "Destination not testable", fmt.Sprintf("Job %q writes to %s, which runner test cannot run against; use command = \"plan\".", j.Name, j.DestType))
	}
	if (r.Calls != nil || len(r.After) > 0) && j.DestType != "futureshop" && j.SourceType != "futureshop" {
		fail(r.DeclRange, "No test shop", fmt.Sprintf("Job %q talks to no futureshop, so there are no calls to count and no shop to look at.", j.Name))
	}
	var filters, fields []string
	for _, f := range j.Filters {
		filters = append(filters, f.Name)
	}
	for _, m := range j.Mappings {
		fields = append(fields, m.Field.Name)
	}
	for _, e := range r.Expects {
		if e.Want == "excluded" && !contains(filters, e.Filter) {
			detail := fmt.Sprintf("Job %q has no filter named %q.", j.Name, e.Filter)
			if m := engine.Suggest(e.Filter, filters); m != "" {
				detail += fmt.Sprintf(" Did you mean %q?", m)
			}
			fail(e.filterAt, "Unknown filter", detail+fmt.Sprintf(" Its filters: %s.", strings.Join(filters, ", ")))
		}
		names := make([]string, 0, len(e.Payload))
		for k := range e.Payload {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if !contains(fields, k) {
				detail := fmt.Sprintf("Job %q maps no field %s, so its payload never holds one.", j.Name, k)
				if m := engine.Suggest(k, fields); m != "" {
					detail += " Did you mean " + m + "?"
				}
				fail(e.payloadAt, "Unknown payload field", detail+fmt.Sprintf(" It maps: %s.", strings.Join(fields, ", ")))
			}
		}
	}
	return diags
}

// feeder says how a test gives a source its records.
func feeder(source string) string {
	switch source {
	case "goq_csv":
		return "input"
	case "futureshop":
		return "shop"
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
