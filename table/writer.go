package table

import (
	"bytes"
	"io"
	"strings"
)

// padding is the space between columns.
const padding = 2

// Writer collects tab-separated cells and newline-ended lines, and on
// Flush writes them with each column as wide as its widest cell plus two
// spaces. As with text/tabwriter, a column runs over consecutive lines
// that have a cell in it followed by a tab; a line's last cell is written
// as it is, so a line without tabs (a heading) breaks the columns around
// it. It is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf bytes.Buffer
}

// NewWriter returns a Writer that writes to w on Flush.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write buffers p; nothing reaches the underlying writer before Flush.
func (t *Writer) Write(p []byte) (int, error) { return t.buf.Write(p) }

// Flush writes the buffered lines, aligned, and empties the buffer.
func (t *Writer) Flush() error {
	text := t.buf.String()
	t.buf.Reset()
	if text == "" {
		return nil
	}
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	rows := make([][]string, len(lines))
	ends := make([]string, len(lines))
	cols := 0
	for i, l := range lines {
		body, nl := strings.CutSuffix(l, "\n")
		if nl {
			ends[i] = "\n"
		}
		rows[i] = strings.Split(body, "\t")
		cols = max(cols, len(rows[i])-1)
	}
	// widths[i][k] is the width of column k on line i: the widest of the
	// column's cells over the run of lines around i that have it.
	widths := make([][]int, len(rows))
	for i := range rows {
		widths[i] = make([]int, max(len(rows[i])-1, 0))
	}
	for k := range cols {
		for i := 0; i < len(rows); {
			if len(rows[i])-1 <= k {
				i++
				continue
			}
			j, w := i, 0
			for ; j < len(rows) && len(rows[j])-1 > k; j++ {
				w = max(w, Width(rows[j][k]))
			}
			for ; i < j; i++ {
				widths[i][k] = w
			}
		}
	}
	var out strings.Builder
	for i, r := range rows {
		for k, cell := range r[:len(r)-1] {
			out.WriteString(Pad(cell, widths[i][k]+padding))
		}
		out.WriteString(r[len(r)-1])
		out.WriteString(ends[i])
	}
	_, err := io.WriteString(t.w, out.String())
	return err
}
