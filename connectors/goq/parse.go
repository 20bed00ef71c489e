package goq

import (
	"errors"
	"strconv"
	"time"

	"github.com/goqsync/runner/engine"
)

// GoQ templates write timestamps as "2026-11-21 14:03:11" by default and as
// "2026/11/21 14:03" after a common customisation; a file that went through
// Excel loses the zero padding ("2026/1/5 9:03"). A hand-written parser
// accepts all of them without trying layout after layout: the reader parses
// four timestamps per row and time.Parse would dominate its cost.

var errNotTime = errors.New("not a date or time")

// parseStamp parses "yyyy-mm-dd", "yyyy/mm/dd", optionally followed by
// spaces (or "T") and "hh:mm" or "hh:mm:ss". hasTime reports whether a time
// of day was present.
func parseStamp[T string | []byte](s T) (y, mo, d, h, mi, sec int, hasTime bool, err error) {
	s = trimSpace(s)
	i := 0
	num := func(min, max int) (int, bool) {
		n, j := 0, i
		for j < len(s) && j-i < max && s[j] >= '0' && s[j] <= '9' {
			n = n*10 + int(s[j]-'0')
			j++
		}
		if j-i < min {
			return 0, false
		}
		i = j
		return n, true
	}
	sep := func(c byte) bool {
		if i < len(s) && s[i] == c {
			i++
			return true
		}
		return false
	}
	var ok bool
	if y, ok = num(4, 4); !ok {
		return 0, 0, 0, 0, 0, 0, false, errNotTime
	}
	if i >= len(s) || (s[i] != '-' && s[i] != '/') {
		return 0, 0, 0, 0, 0, 0, false, errNotTime
	}
	ds := s[i]
	i++
	if mo, ok = num(1, 2); !ok || !sep(ds) {
		return 0, 0, 0, 0, 0, 0, false, errNotTime
	}
	if d, ok = num(1, 2); !ok {
		return 0, 0, 0, 0, 0, 0, false, errNotTime
	}
	if y < 1900 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return 0, 0, 0, 0, 0, 0, false, errNotTime
	}
	if i == len(s) {
		return y, mo, d, 0, 0, 0, false, nil
	}
	switch s[i] {
	case 'T':
		i++
	case ' ':
		// A run of spaces, as time.Parse reads the space of a layout:
		// Excel pads a one-digit hour with a second space.
		for i < len(s) && s[i] == ' ' {
			i++
		}
	default:
		return 0, 0, 0, 0, 0, 0, false, errNotTime
	}
	if h, ok = num(1, 2); !ok || !sep(':') {
		return 0, 0, 0, 0, 0, 0, false, errNotTime
	}
	if mi, ok = num(2, 2); !ok {
		return 0, 0, 0, 0, 0, 0, false, errNotTime
	}
	if sep(':') {
		if sec, ok = num(2, 2); !ok {
			return 0, 0, 0, 0, 0, 0, false, errNotTime
		}
	}
	if i != len(s) || h > 23 || mi > 59 || sec > 59 {
		return 0, 0, 0, 0, 0, 0, false, errNotTime
	}
	return y, mo, d, h, mi, sec, true, nil
}

// isZeroDate reports whether s is the "no date" of database-backed
// exports, 0000-00-00 with or without a zero time. It means unset, like an
// empty cell.
func isZeroDate[T string | []byte](s T) bool {
	s = trimSpace(s)
	if len(s) < 10 || (string(s[:10]) != "0000-00-00" && string(s[:10]) != "0000/00/00") {
		return false
	}
	switch string(s[10:]) {
	case "", " 00:00", " 00:00:00", " 0:00", " 0:00:00":
		return true
	}
	return false
}

// badValue is a cell that does not parse as its column's kind.
type badValue struct {
	text string // the cell, decoded when the reader can
	want string
}

func (e *badValue) Error() string {
	return "cannot read " + strconv.Quote(engine.Clip(e.text)) + " as " + e.want
}

// parseTime parses a GoQ timestamp (or a bare date, as midnight) in loc.
func parseTime[T string | []byte](s T, loc *time.Location) (time.Time, error) {
	y, mo, d, h, mi, sec, _, err := parseStamp(s)
	if err != nil {
		return time.Time{}, &badValue{string(s), "a time (want 2026-11-21 14:03:11, 2026/11/21 14:03 or 2026-11-21)"}
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, 0, loc), nil
}

// parseDate parses a GoQ date in loc. A trailing midnight ("2026/11/21
// 0:00", as Excel writes dates) is tolerated; any other time of day is an
// error, because a date column with times means the mapping is wrong.
func parseDate[T string | []byte](s T, loc *time.Location) (time.Time, error) {
	y, mo, d, h, mi, sec, _, err := parseStamp(s)
	if err != nil || h != 0 || mi != 0 || sec != 0 {
		return time.Time{}, &badValue{string(s), "a date (want 2026-11-21 or 2026/11/21)"}
	}
	return time.Date(y, time.Month(mo), d, 0, 0, 0, 0, loc), nil
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func trimSpace[T string | []byte](s T) T {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
