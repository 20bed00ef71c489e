package engine

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// batcher gathers records into full batches. Candidates are checked
// against the ledger a batch at a time, so unchanged records do not leave
// holes in the batches that go out.
type batcher struct {
	j     *Job
	conn  Conn
	opts  RunOptions
	log   *slog.Logger
	sum   *RunSummary
	scope string
	size  int
	fx    effects // side effects of what went through
	// effectsOf lists a payload's side effects (Job.sideEffects).
	effectsOf func(Payload) []string
	cost      Cost // what the batches sent were estimated to cost
	cand      []Item
	out       []Item
	inOut     map[string]bool
	// unsettled marks units with a record that is not done: failed,
	// parked or bad. Those units are not archived.
	unsettled map[string]bool
	// token names the commit Close makes when the Conn is a Stager;
	// staged are the records waiting on it.
	token  string
	staged []Item
	// notes are the records read and not sent, for a LedgerNoter.
	notes []LedgerNote
	// progress is nil when the run reports none.
	progress *tracker
}

// maxNotes bounds the notes a run holds before it hands them to the ledger.
const maxNotes = 1000

// note keeps what became of a record that is not sent, for its story.
func (b *batcher) note(ctx context.Context, it *Item) error {
	if _, ok := b.opts.Ledger.(LedgerNoter); !ok || it.Label == "" && it.Payload.Key == "" {
		return nil
	}
	ln := LedgerNote{Label: it.Label, Key: it.Payload.Key, Status: it.Status, Reason: it.Reason}
	switch it.Status {
	case Excluded:
		ln.Reason = it.Filter
	case Skipped:
		if it.Payload.Key == "" || strings.HasPrefix(it.Reason, "same record as ") {
			return nil // a row superseded by another of the same record in this run: that one is its fate
		}
	}
	b.notes = append(b.notes, ln)
	if len(b.notes) >= maxNotes {
		return b.flushNotes(ctx)
	}
	return nil
}

