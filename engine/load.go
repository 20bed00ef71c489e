package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// VarFileSuffix marks variable files, which a directory load skips.
const VarFileSuffix = ".vars.hcl"

// TestFileSuffix marks test files (package jobtest), which a directory load
// skips too: they sit next to the jobs they test.
const TestFileSuffix = ".test.hcl"

// LoadOptions says how to load job files.
type LoadOptions struct {
	Registry *Registry
	// Vars are the -var and -var-file arguments in command-line order; a
	// later one wins, as in Terraform. RUNNER_VAR_name environment
	// variables (read through LookupEnv) come before all of them.
	Vars []VarArg
	// LookupEnv reads the environment for env("NAME"); os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// Now pins the clock; the zero value means the wall clock at each run.
	Now time.Time
	// Overrides replace connector arguments before the connectors decode
	// them: a test points a job at its own input and at a test shop.
	Overrides []Override
}

// Override replaces arguments of every source or destination block of one
// connector type. The job files are not changed.
type Override struct {
	Block string // "source" or "destination"
	Type  string // the connector's name, such as "goq_csv"
	// Set replaces arguments, or adds them; Remove drops them.
	Set    map[string]cty.Value
	Remove []string
}

// VarArg is one -var or -var-file argument.
type VarArg struct {
	// File marks a -var-file path: an HCL file of name = value.
	File bool `json:"file,omitempty"`
	// Value is "name=value" for -var, the path for -var-file.
	Value string `json:"value"`
}

// Config is a loaded, compiled set of job files.
type Config struct {
	Jobs  []*Job
	Files map[string]*hcl.File

	// jobFiles and vars are what a saved plan records of the load (see
	// NewSavedPlan): the job files read, the variables declared with the
	// values they got, and the -var and -var-file arguments.
	jobFiles []string
	vars     []*variable
	values   map[string]cty.Value
	varArgs  []VarArg

	// missing lists what plan and run need but validate does not:
	// unset environment variables and variables without a value.
	missingVars []*hcl.Diagnostic
	// missingNames are their variables' names, in the same order.
	missingNames []string
}

// Job finds a job by name.
func (c *Config) Job(name string) (*Job, bool) {
	for _, j := range c.Jobs {
		if j.Name == name {
			return j, true
		}
	}
	return nil, false
}

// DiagWriter returns a writer that can quote c's source lines.
func (c *Config) DiagWriter() *DiagWriter { return &DiagWriter{Files: c.Files} }

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "job", LabelNames: []string{"name"}},
	},
}

