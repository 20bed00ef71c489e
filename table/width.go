package table

import (
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// Width is how many terminal cells s takes: two for East Asian wide and
// full-width characters (漢字, かな, ＡＢ, most emoji), one for the rest
// (ASCII, half-width ｶﾀｶﾅ), none for combining marks, format characters
// (the zero-width joiner) and variation selectors. An emoji joined to the
// one before it by a zero-width joiner, or an emoji modifier (a skin tone),
// adds nothing: the sequence is drawn as one picture. Terminals differ on
// the rarest sequences; this is what common ones draw.
func Width(s string) int {
	w := 0
	joined := false
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
		case r == '\u200d':
			joined = true
			continue
		case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Me, r), unicode.Is(unicode.Cf, r),
			unicode.Is(unicode.Variation_Selector, r):
		case r >= 0x1f3fb && r <= 0x1f3ff: // emoji modifiers (skin tones)
		case joined:
		default:
			w += runeWidth(r)
		}
		joined = false
	}
	return w
}

func runeWidth(r rune) int {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// Pad appends spaces to s up to n cells; s as it is when it is wider.
func Pad(s string, n int) string {
	if w := Width(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}
