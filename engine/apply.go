package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Apply sends a saved plan's orders exactly as planned and runs the job's
// actions on those the destination accepts; it sends nothing else. It
// holds the job's lock as Run does, and under it, before anything is sent,
// checks every order: one whose ledger entry changed since the plan
// (another run sent it, or tried) or whose source row no longer has the
// plan's fingerprint (when the source can be read) is not sent, and the
// summary lists it as stale. The caller checks the plan's premises first
// (SavedPlan.Check).
func (j *Job) Apply(ctx context.Context, p *SavedPlan, opts RunOptions) (RunSummary, error) {
	sum := RunSummary{Job: j.Name, Trigger: opts.Trigger, Now: j.now(opts.Now).In(j.Location)}
	if opts.Ledger == nil {
		return sum, errors.New("apply needs the ledger: it holds the job's lock and tells which orders another run sent")
	}
	payloads, err := j.plannedPayloads(p)
	if err != nil {
		return sum, err
	}
	opts.Force = p.Force
	return j.run(ctx, opts, &appliedPlan{plan: p, payloads: payloads})
}

// appliedPlan feeds a run with a saved plan's orders.
type appliedPlan struct {
	plan     *SavedPlan
	payloads []map[string]any // each order's payload, its values typed as the job's fields are
}

// feed passes every planned order to fn, the stale ones marked skipped.
func (a *appliedPlan) feed(ctx context.Context, j *Job, b *batcher, fn func(*Item) error) error {
	stale, err := a.stale(ctx, j, b)
	if err != nil {
		return err
	}
	b.sized(len(a.plan.Orders))
	for i, o := range a.plan.Orders {
		it := Item{Pos: o.Pos, Label: o.Label, Status: Send, Payload: Payload{Key: o.Key, Pos: o.Pos, Values: a.payloads[i]}}
		if why, ok := stale[i]; ok {
			it.Status, it.Reason = Skipped, "stale: "+why
			b.sum.Stale++
			b.sum.fail(ctx, Failure{Key: o.Key, Pos: o.Pos, Stage: "stale", Message: why}, nil)
			b.log.WarnContext(ctx, "not sent: the order is stale", "key", o.Key, "pos", o.Pos, "reason", why)
		}
		if err := fn(&it); err != nil {
			return err
		}
	}
	return nil
}

// lookupChunk is how many keys apply asks the ledger for at once.
const lookupChunk = 500

// stale finds the orders not to send, with why, by index.
func (a *appliedPlan) stale(ctx context.Context, j *Job, b *batcher) (map[int]string, error) {
	p := a.plan
	why := map[int]string{}
	// A plan made without reading the ledger knew no entry; the run's own
	// check still keeps an order the ledger says was sent from going twice.
	if p.Ledger != "" {
		for start := 0; start < len(p.Orders); start += lookupChunk {
			chunk := p.Orders[start:min(start+lookupChunk, len(p.Orders))]
			keys := make([]string, len(chunk))
			for k, o := range chunk {
				keys[k] = o.Key
			}
			known, err := b.opts.Ledger.Lookup(ctx, j.Name, b.scope, keys)
			if err != nil {
				return nil, fmt.Errorf("ledger: %w", err)
			}
			for k, o := range chunk {
				var now *PlanLedger
				if e, ok := known[o.Key]; ok {
					now = planLedger(e)
				}
				if !sameEntry(o.Ledger, now) {
					why[start+k] = fmt.Sprintf("its ledger entry changed since the plan: %s then, %s now (another run sent it, or tried)", o.Ledger, now)
				}
			}
		}
	}
	rows, err := j.rows(ctx, p.Now)
	if err != nil {
		b.log.WarnContext(ctx, "the source cannot be read: orders are applied without checking their rows", "error", Clip(err.Error()))
		return why, nil
	}
	for i, o := range p.Orders {
		if _, ok := why[i]; ok {
			continue
		}
		fp, ok := rows[rowID(o.Label, o.Pos)]
		switch {
		case !ok:
			why[i] = "its row is no longer in the source"
		case fp.Hash != o.Row.Hash:
			why[i] = "its row changed since the plan"
			if !fp.Updated.Equal(o.Row.Updated) {
				why[i] += fmt.Sprintf(": updated %s then, %s now", showTime(o.Row.Updated, j.Location), showTime(fp.Updated, j.Location))
			}
		}
	}
	return why, nil
}

func sameEntry(a, b *PlanLedger) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func showTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
}

// rowID identifies a record between a plan and its apply: its label (an
// order number) or, without one, its position.
func rowID(label, pos string) string {
	if label != "" {
		return label
	}
	return "@" + pos
}

// rows reads the source and fingerprints every record that is not
// superseded, by rowID. Bad records are left out: an order whose row went
// bad is no longer in the source.
func (j *Job) rows(ctx context.Context, now time.Time) (map[string]Fingerprint, error) {
	recs, err := j.Source.Open(WithNow(ctx, now))
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", j.SourceType, err)
	}
	defer recs.Close()
	out := map[string]Fingerprint{}
	rec := Record{}
	for {
		clear(rec)
		meta, err := recs.Next(ctx, rec)
		var rerr *RecordError
		switch {
		case err == io.EOF:
			return out, nil
		case errors.As(err, &rerr):
			continue
		case err != nil:
			return nil, fmt.Errorf("source %s: %w", j.SourceType, err)
		case meta.Skip != "":
			continue
		}
		label, _ := rec[j.Source.Label()].(string)
		out[rowID(label, meta.Pos)] = fingerprint(recs, rec)
	}
}

// plannedPayloads gives each planned payload's values the types the job's
// fields have (JSON numbers, dates as text) and checks them against the
// hash the plan recorded: a plan file edited by hand, or damaged, is
// refused whole.
func (j *Job) plannedPayloads(p *SavedPlan) ([]map[string]any, error) {
	kinds := map[string]Kind{}
	for _, m := range j.Mappings {
		kinds[m.Field.Name] = m.Field.Kind
	}
	out := make([]map[string]any, len(p.Orders))
	for i, o := range p.Orders {
		vals := make(map[string]any, len(o.Payload))
		for name, v := range o.Payload {
			k, ok := kinds[name]
			if !ok {
				return nil, fmt.Errorf("saved plan: order %s: the job maps no field %s", o.Key, name)
			}
			tv, err := typed(k, v, j.Location)
			if err != nil {
				return nil, fmt.Errorf("saved plan: order %s: field %s: %w", o.Key, name, err)
			}
			vals[name] = tv
		}
		if h := PayloadHash(Payload{Values: vals}); h != o.Hash {
			return nil, fmt.Errorf("saved plan: order %s: its payload does not match its hash (the file was changed after it was written)", o.Key)
		}
		out[i] = vals
	}
	return out, nil
}

// typed converts a payload value read from JSON (or still in memory) to
// its field's kind; a time in the job's zone, as a run maps it.
func typed(k Kind, v any, loc *time.Location) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case String, Date:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case Int:
		switch n := v.(type) {
		case json.Number:
			return n.Int64()
		case int64:
			return n, nil
		}
	case Float:
		switch n := v.(type) {
		case json.Number:
			return n.Float64()
		case float64:
			return n, nil
		}
	case Time:
		switch t := v.(type) {
		case string:
			p, err := time.Parse(time.RFC3339Nano, t)
			return p.In(loc), err
		case time.Time:
			return t.In(loc), nil
		}
	}
	return nil, fmt.Errorf("%v is not a %s", v, k)
}