func (b *batcher) flushNotes(ctx context.Context) error {
	n, ok := b.opts.Ledger.(LedgerNoter)
	if !ok || len(b.notes) == 0 {
		return nil
	}
	err := n.Note(ctx, b.sum.RunID, b.j.Name, b.scope, b.notes)
	b.notes = b.notes[:0]
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// sized learns the source's size, for the progress's estimate.
func (b *batcher) sized(n int) {
	if b.progress != nil {
		b.progress.p.Expected = n
	}
}

func (b *batcher) unsettle(unit string) {
	if unit == "" {
		return
	}
	if b.unsettled == nil {
		b.unsettled = map[string]bool{}
	}
	b.unsettled[unit] = true
}

func (b *batcher) add(ctx context.Context, it *Item) error {
	switch it.Status {
	case Send:
		b.cand = append(b.cand, *it)
		if len(b.cand) >= b.size {
			return b.resolve(ctx, false)
		}
		return nil
	case Invalid:
		b.sum.Counts.add(it.Status)
		b.unsettle(it.Unit)
		b.sum.fail(ctx, Failure{Key: it.Label, Pos: it.Pos, Stage: it.Stage, Message: it.Reason}, b.log)
		return b.note(ctx, it)
	default:
		b.sum.Counts.add(it.Status)
		return b.note(ctx, it)
	}
}

// resolve moves candidates to the outgoing queue, sending full batches.
func (b *batcher) resolve(ctx context.Context, final bool) error {
	if err := b.j.markKnown(ctx, b.opts.Ledger, b.scope, "", b.opts.Force, b.cand); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	for i := range b.cand {
		it := b.cand[i]
		if it.Status != Send {
			b.sum.Counts.add(it.Status)
			if it.Status == Parked {
				b.unsettle(it.Unit)
			}
			if err := b.note(ctx, &it); err != nil {
				b.cand = b.cand[i+1:]
				return err
			}
			continue
		}
		if b.inOut[it.Payload.Key] {
			// The same record twice in one call is ambiguous at the
			// destination; send what is queued first.
			if err := b.send(ctx, len(b.out)); err != nil {
				b.cand = b.cand[i:] // what the run read and did not send
				return err
			}
		}
		b.out = append(b.out, it)
		if b.inOut == nil {
			b.inOut = map[string]bool{}
		}
		b.inOut[it.Payload.Key] = true
		if len(b.out) >= b.size {
			if err := b.send(ctx, b.size); err != nil {
				b.cand = b.cand[i+1:]
				return err
			}
		}
	}
	b.cand = b.cand[:0]
	if final && len(b.out) > 0 {
		return b.send(ctx, len(b.out))
	}
	return nil
}

// finish sends what is left, unless the run was told to stop.
func (b *batcher) finish(ctx context.Context, stop *stopper) error {
	if stop.stopped() {
		return errStopped
	}
	return b.resolve(ctx, true)
}

// send writes the first n queued records and applies the post-export
// actions to those that succeeded.
func (b *batcher) send(ctx context.Context, n int) error {
	items := b.out[:n]
	j, sum := b.j, b.sum
	sum.Batches++
	ctx, span := otel.Tracer(tracerName).Start(ctx, "batch", trace.WithAttributes(attribute.Int("runner.records", n)))
	defer span.End()

	batch := make([]Payload, n)
	for i := range items {
		batch[i] = items[i].Payload
		sum.Counts.add(Send)
	}
	if l := b.opts.Ledger; l != nil {
		sends, err := j.ledgerSends(batch)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		for i := range sends {
			sends[i].Label = items[i].Label
		}
		if err := l.Begin(ctx, sum.RunID, j.Name, b.scope, sends); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	// stopRun ends the run on an error that is not this batch's alone: what
	// the batch did is not known, so its records stay pending.
	stopRun := func(stage string, err error) error {
		span.SetStatus(codes.Error, err.Error())
		sum.Pending += n
		for _, it := range items {
			b.unsettle(it.Unit)
		}
		b.out = b.out[n:]
		return fmt.Errorf("destination %s: %s: %w", j.DestType, stage, err)
	}
	if c, ok := j.Dest.(Coster); ok {
		b.cost.add(c.Cost(batch)...)
	}
	results, err := b.conn.Write(ctx, batch)
	if StopsRun(err) {
		return stopRun("write", err)
	}
	if err == nil && len(results) != n {
		err = fmt.Errorf("destination %s returned %d results for %d records", j.DestType, len(results), n)
	}
	if err != nil {
		results = make([]Result, n)
		for i := range results {
			results[i] = Result{Message: err.Error()}
		}
		span.SetStatus(codes.Error, err.Error())
	}
	stage := make([]string, n)
	for i := range stage {
		stage[i] = "write"
	}
	if action, err := b.applyActions(ctx, batch, results, stage); err != nil {
		return stopRun(action, err)
	}
	for i, r := range results {
		// A failure that parks by count: this attempt is the record's
		// items[i].fails+1st in a row.
		if !r.OK && !r.Permanent && r.ParkAfter > 0 && items[i].fails+1 >= r.ParkAfter {
			r.Permanent = true
			r.Message += fmt.Sprintf(" (%d times in a row: parked)", items[i].fails+1)
			results[i] = r
		}
	}
	ok, failed := 0, 0
	for i, r := range results {
		if r.OK {
			for _, msg := range b.effectsOf(batch[i]) {
				b.fx.add(msg, batch[i].Key)
			}
			b.sum.SideEffects = b.fx.list
			ok++
			if b.token != "" {
				b.staged = append(b.staged, items[i])
			}
			continue
		}
		if r.Message == "" {
			r.Message = fmt.Sprintf("destination %s did not accept the record and gave no reason", j.DestType)
			results[i] = r
		}
		failed++
		b.unsettle(items[i].Unit)
		if r.Permanent {
			sum.NewlyParked++
		}
		sum.fail(ctx, Failure{Key: batch[i].Key, Pos: batch[i].Pos, Stage: stage[i], Code: r.Code, Message: r.Message}, b.log)
	}
	sum.OK += ok
	sum.Failed += failed
	span.SetAttributes(attribute.Int("runner.records.ok", ok), attribute.Int("runner.records.failed", failed))
	if l := b.opts.Ledger; l != nil {
		if err := l.Record(ctx, sum.RunID, j.Name, b.scope, Outcomes(batch, results, b.token)); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	// Keep the queue's tail.
	for _, it := range items {
		delete(b.inOut, it.Payload.Key)
	}
	b.out = append(b.out[:0], b.out[n:]...)
	b.log.DebugContext(ctx, "batch sent", "batch", sum.Batches, "records", n, "ok", ok, "failed", failed)
	b.progress.report()
	return nil
}

// close closes the connection, which commits what a Stager staged, and
// settles the staged records in the ledger: ok once committed, failed with
// the commit's error otherwise.
// applyActions runs the destination's post-export actions, in order, on the
// payloads whose write (and every earlier action) succeeded. A payload whose
// action fails takes that result and stage, so the ledger keeps it failed
// and the next run does the write and the action again. It returns the
// action and error that end the whole run (StopsRun), if any.
func (b *batcher) applyActions(ctx context.Context, batch []Payload, results []Result, stage []string) (string, error) {
	for _, action := range b.j.Actions {
		var idx []int
		var sub []Payload
		for i, r := range results {
			if r.OK {
				idx = append(idx, i)
				sub = append(sub, batch[i])
			}
		}
		if len(sub) == 0 {
			break
		}
		ares, aerr := b.conn.Apply(ctx, action, sub)
		if StopsRun(aerr) {
			return action, aerr
		}
		if aerr == nil && len(ares) != len(sub) {
			aerr = fmt.Errorf("%s returned %d results for %d records", action, len(ares), len(sub))
		}
		for k, i := range idx {
			r := Result{OK: false}
			if aerr != nil {
				r.Message = aerr.Error()
			} else {
				r = ares[k]
			}
			if !r.OK {
				// The write went through but the action did not: the
				// ledger keeps the record failed, so the next run does both.
				results[i], stage[i] = r, action
				continue
			}
			b.sum.Actions[action]++
		}
	}
	return "", nil
}

func (b *batcher) close(ctx context.Context) error {
	j, sum := b.j, b.sum
	nerr := b.flushNotes(context.WithoutCancel(ctx))
	cerr := b.conn.Close(ctx)
	b.tally()
	if cerr != nil {
		cerr = fmt.Errorf("destination %s: %w", j.DestType, cerr)
	} else {
		cerr = nerr
	}
	if b.token == "" || len(b.staged) == 0 {
		return cerr
	}
	status, msg := LedgerOK, ""
	if cerr != nil {
		// A commit that failed half way may still have happened: ask.
		committed := false
		if r, ok := j.Dest.(Resolver); ok {
			got, _ := r.Resolve(ctx, []string{b.token})
			committed = got[b.token]
		}
		if committed {
			b.log.WarnContext(ctx, "the destination's commit reported an error but happened", "error", Clip(cerr.Error()))
			cerr = nil
		} else {
			status, msg = LedgerFailed, cerr.Error()
			sum.OK -= len(b.staged)
			sum.Failed += len(b.staged)
			for _, it := range b.staged {
				b.unsettle(it.Unit)
				sum.fail(ctx, Failure{Key: it.Payload.Key, Pos: it.Pos, Stage: "commit", Message: cerr.Error()}, nil)
			}
		}
	}
	if l := b.opts.Ledger; l != nil {
		if err := l.Settle(context.WithoutCancel(ctx), j.Name, b.scope, b.token, status, msg); err != nil && cerr == nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	b.staged = nil
	return cerr
}

// tally puts into the summary what the batches sent were estimated to cost
// beside the calls the connection counted, so that an estimate that does
// not hold shows.
func (b *batcher) tally() {
	c, ok := b.j.Dest.(Coster)
	if !ok {
		return
	}
	est := runCost(c, b.cost)
	b.sum.Estimated = &est
	if cc, ok := b.conn.(CallCounter); ok {
		got := cc.Calls()
		var made Cost
		for _, k := range est.kinds {
			made.add(Calls{k, got[k]})
			delete(got, k)
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			made.add(Calls{k, got[k]})
		}
		b.sum.Calls = &made
	}
}

// runCost is what a run whose batches cost batches costs in all: the
// overhead first, as it comes on the wire, and the time at the rate.
func runCost(c Coster, batches Cost) Cost {
	var all Cost
	if batches.Total > 0 {
		all.add(c.Overhead()...)
	}
	for _, k := range batches.kinds {
		all.add(Calls{k, batches.Calls[k]})
	}
	if r := c.Rate(); r > 0 {
		all.Seconds, all.Rate = float64(all.Total)/r, r
	}
	return all
}
