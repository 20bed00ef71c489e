package goq

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"unicode/utf8"
)

// The survey is the reader's first pass over its files (see doc.go,
// "Repeated orders"). It reads raw bytes only, and per record finds the
// order number and, for orders that occur more than once, 最終更新日時, so
// that every order yields one record per run: the newest. It also counts
// which encoding the file's non-ASCII records are in, finds lone-CR line
// ends, and refuses lines and records too long to be a GoQ export before
// the CSV parser holds them in memory.
//
// It splits records as encoding/csv does (quoted fields may hold commas,
// quotes and line breaks; after a malformed field the rest of the physical
// line is skipped), so that the lines it names are the lines the second
// pass reports; a differential fuzz test holds the two together.

// bigSurvey is the size of the survey's table (in hashes: 1 MB, a file
// of 16 MB) past which it is collected as soon as it is done with.
const bigSurvey = 1 << 17

// rowBytes sizes the survey's table from the files' sizes: a GoQ row is
// rarely shorter (a shorter one costs a growth of the table).
const rowBytes = 128

// fileInfo is what the survey learned of one file.
type fileInfo struct {
	enc    fileEnc // by the majority of its non-ASCII records; encUnknown when all ASCII
	crOnly bool    // lines end in a lone CR (Excel's "CSV (Macintosh)")
}

// surveyResult is the survey of every file of one Open.
type surveyResult struct {
	files []fileInfo
	rows  int // rows with an order number, in every file
	// dup holds the hashes of order numbers seen more than once (rarely
	// a false positive; winners holds the exact answer). nil when no
	// order repeats, the common case, which then costs nothing more.
	dup     map[uint64]struct{}
	winners map[string]winner
}

// nonASCIIOrder is the hash every non-ASCII order number gets, so that
// they all go to the exact comparison: their raw bytes depend on the
// file's encoding.
const nonASCIIOrder = 0

// orderSeed keys the hash of longer order numbers.
var orderSeed = maphash.MakeSeed()

// orderHash hashes a raw order number for the search for repeats. A
// collision only costs an exact comparison later, so the common short
// number is hashed from two overlapping 8-byte words: a few nanoseconds,
// paid once per row.
func orderHash(raw []byte) uint64 {
	var h uint64
	switch n := len(raw); {
	case n >= 8 && n <= 16:
		a, b := binary.LittleEndian.Uint64(raw), binary.LittleEndian.Uint64(raw[n-8:])
		if (a|b)&0x8080808080808080 != 0 {
			return nonASCIIOrder
		}
		h = mix(a, b^uint64(n))
	case n < 8:
		var w [8]byte
		copy(w[:], raw)
		a := binary.LittleEndian.Uint64(w[:])
		if a&0x8080808080808080 != 0 {
			return nonASCIIOrder
		}
		h = mix(a, uint64(n))
	default:
		if firstNonASCII(raw) >= 0 {
			return nonASCIIOrder
		}
		h = maphash.Bytes(orderSeed, raw)
	}
	if h == nonASCIIOrder {
		h = 1
	}
	return h
}

// mix folds two words into a well-spread 64-bit value (the 128-bit
// multiply of wyhash).
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a^0xa0761d6478bd642f, b^0xe7037ed1a0b428db)
	return hi ^ lo
}

