package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goqsync/runner/table"
)

// PlanJSONVersion is the version of plan -json's shape (and show -json's):
// a new field keeps it, a changed or removed one moves it.
const PlanJSONVersion = "1.0"

// PlanOptions says how to write a plan.
type PlanOptions struct {
	JSON bool
	// Ledger, when set, marks records whose payload the destination
	// already has as unchanged, and parked ones as parked. LedgerName says
	// which ledger it is (a file, a database), for the plan's header.
	Ledger     Ledger
	LedgerName string
	Force      bool
	// Compare reads the destination's current values (it must implement
	// Comparer) and marks what each record would change.
	Compare bool
	// Now is the plan's clock; zero: the job's pinned time or the wall clock.
	Now time.Time
	// Summary prints no records, only counts per filter, side effect and
	// error kind with the first few of each (a plan of 200,000 rows).
	Summary bool
	// Only prints just the records that would be "send", "excluded",
	// "errors" or "unchanged"; the summary is whole.
	Only string
	// Save, when set (NewSavedPlan), receives every order the plan would
	// send, exactly, with its row's fingerprint and its ledger entry, and
	// the plan's header and summary: what runner apply sends.
	Save *SavedPlan
}

// Plan reads the job's source and writes, for every record, whether it
// would be sent (with the exact payload) or why not. It writes nothing to
// the destination and needs none of its credentials.
func (j *Job) Plan(ctx context.Context, w io.Writer, opts PlanOptions) (Counts, error) {
	var counts Counts
	var fx effects
	effectsOf := j.sideEffects()
	// What sending costs, batch by batch as a run would form them.
	var cost Cost
	coster, _ := j.Dest.(Coster)
	size := max(j.Dest.BatchSize(), 1)
	var batch []Payload
	// A plan can be a line per record for a million records: buffer it.
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	pw := &planWriter{w: bw, j: j, json: opts.JSON, now: j.now(opts.Now), summary: opts.Summary, only: opts.Only}
	scope := j.Scope()
	if opts.Ledger != nil {
		pw.ledger, pw.scope = opts.LedgerName, scope
	}
	var pending []Item
	var cmp Comparer
	if opts.Compare {
		c, ok := j.Dest.(Comparer)
		if !ok {
			return counts, fmt.Errorf("destination %s cannot read its current state; plan without -compare", j.DestType)
		}
		cmp = c
	}
	flush := func() error {
		if err := j.markKnown(ctx, opts.Ledger, scope, j.DestType, opts.Force, pending); err != nil {
			return err
		}
		if cmp != nil {
			if err := pw.current(ctx, cmp, pending); err != nil {
				return fmt.Errorf("destination %s: %w", j.DestType, err)
			}
		}
		for i := range pending {
			it := &pending[i]
			counts.add(it.Status)
			var its []string
			if it.Status == Send {
				if coster != nil {
					if batch = append(batch, it.Payload); len(batch) == size {
						cost.add(coster.Cost(batch)...)
						batch = batch[:0]
					}
				}
				its = effectsOf(it.Payload)
				for _, msg := range its {
					fx.add(msg, it.Payload.Key)
				}
				if opts.Save != nil {
					o := PlannedOrder{Key: it.Payload.Key, Label: it.Label, Pos: it.Pos, Row: it.Row,
						Hash: PayloadHash(it.Payload), Payload: it.Payload.Values}
					if it.entry != nil {
						o.Ledger = planLedger(*it.entry)
					}
					opts.Save.Orders = append(opts.Save.Orders, o)
				}
			}
			pw.item(it, its)
		}
		pending = pending[:0]
		return nil
	}
	_, err := j.each(ctx, pw.now, eachMode{explain: true, fingerprint: opts.Save != nil}, nil, func(it *Item) error {
		pending = append(pending, *it)
		if len(pending) >= 100 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return counts, err
	}
	var pc *Cost
	if coster != nil {
		if len(batch) > 0 {
			cost.add(coster.Cost(batch)...)
		}
		all := runCost(coster, cost)
		pc = &all
	}
	if sp := opts.Save; sp != nil {
		j.fillSaved(sp, pw.now, opts, counts, fx.list, pc)
	}
	pw.end(counts, fx.list, pc)
	if err := bw.Flush(); err != nil && pw.err == nil {
		pw.err = err
	}
	return counts, pw.err
}

// fillSaved puts a plan's header and summary into its saved form.
func (j *Job) fillSaved(sp *SavedPlan, now time.Time, opts PlanOptions, counts Counts, fx []SideEffect, cost *Cost) {
	sp.Job, sp.Source, sp.Destination = j.Name, j.SourceType, j.DestType
	sp.Now, sp.TimeZone = now.In(j.Location), j.Location.String()
	sp.Identity, sp.Force = j.Scope(), opts.Force
	if opts.Ledger != nil {
		sp.Ledger = opts.LedgerName
	}
	sp.Fields = sp.Fields[:0]
	for _, m := range j.Mappings {
		sp.Fields = append(sp.Fields, m.Field.Name)
	}
	sp.Actions, sp.Counts, sp.SideEffects = j.Actions, counts, fx
	if cost != nil {
		sp.Cost = planCost(*cost)
	}
}

func (j *Job) caveat() string {
	if c, ok := j.Dest.(Caveater); ok && len(j.Actions) > 0 {
		return c.Caveat()
	}
	return ""
}

// sideEffects returns what lists the effects the job's actions will have
// on a payload beyond its values: the destination's, then its caveat. The
// caveat is the same for every record, so it is asked for once.
func (j *Job) sideEffects() func(p Payload) []string {
	se, _ := j.Dest.(SideEffecter)
	cav := j.caveat()
	return func(p Payload) []string {
		var out []string
		if se != nil {
			out = se.SideEffects(p)
		}
		if cav != "" {
			out = append(out, cav)
		}
		return out
	}
}

type planWriter struct {
	summary bool   // see PlanOptions
	only    string // see PlanOptions
	items   int    // records written
	// byFilter and byError tally exclusions and errors for -summary.
	byFilter, byError tally
	now               time.Time // the plan's clock
	clock             *clock    // for exclusions' windows, made when first needed
	// held holds the destination's current values of the items being
	// written, by index in the flushed chunk, with -compare.
	held  map[*Item]map[string]any
	begun bool // the header is written with the first record, so a source that fails to open leaves no half plan
	// ledger and scope name the memory the plan read, when it read one.
	ledger, scope string
	// filters holds each filter's quoted name: the commonest line of a
	// plan names one, and quoting it once saves a million quotings.
	filters map[string]string
	quotes  map[string]string // see quote
	buf     []byte            // the line being written
	padded  []string          // see paddedName
	starts  map[int]string    // see windowStart
	keys    []string          // scratch for appendMap
	fvs     []FieldValue      // scratch for appendItem
	w       io.Writer
	j       *Job
	json    bool
	first   bool
	err     error
}

func (p *planWriter) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *planWriter) begin() {
	if p.begun {
		return
	}
	p.begun = true
	j := p.j
	if p.json {
		h := map[string]any{
			"format_version": PlanJSONVersion,
			"job":            j.Name, "source": j.SourceType, "destination": j.DestType,
			"now": p.now.In(j.Location).Format(time.RFC3339), "time_zone": j.Location.String(),
		}
		if p.scope != "" {
			h["ledger"], h["ledger_scope"] = p.ledger, p.scope
		}
		head, _ := json.Marshal(h)
		p.printf("%s,\"items\":[", strings.TrimSuffix(string(head), "}"))
		p.first = true
		return
	}
	p.printf("Job %s: %s → %s, now %s (%s)\n", QuoteJob(j.Name), j.SourceType, j.DestType, p.now.In(j.Location).Format(time.RFC3339), j.Location)
	if p.scope != "" {
		p.printf("Ledger: %s, scope %q\n", p.ledger, p.scope)
	}
	p.printf("\n")
}

