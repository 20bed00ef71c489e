package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// Shareable is implemented by sources that several runs at once can read
// in one pass: two sources with the same non-empty ShareKey yield the same
// records (the same files, read the same way, with the same fields). A
// source that retires its inputs returns "": each run archives what it
// settled, so runs reading one inbox must each read it.
type Shareable interface {
	ShareKey() string
}

// maxLag is how many records the slowest reader of a pass may be behind
// the pass before it holds up the others. Records are shared, not copied
// per reader, so this bounds the memory of a pass, whatever its readers.
const maxLag = 1 << 16

// Passes are jobs arranged to read their shared inputs once: the jobs of
// one group read one pass of their source, each record offered to every
// one of them, so five shops reading one export cost one decode, not five.
// The jobs of a group must run at the same time: a reader that has not
// opened yet takes records until it is maxLag behind, and then holds up
// the pass until it opens or its run ends (Done).
type Passes struct {
	// Jobs are the jobs to run, in the order given: a job that shares its
	// source is a copy of the one given, reading from its pass.
	Jobs []*Job
	// Groups are indexes into Jobs, in order: each group's jobs must run
	// at once; a group of one reads on its own.
	Groups  [][]int
	readers []*passReader // by job; nil for a job that reads on its own
}

// SharePasses groups jobs whose sources have the same ShareKey into passes
// of at most size jobs (size < 1: no bound), the number a caller runs at
// once. Jobs that share a budget lock (Sharer: the same shop) are put in
// different groups: one would wait for the other's lock while the pass
// waits for it.
func SharePasses(jobs []*Job, size int) *Passes {
	p := &Passes{Jobs: slices.Clone(jobs), readers: make([]*passReader, len(jobs))}
	byKey := map[string][][]int{}
	var order []string
	for i, j := range jobs {
		key := ""
		if s, ok := j.Source.(Shareable); ok {
			key = s.ShareKey()
		}
		if key == "" {
			p.Groups = append(p.Groups, []int{i})
			continue
		}
		key = j.SourceType + "\x00" + key
		groups, seen := byKey[key]
		if !seen {
			order = append(order, key)
		}
		placed := false
		for g := range groups {
			if (size < 1 || len(groups[g]) < size) && !sharesBudget(jobs, groups[g], j) {
				groups[g] = append(groups[g], i)
				placed = true
				break
			}
		}
		if !placed {
			groups = append(groups, []int{i})
		}
		byKey[key] = groups
	}
	for _, key := range order {
		for _, g := range byKey[key] {
			p.Groups = append(p.Groups, g)
			if len(g) < 2 {
				continue
			}
			ps := &pass{src: jobs[g[0]].Source}
			for _, i := range g {
				r := ps.reader()
				p.readers[i] = r
				cp := *jobs[i]
				cp.Source = &passSource{Source: jobs[i].Source, r: r}
				p.Jobs[i] = &cp
			}
		}
	}
	slices.SortStableFunc(p.Groups, func(a, b []int) int { return a[0] - b[0] })
	return p
}

func sharesBudget(jobs []*Job, group []int, j *Job) bool {
	mine := j.shares()
	for _, i := range group {
		for _, s := range jobs[i].shares() {
			if slices.Contains(mine, s) {
				return true
			}
		}
	}
	return false
}

// Done tells the pass that job i's run has ended, whether it read its
// source or not (a lock refused it): the pass stops waiting for it.
func (p *Passes) Done(i int) {
	if r := p.readers[i]; r != nil {
		r.leave()
	}
}

// pass is one reading of a source, for several readers.
type pass struct {
	src     Source
	readers []*passReader
	once    sync.Once
	mu      sync.Mutex // guards the fields below, set once the source opened
	opened  chan struct{}
	err     error // from Open
	files   []string
	size    int
}

func (ps *pass) reader() *passReader {
	if ps.opened == nil {
		ps.opened = make(chan struct{})
	}
	r := &passReader{ps: ps, more: make(chan struct{}, 1), room: make(chan struct{}, 1), gone: make(chan struct{})}
	ps.readers = append(ps.readers, r)
	return r
}

