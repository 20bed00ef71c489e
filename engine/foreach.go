package engine

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// instance is one job a job block makes: the block itself, or one key of
// its for_each, as Terraform's resources (shipping["a"]).
type instance struct {
	name string
	key  string
	// each is each.key and each.value for record expressions; nil for a
	// block without for_each. eachVal is the same for HCL expressions.
	each    map[string]any
	eachVal cty.Value
	// placeholder marks the one instance validate checks when for_each
	// reads a variable that has no value yet: its keys are not known.
	placeholder bool
	// missing names the variable without a value that for_each reads.
	missing string
}

// InstanceName names the instance of job block name for key, as Terraform
// addresses resources: shipping["a"].
func InstanceName(name, key string) string { return fmt.Sprintf("%s[%q]", name, key) }

// QuoteJob quotes a job name for a message: "shipping" as %q does, and an
// instance as its address, shipping["a"], whose quotes need no escaping.
func QuoteJob(name string) string {
	if i := strings.Index(name, `["`); i > 0 && strings.HasSuffix(name, `"]`) {
		return name
	}
	return fmt.Sprintf("%q", name)
}

// instances evaluates a job block's for_each: a map or an object (each.key
// the key, each.value its value) or a set of strings (each.value =
// each.key), as in Terraform. Without for_each the block is one job. When
// for_each reads a variable without a value (missing), one placeholder
// instance stands for all, so that validate still checks the block.
func instances(blk *hcl.Block, eval *hcl.EvalContext, missing map[string]bool) ([]instance, hcl.Diagnostics) {
	name := blk.Labels[0]
	content, _, _ := blk.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "for_each"}}})
	a, ok := content.Attributes["for_each"]
	if !ok {
		return []instance{{name: name}}, nil
	}
	for _, tr := range a.Expr.Variables() {
		if tr.RootName() != "var" || len(tr) < 2 {
			continue
		}
		if at, ok := tr[1].(hcl.TraverseAttr); ok && missing[at.Name] {
			v, _ := a.Expr.Value(eval)
			elem := cty.DynamicPseudoType
			if t := v.Type(); t.IsMapType() || t.IsSetType() || t.IsListType() {
				elem = t.ElementType()
			}
			key := "<each.key>"
			in := newInstance(name+"[each.key]", key, cty.StringVal(key), eachPlaceholder(elem, "each.value"), true)
			in.missing = at.Name
			return []instance{in}, nil
		}
	}
	v, diags := a.Expr.Value(eval)
	if diags.HasErrors() {
		return nil, diags
	}
	bad := func(detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid for_each argument",
			Detail:  fmt.Sprintf("The for_each of job %q %s; it takes a map, an object or a set of strings, one job instance per key.", name, detail),
			Subject: a.Expr.Range().Ptr()}}
	}
	t := v.Type()
	switch {
	case v.IsNull():
		return nil, bad("is null")
	case !v.IsWhollyKnown():
		return nil, bad("is not known when the file loads")
	case t.IsMapType() || t.IsObjectType():
		var out []instance
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out = append(out, newInstance(InstanceName(name, k.AsString()), k.AsString(), k, e, false))
		}
		return out, nil
	case t.IsSetType() && (t.ElementType() == cty.String || t.ElementType() == cty.DynamicPseudoType):
		var out []instance
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() || e.Type() != cty.String {
				return nil, bad("holds an element that is not a string")
			}
			out = append(out, newInstance(InstanceName(name, e.AsString()), e.AsString(), e, e, false))
		}
		return out, nil
	case t.IsListType() || t.IsTupleType():
		return nil, bad("is a list, whose keys would move when an element is added or removed: use toset() or a map")
	}
	return nil, bad("is a " + t.FriendlyName())
}

func newInstance(name, key string, k, v cty.Value, placeholder bool) instance {
	return instance{name: name, key: key, placeholder: placeholder,
		each:    map[string]any{"key": key, "value": ctyToGo(v)},
		eachVal: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
}

// eachPlaceholder stands in for each.value while its variable has no
// value: strings name their place, so that env() names built from them
// show as such.
func eachPlaceholder(t cty.Type, path string) cty.Value {
	switch {
	case t.IsObjectType():
		attrs := map[string]cty.Value{}
		for n, at := range t.AttributeTypes() {
			attrs[n] = eachPlaceholder(at, path+"."+n)
		}
		return cty.ObjectVal(attrs)
	case t == cty.String || t == cty.DynamicPseudoType:
		return cty.StringVal("<" + path + ">")
	}
	return placeholder(path, t)
}

// mergeInstanceDiags reports the instances' diagnostics once: a mistake
// every instance makes (the same place, the same words) once, and one only
// some make with the instance it belongs to.
func mergeInstanceDiags(insts []instance, per []hcl.Diagnostics) hcl.Diagnostics {
	if len(per) == 1 {
		return per[0]
	}
	type key struct {
		sev     hcl.DiagnosticSeverity
		summary string
		at      string
	}
	keyOf := func(d *hcl.Diagnostic) key {
		k := key{sev: d.Severity, summary: d.Summary}
		if d.Subject != nil {
			k.at = d.Subject.String()
		}
		return k
	}
	count := map[key]int{}
	for _, ds := range per {
		once := map[key]bool{}
		for _, d := range ds {
			if k := keyOf(d); !once[k] {
				once[k] = true
				count[k]++
			}
		}
	}
	var out hcl.Diagnostics
	said := map[key]bool{}
	for i, ds := range per {
		for _, d := range ds {
			k := keyOf(d)
			if count[k] == len(per) {
				if !said[k] {
					said[k] = true
					out = append(out, d)
				}
				continue
			}
			if !strings.Contains(d.Detail, insts[i].name) && !strings.Contains(d.Detail, fmt.Sprintf("%q", insts[i].name)) {
				c := *d
				c.Detail = strings.TrimSpace(c.Detail + " (in job " + insts[i].name + ")")
				d = &c
			}
			out = append(out, d)
		}
	}
	return out
}

// eachOutside reports each.key and each.value in a job block without
// for_each, where HCL would only say there is no variable named each.
func eachOutside(blk *hcl.Block) hcl.Diagnostics {
	body, ok := blk.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	if _, ok := body.Attributes["for_each"]; ok {
		return nil
	}
	var diags hcl.Diagnostics
	hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		t, ok := n.(*hclsyntax.ScopeTraversalExpr)
		if !ok || t.Traversal.RootName() != "each" {
			return nil
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to each outside for_each",
			Detail:  fmt.Sprintf("Job %q reads each, which only a job with for_each has: each.key and each.value are its instance's.", blk.Labels[0]),
			Subject: t.Range().Ptr()})
		return nil
	})
	return diags
}
