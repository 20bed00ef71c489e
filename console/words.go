package console

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule says a job's schedule in words: "every 10m" is 「10分ごと」,
// "daily 06:00" 「毎日 06:00」. A cron line words cannot say simply is
// shown as written, so nothing is ever said wrong.
func (l *Lang) Schedule(spec string) string {
	s := strings.TrimSpace(spec)
	switch {
	case s == "":
		return l.T("sched.manual")
	case strings.HasPrefix(s, "every "):
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(s, "every ")))
		if err != nil {
			break
		}
		switch {
		case d%time.Hour == 0:
			return l.T("sched.every.h", int(d/time.Hour))
		case d%time.Minute == 0:
			return l.T("sched.every.m", int(d/time.Minute))
		default:
			return l.T("sched.every.s", int(d/time.Second))
		}
	case strings.HasPrefix(s, "daily "):
		return l.T("sched.daily", strings.TrimSpace(strings.TrimPrefix(s, "daily ")))
	case s == "@hourly":
		return l.T("sched.every.h", 1)
	case s == "@daily" || s == "@midnight":
		return l.T("sched.daily", "00:00")
	}
	f := strings.Fields(s)
	if len(f) == 5 && f[2] == "*" && f[3] == "*" {
		if n, ok := strings.CutPrefix(f[0], "*/"); ok && f[1] == "*" && f[4] == "*" {
			if m, err := strconv.Atoi(n); err == nil {
				return l.T("sched.every.m", m)
			}
		}
		m, err1 := strconv.Atoi(f[0])
		h, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil && f[4] == "*" {
			return l.T("sched.daily", fmt.Sprintf("%02d:%02d", h, m))
		}
	}
	return l.T("sched.cron", s)
}
