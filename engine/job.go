package engine

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
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
	"github.com/robfig/cron/v3"
	"github.com/zclconf/go-cty/cty"
)

// DefaultTimeZone is the zone of the futureshop and GoQ domains.
const DefaultTimeZone = "Asia/Tokyo"

// Job is one compiled job.
type Job struct {
	Name        string
	Description string
	DeclRange   hcl.Range

	// Schedule is nil for a job that only runs on demand.
	Schedule     cron.Schedule
	ScheduleText string
	Location     *time.Location

	SourceType string
	Source     Source
	DestType   string
	Dest       Destination

	Filters  []*Filter
	Mappings []*Mapping

	// filterAll runs every filter in one VM pass and returns the 1-based
	// index of the first that fails, or 0: one call per record instead of
	// one per filter. Nil when the filters could not be combined.
	filterAll *vm.Program

	vars   map[string]any
	used   map[string]bool // source fields the expressions name
	clock  *clock
	pinned time.Time
	needs  []envNeed
}

// Filter is a named condition every record must meet.
type Filter struct {
	Name string
	When string
	prog *vm.Program
}

// Mapping computes one destination field.
type Mapping struct {
	Field Field
	Expr  string
	prog  *vm.Program
	// copyOf is set when the expression is just a source field's name, the
	// commonest mapping: the value is read without running the VM.
	copyOf string
	// personal is set when the expression reads a personal source field.
	personal bool
}

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

var jobSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"},
		{Name: "schedule"},
		{Name: "time_zone"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "source", LabelNames: []string{"type"}},
		{Type: "destination", LabelNames: []string{"type"}},
		{Type: "filter", LabelNames: []string{"name"}},
		{Type: "map"},
		{Type: "after_export"},
	},
}

var filterSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "when", Required: true},
		{Name: "description"},
	},
}

func decodeJob(blk *hcl.Block, eval *hcl.EvalContext, vars map[string]any, opts LoadOptions) (*Job, hcl.Diagnostics) {
	j := &Job{Name: blk.Labels[0], DeclRange: blk.DefRange, vars: vars, pinned: opts.Now, used: map[string]bool{}}
	var diags hcl.Diagnostics
	content, d := blk.Body.Content(jobSchema)
	diags = append(diags, d...)

	str := func(name string) (string, *hcl.Attribute) {
		a, ok := content.Attributes[name]
		if !ok {
			return "", nil
		}
		v, d := a.Expr.Value(eval)
		diags = append(diags, d...)
		if d.HasErrors() {
			return "", nil
		}
		if v.IsNull() || v.Type() != cty.String {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s must be a string", name), Subject: a.Expr.Range().Ptr()})
			return "", nil
		}
		return v.AsString(), a
	}

	j.Description, _ = str("description")
	tz, tzAttr := str("time_zone")
	if tz == "" {
		tz = DefaultTimeZone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		var subj *hcl.Range
		if tzAttr != nil {
			subj = tzAttr.Expr.Range().Ptr()
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("unknown time zone %q", tz),
			Detail: "use an IANA name such as Asia/Tokyo", Subject: subj})
		loc = time.FixedZone("JST", 9*3600)
	}
	j.Location = loc
	j.clock = &clock{loc: loc}
	j.clock.set(time.Now())
	if !opts.Now.IsZero() {
		j.clock.set(opts.Now)
	}

	if s, a := str("schedule"); a != nil {
		sched, err := ParseSchedule(s, loc)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("invalid schedule %q", s),
				Detail: err.Error(), Subject: a.Expr.Range().Ptr()})
		}
		j.Schedule, j.ScheduleText = sched, s
	}

	settings := &Settings{Eval: eval, Location: loc, JobName: j.Name, Now: func() time.Time { return j.clock.now }}

	// Connectors, each decoding its own body.
	var srcBlk, dstBlk, afterBlk, mapBlk *hcl.Block
	var filterBlks []*hcl.Block
	for _, b := range content.Blocks {
		switch b.Type {
		case "source", "destination", "map", "after_export":
			prev := map[string]**hcl.Block{"source": &srcBlk, "destination": &dstBlk, "map": &mapBlk, "after_export": &afterBlk}[b.Type]
			if *prev != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("job %q has more than one %s block", j.Name, b.Type),
					Detail: fmt.Sprintf("the first is at %s", at((*prev).DefRange)), Subject: b.DefRange.Ptr()})
				continue
			}
			*prev = b
		case "filter":
			filterBlks = append(filterBlks, b)
		}
	}
	for _, need := range []struct {
		blk  *hcl.Block
		what string
	}{{srcBlk, `source "TYPE" { ... }`}, {dstBlk, `destination "TYPE" { ... }`}, {mapBlk, "map { field = \"expression\" ... }"}} {
		if need.blk == nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("job %q has no %s block", j.Name, strings.Fields(need.what)[0]),
				Detail: "add " + need.what, Subject: blk.DefRange.Ptr()})
		}
	}
	if srcBlk != nil {
		j.SourceType = srcBlk.Labels[0]
		if f, ok := opts.Registry.Sources[j.SourceType]; ok {
			src, d := f(srcBlk.Body, settings)
			diags = append(diags, d...)
			j.Source = src
		} else {
			diags = append(diags, unknownConnector("source", j.SourceType, keys(opts.Registry.Sources), srcBlk))
		}
	}
	if dstBlk != nil {
		j.DestType = dstBlk.Labels[0]
		if f, ok := opts.Registry.Destinations[j.DestType]; ok {
			var after hcl.Body
			if afterBlk != nil {
				after = afterBlk.Body
			}
			dst, d := f(dstBlk.Body, after, settings)
			diags = append(diags, d...)
			j.Dest = dst
		} else {
			diags = append(diags, unknownConnector("destination", j.DestType, keys(opts.Registry.Destinations), dstBlk))
		}
	}
	if j.Source == nil || j.Dest == nil {
		// Expressions compile against the connectors' fields; without
		// them there is nothing to check the rest against.
		return nil, diags
	}

	env := j.exprEnv()
	names := j.envNames()
	seen := map[string]*hcl.Block{}
	for _, fb := range filterBlks {
		name := fb.Labels[0]
		if prev, ok := seen[name]; ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("duplicate filter %q", name),
				Detail: fmt.Sprintf("the first is at %s", at(prev.DefRange)), Subject: fb.LabelRanges[0].Ptr()})
			continue
		}
		seen[name] = fb
		fc, d := fb.Body.Content(filterSchema)
		diags = append(diags, d...)
		a, ok := fc.Attributes["when"]
		if !ok {
			continue
		}
		src, d := exprString(a, eval)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		where := fmt.Sprintf("filter %q", name)
		prog, d := j.compile(src, a, where, env, names, expr.AsBool())
		diags = append(diags, d...)
		if prog != nil {
			j.Filters = append(j.Filters, &Filter{Name: name, When: src, prog: prog})
		}
	}

	if mapBlk != nil {
		diags = append(diags, j.decodeMap(mapBlk, eval, env, names)...)
	}
	if !diags.HasErrors() && len(j.Filters) > 1 {
		j.filterAll = j.combineFilters(env)
	}
	if fu, ok := j.Source.(FieldUser); ok && !diags.HasErrors() {
		names := []string{j.Source.Label()}
		for n := range j.used {
			names = append(names, n)
		}
		sort.Strings(names)
		fu.UseFields(names)
	}
	return j, diags
}

