package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

const tracerName = "github.com/goqsync/runner/engine"

// RunOptions says how to run a job.
type RunOptions struct {
	Trigger string // "cli", "schedule" or "manual"; recorded in the ledger
	Force   bool   // send records even when the ledger says they are unchanged
	Ledger  Ledger // nil: no memory between runs
	// Stop, when closed, ends the run after the batch in flight.
	Stop <-chan struct{}
	// Log receives one line per failed record; nil discards them.
	Log io.Writer
}

// Failure is one record that did not make it.
type Failure struct {
	Key     string `json:"key,omitempty"`
	Pos     string `json:"pos"`
	Stage   string `json:"stage"` // "source", "map", "write", or an action's name
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// maxFailures bounds the failures a summary keeps; the log has them all.
const maxFailures = 1000

// RunSummary is what a run did.
type RunSummary struct {
	Job         string         `json:"job"`
	RunID       int64          `json:"run_id,omitempty"`
	Trigger     string         `json:"trigger,omitempty"`
	Now         time.Time      `json:"now"`
	Counts      Counts         `json:"counts"`
	OK          int            `json:"ok"`
	Failed      int            `json:"failed"`
	NewlyParked int            `json:"newly_parked"`
	Batches     int            `json:"batches"`
	Actions     map[string]int `json:"actions,omitempty"` // successes per action
	Failures    []Failure      `json:"failures,omitempty"`
	Caveat      string         `json:"caveat,omitempty"`
	CaveatKeys  []string       `json:"caveat_keys,omitempty"`
	Interrupted bool           `json:"interrupted,omitempty"`
	Archived    []string       `json:"archived,omitempty"` // inputs retired after this run
	Kept        []string       `json:"kept,omitempty"`     // inputs kept for the next run: something in them is not settled
	NotSent     int            `json:"not_sent,omitempty"` // read but left by an interruption
	Duration    time.Duration  `json:"duration_ns"`
}

// Succeeded reports a run in which every record that should have gone out
// did, and no record was bad.
func (s RunSummary) Succeeded() bool {
	return s.Failed == 0 && s.Counts.Errors == 0 && !s.Interrupted
}

func (s *RunSummary) fail(f Failure, log io.Writer) {
	if len(s.Failures) < maxFailures {
		s.Failures = append(s.Failures, f)
	}
	if log != nil {
		label := f.Key
		if label == "" {
			label = "-"
		}
		code := ""
		if f.Code != "" {
			code = " [" + f.Code + "]"
		}
		fmt.Fprintf(log, "failed %s  %s  %s%s: %s\n", label, f.Pos, f.Stage, code, f.Message)
	}
}

var errStopped = errors.New("interrupted")

// Run executes the job: it streams records from the source, sends those
// that pass in batches of the destination's size, and applies post-export
// actions to the records whose write succeeded. A record's failure is in
// the summary, not the error; the error is for what stops the run.
func (j *Job) Run(ctx context.Context, opts RunOptions) (sum RunSummary, err error) {
	start := time.Now()
	j.SetNow(start)
	sum = RunSummary{Job: j.Name, Trigger: opts.Trigger, Now: j.Now(), Actions: map[string]int{}}
	ctx, span := otel.Tracer(tracerName).Start(ctx, "job",
		trace.WithAttributes(attribute.String("runner.job", j.Name),
			attribute.String("runner.source", j.SourceType), attribute.String("runner.destination", j.DestType)))
	defer func() {
		sum.Duration = time.Since(start)
		span.SetAttributes(
			attribute.Int("runner.records.read", sum.Counts.Read),
			attribute.Int("runner.records.sent", sum.Counts.Send),
			attribute.Int("runner.records.ok", sum.OK),
			attribute.Int("runner.records.failed", sum.Failed),
			attribute.Int("runner.records.excluded", sum.Counts.Excluded),
			attribute.Int("runner.records.unchanged", sum.Counts.Unchanged),
			attribute.Int("runner.records.errors", sum.Counts.Errors),
			attribute.Int("runner.batches", sum.Batches))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()

	if opts.Ledger != nil {
		sum.RunID, err = opts.Ledger.StartRun(ctx, j.Name, opts.Trigger, start)
		if err != nil {
			return sum, fmt.Errorf("ledger: %w", err)
		}
		defer func() {
			if ferr := opts.Ledger.FinishRun(context.WithoutCancel(ctx), sum.RunID, time.Now(), sum, err); ferr != nil && err == nil {
				err = fmt.Errorf("ledger: %w", ferr)
			}
		}()
	}

	conn, err := j.Dest.Open(ctx)
	if err != nil {
		return sum, fmt.Errorf("destination %s: %w", j.DestType, err)
	}
	defer func() {
		if cerr := conn.Close(ctx); cerr != nil && err == nil {
			err = fmt.Errorf("destination %s: %w", j.DestType, cerr)
		}
	}()

	b := &batcher{j: j, conn: conn, opts: opts, sum: &sum, size: max(j.Dest.BatchSize(), 1)}
	b.caveat = j.caveat()
	sum.Caveat = b.caveat
	units, err := j.each(ctx, func(it *Item) error {
		select {
		case <-opts.Stop:
			return errStopped
		default:
		}
		return b.add(ctx, it)
	})
	if errors.Is(err, errStopped) {
		sum.Interrupted = true
		sum.NotSent = len(b.cand) + len(b.out)
		return sum, nil
	}
	if err != nil {
		return sum, err
	}
	if err := b.finish(ctx); err != nil {
		return sum, err
	}
	return sum, j.archive(ctx, units, b.unsettled, &sum)
}

// archive retires the units whose every record is settled: sent and
// accepted, unchanged, excluded or superseded. A unit holding a failed,
// parked or bad record stays, so the next run reads it again.
func (j *Job) archive(ctx context.Context, units []string, unsettled map[string]bool, sum *RunSummary) error {
	a, ok := j.Source.(Archiver)
	if !ok || !a.Retires() {
		return nil
	}
	for _, u := range units {
		if unsettled[u] {
			sum.Kept = append(sum.Kept, u)
			continue
		}
		if err := a.Archive(ctx, u); err != nil {
			return fmt.Errorf("source %s: %w", j.SourceType, err)
		}
		sum.Archived = append(sum.Archived, u)
	}
	return nil
}

// batcher gathers records into full batches. Candidates are checked
// against the ledger a batch at a time, so unchanged records do not leave
// holes in the batches that go out.
type batcher struct {
	j      *Job
	conn   Conn
	opts   RunOptions
	sum    *RunSummary
	size   int
	caveat string
	cand   []Item
	out    []Item
	inOut  map[string]bool
	// unsettled marks units with a record that is not done: failed,
	// parked or bad. Those units are not archived.
	unsettled map[string]bool
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
		b.sum.fail(Failure{Key: it.Label, Pos: it.Pos, Stage: it.Stage, Message: it.Reason}, b.opts.Log)
		return nil
	default:
		b.sum.Counts.add(it.Status)
		return nil
	}
}

// resolve moves candidates to the outgoing queue, sending full batches.
func (b *batcher) resolve(ctx context.Context, final bool) error {
	if err := b.j.markKnown(ctx, b.opts.Ledger, b.opts.Force, b.cand); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	for i := range b.cand {
		it := b.cand[i]
		if it.Status != Send {
			b.sum.Counts.add(it.Status)
			if it.Status == Parked {
				b.unsettle(it.Unit)
			}
			continue
		}
		if b.inOut[it.Payload.Key] {
			// The same record twice in one call is ambiguous at the
			// destination; send what is queued first.
			if err := b.send(ctx, len(b.out)); err != nil {
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

func (b *batcher) finish(ctx context.Context) error { return b.resolve(ctx, true) }

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
		if err := l.Begin(ctx, sum.RunID, j.Name, j.DestType, batch); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	results, err := b.conn.Write(ctx, batch)
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
	// Post-export actions, only for what the destination accepted.
	for _, action := range j.Dest.Actions() {
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
			sum.Actions[action]++
			if b.caveat != "" {
				sum.CaveatKeys = append(sum.CaveatKeys, batch[i].Key)
			}
		}
	}
	ok, failed := 0, 0
	for i, r := range results {
		if r.OK {
			ok++
			continue
		}
		failed++
		b.unsettle(items[i].Unit)
		if r.Permanent {
			sum.NewlyParked++
		}
		sum.fail(Failure{Key: batch[i].Key, Pos: batch[i].Pos, Stage: stage[i], Code: r.Code, Message: r.Message}, b.opts.Log)
	}
	sum.OK += ok
	sum.Failed += failed
	span.SetAttributes(attribute.Int("runner.records.ok", ok), attribute.Int("runner.records.failed", failed))
	if l := b.opts.Ledger; l != nil {
		if err := l.Record(ctx, sum.RunID, j.Name, j.DestType, batch, results); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	// Keep the queue's tail.
	for _, it := range items {
		delete(b.inOut, it.Payload.Key)
	}
	b.out = append(b.out[:0], b.out[n:]...)
	return nil
}

// StartTrace starts the span that parents every job of one command.
func StartTrace(ctx context.Context, command string) (context.Context, trace.Span) {
	return otel.Tracer(tracerName).Start(ctx, command)
}