// current fetches the destination's values for the chunk's sendable items.
func (p *planWriter) current(ctx context.Context, cmp Comparer, items []Item) error {
	var batch []Payload
	var idx []*Item
	for i := range items {
		if items[i].Status == Send || items[i].Status == Unchanged {
			batch = append(batch, items[i].Payload)
			idx = append(idx, &items[i])
		}
	}
	p.held = map[*Item]map[string]any{}
	if len(batch) == 0 {
		return nil
	}
	cur, err := cmp.Current(ctx, batch)
	if err != nil {
		return err
	}
	if len(cur) != len(batch) {
		return fmt.Errorf("read %d records for %d", len(cur), len(batch))
	}
	for i, it := range idx {
		if cur[i] == nil {
			p.held[it] = map[string]any{} // not found: everything is new
			continue
		}
		p.held[it] = cur[i]
	}
	return nil
}

func (p *planWriter) item(it *Item, effects []string) {
	p.begin()
	switch {
	case !p.summary:
	case it.Status == Excluded:
		p.byFilter.add(it.Filter, it.Label)
	case it.Status == Invalid:
		kind := it.Stage
		if r, _, ok := strings.Cut(it.Reason, ": "); ok && len(r) < 80 {
			kind += ": " + r
		}
		label := it.Label
		if label == "" {
			label = it.Pos
		}
		p.byError.add(kind, label)
	}
	if p.summary || !p.shows(it.Status) {
		return
	}
	p.items++
	if p.json {
		b := p.buf[:0]
		if !p.first {
			b = append(b, ',')
		}
		p.first = false
		b = append(b, '\n')
		b, err := p.appendItem(b, it, effects)
		p.buf = b
		if err != nil {
			p.err = err
			return
		}
		if p.err == nil {
			_, p.err = p.w.Write(b)
		}
		return
	}
	label := it.Label
	if it.Status == Send || it.Status == Unchanged {
		label = it.Payload.Key
	}
	if label == "" {
		label = "?"
	}
	label = Clip(label)
	switch it.Status {
	case Send:
		// A record and its payload, a line a field, built without fmt.
		b := append(p.buf[:0], "+ "...)
		b = append(b, label...)
		b = append(b, "  "...)
		b = append(b, it.Pos...)
		b = append(b, '\n')
		cur, compared := p.held[it]
		for i, m := range p.j.Mappings {
			v, ok := it.Payload.Values[m.Field.Name]
			if !ok {
				continue
			}
			b = append(b, "    "...)
			b = append(b, p.paddedName(i)...)
			b = append(b, " = "...)
			if s, ok := v.(string); ok {
				b = strconv.AppendQuote(b, Clip(s))
				if s == "" {
					b = append(b, "  # clears the field"...)
				}
			} else {
				b = append(b, show(v)...)
			}
			if compared {
				c, known := cur[m.Field.Name]
				switch {
				case len(cur) == 0:
					b = append(b, "  # not found at the destination"...)
				case !known: // a field the destination cannot read back
				case fmt.Sprint(c) == fmt.Sprint(v):
					b = append(b, "  # no change"...)
				default:
					b = append(b, "  # now "...)
					b = append(b, show(c)...)
				}
			}
			b = append(b, '\n')
		}
		p.buf = b
		if p.err == nil {
			_, p.err = p.w.Write(b)
		}
	case Excluded:
		// The commonest line by far: built without fmt.
		b := append(p.buf[:0], "- "...)
		b = append(b, label...)
		b = append(b, "  "...)
		b = append(b, it.Pos...)
		b = append(b, "  excluded by filter "...)
		b = append(b, p.quoted(it.Filter)...)
		if len(it.Values) > 0 {
			b = p.why(b, it)
		}
		b = append(b, '\n')
		p.buf = b
		if p.err == nil {
			_, p.err = p.w.Write(b)
		}
	case Skipped:
		p.printf("~ %s  %s  skipped: %s\n", label, it.Pos, Clip(it.Reason))
	case Unchanged:
		p.printf("= %s  %s  unchanged since the last export\n", label, it.Pos)
	case Parked:
		p.printf("# %s  %s  parked: %s (runner retry %s %s)\n", label, it.Pos, it.Reason, p.j.Name, it.Payload.Key)
	case Invalid:
		p.printf("! %s  %s  error: %s\n", label, it.Pos, Clip(it.Reason))
	}
}