func (j *Job) decodeMap(mapBlk *hcl.Block, eval *hcl.EvalContext, env map[string]any, names []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	attrs, d := mapBlk.Body.JustAttributes()
	diags = append(diags, d...)
	fields := map[string]Field{}
	var fieldNames []string
	for _, f := range j.Dest.Fields() {
		fields[f.Name] = f
		fieldNames = append(fieldNames, f.Name)
	}
	// Source order, so payloads and plans list fields as the job does.
	ordered := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		ordered = append(ordered, a)
	}
	sort.Slice(ordered, func(a, b int) bool { return ordered[a].Range.Start.Byte < ordered[b].Range.Start.Byte })
	for _, a := range ordered {
		f, ok := fields[a.Name]
		if !ok {
			detail := fmt.Sprintf("destination %s accepts: %s", j.DestType, strings.Join(fieldNames, ", "))
			if s := didYouMean(a.Name, fieldNames); s != "" {
				detail = s + " " + detail
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError,
				Summary: fmt.Sprintf("destination %s has no field %q", j.DestType, a.Name), Detail: detail, Subject: a.NameRange.Ptr()})
			continue
		}
		if f.Unsent != "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning,
				Summary: fmt.Sprintf("%s is accepted but not sent", a.Name), Detail: f.Unsent, Subject: a.NameRange.Ptr()})
		}
		src, d := exprString(a, eval)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		where := fmt.Sprintf("mapping %q", a.Name)
		prog, d := j.compile(src, a, where, env, names)
		diags = append(diags, d...)
		if prog == nil {
			continue
		}
		if t := prog.Node().Type(); !fits(t, f.Kind) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError,
				Summary: fmt.Sprintf("%s gives %s, but %s's %s wants %s", where, typeName(t), j.DestType, f.Name, kindWants(f.Kind)),
				Subject: a.Expr.Range().Ptr()})
			continue
		}
		m := &Mapping{Field: f, Expr: src, prog: prog, personal: j.readsPersonal(prog)}
		if id, ok := prog.Node().(*ast.IdentifierNode); ok && id.Value != "vars" {
			m.copyOf = id.Value
		}
		j.Mappings = append(j.Mappings, m)
	}
	for _, f := range j.Dest.Fields() {
		if _, ok := attrs[f.Name]; f.Required && !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError,
				Summary: fmt.Sprintf("missing required mapping %q", f.Name),
				Detail:  fmt.Sprintf("destination %s needs %s (%s) in the map block", j.DestType, f.Name, strings.TrimSuffix(f.Doc, ".")),
				Subject: mapBlk.DefRange.Ptr()})
		}
	}
	return diags
}

