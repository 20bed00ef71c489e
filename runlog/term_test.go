package runlog

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTerminalLogUnderLine: a log line written while the progress line is
// shown clears it first and draws it again after, so neither garbles the
// other; an empty line erases it.
func TestTerminalLogUnderLine(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "tty"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if TerminalOf(f) != nil {
		t.Error("a file is not a terminal")
	}
	term := &Terminal{f: f}
	io.WriteString(term, "before\n")
	term.SetLine("ship  10 read")
	io.WriteString(term, "level=WARN msg=\"record failed\"\n")
	term.SetLine("ship  20 read")
	term.SetLine("")
	term.SetLine("")
	f.Seek(0, io.SeekStart)
	got, _ := io.ReadAll(f)
	want := strings.Join([]string{"before\n", clearLine + "ship  10 read", clearLine + "level=WARN msg=\"record failed\"\n" + "ship  10 read",
		clearLine + "ship  20 read", clearLine}, "")
	if string(got) != want {
		t.Errorf("wrote %q\nwant  %q", got, want)
	}
}
