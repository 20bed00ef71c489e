package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
)

// Reader is implemented by destinations that can read back what they hold
// now for records they accepted.
type Reader interface {
	// ReadCalls says how many requests reading back batch takes, and the
	// least time between two of them (the destination's rate limit).
	ReadCalls(batch []engine.Payload) (calls int, every time.Duration)
	// ReadBack returns, for each payload in order, the current value of
	// each field the destination can read (nil when the record is not
	// found) and, for each of the job's post-export actions it can see,
	// whether its effect holds now.
	ReadBack(ctx context.Context, batch []engine.Payload) (values []map[string]any, actions []map[string]bool, err error)
}

// Ledger is the part of the ledger reconcile reads and, with Requeue,
// writes.
type Ledger interface {
	Accepted(ctx context.Context, job, dest string, since time.Time) ([]ledger.Entry, error)
	Requeue(ctx context.Context, job, dest string, keys []string, code, message string) (int, error)
}

// Record states.
const (
	InSync       = "in_sync"
	Drifted      = "drifted"       // a field holds another value than the one sent
	NotCompleted = "not_completed" // a post-export action (complete_order: 処理済み) no longer holds
	Missing      = "missing"       // the destination does not have the record
)

// ErrCannotRead is returned for a job whose destination cannot read back.
var ErrCannotRead = errors.New("cannot read back what it holds, so its records cannot be reconciled")

// Drift is one field whose value changed since it was sent.
type Drift struct {
	Field   string `json:"field"`
	Sent    any    `json:"sent"`
	Current any    `json:"current"`
}

// Record is what reconcile found for one record key.
type Record struct {
	Key    string  `json:"key"`
	State  string  `json:"state"`
	Fields []Drift `json:"fields,omitempty"`
	// Actions are the post-export actions whose effect no longer holds.
	Actions []string  `json:"actions,omitempty"`
	SentAt  time.Time `json:"sent_at"`
	RunID   int64     `json:"run_id"`
}

// Counts are a report's totals per state.
type Counts struct {
	Checked      int `json:"checked"`
	InSync       int `json:"in_sync"`
	Drifted      int `json:"drifted"`
	NotCompleted int `json:"not_completed"`
	Missing      int `json:"missing"`
}

// Report is the result of Check.
type Report struct {
	Job         string    `json:"job"`
	Destination string    `json:"destination"`
	Scope       string    `json:"scope"`
	Since       time.Time `json:"since"`
	// Calls is how many requests reading back was to take.
	Calls    int      `json:"calls"`
	Counts   Counts   `json:"counts"`
	Requeued int      `json:"requeued"`
	Records  []Record `json:"records"`
}

// Drift reports whether any record is not in sync.
func (r *Report) Drift() bool { return r.Counts.Checked != r.Counts.InSync }

// Options tune Check.
type Options struct {
	// Since is the start of the window: records accepted at or after it.
	Since time.Time
	// Announce, when set, is told what reading back will cost before it
	// starts: the records, the requests and the least time between two.
	Announce func(records, calls int, every time.Duration)
}

// Check reads back what j's destination holds now for every record the
// ledger says it accepted since opts.Since, and compares.
func Check(ctx context.Context, j *engine.Job, l Ledger, opts Options) (*Report, error) {
	rd, ok := j.Dest.(Reader)
	if !ok {
		return nil, fmt.Errorf("destination %s %w", j.DestType, ErrCannotRead)
	}
	rep := &Report{Job: j.Name, Destination: j.DestType, Scope: j.Scope(), Since: opts.Since, Records: []Record{}}
	entries, err := l.Accepted(ctx, j.Name, rep.Scope, opts.Since)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	batch := make([]engine.Payload, len(entries))
	for i, e := range entries {
		values, err := decodePayload(e.Payload)
		if err != nil {
			return nil, fmt.Errorf("ledger entry %s: %w", e.Key, err)
		}
		batch[i] = engine.Payload{Key: e.Key, Values: values}
	}
	var every time.Duration
	if len(batch) > 0 {
		rep.Calls, every = rd.ReadCalls(batch)
	}
	if opts.Announce != nil {
		opts.Announce(len(batch), rep.Calls, every)
	}
	if len(batch) == 0 {
		return rep, nil
	}
	values, actions, err := rd.ReadBack(ctx, batch)
	if err != nil {
		return nil, err
	}
	if len(values) != len(batch) || len(actions) != len(batch) {
		return nil, fmt.Errorf("destination %s read back %d records for %d", j.DestType, len(values), len(batch))
	}
	for i, p := range batch {
		r := compare(p, values[i], actions[i], j.Actions)
		r.SentAt, r.RunID = entries[i].LastAt, entries[i].RunID
		rep.Records = append(rep.Records, r)
		rep.Counts.Checked++
		switch r.State {
		case InSync:
			rep.Counts.InSync++
		case Drifted:
			rep.Counts.Drifted++
		case NotCompleted:
			rep.Counts.NotCompleted++
		case Missing:
			rep.Counts.Missing++
		}
	}
	return rep, nil
}

