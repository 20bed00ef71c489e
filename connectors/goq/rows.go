package goq

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	sv      *surveyResult // the first pass: encodings, line ends, the row that wins each repeated order
	next    int           // index of the next file to open
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
		if err == nil && r.sv.dup != nil {
			if _, repeated := r.sv.dup[orderHash(r.cur.rawOrder)]; repeated {
				w, ok := r.sv.winners[r.cur.orderNo]
				if ok && (int(w.file) != r.fileIdx || int(w.line) != r.cur.lastLine) {
					meta.Skip = fmt.Sprintf("superseded by %s:%d (updated %s)",
						filepath.Base(r.files[w.file]), w.line, formatUnix(w.updated, r.src.loc))
				}
			}
		}
		return meta, err
	}
}

// Fingerprint implements engine.Fingerprinter: a hash of the raw cells of
// the row Next returned last, every column included (the file's own bytes,
// as a changed export would show them), and its 最終更新日時 even when no
// expression reads it.
func (r *Rows) Fingerprint() engine.Fingerprint {
	fr := r.cur
	if fr == nil {
		return engine.Fingerprint{}
	}
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, c := range fr.cells {
		// Each cell with its length, so that moving a comma changes the hash.
		h.Write(binary.AppendUvarint(n[:0], uint64(len(c))))
		h.Write(c)
	}
	fp := engine.Fingerprint{Hash: hex.EncodeToString(h.Sum(nil))}
	if c := fr.updCol; c >= 0 && c < len(fr.cells) && len(fr.cells[c]) > 0 && !isZeroDate(fr.cells[c]) {
		if t, err := parseTime(fr.cells[c], fr.loc); err == nil {
			fp.Updated = t
		}
	}
	return fp
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
	fr, err := r.src.openFile(r.files[i], r.sv.files[i])
	if err != nil {
		return err
	}
	r.cur, r.fileIdx, r.next = fr, i, i+1
	return nil
}

func formatUnix(u int64, loc *time.Location) string {
	if u == math.MinInt64 {
		return "never"
	}
	return time.Unix(u, 0).In(loc).Format("2006-01-02 15:04:05")
}

// fileReader reads one file. CSV is parsed on the raw bytes even for CP932
// (see scanner), and only the cells the job needs are decoded (most are
// ASCII and need nothing).
type fileReader struct {
	f       *os.File
	name    string // base name, for positions
	sc      *scanner
	raw     record   // the record read last
	cells   [][]byte // its cells, valid until the next read
	dec     *decoder
	idx     [nCols]int    // column of each field; -1 when absent
	headers [nCols]string // the header of each field's column, as the file names it
	width   int           // fields in the header
	updCol  int           // column of 最終更新日時, read or not; -1 when absent

	crOnly bool // lines end in a lone CR (Excel's "CSV (Macintosh)")

	loc      *time.Location
	pos      []byte // "name:" followed by scratch space for the line number
	orderNo  string // the last record's order_no
	rawOrder []byte // and its raw cell, valid until the next read
	lastLine int    // and its first line
	cache    [nCols]map[string]any
}

