package scheduler

import (
	"time"

	"github.com/robfig/cron/v3"
)

// Every returns a schedule that fires every d on multiples of d (for a d
// that divides a day: on the clock, in UTC; every 10m fires at :00, :10,
// …). Being a function of the clock alone, it names the same occurrences in
// every process and after every restart or leader change, which is what
// lets River's unique keys keep each occurrence to one run.
func Every(d time.Duration) Schedule {
	if d < time.Second {
		d = time.Second
	}
	return every(d)
}

type every time.Duration

func (e every) Next(t time.Time) time.Time {
	d := time.Duration(e)
	return t.Truncate(d).Add(d)
}

// align makes constant-delay schedules clock-aligned. robfig/cron's
// ConstantDelaySchedule counts from whenever it was asked, so a new leader
// would name occurrences no other process named.
func align(s Schedule) Schedule {
	switch c := s.(type) {
	case cron.ConstantDelaySchedule:
		return Every(c.Delay)
	case *cron.ConstantDelaySchedule:
		return Every(c.Delay)
	}
	return s
}