// paddedName is the name of the job's i-th mapping padded to the widest,
// as a record to send lists its payload; they are padded once a plan.
func (p *planWriter) paddedName(i int) string {
	if p.padded == nil {
		width := 0
		for _, m := range p.j.Mappings {
			width = max(width, table.Width(m.Field.Name))
		}
		for _, m := range p.j.Mappings {
			p.padded = append(p.padded, table.Pad(m.Field.Name, width))
		}
	}
	return p.padded[i]
}

func (p *planWriter) quoted(filter string) string {
	q, ok := p.filters[filter]
	if !ok {
		if p.filters == nil {
			p.filters = map[string]string{}
		}
		q = strconv.Quote(filter)
		p.filters[filter] = q
	}
	return q
}

// why appends what the excluding filter read: "updated_at = 2026-11-20
// 10:00 (8 days ago; the window starts 2026-11-24)", times in the job's zone.
func (p *planWriter) why(b []byte, it *Item) []byte {
	var f *Filter
	for _, g := range p.j.Filters {
		if g.Name == it.Filter {
			f = g
			break
		}
	}
	loc := p.j.Location
	for i, fv := range it.Values {
		if i == 0 {
			b = append(b, ": "...)
		} else {
			b = append(b, ", "...)
		}
		b = append(b, fv.Name...)
		b = append(b, " = "...)
		t, isTime := fv.Value.(time.Time)
		switch {
		case fv.Value == nil:
			b = append(b, "unset"...)
		case isTime:
			t = t.In(loc)
			b = appendWhen(b, t)
		case isString(fv.Value):
			b = append(b, p.quote(fv.Value.(string))...)
		default:
			b = append(b, show(fv.Value)...)
		}
		n, ok := f.windows[fv.Name]
		if !ok || !isTime {
			continue
		}
		if p.clock == nil {
			p.clock = newClock(p.now, loc)
		}
		switch d := p.clock.daysSince(t); {
		case d == 1:
			b = append(b, " (1 day ago"...)
		case d >= 0:
			b = append(b, " ("...)
			b = strconv.AppendInt(b, int64(d), 10)
			b = append(b, " days ago"...)
		default:
			b = append(b, " (in "...)
			b = strconv.AppendInt(b, int64(-d), 10)
			b = append(b, " days"...)
		}
		b = append(b, "; the window starts "...)
		b = append(b, p.windowStart(n)...)
		b = append(b, ')')
	}
	return b
}