// start opens the source once, with the first reader's ctx (its clock),
// and pumps its records to every reader until the end.
func (ps *pass) start(ctx context.Context) {
	ps.once.Do(func() {
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		recs, err := ps.src.Open(ctx)
		ps.mu.Lock()
		ps.err = err
		if err == nil {
			if ul, ok := recs.(UnitLister); ok {
				ps.files = ul.Files()
			}
			if sz, ok := recs.(Sized); ok {
				ps.size = sz.Len()
			}
		}
		ps.mu.Unlock()
		close(ps.opened)
		if err != nil {
			cancel()
			return
		}
		go func() {
			defer cancel()
			defer recs.Close()
			// Once every reader has left, nobody wants the rest.
			go func() {
				for _, r := range ps.readers {
					<-r.gone
				}
				cancel()
			}()
			for {
				rec := Record{}
				meta, err := recs.Next(ctx, rec)
				for _, r := range ps.readers {
					r.push(passRec{rec: rec, meta: meta, err: err})
				}
				var rerr *RecordError
				if err != nil && !errors.As(err, &rerr) {
					return // io.EOF or an error that ends the iteration
				}
			}
		}()
	})
}

type passRec struct {
	rec  Record // shared by every reader: read, never written
	meta Meta
	err  error
}

// passReader is one reader's queue of a pass.
type passReader struct {
	ps        *pass
	mu        sync.Mutex
	q         []passRec
	head      int
	more      chan struct{} // a record was queued
	room      chan struct{} // a record was taken
	gone      chan struct{} // the reader left: the pass skips it
	leaveOnce sync.Once
	last      error // the error that ended the iteration, once read
}

func (r *passReader) push(m passRec) {
	for {
		select {
		case <-r.gone:
			return
		default:
		}
		r.mu.Lock()
		if len(r.q)-r.head < maxLag {
			if r.head > 0 && r.head >= len(r.q)/2 {
				// What was read goes, so the queue holds at most about
				// twice what is waiting.
				n := copy(r.q, r.q[r.head:])
				clear(r.q[n:])
				r.q, r.head = r.q[:n], 0
			}
			r.q = append(r.q, m)
			r.mu.Unlock()
			select {
			case r.more <- struct{}{}:
			default:
			}
			return
		}
		r.mu.Unlock()
		select {
		case <-r.room:
		case <-r.gone:
			return
		}
	}
}

func (r *passReader) pop(ctx context.Context) (passRec, error) {
	for {
		r.mu.Lock()
		if r.head < len(r.q) {
			m := r.q[r.head]
			r.q[r.head] = passRec{}
			r.head++
			r.mu.Unlock()
			select {
			case r.room <- struct{}{}:
			default:
			}
			return m, nil
		}
		r.mu.Unlock()
		select {
		case <-r.more:
		case <-ctx.Done():
			return passRec{}, ctx.Err()
		}
	}
}

func (r *passReader) leave() {
	r.leaveOnce.Do(func() { close(r.gone) })
}

// passSource is the source a job of a pass sees: its own for what it
// declares, the pass for its records.
type passSource struct {
	Source
	r *passReader
}

// Shares keeps the source's budget locks (Sharer) when it has some.
func (s *passSource) Shares() []string {
	if sh, ok := s.Source.(Sharer); ok {
		return sh.Shares()
	}
	return nil
}

func (s *passSource) Open(ctx context.Context) (Records, error) {
	ps := s.r.ps
	ps.start(ctx)
	select {
	case <-ps.opened:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.err != nil {
		return nil, ps.err
	}
	return &passRecords{r: s.r, files: ps.files, size: ps.size}, nil
}

// passRecords are a reader's records. They are Sized and UnitListers, as
// the source's own may be; a size of 0 means not known.
type passRecords struct {
	r     *passReader
	files []string
	size  int
}

func (pr *passRecords) Files() []string { return slices.Clone(pr.files) }
func (pr *passRecords) Len() int        { return pr.size }

func (pr *passRecords) Next(ctx context.Context, rec Record) (Meta, error) {
	if pr.r.last != nil {
		return Meta{}, pr.r.last
	}
	m, err := pr.r.pop(ctx)
	if err != nil {
		return Meta{}, err
	}
	for k, v := range m.rec {
		rec[k] = v
	}
	var rerr *RecordError
	if m.err != nil && !errors.As(m.err, &rerr) {
		pr.r.last = m.err // io.EOF, or an error that ends the iteration
	}
	return m.meta, m.err
}

// Close leaves the pass: a run that stops early no longer holds it up.
func (pr *passRecords) Close() error {
	pr.r.leave()
	return nil
}
