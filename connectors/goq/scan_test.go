package goq

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goqsync/runner/engine"
)

// splitWithCSV is what encoding/csv makes of data: per record, its first
// line and fields, or the error. A UTF-8 byte order mark is not data: the
// scanner skips it, as the reader always has.
func splitWithCSV(data []byte) []string {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
	r.FieldsPerRecord = -1
	var out []string
	for {
		fields, err := r.Read()
		if err == io.EOF {
			return out
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			out = append(out, fmt.Sprintf("%d-%d %v", pe.StartLine, pe.Line, pe.Err))
			continue
		}
		if err != nil {
			return append(out, "fatal "+err.Error())
		}
		line, _ := r.FieldPos(0)
		out = append(out, fmt.Sprintf("%d %q", line, fields))
	}
}

// splitWithScanner is the same from the scanner.
func splitWithScanner(data []byte) []string {
	sc := newScanner(bytes.NewReader(data), false)
	var out []string
	var rec record
	for {
		err := sc.next(&rec)
		if err == io.EOF {
			return out
		}
		if err != nil {
			return append(out, "fatal "+err.Error())
		}
		var pe *csv.ParseError
		if errors.As(rec.err, &pe) {
			out = append(out, fmt.Sprintf("%d-%d %v", pe.StartLine, pe.Line, pe.Err))
			continue
		}
		var fields []string
		for i := range rec.ends {
			fields = append(fields, string(rec.field(i)))
		}
		out = append(out, fmt.Sprintf("%d %q", rec.line, fields))
	}
}

func TestScannerMatchesEncodingCSV(t *testing.T) {
	for _, in := range []string{
		"a,b,c\n1,2,3\n",
		"a,b\r\n\r\n1,\"x,y\"\r\n",
		"a,\"b\nc\",d\n2,3,4",
		"a,\"b\"\"c\",d\n",
		"a,b\"c,d\ne,f\n",
		"a,\"b\"c,d\ne,f\n",
		"a,\"open\nstill\n",
		"\n\n,,\n\r\n",
		"x\r",
		"\"\"\n\"\",\"\"\n",
		"a,\"b\r\nc\"\r\n",
		"a\r\r\n",
	} {
		if got, want := splitWithScanner([]byte(in)), splitWithCSV([]byte(in)); !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\nscanner %q\ncsv     %q", in, got, want)
		}
	}
}

// FuzzScanner holds the scanner to encoding/csv: the same records, first
// lines, fields and errors for any input, the survey's shapes (repeated
// orders, quoted line breaks, mixed encodings) among the seeds.
func FuzzScanner(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/reader/*/*.csv")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(header + "1,O-1,店,2026-11-20,出荷済み,2026-11-26 09:00,,,,,,\"a\nb\"\n1,O-1,店,2026-11-20,キャンセル,2026-11-27 09:00,,,,,,\n"))
	f.Add([]byte("a,\"b\"\"\",\"c\r\nd\"\r\n\"e\"x,f\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := splitWithScanner(data), splitWithCSV(data); !reflect.DeepEqual(got, want) {
			t.Errorf("scanner and encoding/csv disagree on %q:\nscanner %s\ncsv     %s", data, strings.Join(got, "\n        "), strings.Join(want, "\n        "))
		}
	})
}

// TestReaderBounds: a line longer than a MiB stops the file with an error
// that says where, before it is held in memory whole; a long cell in a
// shorter line is quoted in messages only in part.
func TestReaderBounds(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, "long.csv")
	os.WriteFile(long, []byte(header+"1,A,店,2026-11-20,出荷済み,"+strings.Repeat("9", 3<<20)+",,,,,,\n"), 0o644)
	src, diags := NewSource(parseBody(t, "s.hcl", []byte(`path = "`+filepath.ToSlash(long)+`"`+"\n")), testSettings())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, err := src.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "long.csv: line 2: a line is longer than 1 MiB") {
		t.Errorf("Open of a 3 MiB line: %v", err)
	}

	wide := filepath.Join(dir, "wide.csv")
	os.WriteFile(wide, []byte(header+"1,A,店,"+strings.Repeat("x", 900<<10)+",出荷済み,2026-11-26 09:00,,,,,,\n"), 0o644)
	src, _ = NewSource(parseBody(t, "s.hcl", []byte(`path = "`+filepath.ToSlash(wide)+`"`+"\n")), testSettings())
	rows, err := src.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	_, err = rows.Next(context.Background(), engine.Record{})
	var re *engine.RecordError
	if !errors.As(err, &re) || len(re.Error()) > 1000 || !strings.Contains(re.Error(), "bytes in all") {
		t.Errorf("a 900 KiB cell: %d-byte error %.300s", len(fmt.Sprint(err)), err)
	}
}
