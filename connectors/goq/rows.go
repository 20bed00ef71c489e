package goq

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goqsync/runner/engine"
)

// maxInterned bounds each column's cache of decoded values, so that a
// column with more distinct values than expected (a free-text status) costs
// allocations, not memory.
const maxInterned = 4096

// ctxEvery is how many rows pass between checks of the context.
const ctxEvery = 1024

// Rows iterates over the records of one Open. It implements engine.Records.
type Rows struct {
	src     *Source
	files   []string
	winners map[string]winner // order_no → the row that wins it; nil for one file
	next    int               // index of the next file to open
	cur     *fileReader
	fileIdx int // index of cur in files
	count   int
}

// winner is the row with the latest 最終更新日時 of an order across files.
type winner struct {
	updated int64 // Unix seconds; math.MinInt64 when the row had none
	file    int32
	line    int32
}

// Files returns the files this iteration reads, in reading order. With an
// inbox, these are the files to pass to Source.Archive once every order in
// them has a recorded result. The Meta.Pos of a record starts with the base
// name of its file and a colon.
func (r *Rows) Files() []string { return append([]string(nil), r.files...) }

// Next implements engine.Records.
func (r *Rows) Next(ctx context.Context, rec engine.Record) (engine.Meta, error) {
	for {
		if r.cur == nil {
			if r.next >= len(r.files) {
				return engine.Meta{}, io.EOF
			}
			if err := r.openFile(r.next); err != nil {
				return engine.Meta{}, err
			}
		}
		if r.count++; r.count%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return engine.Meta{}, err
			}
		}
		meta, err := r.cur.next(rec)
		if err != io.EOF {
			meta.Unit = r.files[r.fileIdx]
		}
		if err == io.EOF {
			err = r.cur.close()
			r.cur = nil
			if err != nil {
				return engine.Meta{}, err
			}
			continue
		}
		if err == nil && r.winners != nil {
			if w, ok := r.winners[r.cur.orderNo]; ok && int(w.file) != r.fileIdx {
				meta.Skip = fmt.Sprintf("superseded by %s:%d (updated %s)",
					filepath.Base(r.files[w.file]), w.line, formatUnix(w.updated, r.src.loc))
			}
		}
		return meta, err
	}
}

// Close implements engine.Records.
func (r *Rows) Close() error {
	if r.cur == nil {
		return nil
	}
	err := r.cur.close()
	r.cur = nil
	r.next = len(r.files)
	return err
}

func (r *Rows) openFile(i int) error {
	fr, err := r.src.openFile(r.files[i])
	if err != nil {
		return err
	}
	r.cur, r.fileIdx, r.next = fr, i, i+1
	return nil
}

// findWinners is the first pass over several files: it reads only the
// order number and update time of each row and keeps, per order, the row
// with the latest update (a later file wins a tie). Memory is proportional
// to the number of distinct orders, about 80 bytes each. Rows that fail to
// parse are left for the second pass to report.
func (s *Source) findWinners(ctx context.Context, files []string) (map[string]winner, error) {
	winners := make(map[string]winner)
	for fi, name := range files {
		fr, err := s.openFile(name)
		if err != nil {
			return nil, err
		}
		oi, ui := fr.idx[colOrderNo], fr.idx[colUpdatedAt]
		for n := 1; ; n++ {
			if n%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					fr.close()
					return nil, err
				}
			}
			cells, err := fr.csv.Read()
			if err == io.EOF {
				break
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) || (err == nil && len(cells) != fr.width) {
				continue
			}
			if err != nil {
				fr.close()
				return nil, fmt.Errorf("goq_csv: read %s: %w", name, err)
			}
			fr.dec.decide(cells)
			key, err := fr.dec.cell(cells[oi])
			if err != nil || key == "" {
				continue
			}
			u := int64(math.MinInt64)
			if ui >= 0 {
				if t, err := parseTime(cells[ui], s.loc); err == nil {
					u = t.Unix()
				}
			}
			line, _ := fr.csv.FieldPos(0)
			w, ok := winners[key]
			switch {
			case !ok:
				winners[strings.Clone(key)] = winner{updated: u, file: int32(fi), line: int32(line)}
			case u > w.updated || (u == w.updated && int32(fi) != w.file):
				winners[key] = winner{updated: u, file: int32(fi), line: int32(line)}
			}
		}
		if err := fr.close(); err != nil {
			return nil, err
		}
	}
	return winners, nil
}