// ExpandPaths turns files and directories into the job files they name:
// a directory contributes its *.hcl files, except variable and test files.
func ExpandPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("job files: %w", err)
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(p, "*.hcl"))
		if err != nil {
			return nil, err
		}
		n := 0
		for _, m := range matches {
			if !strings.HasSuffix(m, VarFileSuffix) && !strings.HasSuffix(m, TestFileSuffix) {
				out = append(out, m)
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("job files: no *.hcl files in %s", p)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Load parses, decodes and compiles the job files in paths (files or
// directories). It reports every problem it finds, not just the first.
// Values that only plan and run need (unset secrets, variables without a
// value) are not errors here; see Config.CheckRunnable.
func Load(paths []string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	cfg := &Config{Files: map[string]*hcl.File{}}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Registry == nil {
		opts.Registry = NewRegistry()
	}
	files, err := ExpandPaths(paths)
	if err != nil {
		return cfg, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read job files", Detail: err.Error()}}
	}

	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	var bodies []hcl.Body
	for _, name := range files {
		src, d := readBounded(name)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		f, d := parser.ParseHCL(src, name)
		diags = append(diags, d...)
		if f != nil {
			bodies = append(bodies, f.Body)
		}
	}
	defer func() { cfg.Files = parser.Files() }()
	if diags.HasErrors() {
		return cfg, diags
	}

	// Phase one: block headers of every file.
	var varBlocks, jobBlocks []*hcl.Block
	for _, b := range bodies {
		content, d := Content(b, rootSchema)
		diags = append(diags, d...)
		for _, blk := range content.Blocks {
			if blk.Type == "variable" {
				varBlocks = append(varBlocks, blk)
			} else {
				jobBlocks = append(jobBlocks, blk)
			}
		}
	}

	vars, d := decodeVariables(varBlocks)
	diags = append(diags, d...)
	values, d := variableValues(parser, vars, opts)
	diags = append(diags, d...)
	varObj := map[string]cty.Value{}
	cfg.jobFiles, cfg.vars, cfg.values, cfg.varArgs = files, vars, varObj, opts.Vars
	goVars := map[string]any{}
	for _, v := range vars {
		val, ok := values[v.name]
		if !ok {
			if v.hasDef {
				val = v.def
			} else {
				// Validate checks everything it can without the value;
				// plan and run refuse to start without it.
				val = placeholder(v.name, v.typ)
				cfg.missingVars = append(cfg.missingVars, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "No value for required variable",
					Detail: fmt.Sprintf("The variable %q has no default, so it needs a value: set it with -var %s=VALUE, in a -var-file or with %s%s.",
						v.name, v.name, VarEnvPrefix, v.name),
					Subject: v.rng.Ptr(),
				})
				cfg.missingNames = append(cfg.missingNames, v.name)
			}
		}
		varObj[v.name] = val
		goVars[v.name] = ctyToGo(val)
	}

	eval := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(varObj)},
		Functions: configFunctions(opts.LookupEnv),
	}

	missing := map[string]bool{}
	for _, v := range vars {
		if _, ok := values[v.name]; !ok && !v.hasDef {
			missing[v.name] = true
		}
	}

	// Phase two: each job and its connectors' bodies, once per instance.
	seen := map[string]*hcl.Block{}
	for _, blk := range jobBlocks {
		name := blk.Labels[0]
		prev, dup := seen[name]
		if dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate job",
				Detail:   fmt.Sprintf("A job named %q is already declared at %s; job names must be unique across all files.", name, at(prev.DefRange)),
				Subject:  blk.LabelRanges[0].Ptr(),
			})
		} else {
			seen[name] = blk
		}
		// A duplicate is still decoded, so its own mistakes show too.
		undeclared := append(undeclaredVars(blk, varObj), eachOutside(blk)...)
		diags = append(diags, undeclared...)
		insts, d := instances(blk, eval, missing)
		diags = append(diags, d...)
		var per []hcl.Diagnostics
		for _, in := range insts {
			ev := eval
			if in.each != nil {
				ev = eval.NewChild()
				ev.Variables = map[string]cty.Value{"each": in.eachVal}
			}
			job, d := decodeJob(blk, ev, in, goVars, opts)
			per = append(per, consequences(d, undeclared))
			if job != nil && !dup {
				if !in.placeholder {
					job.needs = append(job.needs, envNeeds(blk, ev, opts.LookupEnv)...)
				}
				job.forEachMissing = in.missing
				cfg.Jobs = append(cfg.Jobs, job)
			}
		}
		diags = append(diags, mergeInstanceDiags(insts, per)...)
	}
	if len(jobBlocks) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No jobs",
			Detail:   fmt.Sprintf("None of %s declares a job block.", strings.Join(files, ", ")),
		})
	}
	enclose(parser.Files(), diags)
	SortDiags(diags)
	return cfg, diags
}

// undeclaredVars reports each var.NAME in a job that names no declared
// variable, with the closest declared name.
func undeclaredVars(job *hcl.Block, vars map[string]cty.Value) hcl.Diagnostics {
	body, ok := job.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	var diags hcl.Diagnostics
	hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		t, ok := n.(*hclsyntax.ScopeTraversalExpr)
		if !ok || t.Traversal.RootName() != "var" || len(t.Traversal) < 2 {
			return nil
		}
		attr, ok := t.Traversal[1].(hcl.TraverseAttr)
		if _, declared := vars[attr.Name]; !ok || declared {
			return nil
		}
		hint := didYouMean(attr.Name, names, "var.")
		if hint == "" {
			hint = fmt.Sprintf(" Declare it with a variable %q {} block.", attr.Name)
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared variable",
			Detail:  fmt.Sprintf("There is no variable named %q.%s", attr.Name, hint),
			Subject: hcl.RangeBetween(t.Traversal[0].SourceRange(), attr.SrcRange).Ptr()})
		return nil
	})
	return diags
}

