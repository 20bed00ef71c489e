package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/hashicorp/hcl/v2"
	"github.com/robfig/cron/v3"
	"github.com/zclconf/go-cty/cty"
)

// DefaultTimeZone is the zone of the futureshop and GoQ domains.
const DefaultTimeZone = "Asia/Tokyo"

// Job is one compiled job.
type Job struct {
	Name string
	// Block is the name of the job block the job comes from, and Key its
	// for_each key: job "shipping" { for_each = … } makes Name
	// shipping["a"], Block shipping, Key a. Without for_each, Key is "".
	Block       string
	Key         string
	Description string
	DeclRange   hcl.Range

	// Schedule is nil for a job that only runs on demand.
	Schedule     cron.Schedule
	ScheduleText string
	Location     *time.Location
	// Reconcile is set by a reconcile block: serve reads back on its own
	// schedule what the job sent.
	Reconcile *Reconcile

	SourceType string
	Source     Source
	DestType   string
	Dest       Destination

	Filters  []*Filter
	Mappings []*Mapping
	// Actions are the post-export actions after_export turns on, in the
	// order the destination declares them.
	Actions []string

	vars map[string]any
	// eachVal is each.key and each.value of a for_each instance, nil otherwise.
	eachVal map[string]any
	used    map[string]bool // source fields the expressions name
	// pinned is the -now of LoadOptions: the clock of every run that does
	// not set its own.
	pinned time.Time
	// check is the clock expressions are type-checked with at load; each
	// run compiles them again with its own (see programs).
	check *clock
	needs []envNeed
	// forEachMissing names the variable without a value that the job's
	// for_each reads: the job is validate's stand-in for its instances.
	forEachMissing string
}

// Filter is a named condition every record must meet.
type Filter struct {
	Name string
	When string
	// fields are the source fields it reads, in the order it names them;
	// windows the day counts of its within_days(field, n) calls, by field:
	// a plan shows them beside an exclusion.
	fields  []string
	windows map[string]int
}

// Mapping computes one destination field.
type Mapping struct {
	Field Field
	Expr  string
	// copyOf is set when the expression is just a source field's name, the
	// commonest mapping: the value is read without running the VM.
	copyOf string
	// personal is set when the expression reads a personal source field.
	personal bool
	// fields are the source fields the expression reads.
	fields []string
}

var jobSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"},
		{Name: "schedule"},
		{Name: "time_zone"},
		{Name: "for_each"}, // read by instances, before the job decodes
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "source", LabelNames: []string{"type"}},
		{Type: "destination", LabelNames: []string{"type"}},
		{Type: "filter", LabelNames: []string{"name"}},
		{Type: "map"},
		{Type: "after_export"},
		{Type: "reconcile"},
	},
}

// Reconcile is a job's reconcile block.
type Reconcile struct {
	Schedule     cron.Schedule
	ScheduleText string
	// Requeue marks what drifted to be sent again by the next run.
	Requeue   bool
	DeclRange hcl.Range
}

var reconcileSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "schedule", Required: true},
		{Name: "requeue"},
	},
}

var filterSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "when", Required: true},
		{Name: "description"},
	},
}

