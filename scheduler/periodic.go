package scheduler

import (
	"sync"
	"time"

	"github.com/riverqueue/river"
)

// periodic turns the scheduled jobs into River periodic jobs. River's
// periodic enqueuer runs on the elected leader only and does not tell the
// constructor which occurrence it is building, but it calls Next for one
// job in sequence: the occurrence due is the last value Next returned.
// slotSchedule keeps it, and the constructor puts it in the args, where it
// makes the unique key.
func (s *Scheduler) periodic(jobs []Job) []*river.PeriodicJob {
	var out []*river.PeriodicJob
	for _, j := range jobs {
		if j.Schedule == nil {
			continue
		}
		ss := &slotSchedule{inner: align(j.Schedule)}
		name := j.Name
		out = append(out, river.NewPeriodicJob(ss, func() (river.JobArgs, *river.InsertOpts) {
			return runArgs{Job: name, Slot: ss.last(), Trigger: TriggerSchedule},
				&river.InsertOpts{Queue: queue, MaxAttempts: 1, UniqueOpts: scheduledUnique}
		}, nil))
	}
	return out
}

type slotSchedule struct {
	inner Schedule
	mu    sync.Mutex
	next  time.Time
}

// catchUp is how far back a process that becomes the leader looks for an
// occurrence that nobody ran. It covers a handover after a crash (River's
// leadership lease is 15 s) without replaying history after a long outage.
const catchUp = time.Minute

// Next is called by River's enqueuer with the occurrence it just enqueued,
// or with the current time when it starts (at start-up, and whenever this
// process becomes the leader). In the second case the previous leader may
// have stopped before enqueuing the latest occurrence, so Next returns that
// occurrence when it is less than catchUp old: River enqueues it at once,
// and the unique key drops it if the previous leader did enqueue it. Only
// the latest missed occurrence is caught up; one run covers the others.
func (s *slotSchedule) Next(t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n time.Time
	if !s.next.IsZero() && t.Equal(s.next) {
		n = s.inner.Next(t)
	} else {
		n = s.inner.Next(t)
		for o, i := s.inner.Next(t.Add(-catchUp)), 0; !o.IsZero() && !o.After(t) && i < 100_000; o, i = s.inner.Next(o), i+1 {
			n = o
		}
	}
	n = n.UTC().Truncate(time.Millisecond)
	s.next = n
	return n
}

func (s *slotSchedule) last() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}
