package engine

import "testing"

// TestIsWide: the caret under a diagnostic counts two cells for every
// wide character, those outside the Basic Multilingual Plane too.
func TestIsWide(t *testing.T) {
	tests := []struct {
		r    rune
		wide bool
	}{
		{'a', false},
		{'漢', true},
		{'Ａ', true},          // full-width letter
		{'ｱ', false},         // half-width katakana
		{'\U0002000B', true}, // CJK Extension B
		{'\U0001F600', true}, // emoji
		{'é', false},
	}
	for _, tt := range tests {
		if got := isWide(tt.r); got != tt.wide {
			t.Errorf("isWide(%U) = %v, want %v", tt.r, got, tt.wide)
		}
	}
	if got := displayWidth("a漢\U0002000B😀b", 1, 4); got != 6 {
		t.Errorf("displayWidth = %d, want 6", got)
	}
}