// survey reads every file once: their encodings and line ends, and, per
// order number that occurs more than once, the row that wins it.
func (s *Source) survey(ctx context.Context, files []string) (*surveyResult, error) {
	res := &surveyResult{files: make([]fileInfo, len(files))}
	// One hash per row: size the slice from the files' sizes once, rather
	// than grow it through fresh memory a dozen times.
	var size int64
	for _, name := range files {
		if fi, err := os.Stat(name); err == nil {
			size += fi.Size()
		}
	}
	hashes := make([]uint64, 0, size/rowBytes+16)
	cols := make([][2]int, len(files))
	for fi, name := range files {
		info, oi, ui, err := s.fileColumns(name)
		if err != nil {
			return nil, err
		}
		cols[fi] = [2]int{oi, ui}
		v, err := scanFile(ctx, name, info.crOnly, oi, -1, func(_ int, order, _ []byte) {
			if len(order) > 0 {
				hashes = append(hashes, orderHash(order))
			}
		})
		if err != nil {
			return nil, err
		}
		info.enc = s.decideEncoding(info.enc, v)
		res.files[fi] = info
	}
	res.rows = len(hashes)
	dup := repeated(hashes)
	if cap(hashes) >= bigSurvey {
		// The table is garbage now, but the collector would let the heap
		// grow to twice its size before it looks: a million rows would
		// hold 8 MB more for the whole read. Collect it at once.
		runtime.GC()
	}
	if len(dup) == 0 {
		return res, nil
	}
	// Some order numbers repeat: read those rows' update times.
	res.dup = dup
	res.winners = map[string]winner{}
	for fi, name := range files {
		dec := newDecoder(res.files[fi].enc)
		_, err := scanFile(ctx, name, res.files[fi].crOnly, cols[fi][0], cols[fi][1], func(line int, order, updated []byte) {
			if len(order) == 0 {
				return
			}
			if _, ok := dup[orderHash(order)]; !ok {
				return
			}
			key, err := dec.cell(order)
			if err != nil || key == "" {
				return // the second pass reports the row
			}
			u := int64(math.MinInt64)
			if updated != nil {
				if t, err := parseTime(updated, s.loc); err == nil {
					u = t.Unix()
				}
			}
			w, ok := res.winners[key]
			// The newest row wins; on a tie the later one, in a later file
			// or further down the same file.
			if !ok || u >= w.updated {
				res.winners[key] = winner{updated: u, file: int32(fi), line: int32(line)}
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// fileColumns reads a file's header as the second pass will (checking it)
// and returns the columns of the order number and the update time (-1 when
// the job does not read it), the encoding its first bytes suggest and its
// line ends.
func (s *Source) fileColumns(path string) (info fileInfo, oi, ui int, err error) {
	fr, err := s.openFile(path, fileInfo{})
	if err != nil {
		return fileInfo{}, 0, 0, err
	}
	defer fr.close()
	return fileInfo{enc: fr.dec.enc, crOnly: fr.crOnly}, fr.idx[colOrderNo], fr.idx[colUpdatedAt], nil
}

// decideEncoding settles a file's encoding: the declared one, a BOM's, or
// the majority of its non-ASCII records (a tie goes to CP932, GoQ's
// default). sniffed is what the first 64 KiB suggested.
func (s *Source) decideEncoding(sniffed fileEnc, v votes) fileEnc {
	switch {
	case s.encoding != encAuto:
		return sniffed // declared: sniff returned it
	case v.bom:
		return encIsUTF8
	case v.utf8 == 0 && v.cp932 == 0:
		return sniffed
	case v.utf8 > v.cp932:
		return encIsUTF8
	}
	return encIsCP932
}

// repeated returns the hashes that occur more than once, or nil. It sorts
// them in place, so that equal hashes are neighbours.
func repeated(hs []uint64) map[uint64]struct{} {
	sortHashes(hs, 56)
	var dup map[uint64]struct{}
	for i := 1; i < len(hs); i++ {
		if hs[i] == hs[i-1] {
			if dup == nil {
				dup = map[uint64]struct{}{}
			}
			dup[hs[i]] = struct{}{}
		}
	}
	return dup
}

// sortHashes sorts a in place by the byte of its values at shift and then
// each of the 256 buckets by the next byte down (an American flag sort),
// and small buckets by comparison. Hashes are spread evenly, so two bytes
// leave buckets of a few values even for millions of rows. Unlike a
// radix sort through a second slice, it needs no copy of a: finding
// repeated orders costs 8 bytes a row, not 16, at a few milliseconds for
// a million rows.
func sortHashes(a []uint64, shift uint) {
	if len(a) <= 64 || shift < 48 {
		slices.Sort(a)
		return
	}
	var count [256]int
	for _, v := range a {
		count[byte(v>>shift)]++
	}
	// next[b] is where bucket b's next value goes; end[b] where it ends.
	var next, end [256]int
	pos := 0
	for b, c := range count {
		next[b] = pos
		pos += c
		end[b] = pos
	}
	// Move each value to its bucket, swapping out the value there, until
	// every bucket holds only its own.
	for b := range next {
		for next[b] < end[b] {
			v := a[next[b]]
			d := byte(v >> shift)
			if int(d) == b {
				next[b]++
				continue
			}
			a[next[b]], a[next[d]] = a[next[d]], v
			next[d]++
		}
	}
	start := 0
	for _, e := range end {
		sortHashes(a[start:e], shift-8)
		start = e
	}
}

// votes count a file's non-ASCII records by the encoding they are in.
type votes struct {
	utf8, cp932 int
	bom         bool
}

// vote classes one record's bytes by its first non-ASCII characters.
func (v *votes) add(rec []byte) {
	i := firstNonASCII(rec)
	if i < 0 {
		return
	}
	if looksUTF8(rec[i:min(len(rec), i+24)], true) {
		v.utf8++
	} else {
		v.cp932++
	}
}

// looksUTF8 reports whether b reads as Japanese text in UTF-8: valid, with
// at least one character of three bytes or more, and every character in
// the ranges Japanese text uses. CP932 text practically never does (its
// kana and common kanji start with bytes UTF-8 uses only inside a
// character). prefix allows b to end in the middle of a character.
func looksUTF8(b []byte, prefix bool) bool {
	wide := false
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			return prefix && !utf8.FullRune(b) && len(b) < utf8.UTFMax && wide
		}
		if n >= 3 {
			wide = true
		}
		if r >= utf8.RuneSelf && !japaneseRange(r) {
			return false
		}
		b = b[n:]
	}
	return wide
}

func japaneseRange(r rune) bool {
	switch {
	case r >= 0x3000 && r <= 0x30ff, // CJK symbols, hiragana, katakana
		r >= 0x4e00 && r <= 0x9fff,   // CJK unified ideographs
		r >= 0xff00 && r <= 0xffef,   // full- and half-width forms
		r >= 0x2000 && r <= 0x22ff,   // punctuation, arrows, math
		r >= 0x2460 && r <= 0x27bf,   // enclosed numbers, boxes, shapes
		r >= 0x3200 && r <= 0x33ff,   // enclosed CJK, ㈱ and ㍉
		r >= 0xf900 && r <= 0xfaff,   // compatibility ideographs
		r >= 0x3400 && r <= 0x4dbf,   // extension A
		r >= 0x20000 && r <= 0x3134f: // extensions B and on (𠮷)
		return true
	}
	return false
}

// firstNonASCII returns the index of the first byte of b at or above 0x80,
// or -1, eight bytes at a time.
func firstNonASCII(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= utf8.RuneSelf {
			return i
		}
	}
	return -1
}

// scanFile reads path's records after the header and calls visit with
// each well-formed record's first line, its order number's raw bytes (oi)
// and, when ui >= 0, its update time's. It returns the encoding votes of
// the records.
func scanFile(ctx context.Context, path string, crOnly bool, oi, ui int, visit func(line int, order, updated []byte)) (votes, error) {
	f, err := os.Open(path)
	if err != nil {
		return votes{}, err
	}
	defer f.Close()
	sc := newScanner(f, crOnly)
	sc.buf = make([]byte, 0, 1<<20)
	sc.fields = max(oi, ui) + 1
	var v votes
	var rec record
	for n := 0; ; n++ {
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return v, err
			}
		}
		if err := sc.next(&rec); err != nil {
			if err == io.EOF {
				v.bom = sc.bom
				return v, nil
			}
			return v, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		if n == 0 {
			continue // the header
		}
		// Every record votes at first; then one in sixteen, which keeps
		// the count representative of the whole file at a sixteenth of
		// the cost.
		if n <= 1024 || n%16 == 0 {
			v.add(rec.buf)
		}
		if rec.err == nil {
			visit(rec.line, rec.field(oi), rec.field(ui))
		}
	}
}

// hasLoneCR reports a head of a file whose lines end in CR alone: it has
// CRs and no LF.
func hasLoneCR(head []byte) bool {
	return bytes.IndexByte(head, '\r') >= 0 && bytes.IndexByte(head, '\n') < 0
}
