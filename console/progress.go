package console

import (
	"sync"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/runlog"
)

// Progress keeps the latest progress of the runs in flight in this
// process, for the run page: the same counts the CLI's progress line shows.
type Progress struct {
	mu   sync.Mutex
	runs map[int64]engine.Progress
}

// NewProgress returns an empty Progress.
func NewProgress() *Progress { return &Progress{runs: map[int64]engine.Progress{}} }

// Update records p, a run's progress (engine.RunOptions.Progress).
func (p *Progress) Update(pr engine.Progress) {
	if pr.RunID == 0 {
		return
	}
	p.mu.Lock()
	p.runs[pr.RunID] = pr
	p.mu.Unlock()
}

// Done forgets a run that ended.
func (p *Progress) Done(runID int64) {
	p.mu.Lock()
	delete(p.runs, runID)
	p.mu.Unlock()
}

// progressView is a run's progress as its page shows it.
type progressView struct {
	Line            string // runlog's line, as a terminal shows it
	Read, Expected  int
	Sent, OK, Fail  int
	Percent         int // of Expected read; 0 when unknown
	HasExpected     bool
	Calls           int
	PerSecond       float64
	ETA             string
	HasETA          bool
	Excluded, Other int
}

func (p *Progress) view(l *Lang, runID int64) (progressView, bool) {
	p.mu.Lock()
	pr, ok := p.runs[runID]
	p.mu.Unlock()
	if !ok {
		return progressView{}, false
	}
	v := progressView{Line: runlog.Line(pr, 0), Read: pr.Read, Expected: pr.Expected, Sent: pr.Sent, OK: pr.OK,
		Fail: pr.Fail, Calls: pr.Calls, PerSecond: pr.PerSecond, Excluded: pr.Excluded, Other: pr.Other}
	if pr.Expected > 0 {
		v.HasExpected, v.Percent = true, min(100, pr.Read*100/pr.Expected)
	}
	if eta, ok := pr.ETA(); ok {
		v.HasETA, v.ETA = true, l.Dur(eta)
	}
	return v, true
}