func decodeJob(blk *hcl.Block, eval *hcl.EvalContext, in instance, vars map[string]any, opts LoadOptions) (*Job, hcl.Diagnostics) {
	j := &Job{Name: in.name, Block: blk.Labels[0], Key: in.key, DeclRange: blk.DefRange, vars: vars, eachVal: in.each, pinned: opts.Now, used: map[string]bool{}}
	var diags hcl.Diagnostics
	content, d := Content(blk.Body, jobSchema)
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
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
				Detail: fmt.Sprintf("The argument %s of job %s must be a string.", name, QuoteJob(j.Name)), Subject: a.Expr.Range().Ptr()})
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
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown time zone",
			Detail: fmt.Sprintf("Job %s has time_zone %q, which is not a zone this build knows. Use an IANA name such as \"Asia/Tokyo\".", QuoteJob(j.Name), tz), Subject: subj})
		loc = time.FixedZone("JST", 9*3600)
	}
	j.Location = loc
	j.check = newClock(j.now(time.Time{}), loc)

	if s, a := str("schedule"); a != nil {
		sched, err := ParseSchedule(s, loc)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid schedule",
				Detail: fmt.Sprintf("The schedule %q of job %s is not valid: %v.", s, QuoteJob(j.Name), err), Subject: a.Expr.Range().Ptr()})
		}
		j.Schedule, j.ScheduleText = sched, s
	}

	settings := &Settings{Eval: eval, Location: loc, JobName: j.Name}

	// Connectors, each decoding its own body.
	var srcBlk, dstBlk, afterBlk, mapBlk, recBlk *hcl.Block
	var filterBlks []*hcl.Block
	for _, b := range content.Blocks {
		switch b.Type {
		case "source", "destination", "map", "after_export", "reconcile":
			prev := map[string]**hcl.Block{"source": &srcBlk, "destination": &dstBlk, "map": &mapBlk, "after_export": &afterBlk, "reconcile": &recBlk}[b.Type]
			if *prev != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Duplicate %s block", b.Type),
					Detail: fmt.Sprintf("Job %q may have one %s block, and the first is at %s.", j.Block, b.Type, at((*prev).DefRange)), Subject: b.DefRange.Ptr()})
				continue
			}
			*prev = b
		case "filter":
			filterBlks = append(filterBlks, b)
		}
	}
	if recBlk != nil {
		var d hcl.Diagnostics
		j.Reconcile, d = decodeReconcile(recBlk, eval, j.Name, loc)
		diags = append(diags, d...)
	}
	for _, need := range []struct {
		blk  *hcl.Block
		what string
	}{{srcBlk, `source "TYPE" { ... }`}, {dstBlk, `destination "TYPE" { ... }`}, {mapBlk, "map { field = \"expression\" ... }"}} {
		if need.blk == nil {
			kind := strings.Fields(need.what)[0]
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Missing %s block", kind),
				Detail: fmt.Sprintf("Job %q has no %s block; add %s.", j.Block, kind, need.what), Subject: blk.DefRange.Ptr()})
		}
	}
	if srcBlk != nil {
		j.SourceType = srcBlk.Labels[0]
		if info, ok := opts.Registry.Source(j.SourceType); ok {
			src, d := info.New(override(srcBlk, opts.Overrides), settings)
			diags = append(diags, d...)
			j.Source = src
		} else {
			diags = append(diags, unknownConnector("source", j.SourceType, keys(opts.Registry.sources), srcBlk))
		}
	}
	var dinfo DestinationInfo
	if dstBlk != nil {
		j.DestType = dstBlk.Labels[0]
		if info, ok := opts.Registry.Destination(j.DestType); ok {
			dinfo = info
			var d hcl.Diagnostics
			j.Actions, d = decodeActions(info, afterBlk, eval)
			diags = append(diags, d...)
			dset := *settings
			dset.Actions = j.Actions
			dst, d := info.New(override(dstBlk, opts.Overrides), &dset)
			diags = append(diags, d...)
			j.Dest = dst
		} else {
			diags = append(diags, unknownConnector("destination", j.DestType, keys(opts.Registry.dests), dstBlk))
		}
	}
	if j.Reconcile != nil && j.Dest != nil {
		if _, ok := j.Dest.(Comparer); !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Destination cannot be reconciled",
				Detail:  fmt.Sprintf("Destination %s cannot read back what it holds, so job %q cannot have a reconcile block.", j.DestType, j.Block),
				Subject: j.Reconcile.DeclRange.Ptr()})
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
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate filter",
				Detail:  fmt.Sprintf("Job %q already has a filter named %q, at %s; filter names must be unique within a job.", j.Block, name, at(prev.DefRange)),
				Subject: fb.LabelRanges[0].Ptr()})
			continue
		}
		seen[name] = fb
		fc, d := Content(fb.Body, filterSchema)
		diags = append(diags, d...)
		a, ok := fc.Attributes["when"]
		if !ok {
			continue
		}
		where := fmt.Sprintf("filter %q", name)
		src, d := exprString(a, eval, where)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		prog, d := j.compile(src, a, where, env, names, expr.AsBool())
		diags = append(diags, d...)
		if prog != nil {
			f := &Filter{Name: name, When: src}
			f.fields, f.windows = j.reads(prog)
			j.Filters = append(j.Filters, f)
		}
	}

	if mapBlk != nil {
		diags = append(diags, j.decodeMap(mapBlk, eval, env, names)...)
	}
	if !diags.HasErrors() {
		diags = append(diags, j.checkNeeds(dinfo, afterBlk)...)
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
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown destination field",
				Detail: fmt.Sprintf("The map block sets %s, but destination %s has no field of that name.%s Its fields: %s.",
					a.Name, j.DestType, didYouMean(a.Name, fieldNames, ""), strings.Join(fieldNames, ", ")),
				Subject: a.NameRange.Ptr()})
			continue
		}
		if f.Unsent != "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Field not sent",
				Detail:  fmt.Sprintf("The map block sets %s, which destination %s accepts but does not send: %s", a.Name, j.DestType, f.Unsent),
				Subject: a.NameRange.Ptr()})
		}
		where := fmt.Sprintf("mapping %q", a.Name)
		src, d := exprString(a, eval, where)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		prog, d := j.compile(src, a, where, env, names)
		diags = append(diags, d...)
		if prog == nil {
			continue
		}
		if t := prog.Node().Type(); !fits(t, f.Kind) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect value type",
				Detail:  fmt.Sprintf("The expression of %s gives %s, but %s's %s wants %s.", where, typeName(t), j.DestType, f.Name, kindWants(f.Kind)),
				Subject: a.Expr.Range().Ptr()})
			continue
		}
		m := &Mapping{Field: f, Expr: src, personal: j.readsPersonal(prog)}
		m.fields, _ = j.reads(prog)
		if id, ok := prog.Node().(*ast.IdentifierNode); ok && id.Value != "vars" {
			m.copyOf = id.Value
		}
		j.Mappings = append(j.Mappings, m)
	}
	for _, f := range j.Dest.Fields() {
		if _, ok := attrs[f.Name]; f.Required && !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required mapping",
				Detail:  fmt.Sprintf("Destination %s needs %s (%s) in the map block.", j.DestType, f.Name, strings.TrimSuffix(f.Doc, ".")),
				Subject: mapBlk.DefRange.Ptr()})
		}
	}
	return diags
}