func unknownConnector(kind, name string, known []string, blk *hcl.Block) *hcl.Diagnostic {
	detail := fmt.Sprintf("known %ss: %s", kind, strings.Join(known, ", "))
	if s := didYouMean(name, known); s != "" {
		detail = s + " " + detail
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("unknown %s connector %q", kind, name),
		Detail: detail, Subject: blk.LabelRanges[0].Ptr()}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ParseSchedule reads "every 10m" or a cron line (five fields, or
// descriptors such as @hourly) in loc.
func ParseSchedule(s string, loc *time.Location) (cron.Schedule, error) {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(s), "every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("after \"every\" want a duration such as 10m or 1h30m: %w", err)
		}
		if d < time.Second {
			return nil, errors.New("the interval must be at least 1s")
		}
		return cron.Every(d), nil
	}
	sched, err := cron.ParseStandard("CRON_TZ=" + loc.String() + " " + s)
	if err != nil {
		return nil, fmt.Errorf("want \"every DURATION\" or a cron line such as \"*/10 * * * *\": %w", err)
	}
	return sched, nil
}

// exprString evaluates an attribute that holds an expr-lang expression.
func exprString(a *hcl.Attribute, eval *hcl.EvalContext) (string, hcl.Diagnostics) {
	v, d := a.Expr.Value(eval)
	if d.HasErrors() {
		return "", d
	}
	if v.IsNull() || v.Type() != cty.String {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s must be an expression in a string", a.Name),
			Detail: `for example "tracking_no" or "ymd(shipped_on)"`, Subject: a.Expr.Range().Ptr()}}
	}
	return v.AsString(), d
}

// exprEnv is the type environment expressions compile against: one sample
// value per source field, and vars.
func (j *Job) exprEnv() map[string]any {
	env := map[string]any{"vars": j.vars}
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
		return nil, exprDiag(err, src, a, where, "")
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, exprDiag(err, src, a, where, "")
	}
	var diags hcl.Diagnostics
	funcs := keys(funcDoc)
	visitor := &nameCheck{fn: func(n ast.Node, name string, member bool) {
		if member {
			vars := keys(j.vars)
			detail := "declared variables: " + strings.Join(vars, ", ")
			if s := didYouMean(name, vars); s != "" {
				detail = s + " " + detail
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s: unknown variable vars.%s", where, name),
				Detail: detail, Subject: exprRange(a, src, n.Location()).Ptr()})
			return
		}
		detail := fmt.Sprintf("source %s has: %s", j.SourceType, strings.Join(names, ", "))
		if s := didYouMean(name, append(append([]string{}, names...), funcs...)); s != "" {
			detail = s + " " + detail
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s: unknown field %q", where, name),
			Detail: detail, Subject: exprRange(a, src, n.Location()).Ptr()})
	}, env: env, vars: j.vars, funcs: funcDoc, used: j.used}
	// let-variables and closure pointers are names too; collect them first.
	ast.Walk(&tree.Node, &binder{c: visitor})
	ast.Walk(&tree.Node, visitor)
	if diags.HasErrors() {
		return nil, diags
	}
	prog, err := expr.Compile(src, j.exprOpts(env, extra...)...)
	if err != nil {
		return nil, exprDiag(err, src, a, where, "")
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
	}
}

// exprOpts are the options every record expression of the job compiles
// with: the source's fields, variables as constants, the helpers.
func (j *Job) exprOpts(env map[string]any, extra ...expr.Option) []expr.Option {
	opts := append([]expr.Option{expr.Env(env), expr.Patch(&varsPatcher{vars: j.vars})}, exprOptions(j.clock)...)
	return append(opts, extra...)
}

// combineFilters compiles the filters into one program that yields the
// position of the first failing filter. Each filter already compiled on
// its own (for precise diagnostics), so a failure here only means the
// fast path is off.
func (j *Job) combineFilters(env map[string]any) *vm.Program {
	var b strings.Builder
	for i, f := range j.Filters {
		fmt.Fprintf(&b, "!(%s\n) ? %d : ", f.When, i+1)
	}
	b.WriteString("0")
	prog, err := expr.Compile(b.String(), j.exprOpts(env, expr.AsInt())...)
	if err != nil {
		return nil
	}
	return prog
}

// varsPatcher replaces vars.name with the variable's value: variables are
// fixed at load, and a constant costs nothing per record and lets expr
// fold what depends on it.
type varsPatcher struct{ vars map[string]any }

func (p *varsPatcher) Visit(node *ast.Node) {
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
func exprDiag(err error, src string, a *hcl.Attribute, where, hint string) hcl.Diagnostics {
	var fe *file.Error
	rng := a.Expr.Range()
	msg := err.Error()
	if errors.As(err, &fe) {
		msg = strings.TrimSpace(fe.Message)
		rng = exprRange(a, src, fe.Location)
	}
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s: %s", where, msg), Detail: hint, Subject: rng.Ptr()}}
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
