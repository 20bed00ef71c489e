package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"golang.org/x/text/width"
)

// Suggest returns the candidate closest to name, or "" when none is close
// enough to be a likely typo.
func Suggest(name string, candidates []string) string {
	best, bestDist := "", 3
	if len(name) <= 3 {
		bestDist = 2
	}
	for _, c := range candidates {
		if d := levenshtein.Distance(name, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean returns "; did you mean "x"?" or "".
func didYouMean(name string, candidates []string) string {
	if s := Suggest(name, candidates); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return ""
}

// DiagWriter renders diagnostics for people, for machines (JSON) and for
// GitHub Actions annotations.
type DiagWriter struct {
	Files map[string]*hcl.File // source text, for the offending line
}

// WriteText writes each diagnostic as one line, "file:line:col: severity:
// summary; detail", followed by the offending source line and a marker.
func (w *DiagWriter) WriteText(out io.Writer, diags hcl.Diagnostics) {
	for _, d := range diags {
		fmt.Fprintln(out, oneLine(d))
		if d.Subject == nil {
			continue
		}
		f := w.Files[d.Subject.Filename]
		if f == nil {
			continue
		}
		line, ok := sourceLine(f.Bytes, d.Subject.Start.Line)
		if !ok {
			continue
		}
		num := fmt.Sprintf("%5d", d.Subject.Start.Line)
		start := d.Subject.Start.Column
		end := d.Subject.End.Column
		line = strings.TrimRight(line, "\r")
		if d.Subject.End.Line != d.Subject.Start.Line {
			end = utf8.RuneCountInString(line) + 1
		}
		line, start, end = window(line, start, end)
		fmt.Fprintf(out, "%s | %s\n", num, line)
		if end <= start {
			end = start + 1
		}
		fmt.Fprintf(out, "%s | %s%s\n", strings.Repeat(" ", len(num)), pad(line, start-1), strings.Repeat("^", displayWidth(line, start-1, end-1)))
	}
}

// maxQuoted bounds the part of a source line a diagnostic quotes: a line
// of a million brackets must not become a million-column message.
const maxQuoted = 160

// window cuts a long source line to maxQuoted characters around the
// columns start and end (1-based, in characters), and moves them to match.
func window(line string, start, end int) (string, int, int) {
	runes := []rune(line)
	if len(runes) <= maxQuoted {
		return line, start, end
	}
	from := max(0, start-1-maxQuoted/4)
	to := min(len(runes), from+maxQuoted)
	end = min(end, to+1)
	prefix, suffix := "", ""
	if from > 0 {
		prefix = "…"
	}
	if to < len(runes) {
		suffix = "…"
	}
	shift := from - len([]rune(prefix))
	return prefix + string(runes[from:to]) + suffix, start - shift, end - shift
}

// oneLine is the whole message of a diagnostic on one line.
func oneLine(d *hcl.Diagnostic) string {
	var b strings.Builder
	if d.Subject != nil {
		fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
	}
	if d.Severity == hcl.DiagWarning {
		b.WriteString("warning: ")
	} else {
		b.WriteString("error: ")
	}
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString("; ")
		b.WriteString(strings.ReplaceAll(d.Detail, "\n", " "))
	}
	return b.String()
}

// pad returns spaces as wide as the first n characters of line, keeping
// tabs so the marker lines up, and counting wide characters as two.
func pad(line string, n int) string {
	var b strings.Builder
	i := 0
	for _, r := range line {
		if i >= n {
			break
		}
		switch {
		case r == '\t':
			b.WriteByte('\t')
		case isWide(r):
			b.WriteString("  ")
		default:
			b.WriteByte(' ')
		}
		i++
	}
	return b.String()
}

func displayWidth(line string, from, to int) int {
	w, i := 0, 0
	for _, r := range line {
		if i >= to {
			break
		}
		if i >= from {
			if isWide(r) {
				w += 2
			} else {
				w++
			}
		}
		i++
	}
	if w == 0 {
		w = 1
	}
	return w
}

// isWide reports East Asian wide and full-width characters, which
// terminals draw two cells wide (Unicode's East Asian Width, from
// x/text/width, so CJK Extension B and emoji count too).
func isWide(r rune) bool {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return true
	}
	return false
}

func sourceLine(src []byte, n int) (string, bool) {
	lines := strings.Split(string(src), "\n")
	if n < 1 || n > len(lines) {
		return "", false
	}
	return lines[n-1], true
}

// JSONDiag is the machine form of a diagnostic.
type JSONDiag struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	EndLine  int    `json:"end_line,omitempty"`
	EndCol   int    `json:"end_column,omitempty"`
}

// JSONDiags converts diagnostics to their machine form.
func JSONDiags(diags hcl.Diagnostics) []JSONDiag {
	out := make([]JSONDiag, 0, len(diags))
	for _, d := range diags {
		j := JSONDiag{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			j.Severity = "warning"
		}
		if d.Subject != nil {
			j.File, j.Line, j.Column = d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column
			j.EndLine, j.EndCol = d.Subject.End.Line, d.Subject.End.Column
		}
		out = append(out, j)
	}
	return out
}

// WriteJSON writes diagnostics as a JSON array.
func WriteJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteGitHub writes GitHub Actions workflow commands, which show each
// diagnostic on the offending line of a pull request.
func WriteGitHub(out io.Writer, diags hcl.Diagnostics) {
	esc := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	prop := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
	for _, d := range diags {
		kind := "error"
		if d.Severity == hcl.DiagWarning {
			kind = "warning"
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			fmt.Fprintf(out, "::%s file=%s,line=%d,col=%d,endLine=%d,endColumn=%d::%s\n", kind,
				prop.Replace(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column,
				d.Subject.End.Line, d.Subject.End.Column, esc.Replace(msg))
		} else {
			fmt.Fprintf(out, "::%s::%s\n", kind, esc.Replace(msg))
		}
	}
}

// sortDiags orders diagnostics by file and position, so output is stable
// whatever order the checks ran in.
func sortDiags(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}
