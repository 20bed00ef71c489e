package engine

import (
	"fmt"
	"unicode/utf8"
)

// maxShown bounds a value or message quoted in a plan, a log line or an
// error: a 10 MB cell must not make a 10 MB line.
const maxShown = 200

// Clip cuts s to about maxShown bytes, at a character boundary, and says
// how long it was.
func Clip(s string) string {
	if len(s) <= maxShown+32 {
		return s
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes in all)", len(s))
}
