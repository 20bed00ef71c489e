package goq

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
)

// scanner splits a file's raw bytes into CSV records exactly as
// encoding/csv does (RFC 4180 with its leniencies: CRLF or LF, blank lines
// skipped, quoted fields holding commas, quotes and line breaks, a CRLF
// inside quotes read as LF; after a malformed field the rest of the
// physical line is dropped), on the raw bytes of any encoding: no byte of a
// CP932 double-byte character is a comma, a quote, CR or LF. Both passes of
// the reader use it, so they always agree on where records start; a fuzz
// test holds it to encoding/csv.
//
// It is faster than encoding/csv on GoQ's rows, which mostly hold no
// quotes: such a line's fields are what lies between its commas, found
// with bytes.IndexByte, and nothing is copied. It also bounds what one
// line and one record may hold, before they sit in memory.
type scanner struct {
	r      io.Reader
	crOnly bool // lines end in a lone CR: read every CR as LF

	buf  []byte // unread bytes are buf[pos:]
	pos  int
	eof  bool
	line int  // physical lines consumed so far
	bom  bool // the input started with a UTF-8 byte order mark, which was skipped

	quoted []byte // scratch: the fields of a record with quotes, unescaped

	// fields, when positive, is how many fields of a line without quotes
	// a caller needs: the survey reads two early ones, and splitting the
	// rest of the line would be wasted.
	fields int
}

// Bounds on what one record may hold. GoQ rows are a few hundred bytes;
// a longer line is not an export, and reading it whole would cost memory
// in proportion.
const (
	maxLine   = 1 << 20 // one physical line
	maxRecord = 4 << 20 // one record, line breaks inside quotes included
)

// errTooLong is a line or record beyond the bounds above. It ends the
// file: there is no telling where the next record starts.
type errTooLong struct {
	what string
	line int
	max  int
}

func (e *errTooLong) Error() string {
	return fmt.Sprintf("line %d: %s is longer than %d MiB; a GoQ export has short rows, so this is not one (or it is damaged)",
		e.line, e.what, e.max>>20)
}

func newScanner(r io.Reader, crOnly bool) *scanner {
	return &scanner{r: r, crOnly: crOnly, buf: make([]byte, 0, 256<<10)}
}

// record is one record as the scanner splits it. Its slices are valid
// until the next call of next.
type record struct {
	line int    // the physical line it starts on
	buf  []byte // its fields, unescaped, each after a separator byte but the first
	ends []int  // where each field ends in buf; the next starts one byte later
	// err is a *csv.ParseError for a malformed record, which then holds
	// the fields read before the fault.
	err error
}

// field returns field i, or nil when the record has fewer fields.
func (r *record) field(i int) []byte {
	if i < 0 || i >= len(r.ends) {
		return nil
	}
	start := 0
	if i > 0 {
		start = r.ends[i-1] + 1
	}
	return r.buf[start:r.ends[i]]
}

// fill reads more input, keeping buf[pos:]. It returns false at EOF.
func (s *scanner) fill() (bool, error) {
	if s.eof {
		return false, nil
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:])
		s.buf, s.pos = s.buf[:n], 0
	}
	if len(s.buf) == cap(s.buf) {
		s.buf = slices.Grow(s.buf, cap(s.buf))
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	fresh := s.buf[len(s.buf) : len(s.buf)+n]
	if s.crOnly {
		for i, c := range fresh {
			if c == '\r' {
				fresh[i] = '\n'
			}
		}
	}
	s.buf = s.buf[:len(s.buf)+n]
	if s.line == 0 && !s.bom && s.pos == 0 && bytes.HasPrefix(s.buf, utf8BOM) {
		s.bom = true
		s.pos += len(utf8BOM)
	}
	if err == io.EOF {
		s.eof = true
		return n > 0, nil
	}
	return true, err
}

