package engine

import (
	"testing"
	"time"
)

// TestAppendWhen holds the exclusion's hand-written time to the layouts
// it stands for.
func TestAppendWhen(t *testing.T) {
	layout := func(t time.Time) string {
		switch {
		case t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0:
			return "2006-01-02"
		case t.Second() == 0:
			return "2006-01-02 15:04"
		}
		return "2006-01-02 15:04:05"
	}
	for _, tm := range []time.Time{
		time.Date(2026, 11, 19, 1, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999, time.UTC),
		time.Date(2026, 6, 9, 0, 0, 7, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 3, 4, 5, 6, 0, 0, time.UTC),
		time.Date(10000, 3, 4, 5, 6, 0, 0, time.UTC),
		time.Date(-1, 3, 4, 5, 6, 7, 0, time.UTC),
	} {
		want := tm.Format(layout(tm))
		if got := string(appendWhen([]byte("x"), tm)); got != "x"+want {
			t.Errorf("appendWhen(%v) = %q, want x%s", tm, got, want)
		}
	}
}