// appendWhen appends t as an exclusion shows it: its date, and its time
// of day to the minute, or to the second when it has seconds. It writes
// the digits itself: time.AppendFormat reads its layout on every call, and
// most exclusion lines show a time.
func appendWhen(b []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		switch {
		case h == 0 && mi == 0 && s == 0:
			return t.AppendFormat(b, "2006-01-02")
		case s == 0:
			return t.AppendFormat(b, "2006-01-02 15:04")
		}
		return t.AppendFormat(b, "2006-01-02 15:04:05")
	}
	two := func(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }
	b = two(b, y/100)
	b = two(b, y%100)
	b = append(b, '-')
	b = two(b, int(mo))
	b = append(b, '-')
	b = two(b, d)
	if h == 0 && mi == 0 && s == 0 {
		return b
	}
	b = append(b, ' ')
	b = two(b, h)
	b = append(b, ':')
	b = two(b, mi)
	if s == 0 {
		return b
	}
	b = append(b, ':')
	return two(b, s)
}

// windowStart is the first day of a window of n days, formatted: the
// same few windows end most exclusion lines.
func (p *planWriter) windowStart(n int) string {
	d, ok := p.starts[n]
	if !ok {
		if p.starts == nil {
			p.starts = map[int]string{}
		}
		d = p.clock.today.AddDate(0, 0, -n).Format("2006-01-02")
		p.starts[n] = d
	}
	return d
}

