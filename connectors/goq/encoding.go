package goq

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"

	"github.com/goqsync/runner/engine"
)

// Encodings a job may declare. "auto" picks UTF-8 when the bytes are valid
// UTF-8 and CP932 otherwise.
const (
	encAuto  = "auto"
	encCP932 = "cp932"
	encSJIS  = "shift_jis"
	encUTF8  = "utf-8"
)

// fileEnc is the encoding of one file as the reader decided it.
type fileEnc int

const (
	encUnknown fileEnc = iota // "auto" and only ASCII seen so far
	encIsUTF8
	encIsCP932
)

func (e fileEnc) String() string {
	switch e {
	case encIsUTF8:
		return "UTF-8"
	case encIsCP932:
		return "CP932"
	}
	return "ASCII"
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// sniff decides the encoding of a file from its first bytes. The reader
// parses CSV on the raw bytes (see doc.go), so the decision only affects how
// cells are turned into strings, and it can wait: an all-ASCII prefix leaves
// it open until the first non-ASCII cell.
func sniff(declared string, head []byte, complete bool) fileEnc {
	switch declared {
	case encCP932, encSJIS:
		return encIsCP932
	case encUTF8:
		return encIsUTF8
	}
	if bytes.HasPrefix(head, utf8BOM) {
		return encIsUTF8
	}
	ascii := true
	for _, c := range head {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return encUnknown
	}
	if !complete {
		// The peek may end in the middle of a character.
		for k := 1; k < utf8.UTFMax && k <= len(head); k++ {
			if utf8.RuneStart(head[len(head)-k]) {
				if !utf8.FullRune(head[len(head)-k:]) {
					head = head[:len(head)-k]
				}
				break
			}
		}
	}
	if utf8.Valid(head) {
		return encIsUTF8
	}
	return encIsCP932
}

// decoder turns raw cells into strings. It reuses its buffer.
type decoder struct {
	enc fileEnc
	t   transform.Transformer
	dst []byte
}

func newDecoder(enc fileEnc) *decoder {
	return &decoder{enc: enc, t: japanese.ShiftJIS.NewDecoder()}
}

// decide fixes the encoding of a file that was ASCII so far, from a
// record's raw cells.
func (d *decoder) decide(cells [][]byte) {
	if d.enc != encUnknown {
		return
	}
	nonASCII := false
	for _, c := range cells {
		if firstNonASCII(c) >= 0 {
			nonASCII = true
			if !utf8.Valid(c) {
				d.enc = encIsCP932
				return
			}
		}
	}
	if nonASCII {
		d.enc = encIsUTF8
	}
}

// cell decodes one raw cell into a new string.
func (d *decoder) cell(raw []byte) (string, error) {
	if firstNonASCII(raw) < 0 {
		return string(raw), nil
	}
	switch d.enc {
	case encIsUTF8:
		if !utf8.Valid(raw) {
			return "", d.misencoded(raw)
		}
		return string(raw), nil
	case encIsCP932:
		if looksUTF8(raw, false) {
			return "", fmt.Errorf("the cell is UTF-8 text (%q) in a CP932 file: it was saved in another encoding than the rest of the file; fix the export", engine.Clip(string(raw)))
		}
	case encUnknown:
		// decide was not called for this record; be safe.
		if utf8.Valid(raw) {
			return string(raw), nil
		}
	}
	// A CP932 byte becomes at most 3 UTF-8 bytes (U+FFxx from one
	// half-width katakana byte); two bytes become at most 3.
	if need := 3 * len(raw); cap(d.dst) < need {
		d.dst = make([]byte, need)
	}
	d.dst = d.dst[:cap(d.dst)]
	d.t.Reset()
	n, _, err := d.t.Transform(d.dst, raw, true)
	if err != nil {
		return "", fmt.Errorf("cannot decode CP932: %w", err)
	}
	out := d.dst[:n]
	// x/text replaces an invalid sequence with U+FFFD, which no CP932
	// byte sequence decodes to: its presence means the input was broken.
	if i := bytes.Index(out, []byte("\uFFFD")); i >= 0 {
		return "", fmt.Errorf("invalid CP932 byte sequence near %q (declare encoding = \"utf-8\" if the file is UTF-8)", string(out[:i]))
	}
	return string(out), nil
}

// misencoded describes a cell that is not UTF-8 in a UTF-8 file, showing it
// as CP932 when it reads as such.
func (d *decoder) misencoded(raw []byte) error {
	cp := &decoder{enc: encIsCP932, t: d.t}
	if s, err := cp.cell(raw); err == nil {
		return fmt.Errorf("the cell is not UTF-8 like the rest of the file; it reads as CP932 text (%q): it was saved in another encoding; fix the export, or declare encoding = \"cp932\" if the whole file is Shift_JIS", engine.Clip(s))
	}
	return errors.New("the cell is not valid UTF-8 (declare encoding = \"cp932\" if the file is Shift_JIS)")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