// decodeReconcile reads a reconcile block: when serve reads back what the
// job sent, and whether it requeues what drifted.
func decodeReconcile(blk *hcl.Block, eval *hcl.EvalContext, job string, loc *time.Location) (*Reconcile, hcl.Diagnostics) {
	content, diags := Content(blk.Body, reconcileSchema)
	r := &Reconcile{DeclRange: blk.DefRange}
	if a, ok := content.Attributes["schedule"]; ok {
		v, d := a.Expr.Value(eval)
		diags = append(diags, d...)
		switch {
		case d.HasErrors():
		case v.IsNull() || v.Type() != cty.String:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
				Detail: fmt.Sprintf("The schedule of job %q's reconcile block must be a string.", job), Subject: a.Expr.Range().Ptr()})
		default:
			sched, err := ParseSchedule(v.AsString(), loc)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid schedule",
					Detail: fmt.Sprintf("The reconcile schedule %q of job %q is not valid: %v.", v.AsString(), job, err), Subject: a.Expr.Range().Ptr()})
			}
			r.Schedule, r.ScheduleText = sched, v.AsString()
		}
	}
	if a, ok := content.Attributes["requeue"]; ok {
		v, d := a.Expr.Value(eval)
		diags = append(diags, d...)
		switch {
		case d.HasErrors():
		case v.IsNull() || v.Type() != cty.Bool:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
				Detail: fmt.Sprintf("The requeue of job %q's reconcile block must be true or false.", job), Subject: a.Expr.Range().Ptr()})
		default:
			r.Requeue = v.True()
		}
	}
	return r, diags
}

