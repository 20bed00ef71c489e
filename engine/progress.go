package engine

import (
	"math"
	"time"
)

// Progress is how far a run has got, as RunOptions.Progress receives it.
// It is a copy: the receiver may keep it.
type Progress struct {
	Job     string
	RunID   int64 // 0 without a ledger
	Started time.Time
	// Read counts the records read so far; Expected is how many the
	// source holds, when it knows before reading them (0: not known).
	Read, Expected int
	// Queued are records read that wait for their batch.
	Queued          int
	Sent, OK, Fail  int
	Batches         int
	BatchSize       int
	Calls           int     // requests the destination made, when it counts them (CallCounter)
	PerSecond       float64 // the destination's request budget (Coster); 0: none known
	CallsPerBatch   float64 // what a batch sent so far cost on average, by Coster's estimate
	Excluded, Other int     // excluded by a filter; unchanged, skipped, parked or bad
}

// ETA estimates the time the rest of the run takes, from the destination's
// request budget: the records left are assumed to qualify as those read so
// far did. ok is false when the source's size or the budget is not known,
// or before the first batch says what one costs.
func (p Progress) ETA() (eta time.Duration, ok bool) {
	if p.Expected <= 0 || p.PerSecond <= 0 || p.CallsPerBatch <= 0 || p.BatchSize <= 0 {
		return 0, false
	}
	left := float64(max(p.Expected-p.Read, 0))
	if p.Read > 0 {
		left *= float64(p.Sent+p.Queued) / float64(p.Read)
	}
	batches := math.Ceil((left + float64(p.Queued)) / float64(p.BatchSize))
	return time.Duration(batches * p.CallsPerBatch / p.PerSecond * float64(time.Second)), true
}

// Sized is implemented by Records that know how many records they hold
// before reading them (a CSV source that surveyed its files).
type Sized interface {
	Len() int
}

// progressEvery is how many records a run reads between two reports when
// no batch goes out: a run of unchanged records reports too.
const progressEvery = 256

// tracker reports a run's progress to RunOptions.Progress.
type tracker struct {
	fn    func(Progress)
	sum   *RunSummary
	p     Progress
	cost  *Cost       // the batcher's estimate of the batches sent; nil without a Coster
	calls CallCounter // nil when the Conn counts none
	since int
}

// newTracker returns nil when nobody asked: its methods do nothing then.
func newTracker(fn func(Progress), sum *RunSummary, started time.Time) *tracker {
	if fn == nil {
		return nil
	}
	return &tracker{fn: fn, sum: sum, p: Progress{Job: sum.Job, Started: started}}
}

// read counts one record read, before the run decides what to do with it.
func (t *tracker) read() {
	if t != nil {
		t.p.Read++
	}
}

// decided reports every progressEvery records.
func (t *tracker) decided() {
	if t == nil {
		return
	}
	if t.since++; t.since >= progressEvery {
		t.since = 0
		t.report()
	}
}

// report sends the run's counts.
func (t *tracker) report() {
	if t == nil {
		return
	}
	sum := t.sum
	// What the summary has not counted yet waits for its batch.
	t.p.Queued = t.p.Read - sum.Counts.Read
	t.p.RunID, t.p.Sent, t.p.OK, t.p.Fail, t.p.Batches = sum.RunID, sum.Counts.Send, sum.OK, sum.Failed, sum.Batches
	t.p.Excluded = sum.Counts.Excluded
	t.p.Other = sum.Counts.Unchanged + sum.Counts.Skipped + sum.Counts.Parked + sum.Counts.Errors
	if t.cost != nil && sum.Batches > 0 {
		t.p.CallsPerBatch = float64(t.cost.Total) / float64(sum.Batches)
	}
	if t.calls != nil {
		t.p.Calls = 0
		for _, n := range t.calls.Calls() {
			t.p.Calls += n
		}
	}
	t.fn(t.p)
}
