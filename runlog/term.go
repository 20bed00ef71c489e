package runlog

import (
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// Terminal is standard error when it is a terminal. Log lines and the live
// progress line share it: a write clears the progress line, and the line is
// drawn again after it, so the two never garble each other.
type Terminal struct {
	mu   sync.Mutex
	f    *os.File
	line string
}

// TerminalOf returns w as a Terminal when it is a terminal, else nil.
func TerminalOf(w io.Writer) *Terminal {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &Terminal{f: f}
}

// clearLine returns to the start of the line and erases it.
const clearLine = "\r\x1b[K"

func (t *Terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.line != "" {
		io.WriteString(t.f, clearLine)
	}
	n, err := t.f.Write(p)
	if t.line != "" {
		io.WriteString(t.f, t.line)
	}
	return n, err
}

// SetLine draws the live line in place of the last one; "" erases it.
func (t *Terminal) SetLine(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s == "" && t.line == "" {
		return
	}
	io.WriteString(t.f, clearLine+s)
	t.line = s
}

// Width is the terminal's width in columns; 80 when it cannot say.
func (t *Terminal) Width() int {
	w, _, err := term.GetSize(int(t.f.Fd()))
	if err != nil || w <= 0 {
		return 80
	}
	return w
}
