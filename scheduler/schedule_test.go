package scheduler

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func TestEvery(t *testing.T) {
	at := time.Date(2026, 11, 28, 1, 7, 31, 5, time.UTC)
	tests := []struct {
		s    Schedule
		want time.Time
	}{
		{Every(10 * time.Minute), time.Date(2026, 11, 28, 1, 10, 0, 0, time.UTC)},
		{Every(2 * time.Second), time.Date(2026, 11, 28, 1, 7, 32, 0, time.UTC)},
		{align(cron.Every(10 * time.Minute)), time.Date(2026, 11, 28, 1, 10, 0, 0, time.UTC)},
		{align(Every(time.Hour)), time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := tt.s.Next(at); !got.Equal(tt.want) {
			t.Errorf("%#v.Next(%v) = %v, want %v", tt.s, at, got, tt.want)
		}
		// An occurrence's successor is the next one, not itself.
		if got := tt.s.Next(tt.want); !got.After(tt.want) {
			t.Errorf("%#v.Next(%v) = %v, not after", tt.s, tt.want, got)
		}
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true,
		"localhost:8080": true,
		"[::1]:8080":     true,
		":8080":          false,
		"0.0.0.0:8080":   false,
		"10.0.0.5:8080":  false,
		"example.com:80": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestSlotScheduleCatchUp(t *testing.T) {
	at := time.Date(2026, 11, 28, 1, 7, 31, 5, time.UTC)
	tests := []struct {
		name  string
		inner Schedule
		want  []time.Time // first call with at, then each result fed back
	}{
		{"missed occurrence within a minute runs at once", Every(2 * time.Second), []time.Time{
			time.Date(2026, 11, 28, 1, 7, 30, 0, time.UTC),
			time.Date(2026, 11, 28, 1, 7, 32, 0, time.UTC),
			time.Date(2026, 11, 28, 1, 7, 34, 0, time.UTC),
		}},
		{"older occurrences are not replayed", Every(10 * time.Minute), []time.Time{
			time.Date(2026, 11, 28, 1, 10, 0, 0, time.UTC),
			time.Date(2026, 11, 28, 1, 20, 0, 0, time.UTC),
		}},
		{"cron", mustCron(t, "*/20 * * * * *"), []time.Time{
			time.Date(2026, 11, 28, 1, 7, 20, 0, time.UTC),
			time.Date(2026, 11, 28, 1, 7, 40, 0, time.UTC),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &slotSchedule{inner: tt.inner}
			in := at
			for i, want := range tt.want {
				got := s.Next(in)
				if !got.Equal(want) || !s.last().Equal(got) {
					t.Fatalf("call %d: Next(%v) = %v (last %v), want %v", i, in, got, s.last(), want)
				}
				in = got
			}
		})
	}
}

func mustCron(t *testing.T, spec string) Schedule {
	s, err := cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow).Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