// compare tells one record's state. Only fields the destination reads back
// are compared: a field it accepts and cannot read (futureshop's carrier)
// proves nothing either way.
func compare(p engine.Payload, cur map[string]any, done map[string]bool, actions []string) Record {
	r := Record{Key: p.Key, State: InSync}
	if cur == nil {
		r.State = Missing
		return r
	}
	for _, k := range sortedKeys(p.Values) {
		c, ok := cur[k]
		if ok && fmt.Sprint(c) != fmt.Sprint(p.Values[k]) {
			r.Fields = append(r.Fields, Drift{Field: k, Sent: p.Values[k], Current: c})
		}
	}
	for _, a := range actions {
		if held, ok := done[a]; ok && !held {
			r.Actions = append(r.Actions, a)
		}
	}
	switch {
	case len(r.Fields) > 0:
		r.State = Drifted
	case len(r.Actions) > 0:
		r.State = NotCompleted
	}
	return r
}

// Requeue marks the drifted and not completed records of rep in the ledger
// so that the next run sends them again (and applies the job's post-export
// actions to them again). Missing records are left alone: sending cannot
// bring an order back. The caller holds the job's lock.
func Requeue(ctx context.Context, l Ledger, rep *Report) (int, error) {
	total := 0
	for _, r := range rep.Records {
		if r.State != Drifted && r.State != NotCompleted {
			continue
		}
		code, msg := "Drifted", "reconcile: the destination holds"
		for _, d := range r.Fields {
			msg += fmt.Sprintf(" %s %s (sent %s)", d.Field, engine.Clip(fmt.Sprintf("%q", fmt.Sprint(d.Current))), engine.Clip(fmt.Sprintf("%q", fmt.Sprint(d.Sent))))
		}
		if len(r.Fields) == 0 {
			code, msg = "NotCompleted", fmt.Sprintf("reconcile: %v no longer holds", r.Actions)
		}
		n, err := l.Requeue(ctx, rep.Job, rep.Scope, []string{r.Key}, code, msg)
		if err != nil {
			return total, fmt.Errorf("ledger: %w", err)
		}
		total += n
	}
	rep.Requeued = total
	return total, nil
}

// decodePayload reads a ledger payload back into values as the engine made
// them: whole numbers are int64, as an Int field's values are.
func decodePayload(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	for k, v := range raw {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				raw[k] = i
			} else if f, err := n.Float64(); err == nil {
				raw[k] = f
			}
		}
	}
	return raw, nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// WriteText writes the report for people: a line per record, then the
// totals.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Job %q: %s, scope %q, accepted since %s\n\n", r.Job, r.Destination, r.Scope, r.Since.Format(time.RFC3339))
	for _, rec := range r.Records {
		switch rec.State {
		case InSync:
			fmt.Fprintf(w, "  %s  in sync\n", rec.Key)
		case Missing:
			fmt.Fprintf(w, "? %s  missing: the destination has no such record\n", rec.Key)
		default:
			fmt.Fprintf(w, "~ %s  %s\n", rec.Key, strings.ReplaceAll(rec.State, "_", " "))
		}
		for _, d := range rec.Fields {
			fmt.Fprintf(w, "    %s: sent %s, now %s\n", d.Field, show(d.Sent), show(d.Current))
		}
		for _, a := range rec.Actions {
			fmt.Fprintf(w, "    %s: no longer holds\n", a)
		}
	}
	c := r.Counts
	if len(r.Records) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d checked: %d in sync, %d drifted, %d not completed, %d missing.\n", c.Checked, c.InSync, c.Drifted, c.NotCompleted, c.Missing)
	if r.Requeued > 0 {
		fmt.Fprintf(w, "%d record(s) requeued: the next run sends them again.\n", r.Requeued)
	}
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(engine.Clip(s))
	}
	return fmt.Sprint(v)
}
