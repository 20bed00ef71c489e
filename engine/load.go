package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// VarFileSuffix marks variable files, which a directory load skips.
const VarFileSuffix = ".vars.hcl"

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
}

// VarArg is one -var or -var-file argument.
type VarArg struct {
	// File marks a -var-file path: an HCL file of name = value.
	File bool
	// Value is "name=value" for -var, the path for -var-file.
	Value string
}

// VarEnvPrefix starts the environment variables that set variables:
// RUNNER_VAR_goq_export=FILE sets goq_export (Terraform's TF_VAR_).
const VarEnvPrefix = "RUNNER_VAR_"

// Config is a loaded, compiled set of job files.
type Config struct {
	Jobs  []*Job
	Files map[string]*hcl.File

	// missing lists what plan and run need but validate does not:
	// unset environment variables and variables without a value.
	missingVars []*hcl.Diagnostic
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

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

type variable struct {
	name      string
	typ       cty.Type
	def       cty.Value
	hasDef    bool
	sensitive bool
	rng       hcl.Range
}

// ExpandPaths turns files and directories into the job files they name:
// a directory contributes its *.hcl files, except variable files.
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
			if !strings.HasSuffix(m, VarFileSuffix) {
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
		return cfg, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: err.Error()}}
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
		content, d := b.Content(rootSchema)
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
					Summary:  fmt.Sprintf("variable %q has no value", v.name),
					Detail:   fmt.Sprintf("set it with -var %s=VALUE or in a -var-file", v.name),
					Subject:  v.rng.Ptr(),
				})
			}
		}
		varObj[v.name] = val
		goVars[v.name] = ctyToGo(val)
	}

	eval := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(varObj)},
		Functions: configFunctions(opts.LookupEnv),
	}

	// Phase two: each job and its connectors' bodies.
	seen := map[string]*hcl.Block{}
	for _, blk := range jobBlocks {
		name := blk.Labels[0]
		prev, dup := seen[name]
		if dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("duplicate job %q", name),
				Detail:   fmt.Sprintf("a job of that name is already declared at %s; job names must be unique across all files", at(prev.DefRange)),
				Subject:  blk.LabelRanges[0].Ptr(),
			})
		} else {
			seen[name] = blk
		}
		// A duplicate is still decoded, so its own mistakes show too.
		job, d := decodeJob(blk, eval, goVars, opts)
		diags = append(diags, d...)
		if job != nil && !dup {
			job.needs = append(job.needs, envNeeds(blk, opts.LookupEnv)...)
			cfg.Jobs = append(cfg.Jobs, job)
		}
	}
	if len(jobBlocks) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "no jobs",
			Detail:   fmt.Sprintf("none of %s declares a job block", strings.Join(files, ", ")),
		})
	}
	sortDiags(diags)
	return cfg, diags
}

func decodeVariables(blocks []*hcl.Block) ([]*variable, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var out []*variable
	seen := map[string]bool{}
	for _, blk := range blocks {
		v := &variable{name: blk.Labels[0], typ: cty.DynamicPseudoType, rng: blk.DefRange}
		if !hclsyntax.ValidIdentifier(v.name) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("invalid variable name %q", v.name),
				Detail: "a name starts with a letter and holds letters, digits, underscores and dashes", Subject: blk.LabelRanges[0].Ptr()})
			continue
		}
		if seen[v.name] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("duplicate variable %q", v.name), Subject: blk.LabelRanges[0].Ptr()})
			continue
		}
		seen[v.name] = true
		content, d := blk.Body.Content(variableSchema)
		diags = append(diags, d...)
		if a, ok := content.Attributes["type"]; ok {
			t, d := typeexpr.TypeConstraint(a.Expr)
			diags = append(diags, d...)
			if !d.HasErrors() {
				v.typ = t
			}
		}
		if a, ok := content.Attributes["sensitive"]; ok {
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			v.sensitive = !d.HasErrors() && val.Type() == cty.Bool && val.True()
		}
		if a, ok := content.Attributes["default"]; ok {
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() {
				cv, err := convert.Convert(val, v.typ)
				if err != nil {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("default of variable %q does not fit its type", v.name),
						Detail: err.Error(), Subject: a.Expr.Range().Ptr()})
				} else {
					v.def, v.hasDef = cv, true
				}
			}
		}
		if v.typ == cty.DynamicPseudoType {
			v.typ = cty.String
			if v.hasDef {
				v.typ = v.def.Type()
			}
		}
		out = append(out, v)
	}
	return out, diags
}

