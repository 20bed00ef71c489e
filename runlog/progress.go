package runlog

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/table"
)

// Line renders a run's progress for a terminal of width columns, the
// most telling first:
//
//	ship  1200/5000 read  1100 sent  1098 ok  2 failed  23 req (1/s)  ~1m18s left
//
// The shop's requests and the estimate appear when the destination keeps
// under a request budget (engine.Coster), the read total when the source
// knows its size (engine.Sized). A line too wide for the terminal is cut,
// since a line that wraps cannot be rewritten in place.
func Line(p engine.Progress, width int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %d", p.Job, p.Read)
	if p.Expected > 0 {
		fmt.Fprintf(&b, "/%d", p.Expected)
	}
	fmt.Fprintf(&b, " read  %d sent  %d ok  %d failed", p.Sent, p.OK, p.Fail)
	if p.PerSecond > 0 {
		fmt.Fprintf(&b, "  %d req (%s/s)", p.Calls, strconv.FormatFloat(p.PerSecond, 'g', 3, 64))
	}
	if eta, ok := p.ETA(); ok && eta >= time.Second {
		fmt.Fprintf(&b, "  ~%s left", eta.Round(time.Second))
	} else if ok {
		b.WriteString("  finishing")
	}
	s := b.String()
	// Not the last column either: some terminals wrap on it. A job's name
	// may be Japanese, two cells a character.
	if width > 1 && table.Width(s) > width-1 {
		cut, w := 0, 0
		for i, r := range s {
			if w+table.Width(string(r)) > width-2 {
				break
			}
			w += table.Width(string(r))
			cut = i + utf8.RuneLen(r)
		}
		s = s[:cut] + "…"
	}
	return s
}

// Attrs are a run's progress as log attributes.
func Attrs(p engine.Progress) []slog.Attr {
	attrs := []slog.Attr{slog.String("job", p.Job)}
	if p.RunID != 0 {
		attrs = append(attrs, slog.Int64("run_id", p.RunID))
	}
	attrs = append(attrs, slog.Int("read", p.Read))
	if p.Expected > 0 {
		attrs = append(attrs, slog.Int("expected", p.Expected))
	}
	attrs = append(attrs, slog.Int("sent", p.Sent), slog.Int("ok", p.OK), slog.Int("failed", p.Fail))
	if p.PerSecond > 0 {
		attrs = append(attrs, slog.Int("requests", p.Calls), slog.Float64("requests_per_second", p.PerSecond))
	}
	if eta, ok := p.ETA(); ok {
		attrs = append(attrs, slog.String("eta", eta.Round(time.Second).String()))
	}
	return attrs
}

// LogEvery is how often a run's progress is logged when standard error is
// not a terminal.
const LogEvery = 10 * time.Second

// redraw is how often the live line is drawn again.
const redraw = 250 * time.Millisecond

// ProgressOptions say where a run's progress goes.
type ProgressOptions struct {
	// Term, when set, gets the live line; Log is not used then.
	Term *Terminal
	// Log gets an info line every Every (LogEvery when 0), from the first
	// report on: a run that ends sooner logs none.
	Log   *slog.Logger
	Every time.Duration
	// Tick is the clock, time.NewTicker's by default; tests give their own.
	Tick func(time.Duration) (<-chan time.Time, func())
}

// Reporter reports one run's progress until Stop.
type Reporter struct {
	mu   sync.Mutex
	last engine.Progress
	have bool

	quit chan struct{}
	done chan struct{}
	term *Terminal
}

// StartProgress starts reporting; Update is the run's
// engine.RunOptions.Progress. ctx gives the log lines their trace.
func StartProgress(ctx context.Context, opts ProgressOptions) *Reporter {
	r := &Reporter{quit: make(chan struct{}), done: make(chan struct{}), term: opts.Term}
	every := opts.Every
	if every <= 0 {
		every = LogEvery
	}
	if opts.Term != nil {
		every = redraw
	}
	tick := opts.Tick
	if tick == nil {
		tick = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	c, stop := tick(every)
	go func() {
		defer close(r.done)
		defer stop()
		for {
			select {
			case <-r.quit:
				return
			case <-c:
			}
			p, ok := r.latest()
			switch {
			case !ok:
			case opts.Term != nil:
				opts.Term.SetLine(Line(p, opts.Term.Width()))
			case opts.Log != nil:
				opts.Log.LogAttrs(ctx, slog.LevelInfo, "progress", Attrs(p)...)
			}
		}
	}()
	return r
}

// Update takes the run's latest counts.
func (r *Reporter) Update(p engine.Progress) {
	r.mu.Lock()
	r.last, r.have = p, true
	r.mu.Unlock()
}

func (r *Reporter) latest() (engine.Progress, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.have
}

// Stop ends the reports and erases the live line, before the run's summary
// is printed.
func (r *Reporter) Stop() {
	close(r.quit)
	<-r.done
	if r.term != nil {
		r.term.SetLine("")
	}
}
