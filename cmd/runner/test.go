package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/goqsync/runner/engine"

	"github.com/goqsync/runner/jobtest"
)

// test runs the *.test.hcl files in the paths (package jobtest) and
// reports as go test does.
func (c *cli) test(ctx context.Context, args []string) int {
	fs := c.flagSet("test", "[PATH...]", nil, false)
	asJSON := fs.Bool("json", false, "write one event a line, in the shape of go test -json")
	runRE := fs.String("run", "", "run only the run blocks whose name matches this regular expression")
	verbose := fs.Bool("v", false, "also print each run as it starts and what the job did with each record")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	var match *regexp.Regexp
	if *runRE != "" {
		re, err := regexp.Compile(*runRE)
		if err != nil {
			fmt.Fprintf(c.stderr, "runner test: -run: %v\n", err)
			return exitConfig
		}
		match = re
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	files, none, err := jobtest.ExpandPaths(paths)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner test: %v\n", err)
		return exitConfig
	}
	for _, dir := range none {
		fmt.Fprintf(c.stdout, "?   \t%s\t[no test files]\n", dir)
	}
	suite, diags := jobtest.Load(files, jobtest.Options{Registry: registry()})
	if len(diags) > 0 {
		suite.DiagWriter().WriteText(c.stderr, diags)
	}
	if diags.HasErrors() {
		return exitConfig
	}
	var rep jobtest.Reporter = &jobtest.Text{W: c.stdout, Verbose: *verbose}
	if *asJSON {
		rep = &jobtest.JSON{W: c.stdout, Verbose: *verbose}
	}
	if !suite.Run(ctx, match, rep) {
		return exitFailed
	}
	return exitOK
}

// splitTests takes the test files out of validate's paths: they are
// checked against the jobs of their directory, which then take their place.
// A directory stays, and its test files join the list.
func splitTests(paths []string) (jobs, tests []string) {
	for _, p := range paths {
		if jobtest.IsTestFile(p) {
			tests = append(tests, p)
			if d := filepath.Dir(p); !slices.Contains(jobs, d) {
				jobs = append(jobs, d)
			}
			continue
		}
		jobs = append(jobs, p)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			more, _, _ := jobtest.ExpandPaths([]string{p})
			tests = append(tests, more...)
		}
	}
	return jobs, tests
}

// validateTests checks test files for validate, adding their diagnostics
// and sources to the jobs'.
func (c *cli) validateTests(cfg *engine.Config, tests []string, diags *hcl.Diagnostics) bool {
	if len(tests) == 0 {
		return true
	}
	suite, d := jobtest.Load(tests, jobtest.Options{Registry: registry()})
	maps.Copy(cfg.Files, suite.Sources)
	*diags = append(*diags, d...)
	return !d.HasErrors()
}
