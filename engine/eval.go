package engine

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// evaluator runs a job's compiled filters and mappings over records. It
// reuses one record map and one VM, so a record costs little more than
// the expressions themselves.
type evaluator struct {
	j     *Job
	progs *programs
	vm    vm.VM
	rec   Record
	// explain keeps, for an excluded record, the values its filter read.
	explain bool
	// fingerprint fingerprints the row of each record to send (Item.Row),
	// for a saved plan.
	fingerprint bool
	slab        []FieldValue
	// dates caches formatted dates: a run sees few distinct ship and
	// arrival dates, and a cached boxed string costs no allocation.
	dates map[int]any
}

func (j *Job) newEvaluator(now time.Time) (*evaluator, error) {
	p, err := j.programs(newClock(now, j.Location))
	if err != nil {
		return nil, err
	}
	return &evaluator{j: j, progs: p, rec: Record{}}, nil
}

// eval applies filters and mappings to e.rec.
func (e *evaluator) eval(it *Item) {
	j := e.j
	if e.progs.all != nil {
		out, err := e.vm.Run(e.progs.all, map[string]any(e.rec))
		if err != nil {
			// Run them one by one to name the filter that broke.
			e.filterEach(it)
			return
		}
		if n, _ := out.(int); n > 0 {
			e.exclude(it, j.Filters[n-1])
			return
		}
	} else if !e.filterEach(it) {
		return
	}
	e.mapValues(it)
}

// exclude marks it excluded by f, with the values f read when asked.
func (e *evaluator) exclude(it *Item, f *Filter) {
	it.Status, it.Filter = Excluded, f.Name
	if !e.explain || len(f.fields) == 0 {
		return
	}
	// One allocation serves many records: items outlive the evaluator's
	// record, so each gets its own part of a slab.
	n := len(f.fields)
	if len(e.slab)+n > cap(e.slab) {
		e.slab = make([]FieldValue, 0, max(512, n))
	}
	start := len(e.slab)
	for _, name := range f.fields {
		e.slab = append(e.slab, FieldValue{name, e.rec[name]})
	}
	it.Values = e.slab[start : start+n : start+n]
}

// filterEach runs the filters one at a time; it reports whether all passed.
func (e *evaluator) filterEach(it *Item) bool {
	for i, f := range e.j.Filters {
		out, err := e.vm.Run(e.progs.filters[i], map[string]any(e.rec))
		if err != nil {
			it.Status, it.Reason, it.Stage = Invalid, fmt.Sprintf("filter %q: %s", f.Name, runError(err)), "filter"
			return false
		}
		if ok, _ := out.(bool); !ok {
			e.exclude(it, f)
			return false
		}
	}
	return true
}

// mapValues evaluates the mappings into the item's payload.
func (e *evaluator) mapValues(it *Item) {
	j := e.j
	values := make(map[string]any, len(j.Mappings))
	for i, m := range j.Mappings {
		var out any
		var err error
		if m.copyOf != "" {
			out = e.rec[m.copyOf]
		} else {
			out, err = e.vm.Run(e.progs.maps[i], map[string]any(e.rec))
		}
		if err != nil {
			it.Status, it.Reason, it.Stage = Invalid, fmt.Sprintf("%s: %s", m.Field.Name, runError(err)), "map"
			return
		}
		if out == nil {
			if m.Field.Required {
				it.Status, it.Stage, it.Reason = Invalid, "map", fmt.Sprintf("%s: %q gave no value, and %s requires one", m.Field.Name, m.Expr, j.DestType)
				return
			}
			continue // unset: the key is not sent, so nothing is blanked
		}
		v, err := e.canonical(out, m.Field)
		if err != nil {
			it.Status, it.Reason, it.Stage = Invalid, fmt.Sprintf("%s: %v", m.Field.Name, err), "map"
			return
		}
		values[m.Field.Name] = v
	}
	it.Status = Send
	it.Payload = Payload{Key: j.Dest.Key(values), Pos: it.Pos, Values: values}
}

// runError is a run-time error without the quoted expression and caret
// that expr puts on the lines below it: a plan and the log give a record
// one line. The position stays.
func runError(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) && fe.Snippet != "" {
		return fmt.Sprintf("%s (%d:%d)", fe.Message, fe.Line, fe.Column+1)
	}
	return err.Error()
}

// canonical is the package canonical with a cache for dates.
func (e *evaluator) canonical(v any, f Field) (any, error) {
	t, ok := v.(time.Time)
	if !ok || f.Kind != Date {
		return canonical(v, f, e.j.Location)
	}
	y, m, d := t.In(e.j.Location).Date()
	k := y*10000 + int(m)*100 + d
	if s, ok := e.dates[k]; ok {
		return s, nil
	}
	if e.dates == nil || len(e.dates) > 4096 {
		e.dates = map[int]any{}
	}
	s := any(ymd(t.In(e.j.Location)))
	e.dates[k] = s
	return s, nil
}

// canonical converts an expression's value to the payload form of f's kind
// and checks f's limits. A value already in that form is returned as the
// same interface value, which costs no allocation.
func canonical(v any, f Field, loc *time.Location) (any, error) {
	switch f.Kind {
	case String:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %v (%T)", v, v)
		}
		if f.MaxBytes > 0 && len(s) > f.MaxBytes {
			return nil, fmt.Errorf("%q is %d bytes, over the limit of %d", Clip(s), len(s), f.MaxBytes)
		}
		return v, nil
	case Date:
		switch d := v.(type) {
		case time.Time:
			return ymd(d.In(loc)), nil
		case string:
			if d == "" {
				return v, nil
			}
			t, err := ParseTime(d, loc)
			if err != nil {
				return nil, err
			}
			return ymd(t), nil
		}
		return nil, fmt.Errorf("want a date, got %v (%T)", v, v)
	case Time:
		if t, ok := v.(time.Time); ok {
			return t.In(loc), nil
		}
		return nil, fmt.Errorf("want a time, got %v (%T)", v, v)
	case Int:
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case int64:
			return v, nil
		case float64:
			if n == math.Trunc(n) {
				return int64(n), nil
			}
		}
		return nil, fmt.Errorf("want a whole number, got %v (%T)", v, v)
	case Float:
		switch n := v.(type) {
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case float64:
			return v, nil
		}
		return nil, fmt.Errorf("want a number, got %v (%T)", v, v)
	case Bool:
		if _, ok := v.(bool); ok {
			return v, nil
		}
		return nil, fmt.Errorf("want true or false, got %v (%T)", v, v)
	}
	return nil, fmt.Errorf("field kind %s is not supported", f.Kind)
}

// now is the clock of a run or plan: its own, else the job's pinned
// time, else the wall clock.
// Clock is the job's "now": its pinned time (LoadOptions.Now), or the wall
// clock.
func (j *Job) Clock() time.Time { return j.now(time.Time{}) }

func (j *Job) now(own time.Time) time.Time {
	switch {
	case !own.IsZero():
		return own
	case !j.pinned.IsZero():
		return j.pinned
	}
	return time.Now()
}
