package engine

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
)

// clock is a run's notion of "now". Every helper that depends on the date
// reads it, so a pinned now (the -now flag) makes plans reproducible. Each
// run and plan compiles its programs with its own clock (see
// Job.programs): one Job serves concurrent runs, and a record pays nothing
// for it.
type clock struct {
	now   time.Time
	loc   *time.Location
	today time.Time // midnight of now's date in loc
}

func newClock(now time.Time, loc *time.Location) *clock {
	c := &clock{loc: loc, now: now.In(loc)}
	y, m, d := c.now.Date()
	c.today = time.Date(y, m, d, 0, 0, 0, 0, loc)
	return c
}

// localDate returns midnight of t's calendar date in the job's zone.
func (c *clock) localDate(t time.Time) time.Time {
	y, m, d := t.In(c.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, c.loc)
}

// daysSince counts calendar days from t's local date to today.
func (c *clock) daysSince(t time.Time) int {
	// Dates at local midnight differ by whole days except across DST
	// changes; rounding absorbs the hour.
	return int(c.today.Sub(c.localDate(t)).Round(24*time.Hour) / (24 * time.Hour))
}

// dateLayouts are the date and time shapes GoQ templates and futureshop produce.
var dateLayouts = []string{
	"2006-01-02",
	"2006/01/02",
	"2006-01-02 15:04:05",
	"2006/01/02 15:04:05",
	"2006-01-02 15:04",
	"2006/01/02 15:04",
	"2006-01-02T15:04:05",
	"2006/1/2",
	"2006-1-2",
	"20060102",
}

// ParseTime reads a date or timestamp in one of the shapes GoQ and
// futureshop use, in loc. RFC 3339 (with a zone) is accepted too.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (want yyyy-mm-dd or yyyy/mm/dd, with an optional hh:mm[:ss])", s)
}

// funcDoc lists the helpers for suggestions and the README.
var funcDoc = map[string]string{
	"within_days": "within_days(t, n): t's local date is on or after today − n days",
	"days_since":  "days_since(t): calendar days from t's local date to today",
	"ymd":         "ymd(t): t's local date as yyyy-mm-dd",
	"ymdhms":      "ymdhms(t): t in the job's zone as yyyy-mm-dd hh:mm:ss, GoQ's timestamp form",
	"date":        "date(s): parse yyyy-mm-dd or yyyy/mm/dd [hh:mm[:ss]] in the job's zone",
	"now":         "now(): the run's clock (pinned by -now)",
	"today":       "today(): midnight of today in the job's zone",
	"coalesce":    "coalesce(a, b, ...): the first argument that is set and not empty, else the last set one (so a '' fallback clears)",
	"hankaku":     "hankaku(s): full-width letters, digits and symbols to half-width",
	"first":       "first(s): the first item of a comma-separated cell, trimmed",
}

// exprOptions returns the helper functions bound to c, and disables
// expr's own clock functions, which would ignore a pinned now and the
// job's zone.
func exprOptions(c *clock) []expr.Option {
	return []expr.Option{
		expr.DisableBuiltin("now"),
		expr.DisableBuiltin("date"),
		expr.Function("within_days", func(p ...any) (any, error) {
			t, ok := p[0].(time.Time)
			if !ok {
				return false, nil // unset is never within
			}
			n, err := toInt(p[1])
			if err != nil {
				return nil, err
			}
			return !c.localDate(t).Before(c.today.AddDate(0, 0, -n)), nil
		}, new(func(time.Time, int) bool)),
		expr.Function("days_since", func(p ...any) (any, error) {
			t, ok := p[0].(time.Time)
			if !ok {
				return nil, nil
			}
			return c.daysSince(t), nil
		}, new(func(time.Time) int)),
		expr.Function("ymd", func(p ...any) (any, error) {
			t, ok := p[0].(time.Time)
			if !ok {
				return nil, nil
			}
			return ymd(t.In(c.loc)), nil
		}, new(func(time.Time) string)),
		expr.Function("ymdhms", func(p ...any) (any, error) {
			t, ok := p[0].(time.Time)
			if !ok {
				return nil, nil
			}
			return t.In(c.loc).Format("2006-01-02 15:04:05"), nil
		}, new(func(time.Time) string)),
		expr.Function("date", func(p ...any) (any, error) {
			s, ok := p[0].(string)
			if !ok || s == "" {
				return nil, nil
			}
			return ParseTime(s, c.loc)
		}, new(func(string) time.Time)),
		expr.Function("now", func(p ...any) (any, error) {
			return c.now, nil
		}, new(func() time.Time)),
		expr.Function("today", func(p ...any) (any, error) {
			return c.today, nil
		}, new(func() time.Time)),
		expr.Function("coalesce", func(p ...any) (any, error) {
			var last any
			for _, v := range p {
				if v == nil {
					continue
				}
				last = v
				if s, ok := v.(string); ok && s == "" {
					continue
				}
				return v, nil
			}
			// Nothing set and non-empty: an explicit '' fallback stands.
			return last, nil
		}),
		expr.Function("hankaku", func(p ...any) (any, error) {
			s, ok := p[0].(string)
			if !ok {
				return nil, nil
			}
			if n := hankaku(s); n != s {
				return n, nil
			}
			return p[0], nil // unchanged: reuse the boxed value, no allocation
		}, new(func(string) string)),
		expr.Function("first", func(p ...any) (any, error) {
			s, ok := p[0].(string)
			if !ok {
				return nil, nil
			}
			f := strings.TrimSpace(s[:firstSep(s)])
			switch f {
			case "":
				return nil, nil
			case s:
				return p[0], nil // unchanged: reuse the boxed value
			}
			return f, nil
		}, new(func(string) string)),
	}
}

func toInt(v any) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case float64:
		return int(n), nil
	}
	return 0, fmt.Errorf("want a whole number of days, got %T", v)
}

// hankaku turns full-width letters, digits and symbols (U+FF01–U+FF5E)
// and the ideographic space into their ASCII forms. Katakana stay as they
// are: half-width katakana in a carrier name or an address is a mistake,
// not a normal form. Most cells are ASCII already and are returned as is.
func hankaku(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Map(narrowASCII, s)
		}
	}
	return s
}

func narrowASCII(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFF01 + '!'
	case r == 0x3000:
		return ' '
	}
	return r
}

// ymd formats t's date as yyyy-mm-dd; it runs for most mapped records, and
// is cheaper than time.Format.
func ymd(t time.Time) string {
	y, m, d := t.Date()
	if y < 0 || y > 9999 {
		return t.Format("2006-01-02")
	}
	b := [10]byte{
		byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + int(m)/10), byte('0' + int(m)%10), '-',
		byte('0' + d/10), byte('0' + d%10),
	}
	return string(b[:])
}

// firstSep is the index of the first separator in a multi-value cell (a
// comma, or the full-width 、 and ，), or len(s). Cells are mostly ASCII,
// so it scans bytes rather than decoding runes.
func firstSep(s string) int {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ',':
			return i
		case c >= utf8.RuneSelf && (strings.HasPrefix(s[i:], "、") || strings.HasPrefix(s[i:], "，")):
			return i
		}
	}
	return len(s)
}