// openFile opens a file for reading, checks its header and readies the
// decoder: in the encoding the survey settled (info), or, before the survey,
// the one the first 64 KiB suggest.
func (s *Source) openFile(path string, info fileInfo) (*fileReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(path)
	head := make([]byte, 64<<10)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	head = head[:n]
	enc := info.enc
	if enc == encUnknown {
		enc = sniff(s.encoding, head, err == io.EOF)
	}
	crOnly := info.crOnly || hasLoneCR(head)
	fr := &fileReader{
		f:      f,
		name:   name,
		sc:     newScanner(f, crOnly),
		dec:    newDecoder(enc),
		crOnly: crOnly,
		loc:    s.loc,
		pos:    append(make([]byte, 0, len(name)+12), name+":"...),
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

// read reads the next record and returns its cells (raw bytes, valid until
// the next read: only the cells the job needs become strings) and first
// line. A malformed record comes back as its *csv.ParseError.
func (fr *fileReader) read() ([][]byte, int, error) {
	if err := fr.sc.next(&fr.raw); err != nil {
		var tl *errTooLong
		if errors.As(err, &tl) {
			return nil, 0, fmt.Errorf("%s: %w", fr.name, err)
		}
		if err == io.EOF {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("read %s: %w", fr.name, err)
	}
	if fr.raw.err != nil {
		return nil, fr.raw.line, fr.raw.err
	}
	fr.cells = fr.cells[:0]
	prev := 0
	for _, end := range fr.raw.ends {
		fr.cells = append(fr.cells, fr.raw.buf[prev:end:end])
		prev = end + 1
	}
	return fr.cells, fr.raw.line, nil
}

func (fr *fileReader) readHeader(s *Source) error {
	cells, _, err := fr.read()
	if err == io.EOF {
		return fmt.Errorf("%s is empty; a GoQ export starts with a header row", fr.name)
	}
	if err != nil {
		return fmt.Errorf("%s: read header: %w", fr.name, err)
	}
	fr.dec.decide(cells)
	fr.width = len(cells)
	// The header is read in its own encoding: before the survey has
	// counted the file's rows, a few mis-encoded ones in the first 64 KiB
	// must not make it unreadable.
	hdec := fr.dec
	if s.encoding == encAuto && !fr.sc.bom {
		enc := encIsUTF8
		for _, c := range cells {
			if !utf8.Valid(c) {
				enc = encIsCP932
			}
		}
		hdec = newDecoder(enc)
	}
	header := make([]string, len(cells))
	at := make(map[string][]int, len(cells))
	for i, c := range cells {
		h, err := hdec.cell(c)
		if err != nil {
			return fmt.Errorf("%s: header column %d: %w", fr.name, i+1, err)
		}
		h = strings.TrimSpace(h)
		header[i] = h
		at[h] = append(at[h], i)
	}
	fr.updCol = -1
	if cols := at[s.headers[colUpdatedAt]]; len(cols) == 1 {
		fr.updCol = cols[0]
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
			return fmt.Errorf("%s: header %q appears %d times (columns %s); field %s cannot tell which to read",
				fr.name, s.headers[i], len(cols), joinInts(cols), columns[i].field)
		case len(cols) == 1:
			fr.idx[i] = cols[0]
			fr.headers[i] = header[cols[0]]
		case !s.optional[i]:
			missing = append(missing, fmt.Sprintf("%q (field %s)", s.headers[i], columns[i].field))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: missing column %s; the header has %s (rename a column with columns { field = \"header\" }, or list the field in optional)",
			fr.name, strings.Join(missing, ", "), quoteAll(header))
	}
	return nil
}

// next reads the next row into rec.
func (fr *fileReader) next(rec engine.Record) (engine.Meta, error) {
	for {
		cells, line, err := fr.read()
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
			return engine.Meta{}, err
		}
		fr.lastLine = line
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
			return meta, &engine.RecordError{Pos: meta.Pos, Err: fmt.Errorf("empty %s (order_no)", fr.header(colOrderNo))}
		}
		return meta, nil
	}
}

// fill decodes the cells the schema maps. An empty cell leaves its field
// unset.
func (fr *fileReader) fill(rec engine.Record, cells [][]byte) error {
	fr.dec.decide(cells)
	fr.orderNo, fr.rawOrder = "", nil
	var errs []string
	for i := range columns {
		c := fr.idx[i]
		if c < 0 || len(cells[c]) == 0 {
			continue
		}
		raw := cells[c]
		if m := fr.cache[i]; m != nil {
			if v, ok := m[string(raw)]; ok {
				if v != nil {
					rec[columns[i].field] = v
				}
				continue
			}
		}
		v, err := fr.value(i, raw)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s (%s): %v", fr.header(i), columns[i].field, err))
			continue
		}
		if i == colOrderNo {
			fr.orderNo, fr.rawOrder = v.(string), raw
		}
		if m := fr.cache[i]; m != nil && len(m) < maxInterned {
			m[string(raw)] = v
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
func (fr *fileReader) value(i int, raw []byte) (any, error) {
	var v any
	var err error
	switch columns[i].kind {
	case engine.Time:
		if isZeroDate(raw) {
			return nil, nil
		}
		v, err = parseTime(raw, fr.loc)
	case engine.Date:
		if isZeroDate(raw) {
			return nil, nil
		}
		v, err = parseDate(raw, fr.loc)
	default:
		return fr.dec.cell(raw)
	}
	if err != nil {
		var bv *badValue
		if errors.As(err, &bv) && !isASCII(bv.text) {
			// Show the cell as a person sees it, not as CP932 bytes.
			if d, derr := fr.dec.cell([]byte(bv.text)); derr == nil {
				bv.text = d
			}
		}
		return nil, err
	}
	return v, nil
}

// header is the file's own header of column i, for messages.
func (fr *fileReader) header(i int) string {
	if fr.headers[i] != "" {
		return fr.headers[i]
	}
	return columns[i].header
}

func (fr *fileReader) posOf(line int) string {
	n := len(fr.name) + 1
	fr.pos = strconv.AppendInt(fr.pos[:n], int64(line), 10)
	return string(fr.pos)
}

func (fr *fileReader) close() error {
	if err := fr.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", fr.name, err)
	}
	return nil
}

func blank(cells [][]byte) bool {
	for _, c := range cells {
		if len(c) != 0 {
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
