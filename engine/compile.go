package engine

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// readsPersonal reports whether a compiled expression reads a source
// field marked Personal.
func (j *Job) readsPersonal(prog *vm.Program) bool {
	personal := map[string]bool{}
	for _, f := range j.Source.Fields() {
		if f.Personal {
			personal[f.Name] = true
		}
	}
	if len(personal) == 0 {
		return false
	}
	found := false
	node := prog.Node()
	ast.Walk(&node, visitor(func(n *ast.Node) {
		if id, ok := (*n).(*ast.IdentifierNode); ok && personal[id.Value] {
			found = true
		}
	}))
	return found
}

type visitor func(*ast.Node)

func (v visitor) Visit(n *ast.Node) { v(n) }

// exprEnv is the type environment expressions compile against: one sample
// value per source field, and vars.
func (j *Job) exprEnv() map[string]any {
	env := map[string]any{"vars": j.vars}
	if j.eachVal != nil {
		env["each"] = j.eachVal
	}
	for _, f := range j.Source.Fields() {
		env[f.Name] = sample(f.Kind)
	}
	return env
}

func (j *Job) envNames() []string {
	var names []string
	for _, f := range j.Source.Fields() {
		names = append(names, f.Name)
	}
	return names
}

func sample(k Kind) any {
	switch k {
	case Int:
		return int64(0)
	case Float:
		return float64(0)
	case Bool:
		return false
	case Time, Date:
		return time.Time{}
	}
	return ""
}

// compile checks src's names against the source's fields (with a
// suggestion for a typo) and compiles it once.
func (j *Job) compile(src string, a *hcl.Attribute, where string, env map[string]any, names []string, extra ...expr.Option) (*vm.Program, hcl.Diagnostics) {
	if err := exprNesting(src); err != nil {
		return nil, exprDiag(err, src, a, where)
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, exprDiag(err, src, a, where)
	}
	var diags hcl.Diagnostics
	funcs := keys(funcDoc)
	visitor := &nameCheck{fn: func(n ast.Node, name string, member bool) {
		if name == "each" && !member {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to each outside for_each",
				Detail:  fmt.Sprintf("The expression of %s reads each, which only a job with for_each has: each.key and each.value are its instance's.", where),
				Subject: exprRange(a, src, n.Location()).Ptr()})
			return
		}
		if member {
			vars := keys(j.vars)
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown variable",
				Detail: fmt.Sprintf("The expression of %s reads vars.%s, but no variable of that name is declared.%s Declared variables: %s.",
					where, name, didYouMean(name, vars, "vars."), listOrNone(vars)),
				Subject: exprRange(a, src, n.Location()).Ptr()})
			return
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown field",
			Detail: fmt.Sprintf("The expression of %s reads %s, but source %s has no field of that name.%s Its fields: %s.",
				where, name, j.SourceType, didYouMean(name, append(append([]string{}, names...), funcs...), ""), strings.Join(names, ", ")),
			Subject: exprRange(a, src, n.Location()).Ptr()})
	}, env: env, vars: j.vars, funcs: funcDoc, used: j.used, each: j.eachVal}
	visitor.eachFn = func(n ast.Node, detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported attribute",
			Detail: fmt.Sprintf("The expression of %s reads %s", where, detail), Subject: exprRange(a, src, n.Location()).Ptr()})
	}
	// let-variables and closure pointers are names too; collect them first.
	ast.Walk(&tree.Node, &binder{c: visitor})
	ast.Walk(&tree.Node, visitor)
	if diags.HasErrors() {
		return nil, diags
	}
	prog, err := expr.Compile(src, j.exprOpts(env, j.check, extra...)...)
	if err != nil {
		return nil, exprDiag(err, src, a, where)
	}
	return prog, nil
}

// nameCheck finds identifiers that are neither fields, helpers nor expr
// built-ins, and vars.x members that are not declared variables.
type nameCheck struct {
	fn    func(n ast.Node, name string, member bool)
	env   map[string]any
	vars  map[string]any
	funcs map[string]string
	bound []string        // closure and let variables in scope
	used  map[string]bool // fields named, for FieldUser
	// each is the instance's each.key and each.value; eachFn reports a
	// member of them that is not there.
	each   map[string]any
	eachFn func(n ast.Node, detail string)
}