func formatUnix(u int64, loc *time.Location) string {
	if u == math.MinInt64 {
		return "never"
	}
	return time.Unix(u, 0).In(loc).Format("2006-01-02 15:04:05")
}

// fileReader reads one file. CSV is parsed on the raw bytes even for CP932:
// no byte of a CP932 multi-byte character is a comma, a quote, CR or LF, so
// the structure is the same, and only the cells the job needs are decoded
// (most are ASCII and need nothing).
type fileReader struct {
	f     *os.File
	name  string // base name, for positions
	csv   *csv.Reader
	dec   *decoder
	idx   [nCols]int // column of each field; -1 when absent
	width int        // fields in the header

	loc     *time.Location
	pos     []byte // "name:" followed by scratch space for the line number
	orderNo string // the last record's order_no
	cache   [nCols]map[string]any
}

func (s *Source) openFile(path string) (*fileReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("goq_csv: %w", err)
	}
	name := filepath.Base(path)
	br := bufio.NewReaderSize(f, 64<<10)
	head, err := br.Peek(64 << 10)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		f.Close()
		return nil, fmt.Errorf("goq_csv: read %s: %w", name, err)
	}
	enc := sniff(s.encoding, head, err == io.EOF)
	if enc == encIsUTF8 && len(head) >= 3 && string(head[:3]) == string(utf8BOM) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked per row, so a bad row does not stop the file
	cr.ReuseRecord = true
	fr := &fileReader{
		f:    f,
		name: name,
		csv:  cr,
		dec:  newDecoder(enc),
		loc:  s.loc,
		pos:  append(make([]byte, 0, len(name)+12), name+":"...),
	}
	if err := fr.readHeader(s); err != nil {
		f.Close()
		return nil, err
	}
	for i := range fr.cache {
		if interned[i] {
			fr.cache[i] = make(map[string]any)
		}
	}
	return fr, nil
}