// variableValues gathers variable values, Terraform's way: RUNNER_VAR_
// environment variables first, then -var and -var-file arguments in the
// order given, the last one winning.
func variableValues(parser *hclparse.Parser, vars []*variable, opts LoadOptions) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	byName := map[string]*variable{}
	var names []string
	for _, v := range vars {
		byName[v.name] = v
		names = append(names, v.name)
	}
	out := map[string]cty.Value{}
	set := func(name string, val cty.Value, rng *hcl.Range, src string) {
		v, ok := byName[name]
		if !ok {
			detail := "declare it with a variable block"
			if s := didYouMean(name, names); s != "" {
				detail = s
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s sets undeclared variable %q", src, name), Detail: detail, Subject: rng})
			return
		}
		cv, err := convert.Convert(val, v.typ)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s: invalid value for variable %q", src, name),
				Detail: fmt.Sprintf("want %s: %s", typeexpr.TypeString(v.typ), err), Subject: rng})
			return
		}
		out[name] = cv
	}
	varFile := func(path string) {
		src, d := readBounded(path)
		diags = append(diags, d...)
		if d.HasErrors() {
			return
		}
		f, d := parser.ParseHCL(src, path)
		diags = append(diags, d...)
		if d.HasErrors() {
			return
		}
		attrs, d := f.Body.JustAttributes()
		diags = append(diags, d...)
		for name, a := range attrs {
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() {
				set(name, val, a.NameRange.Ptr(), "var file")
			}
		}
	}
	// raw sets a variable from text: a string as it is, any other type as
	// an HCL expression, as Terraform reads -var and TF_VAR_.
	raw := func(name, raw, label, src string) {
		if len(raw) > MaxValueBytes {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s: value too large", src),
				Detail: fmt.Sprintf("the value is %d bytes; a -var value may hold at most %d (use a -var-file)", len(raw), MaxValueBytes)})
			return
		}
		v, ok := byName[name]
		if !ok || v.typ == cty.String {
			set(name, cty.StringVal(raw), nil, label)
			return
		}
		if d := checkNesting([]byte(raw), src, hcl.InitialPos); d.HasErrors() {
			diags = append(diags, d...)
			return
		}
		expr, d := hclsyntax.ParseExpression([]byte(raw), src, hcl.InitialPos)
		if d.HasErrors() {
			diags = append(diags, d...)
			return
		}
		val, d := expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			set(name, val, nil, label)
		}
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	for _, v := range vars {
		if val, ok := lookup(VarEnvPrefix + v.name); ok {
			raw(v.name, val, VarEnvPrefix+v.name, VarEnvPrefix+v.name)
		}
	}
	for _, arg := range opts.Vars {
		if arg.File {
			varFile(arg.Value)
			continue
		}
		name, val, ok := strings.Cut(arg.Value, "=")
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("-var %q: want name=value", arg.Value)})
			continue
		}
		name = strings.TrimSpace(name)
		raw(name, val, "-var", "-var "+name)
	}
	return out, diags
}

// at formats a range's start as file:line:col.
func at(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// placeholder stands in for a value validate does not have. A string
// placeholder is not empty, so connectors that require a value accept it.
func placeholder(name string, t cty.Type) cty.Value {
	switch {
	case t == cty.String:
		return cty.StringVal("<var." + name + ">")
	case t == cty.Number:
		return cty.Zero
	case t == cty.Bool:
		return cty.False
	case t.IsListType():
		return cty.ListValEmpty(t.ElementType())
	case t.IsMapType():
		return cty.MapValEmpty(t.ElementType())
	}
	return cty.StringVal("")
}

// ctyToGo converts a variable's value for use in record expressions.
func ctyToGo(v cty.Value) any {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Number:
		bf := v.AsBigFloat()
		if i, acc := bf.Int64(); acc == 0 {
			return i
		}
		f, _ := bf.Float64()
		return f
	case t == cty.Bool:
		return v.True()
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		var out []any
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, ctyToGo(e))
		}
		return out
	case t.IsMapType() || t.IsObjectType():
		out := map[string]any{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = ctyToGo(e)
		}
		return out
	}
	return nil
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
// blocks, so plan can insist on the source's and run on all of them.
func envNeeds(job *hcl.Block, lookup func(string) (string, bool)) []envNeed {
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
			v, d := call.Args[0].Value(nil)
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
			Summary:  fmt.Sprintf("environment variable %s is not set", n.name),
			Detail:   fmt.Sprintf("job %q needs it to %s (its %s reads it)", job.Name, what, n.block),
			Subject:  n.rng.Ptr(),
		})
	}
	sortDiags(diags)
	return diags
}
