package table

import "testing"

func TestWidth(t *testing.T) {
	tests := []struct {
		name string
		s    string
		want int
	}{
		{"empty", "", 0},
		{"ascii", "order no", 8},
		{"kanji and kana", "発送済み", 8},
		{"mixed", "FutureShop 1号店", 16},
		{"ideographic space", "　", 2},
		{"full-width letters and digits", "ＡＢ－１２３", 12},
		{"half-width katakana", "ﾊｯｿｳｽﾞﾐ", 7},
		{"half-width voiced mark", "ｶﾞ", 2},
		{"combining acute", "e\u0301", 1},
		{"emoji", "😀", 2},
		{"emoji with text", "ok 👍", 5},
		{"emoji with a skin tone", "👍🏽", 2},
		{"emoji joined by zero-width joiners", "👨\u200d👩\u200d👧", 2},
		{"emoji presentation selector", "☺\ufe0f", 1},
		{"flag", "🇯🇵", 2},
		{"CJK extension B", "𠮷野家", 6},
		{"arrow and ellipsis", "→…", 2},
		{"tab and newline", "\t\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Width(tt.s); got != tt.want {
				t.Errorf("Width(%q) = %d, want %d", tt.s, got, tt.want)
			}
		})
	}
}

func TestPad(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"ab", 4, "ab  "},
		{"発送", 6, "発送  "},
		{"ﾊｯｿｳ", 6, "ﾊｯｿｳ  "},
		{"処理済み", 4, "処理済み"},
	}
	for _, tt := range tests {
		if got := Pad(tt.s, tt.n); got != tt.want {
			t.Errorf("Pad(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}
