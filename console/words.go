package console

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// every says "every n units", with the catalogue's own words for one:
// English says "every hour", not "every 1 hours".
func (l *Lang) every(unit string, n int) string {
	keys := everyKeys[unit]
	if n == 1 {
		return l.T(keys[0])
	}
	return l.T(keys[1], n)
}

// everyKeys are the catalogue's words for one and for n of a unit.
var everyKeys = map[string][2]string{
	"s": {"sched.every.1s", "sched.every.s"},
	"m": {"sched.every.1m", "sched.every.m"},
	"h": {"sched.every.1h", "sched.every.h"},
}

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
			return l.every("h", int(d/time.Hour))
		case d%time.Minute == 0:
			return l.every("m", int(d/time.Minute))
		default:
			return l.every("s", int(d/time.Second))
		}
	case strings.HasPrefix(s, "daily "):
		return l.T("sched.daily", strings.TrimSpace(strings.TrimPrefix(s, "daily ")))
	case s == "@hourly":
		return l.every("h", 1)
	case s == "@daily" || s == "@midnight":
		return l.T("sched.daily", "00:00")
	}
	f := strings.Fields(s)
	if len(f) == 5 && f[2] == "*" && f[3] == "*" {
		if n, ok := strings.CutPrefix(f[0], "*/"); ok && f[1] == "*" && f[4] == "*" {
			if m, err := strconv.Atoi(n); err == nil {
				return l.every("m", m)
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
