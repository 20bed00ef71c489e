package engine

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// VarEnvPrefix starts the environment variables that set variables:
// RUNNER_VAR_goq_export=FILE sets goq_export (Terraform's TF_VAR_).
const VarEnvPrefix = "RUNNER_VAR_"

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

func decodeVariables(blocks []*hcl.Block) ([]*variable, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var out []*variable
	seen := map[string]hcl.Range{}
	for _, blk := range blocks {
		v := &variable{name: blk.Labels[0], typ: cty.DynamicPseudoType, rng: blk.DefRange}
		if !hclsyntax.ValidIdentifier(v.name) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid variable name",
				Detail:  fmt.Sprintf("%q is not a valid name: a name must start with a letter and may hold letters, digits, underscores and dashes.", v.name),
				Subject: blk.LabelRanges[0].Ptr()})
			continue
		}
		if prev, ok := seen[v.name]; ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate variable declaration",
				Detail:  fmt.Sprintf("A variable named %q is already declared at %s; variable names must be unique across all files.", v.name, at(prev)),
				Subject: blk.LabelRanges[0].Ptr()})
			continue
		}
		seen[v.name] = blk.DefRange
		content, d := Content(blk.Body, variableSchema)
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
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid default value for variable",
						Detail:  fmt.Sprintf("The default of variable %q does not fit its type, %s: %v.", v.name, typeexpr.TypeString(v.typ), err),
						Subject: a.Expr.Range().Ptr()})
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
			hint := didYouMean(name, names, "")
			if hint == "" {
				hint = fmt.Sprintf(" Declare it with a variable %q {} block.", name)
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable",
				Detail: fmt.Sprintf("%s sets %s, but no variable of that name is declared.%s", src, name, hint), Subject: rng})
			return
		}
		cv, err := convert.Convert(val, v.typ)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
				Detail: fmt.Sprintf("%s sets %s to a value that is not %s: %v.", src, name, typeexpr.TypeString(v.typ), err), Subject: rng})
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
				set(name, val, a.NameRange.Ptr(), "The var file "+path)
			}
		}
	}
	// raw sets a variable from text: a string as it is, any other type as
	// an HCL expression, as Terraform reads -var and TF_VAR_. label starts
	// a sentence naming where the text came from; src names it as a file
	// name for HCL's own diagnostics.
	raw := func(name, raw, label, src string) {
		if len(raw) > MaxValueBytes {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value too large",
				Detail: fmt.Sprintf("%s sets %s to %d bytes; a -var value may hold at most %d. Use a -var-file.", label, name, len(raw), MaxValueBytes)})
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
			raw(v.name, val, "The environment variable "+VarEnvPrefix+v.name, VarEnvPrefix+v.name)
		}
	}
	for _, arg := range opts.Vars {
		if arg.File {
			varFile(arg.Value)
			continue
		}
		name, val, ok := strings.Cut(arg.Value, "=")
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var argument",
				Detail: fmt.Sprintf("The argument -var %q must be name=value.", arg.Value)})
			continue
		}
		name = strings.TrimSpace(name)
		raw(name, val, "The -var argument", "-var "+name)
	}
	return out, diags
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