func (fr *fileReader) readHeader(s *Source) error {
	cells, err := fr.csv.Read()
	if err == io.EOF {
		return fmt.Errorf("goq_csv: %s is empty; a GoQ export starts with a header row", fr.name)
	}
	if err != nil {
		return fmt.Errorf("goq_csv: %s: read header: %w", fr.name, err)
	}
	fr.dec.decide(cells)
	fr.width = len(cells)
	header := make([]string, len(cells))
	at := make(map[string][]int, len(cells))
	for i, c := range cells {
		h, err := fr.dec.cell(c)
		if err != nil {
			return fmt.Errorf("goq_csv: %s: header column %d: %w", fr.name, i+1, err)
		}
		h = strings.TrimSpace(h)
		header[i] = h
		at[h] = append(at[h], i)
	}
	var missing []string
	for i := range columns {
		fr.idx[i] = -1
		if s.unused[i] {
			continue
		}
		cols := at[s.headers[i]]
		switch {
		case len(cols) > 1:
			return fmt.Errorf("goq_csv: %s: header %q appears %d times (columns %s); field %s cannot tell which to read",
				fr.name, s.headers[i], len(cols), joinInts(cols), columns[i].field)
		case len(cols) == 1:
			fr.idx[i] = cols[0]
		case !s.optional[i]:
			missing = append(missing, fmt.Sprintf("%q (field %s)", s.headers[i], columns[i].field))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("goq_csv: %s: missing column %s; the header has %s (rename a column with columns { field = \"header\" }, or list the field in optional)",
			fr.name, strings.Join(missing, ", "), quoteAll(header))
	}
	return nil
}

// next reads the next row into rec.
func (fr *fileReader) next(rec engine.Record) (engine.Meta, error) {
	for {
		cells, err := fr.csv.Read()
		if err == io.EOF {
			return engine.Meta{}, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// pe.Column counts raw bytes, which mean nothing to a
				// person looking at a CP932 file; the line is enough.
				pos := fr.posOf(pe.StartLine)
				e := fmt.Errorf("malformed CSV: %w", pe.Err)
				if pe.Line != pe.StartLine {
					e = fmt.Errorf("malformed CSV at line %d: %w", pe.Line, pe.Err)
				}
				return engine.Meta{Pos: pos}, &engine.RecordError{Pos: pos, Err: e}
			}
			return engine.Meta{}, fmt.Errorf("goq_csv: read %s: %w", fr.name, err)
		}
		line, _ := fr.csv.FieldPos(0)
		if len(cells) != fr.width {
			if blank(cells) {
				continue
			}
			pos := fr.posOf(line)
			return engine.Meta{Pos: pos}, &engine.RecordError{
				Pos: pos,
				Err: fmt.Errorf("row has %d fields, the header has %d", len(cells), fr.width),
			}
		}
		meta := engine.Meta{Pos: fr.posOf(line)}
		if err := fr.fill(rec, cells); err != nil {
			return meta, &engine.RecordError{Pos: meta.Pos, Err: err}
		}
		if fr.orderNo == "" {
			if blank(cells) {
				// Excel writes a row of bare commas for a blank line.
				clear(rec)
				continue
			}
			return meta, &engine.RecordError{Pos: meta.Pos, Err: fmt.Errorf("empty %s (order_no)", columns[colOrderNo].header)}
		}
		return meta, nil
	}
}

// fill decodes the cells the schema maps. An empty cell leaves its field
// unset.
func (fr *fileReader) fill(rec engine.Record, cells []string) error {
	fr.dec.decide(cells)
	fr.orderNo = ""
	var errs []string
	for i := range columns {
		c := fr.idx[i]
		if c < 0 || cells[c] == "" {
			continue
		}
		raw := cells[c]
		if m := fr.cache[i]; m != nil {
			if v, ok := m[raw]; ok {
				if v != nil {
					rec[columns[i].field] = v
				}
				continue
			}
		}
		v, err := fr.value(i, raw)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s (%s): %v", columns[i].header, columns[i].field, err))
			continue
		}
		if i == colOrderNo {
			fr.orderNo = v.(string)
		}
		if m := fr.cache[i]; m != nil && len(m) < maxInterned {
			m[strings.Clone(raw)] = v
		}
		if v != nil {
			rec[columns[i].field] = v
		}
	}
	if errs != nil {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// value decodes one non-empty cell; nil means unset.
func (fr *fileReader) value(i int, raw string) (any, error) {
	switch columns[i].kind {
	case engine.Time, engine.Date:
		if isZeroDate(raw) {
			return nil, nil
		}
	}
	switch columns[i].kind {
	case engine.Time:
		return parseTime(raw, fr.loc)
	case engine.Date:
		return parseDate(raw, fr.loc)
	}
	return fr.dec.cell(raw)
}

func (fr *fileReader) posOf(line int) string {
	n := len(fr.name) + 1
	fr.pos = strconv.AppendInt(fr.pos[:n], int64(line), 10)
	return string(fr.pos)
}

func (fr *fileReader) close() error {
	if err := fr.f.Close(); err != nil {
		return fmt.Errorf("goq_csv: close %s: %w", fr.name, err)
	}
	return nil
}

func blank(cells []string) bool {
	for _, c := range cells {
		if c != "" {
			return false
		}
	}
	return true
}

func joinInts(is []int) string {
	s := make([]string, len(is))
	for i, n := range is {
		s[i] = strconv.Itoa(n + 1)
	}
	return strings.Join(s, ", ")
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