func (c *nameCheck) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if _, ok := c.env[n.Value]; ok {
			if c.used != nil {
				c.used[n.Value] = true
			}
			return
		}
		if _, ok := c.funcs[n.Value]; ok {
			return
		}
		for _, b := range c.bound {
			if b == n.Value {
				return
			}
		}
		if isBuiltin(n.Value) {
			return
		}
		c.fn(n, n.Value, false)
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		s, isStr := n.Property.(*ast.StringNode)
		if ok && id.Value == "vars" && isStr {
			if _, ok := c.vars[s.Value]; !ok {
				c.fn(n.Property, s.Value, true)
			}
		}
		if ok && id.Value == "each" && isStr && c.each != nil && s.Value != "key" && s.Value != "value" {
			c.eachFn(n.Property, fmt.Sprintf("each.%s, but each has only key and value.%s", s.Value, didYouMean(s.Value, []string{"key", "value"}, "each.")))
		}
		// each.value.NAME of an object: the attribute must be there.
		inner, isMember := n.Node.(*ast.MemberNode)
		if !isMember || !isStr || c.each == nil {
			return
		}
		id, ok = inner.Node.(*ast.IdentifierNode)
		p, pStr := inner.Property.(*ast.StringNode)
		obj, isObj := c.each["value"].(map[string]any)
		if !ok || id.Value != "each" || !pStr || p.Value != "value" || !isObj {
			return
		}
		if _, ok := obj[s.Value]; !ok {
			names := keys(obj)
			c.eachFn(n.Property, fmt.Sprintf("each.value.%s, but each.value has no attribute of that name.%s Its attributes: %s.",
				s.Value, didYouMean(s.Value, names, "each.value."), listOrNone(names)))
		}
	}
}

// exprOpts are the options every record expression of the job compiles
// with: the source's fields, variables as constants, the helpers on c.
func (j *Job) exprOpts(env map[string]any, c *clock, extra ...expr.Option) []expr.Option {
	opts := append([]expr.Option{expr.Env(env), expr.Patch(&varsPatcher{vars: j.vars, each: j.eachVal})}, exprOptions(c)...)
	return append(opts, extra...)
}

// programs are a run's compiled filters and mappings, bound to its clock.
// Compiling a job's few expressions takes well under a millisecond, once
// a run; binding the clock at compile time costs a record nothing.
type programs struct {
	// all runs every filter in one VM pass and returns the 1-based index
	// of the first that fails, or 0: one call per record instead of one
	// per filter. Nil when there is one filter or they could not be
	// combined.
	all     *vm.Program
	filters []*vm.Program // as j.Filters
	maps    []*vm.Program // as j.Mappings; nil where the mapping copies a field
}

// programs compiles the job's expressions with c. They compiled at load,
// so an error here is the engine's own.
func (j *Job) programs(c *clock) (*programs, error) {
	env := j.exprEnv()
	p := &programs{filters: make([]*vm.Program, len(j.Filters)), maps: make([]*vm.Program, len(j.Mappings))}
	var err error
	for i, f := range j.Filters {
		if p.filters[i], err = expr.Compile(f.When, j.exprOpts(env, c, expr.AsBool())...); err != nil {
			return nil, fmt.Errorf("filter %q: %w", f.Name, err)
		}
	}
	if len(j.Filters) > 1 {
		p.all = j.combineFilters(env, c)
	}
	for i, m := range j.Mappings {
		if m.copyOf != "" {
			continue
		}
		if p.maps[i], err = expr.Compile(m.Expr, j.exprOpts(env, c)...); err != nil {
			return nil, fmt.Errorf("mapping %q: %w", m.Field.Name, err)
		}
	}
	return p, nil
}

// combineFilters compiles the filters into one program that yields the
// position of the first failing filter. Each filter already compiled on
// its own (for precise diagnostics), so a failure here only means the
// fast path is off.
func (j *Job) combineFilters(env map[string]any, c *clock) *vm.Program {
	var b strings.Builder
	for i, f := range j.Filters {
		fmt.Fprintf(&b, "!(%s\n) ? %d : ", f.When, i+1)
	}
	b.WriteString("0")
	prog, err := expr.Compile(b.String(), j.exprOpts(env, c, expr.AsInt())...)
	if err != nil {
		return nil
	}
	return prog
}

// varsPatcher replaces vars.name with the variable's value: variables are
// fixed at load, and a constant costs nothing per record and lets expr
// fold what depends on it.
type varsPatcher struct{ vars, each map[string]any }

func (p *varsPatcher) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok && id.Value == "each" && p.each != nil {
		// each.key and each.value are an instance's constants, as vars.
		ast.Patch(node, &ast.ConstantNode{Value: p.each})
		return
	}
	n, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := n.Node.(*ast.IdentifierNode)
	s, isStr := n.Property.(*ast.StringNode)
	if !ok || !isStr || id.Value != "vars" {
		return
	}
	if v, ok := p.vars[s.Value]; ok && v != nil {
		ast.Patch(node, &ast.ConstantNode{Value: v})
	}
}

type binder struct{ c *nameCheck }

func (b *binder) Visit(node *ast.Node) {
	if n, ok := (*node).(*ast.VariableDeclaratorNode); ok {
		b.c.bound = append(b.c.bound, n.Name)
	}
}

