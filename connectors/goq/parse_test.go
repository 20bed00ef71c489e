package goq

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 in Tokyo; empty for an error
	}{
		{"2026-11-21 14:03:11", "2026-11-21T14:03:11+09:00"},
		{"2026/11/21 14:03", "2026-11-21T14:03:00+09:00"},
		{"2026/1/5 9:03", "2026-01-05T09:03:00+09:00"},
		{"2026-11-21", "2026-11-21T00:00:00+09:00"},
		{" 2026-11-21 ", "2026-11-21T00:00:00+09:00"},
		{"2026-11-21T14:03:11", "2026-11-21T14:03:11+09:00"},
		// Excel pads a one-digit hour with a second space.
		{"2000/01/01  0:00", "2000-01-01T00:00:00+09:00"},
		{"2026/11/21   9:03:00", "2026-11-21T09:03:00+09:00"},
		{"2026/11/21 \t9:03", ""},
		{"2026/11/21T 9:03", ""},
		{"2026-02-29", ""},
		{"2026-11-21 24:00", ""},
		{"2026-11-21 14:3", ""},
		{"1899-12-31", ""},
		{"21/11/2026", ""},
	}
	for _, tt := range tests {
		got, err := parseTime(tt.in, tokyo)
		if tt.want == "" {
			if err == nil {
				t.Errorf("parseTime(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseTime(%q): %v", tt.in, err)
			continue
		}
		if s := got.Format(time.RFC3339); s != tt.want {
			t.Errorf("parseTime(%q) = %s, want %s", tt.in, s, tt.want)
		}
	}
}