// consequences drops the diagnostics about an expression that reads an
// undeclared variable: HCL's "Unsupported attribute" and the decoder's
// "Unsuitable value type" say again what the undeclared one says.
func consequences(diags, undeclared hcl.Diagnostics) hcl.Diagnostics {
	if len(undeclared) == 0 {
		return diags
	}
	out := diags[:0:0]
	for _, d := range diags {
		if !overlapsAny(d.Subject, undeclared) {
			out = append(out, d)
		}
	}
	return out
}

func overlapsAny(r *hcl.Range, diags hcl.Diagnostics) bool {
	if r == nil {
		return false
	}
	for _, d := range diags {
		if s := d.Subject; s.Filename == r.Filename && s.Start.Byte < r.End.Byte && r.Start.Byte < s.End.Byte {
			return true
		}
	}
	return false
}

// at formats a range's start as file:line:col.
func at(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// configFunctions are the functions of config-time HCL expressions.
func configFunctions(lookup func(string) (string, bool)) map[string]function.Function {
	env := function.New(&function.Spec{
		Description: "the value of an environment variable; secrets belong here, never in job files",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			// An unset variable reads as "" so that validate can check a
			// job without production secrets; plan and run refuse to
			// start when one they need is unset (envNeeds).
			v, _ := lookup(args[0].AsString())
			return cty.StringVal(v), nil
		},
	})
	return map[string]function.Function{
		"env":       env,
		"upper":     stdlib.UpperFunc,
		"lower":     stdlib.LowerFunc,
		"trimspace": stdlib.TrimSpaceFunc,
		"format":    stdlib.FormatFunc,
		"join":      stdlib.JoinFunc,
		"coalesce":  stdlib.CoalesceFunc,
	}
}

// envNeed is an env("NAME") call in a connector block.
type envNeed struct {
	name  string
	block string // "source" or "destination"
	rng   hcl.Range
	set   bool
}

// envNeeds finds the env() calls in a job's source and destination
// blocks, so plan can insist on the source's and run on all of them. Their
// names are evaluated in eval: an instance of a for_each job builds them
// from each.key and each.value.
func envNeeds(job *hcl.Block, eval *hcl.EvalContext, lookup func(string) (string, bool)) []envNeed {
	body, ok := job.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var out []envNeed
	for _, blk := range body.Blocks {
		kind := blk.Type
		if kind == "after_export" {
			kind = "destination"
		}
		if kind != "source" && kind != "destination" {
			continue
		}
		hclsyntax.VisitAll(blk.Body, func(n hclsyntax.Node) hcl.Diagnostics {
			call, ok := n.(*hclsyntax.FunctionCallExpr)
			if !ok || call.Name != "env" || len(call.Args) != 1 {
				return nil
			}
			v, d := call.Args[0].Value(eval)
			if d.HasErrors() || v.Type() != cty.String || v.IsNull() {
				return nil
			}
			name := v.AsString()
			_, set := lookup(name)
			out = append(out, envNeed{name: name, block: kind, rng: call.Range(), set: set})
			return nil
		})
	}
	return out
}

// CheckRunnable reports what stops job from planning (needDest false) or
// running (needDest true): unset secrets and variables without a value.
func (c *Config) CheckRunnable(job *Job, needDest bool) hcl.Diagnostics {
	diags := append(hcl.Diagnostics(nil), c.missingVars...)
	for i, d := range diags {
		if c.missingNames[i] == job.forEachMissing {
			// Which jobs there are depends on it: say so where it is missing.
			cp := *d
			cp.Detail += fmt.Sprintf(" Job %q has an instance for each of its keys.", job.Block)
			diags[i] = &cp
		}
	}
	for _, n := range job.needs {
		if n.set || (n.block == "destination" && !needDest) {
			continue
		}
		what := "plan"
		if needDest {
			what = "run"
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Environment variable not set",
			Detail:   fmt.Sprintf("The environment variable %s is not set, and job %s needs it to %s: its %s reads it.", n.name, QuoteJob(job.Name), what, n.block),
			Subject:  n.rng.Ptr(),
		})
	}
	enclose(c.Files, diags)
	SortDiags(diags)
	return diags
}