// isBuiltin reports expr's own built-ins (len, upper, split, ...) and
// literals; anything else unknown is a typo or a missing field.
func isBuiltin(name string) bool {
	switch name {
	case "nil", "true", "false", "$env":
		return true
	}
	_, ok := builtin.Index[name]
	return ok
}

// exprDiag turns an expr error into a diagnostic pointing into the string.
func exprDiag(err error, src string, a *hcl.Attribute, where string) hcl.Diagnostics {
	var fe *file.Error
	rng := a.Expr.Range()
	msg := err.Error()
	if errors.As(err, &fe) {
		msg = strings.TrimSpace(fe.Message)
		rng = exprRange(a, src, fe.Location)
	}
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid expression",
		Detail: fmt.Sprintf("The expression of %s is not valid: %s.", where, strings.TrimRight(msg, ".")), Subject: rng.Ptr()}}
}

// exprRange maps a location inside an expression string to the file. For a
// plain quoted string it is exact; otherwise it points at the string.
func exprRange(a *hcl.Attribute, src string, loc file.Location) hcl.Range {
	rng := a.Expr.Range()
	tmpl, ok := a.Expr.(*hclsyntax.TemplateExpr)
	if !ok || len(tmpl.Parts) != 1 || rng.Start.Line != rng.End.Line {
		return rng
	}
	lit, ok := tmpl.Parts[0].(*hclsyntax.LiteralValueExpr)
	if !ok || lit.Val.Type() != cty.String || lit.Val.AsString() != src || strings.ContainsAny(src, "\\\"$%") {
		return rng
	}
	// One rune per column inside a plain quoted literal.
	from, to := loc.From, loc.To
	n := utf8.RuneCountInString(src)
	if from > n {
		from = n
	}
	if to <= from {
		to = from + 1
	}
	if to > n {
		to = n
		if from >= to {
			from = max(to-1, 0)
		}
	}
	start := hcl.Pos{Line: rng.Start.Line, Column: rng.Start.Column + 1 + from, Byte: rng.Start.Byte + 1 + len(string([]rune(src)[:from]))}
	end := hcl.Pos{Line: rng.Start.Line, Column: rng.Start.Column + 1 + to, Byte: rng.Start.Byte + 1 + len(string([]rune(src)[:to]))}
	return hcl.Range{Filename: rng.Filename, Start: start, End: end}
}

// listOrNone joins names for a Detail, or says there are none.
func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

var timeType = reflect.TypeOf(time.Time{})

// fits reports whether an expression of type t can feed a field of kind k.
// An interface type is only known at run time, where it is checked again.
func fits(t reflect.Type, k Kind) bool {
	if t == nil || t.Kind() == reflect.Interface {
		return true
	}
	switch k {
	case String:
		return t.Kind() == reflect.String
	case Int:
		return isInt(t)
	case Float:
		return isInt(t) || t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32
	case Bool:
		return t.Kind() == reflect.Bool
	case Time:
		return t == timeType
	case Date:
		return t == timeType || t.Kind() == reflect.String
	}
	return false
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func typeName(t reflect.Type) string {
	switch {
	case t == timeType:
		return "a time"
	case t.Kind() == reflect.String:
		return "a string"
	case isInt(t):
		return "an int"
	case t.Kind() == reflect.Bool:
		return "a bool"
	case t.Kind() == reflect.Float64:
		return "a float"
	}
	return t.String()
}

func kindWants(k Kind) string {
	switch k {
	case Date:
		return "a date (a time, or a yyyy-mm-dd string)"
	case Time:
		return "a time"
	case Int:
		return "an int"
	}
	return "a " + k.String()
}

// reads lists the source fields a compiled filter reads, in the order it
// names them, and the n of each within_days(field, n) whose n is a
// constant.
func (j *Job) reads(prog *vm.Program) (fields []string, windows map[string]int) {
	source := map[string]bool{}
	for _, f := range j.Source.Fields() {
		source[f.Name] = true
	}
	node := prog.Node()
	ast.Walk(&node, visitor(func(n *ast.Node) {
		switch n := (*n).(type) {
		case *ast.IdentifierNode:
			if source[n.Value] && !slices.Contains(fields, n.Value) {
				fields = append(fields, n.Value)
			}
		case *ast.CallNode:
			id, ok := n.Callee.(*ast.IdentifierNode)
			if !ok || id.Value != "within_days" || len(n.Arguments) != 2 {
				return
			}
			field, ok := n.Arguments[0].(*ast.IdentifierNode)
			if !ok || !source[field.Value] {
				return
			}
			var days int
			switch d := n.Arguments[1].(type) {
			case *ast.IntegerNode:
				days = d.Value
			case *ast.ConstantNode: // a variable, patched in
				v, err := toInt(d.Value)
				if err != nil {
					return
				}
				days = v
			default:
				return
			}
			if windows == nil {
				windows = map[string]int{}
			}
			windows[field.Value] = days
		}
	}))
	return fields, windows
}