func unknownConnector(kind, name string, known []string, blk *hcl.Block) *hcl.Diagnostic {
	detail := fmt.Sprintf("There is no %s connector named %q.", kind, name)
	if s := Suggest(name, known); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	detail += fmt.Sprintf(" Known %ss: %s.", kind, strings.Join(known, ", "))
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unknown %s connector", kind),
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

// exprString evaluates an attribute that holds an expr-lang expression;
// where names it (filter "recent").
func exprString(a *hcl.Attribute, eval *hcl.EvalContext, where string) (string, hcl.Diagnostics) {
	v, d := a.Expr.Value(eval)
	if d.HasErrors() {
		return "", d
	}
	if v.IsNull() || v.Type() != cty.String {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
			Detail:  fmt.Sprintf(`The value of %s must be an expression in a string, for example "tracking_no" or "ymd(shipped_on)".`, where),
			Subject: a.Expr.Range().Ptr()}}
	}
	return v.AsString(), d
}

// decodeActions reads an after_export block against the destination's
// declared actions: each attribute names one and turns it on or off.
func decodeActions(info DestinationInfo, blk *hcl.Block, eval *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	if blk == nil {
		return nil, nil
	}
	attrs, diags := blk.Body.JustAttributes()
	declared := make([]string, len(info.Actions))
	for i, a := range info.Actions {
		declared[i] = a.Name
	}
	on := map[string]bool{}
	for name, a := range attrs {
		if !slices.Contains(declared, name) {
			detail := fmt.Sprintf("Destination %s has no post-export actions, so after_export cannot set %s.", info.Name, name)
			if len(declared) > 0 {
				detail = fmt.Sprintf("Destination %s has no post-export action %s; it has %s.", info.Name, name, strings.Join(declared, ", ")) +
					didYouMean(name, declared, "")
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown post-export action",
				Detail: detail, Subject: a.NameRange.Ptr(), Context: blk.DefRange.Ptr()})
			continue
		}
		v, d := a.Expr.Value(eval)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if v.IsNull() || v.Type() != cty.Bool {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid post-export action",
				Detail: fmt.Sprintf("%s turns an action on or off: it must be true or false.", name), Subject: a.Expr.Range().Ptr(), Context: blk.DefRange.Ptr()})
			continue
		}
		on[name] = v.True()
	}
	var out []string
	for _, a := range declared {
		if on[a] {
			out = append(out, a)
		}
	}
	return out, diags
}

// checkNeeds warns when an action the job turns on assumes a field is set
// (Action.Needs) and nothing keeps out records where it is not: no filter
// reads a source field the field's mapping reads.
func (j *Job) checkNeeds(info DestinationInfo, after *hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, a := range info.Actions {
		if !slices.Contains(j.Actions, a.Name) {
			continue
		}
		for _, need := range a.Needs {
			var m *Mapping
			for _, mm := range j.Mappings {
				if mm.Field.Name == need {
					m = mm
				}
			}
			guarded := false
			if m != nil {
				for _, f := range j.Filters {
					for _, field := range m.fields {
						guarded = guarded || slices.Contains(f.fields, field)
					}
				}
			}
			if guarded {
				continue
			}
			detail := fmt.Sprintf("%[1]s runs for every record whose export succeeds, and the job maps no %[2]s, so every record gets %[1]s without one.", a.Name, need)
			if m != nil {
				src := need
				if len(m.fields) > 0 {
					src = m.fields[0]
				}
				detail = fmt.Sprintf("%[1]s runs for every record whose export succeeds, and no filter reads %[2]s, which %[3]s comes from, so a record without %[2]s gets %[1]s too. A filter keeps such records out: filter \"has-%[2]s\" { when = \"%[2]s != nil\" }.",
					a.Name, src, need)
			}
			subject := after.DefRange
			if attrs, _ := after.Body.JustAttributes(); attrs[a.Name] != nil {
				subject = attrs[a.Name].Range
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: fmt.Sprintf("Action may run without %s", need),
				Detail: detail, Subject: subject.Ptr(), Context: after.DefRange.Ptr()})
		}
	}
	return diags
}