// nextLine returns the next physical line without its line end (LF, or
// CRLF), or io.EOF. The slice is valid until the next call.
func (s *scanner) nextLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(s.buf[s.pos:], '\n'); i >= 0 {
			l := s.buf[s.pos : s.pos+i]
			s.pos += i + 1
			s.line++
			if i > maxLine {
				return nil, &errTooLong{"a line", s.line, maxLine}
			}
			return trimCR(l), nil
		}
		if len(s.buf)-s.pos > maxLine {
			return nil, &errTooLong{"a line", s.line + 1, maxLine}
		}
		more, err := s.fill()
		if err != nil {
			return nil, err
		}
		if !more {
			if s.pos == len(s.buf) {
				return nil, io.EOF
			}
			l := s.buf[s.pos:]
			s.pos = len(s.buf)
			s.line++
			return trimCR(l), nil
		}
	}
}

func trimCR(l []byte) []byte {
	if n := len(l); n > 0 && l[n-1] == '\r' {
		return l[:n-1]
	}
	return l
}

// next reads the next record into r. It returns io.EOF after the last, and
// an *errTooLong or a read error, after which the file cannot go on. A
// malformed record is not an error here: r.err says what is wrong with it.
func (s *scanner) next(r *record) error {
	var l []byte
	var err error
	for {
		if l, err = s.nextLine(); err != nil {
			return err
		}
		if len(l) > 0 {
			break // encoding/csv skips empty lines
		}
	}
	r.line, r.err, r.ends = s.line, nil, r.ends[:0]
	if bytes.IndexByte(l, '"') < 0 {
		// The common line: no quotes, so fields are what lies between
		// commas.
		r.buf = l
		for i := 0; s.fields <= 0 || len(r.ends) < s.fields; {
			j := bytes.IndexByte(l[i:], ',')
			if j < 0 {
				r.ends = append(r.ends, len(l))
				return nil
			}
			r.ends = append(r.ends, i+j)
			i += j + 1
		}
		return nil
	}
	return s.quotedRecord(l, r)
}

// quotedRecord parses a record with quotes as encoding/csv's readRecord
// does, reading further lines while a quoted field is open.
func (s *scanner) quotedRecord(l []byte, r *record) error {
	out := s.quoted[:0]
	size := len(l)
	rest := l
	col := 1 // 1-based byte column in the current line, for errors
	fail := func(kind error) error {
		s.quoted = out
		r.buf = out
		r.err = &csv.ParseError{StartLine: r.line, Line: s.line, Column: col, Err: kind}
		return nil
	}
	for {
		if len(r.ends) > 0 {
			out = append(out, ',') // the separator field takes
		}
		if len(rest) == 0 || rest[0] != '"' {
			// Unquoted field: a quote in it is an error.
			f, more := rest, false
			if j := bytes.IndexByte(rest, ','); j >= 0 {
				f, more = rest[:j], true
			}
			if j := bytes.IndexByte(f, '"'); j >= 0 {
				col += j
				return fail(csv.ErrBareQuote)
			}
			out = append(out, f...)
			r.ends = append(r.ends, len(out))
			if !more {
				break
			}
			rest = rest[len(f)+1:]
			col += len(f) + 1
			continue
		}
		rest = rest[1:]
		col++
		closed := false
		for !closed {
			i := bytes.IndexByte(rest, '"')
			if i < 0 {
				// The field goes on past the line end.
				out = append(append(out, rest...), '\n')
				nl, err := s.nextLine()
				if err == io.EOF {
					col += len(rest)
					return fail(csv.ErrQuote) // extraneous or missing " in quoted-field
				}
				if err != nil {
					return err
				}
				if size += len(nl) + 1; size > maxRecord {
					return &errTooLong{"a record", r.line, maxRecord}
				}
				rest, col = nl, 1
				continue
			}
			out = append(out, rest[:i]...)
			rest = rest[i+1:]
			col += i + 1
			if len(rest) > 0 && rest[0] == '"' {
				out = append(out, '"') // "" is a quote
				rest = rest[1:]
				col++
				continue
			}
			closed = true
		}
		r.ends = append(r.ends, len(out))
		if len(rest) == 0 {
			break
		}
		if rest[0] != ',' {
			col-- // encoding/csv points at the closing quote
			return fail(csv.ErrQuote)
		}
		rest = rest[1:]
		col++
	}
	s.quoted = out
	r.buf = out
	return nil
}
