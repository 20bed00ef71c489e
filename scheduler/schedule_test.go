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
