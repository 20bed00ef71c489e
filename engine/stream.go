package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// next reads the next record into it. It returns io.EOF at the end.
func (e *evaluator) next(ctx context.Context, recs Records, it *Item) error {
	clear(e.rec)
	meta, err := recs.Next(ctx, e.rec)
	*it = Item{Pos: meta.Pos, Unit: meta.Unit}
	if err != nil {
		return e.failed(err, it)
	}
	if l, ok := e.rec[e.j.Source.Label()].(string); ok {
		it.Label = l
	}
	if meta.Skip != "" {
		it.Status, it.Reason = Skipped, meta.Skip
		return nil
	}
	e.rec["vars"] = e.j.vars
	e.eval(it)
	if e.fingerprint && it.Status == Send {
		it.Row = fingerprint(recs, e.rec)
	}
	return nil
}

// failed handles a source's error for a record: a RecordError makes the
// item invalid; any other error ends the read. It is apart from next so
// that the RecordError errors.As needs is allocated only on an error, not
// for every record.
func (e *evaluator) failed(err error, it *Item) error {
	var rerr *RecordError
	if !errors.As(err, &rerr) {
		return err
	}
	it.Status, it.Pos, it.Reason, it.Stage = Invalid, rerr.Pos, rerr.Err.Error(), "source"
	// A source fills what it could read before the bad cell: name the
	// order when its number was among it.
	if l, ok := e.rec[e.j.Source.Label()].(string); ok {
		it.Label = l
	}
	return nil
}

// fingerprint fingerprints the record recs returned last: rec is what it
// holds, for a source that cannot fingerprint its raw row.
func fingerprint(recs Records, rec Record) Fingerprint {
	if f, ok := recs.(Fingerprinter); ok {
		return f.Fingerprint()
	}
	fields := make(map[string]any, len(rec))
	for k, v := range rec {
		if k != "vars" {
			fields[k] = v
		}
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return Fingerprint{}
	}
	sum := sha256.Sum256(b)
	return Fingerprint{Hash: hex.EncodeToString(sum[:])}
}

// eachMode says what each keeps of a record beyond its fate.
type eachMode struct {
	explain     bool // the values an excluding filter read (Item.Values)
	fingerprint bool // the row's fingerprint, for a record to send (Item.Row)
}

// each streams every source record through filters and mappings, with
// now as the clock (the source opens with it in ctx too). It
// returns the units the source read, when it reads from units; sized, when
// set, learns how many records a Sized source holds. A record key
// gets one decision per run: a later record with the key of one already
// sent is skipped, so that an order is never sent twice in a run.
func (j *Job) each(ctx context.Context, now time.Time, mode eachMode, sized func(int), fn func(*Item) error) (units []string, err error) {
	recs, err := j.Source.Open(WithNow(ctx, now))
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", j.SourceType, err)
	}
	defer recs.Close()
	if ul, ok := recs.(UnitLister); ok {
		units = ul.Files()
	}
	if sz, ok := recs.(Sized); ok && sized != nil {
		sized(sz.Len())
	}
	e, err := j.newEvaluator(now)
	if err != nil {
		return units, fmt.Errorf("compile: %w", err)
	}
	e.explain, e.fingerprint = mode.explain, mode.fingerprint
	decided := map[string]string{} // record key → position of the record sent for it
	var it Item
	for {
		if err := e.next(ctx, recs, &it); err != nil {
			if err == io.EOF {
				return units, nil
			}
			return units, fmt.Errorf("source %s: %w", j.SourceType, err)
		}
		if it.Status == Send {
			if first, dup := decided[it.Payload.Key]; dup {
				it.Status, it.Reason = Skipped, "same record as "+first+", sent once per run"
			} else {
				decided[it.Payload.Key] = it.Pos
			}
		}
		if err := fn(&it); err != nil {
			return units, err
		}
	}
}

// Each calls fn with every record's fate, as a plan decides it without a
// ledger: what a test of the job compares with its expectations. now is
// the clock; zero: the job's pinned time or the wall clock.
func (j *Job) Each(ctx context.Context, now time.Time, fn func(Item) error) error {
	_, err := j.each(ctx, j.now(now), eachMode{explain: true}, nil, func(it *Item) error { return fn(*it) })
	return err
}