// quote quotes a value an exclusion shows. A filter's values repeat (a
// status, a store), and quoting Japanese text costs a rune-by-rune scan:
// the first thousand distinct values are kept.
func (p *planWriter) quote(s string) string {
	if q, ok := p.quotes[s]; ok {
		return q
	}
	q := strconv.Quote(Clip(s))
	if p.quotes == nil {
		p.quotes = map[string]string{}
	}
	if len(p.quotes) < 1000 {
		p.quotes[s] = q
	}
	return q
}

// shows reports whether -only lets a record of status s be printed.
func (p *planWriter) shows(s Status) bool {
	switch p.only {
	case "send":
		return s == Send
	case "excluded":
		return s == Excluded
	case "errors":
		return s == Invalid
	case "unchanged":
		return s == Unchanged
	}
	return true
}

// tally counts records by a name and keeps the first few of each.
type tally struct {
	names []string
	count map[string]int
	first map[string][]string
}

const tallyFirst = 10

func (t *tally) add(name, label string) {
	if t.count == nil {
		t.count, t.first = map[string]int{}, map[string][]string{}
	}
	if _, ok := t.count[name]; !ok {
		t.names = append(t.names, name)
	}
	t.count[name]++
	if len(t.first[name]) < tallyFirst {
		t.first[name] = append(t.first[name], label)
	}
}

func (t *tally) write(w io.Writer, title string, quote bool) {
	if len(t.names) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	for _, n := range t.names {
		more := ""
		if c := t.count[n]; c > len(t.first[n]) {
			more = " …"
		}
		name := n
		if quote {
			name = strconv.Quote(n)
		}
		fmt.Fprintf(w, "  %s (%d): %s%s\n", name, t.count[n], strings.Join(t.first[n], " "), more)
	}
}

func (t *tally) json() map[string]any {
	out := map[string]any{}
	for _, n := range t.names {
		out[n] = map[string]any{"count": t.count[n], "first": t.first[n]}
	}
	return out
}

func (p *planWriter) end(c Counts, fx []SideEffect, cost *Cost) {
	p.begin()
	actions := p.j.Actions
	if p.json {
		tail := map[string]any{"summary": c, "after_export": actions}
		if p.summary {
			tail["excluded_by_filter"], tail["errors_by_kind"] = p.byFilter.json(), p.byError.json()
		}
		if len(fx) > 0 {
			tail["side_effects"] = fx
		}
		if cost != nil {
			tail["cost"] = cost
		}
		b, _ := json.Marshal(tail)
		p.printf("\n],%s\n", strings.TrimPrefix(string(b), "{"))
		return
	}
	if p.items > 0 {
		p.printf("\n")
	}
	if len(actions) > 0 && c.Send > 0 {
		p.printf("After export: %s, for each record whose export succeeds.\n", strings.Join(actions, ", "))
	}
	if p.summary {
		p.byFilter.write(p.w, "Excluded, by filter", true)
		p.byError.write(p.w, "Errors, by kind", false)
	}
	writeSideEffects(p.w, "Side effects", fx)
	if cost != nil {
		p.printf("Cost at %s: %s.\n", p.j.DestType, cost)
	}
	p.printf("Plan: %s.\n", c)
}

// writeSideEffects lists each effect with its count and records, as plans
// and run summaries show them.
func writeSideEffects(w io.Writer, title string, fx []SideEffect) {
	if len(fx) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	for _, e := range fx {
		fmt.Fprintf(w, "  %s (%d):\n    %s\n", e.Message, len(e.Keys), strings.Join(e.Keys, " "))
	}
}

// changes lists the payload's fields whose value differs from cur; a
// field cur does not hold counts as a change.
func changes(p Payload, cur map[string]any) []string {
	var out []string
	for k, v := range p.Values {
		if c, ok := cur[k]; !ok || fmt.Sprint(c) != fmt.Sprint(v) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func clears(p Payload) []string {
	var out []string
	for k, v := range p.Values {
		if s, ok := v.(string); ok && s == "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func show(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(Clip(x))
	case time.Time:
		return x.Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

func isString(v any) bool {
	_, ok := v.(string)
	return ok
}
