package goq

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
)

// FuzzReader feeds arbitrary bytes to the reader as a file, under each
// declared encoding. It must never panic or loop, every record must carry
// an order number and a position in the file, and times must be in the
// job's zone.
func FuzzReader(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/reader/*/*.csv")
	for _, s := range seeds {
		if fi, err := os.Stat(s); err != nil || fi.IsDir() {
			continue
		}
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
	}
	f.Add([]byte(header+"1,A,店,2026/1/5 9:03,x,2026-11-26 24:00,2026-02-30,,,,,\"\n"), uint8(1))
	f.Add([]byte("\xef\xbb\xbf"+header+"\r\n,,,\r\n"), uint8(2))
	encodings := []string{"auto", "cp932", "utf-8"}
	f.Fuzz(func(t *testing.T, data []byte, enc uint8) {
		dir := t.TempDir()
		file := filepath.Join(dir, "f.csv")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := `path = "` + filepath.ToSlash(file) + `"
encoding = "` + encodings[int(enc)%len(encodings)] + `"
optional = ["goq_no", "store", "ordered_at", "status", "updated_at", "shipped_on", "carrier", "tracking_no", "delivery_date", "delivery_time", "note"]
`
		src, diags := NewSource(parseBody(t, "f.hcl", []byte(cfg)), testSettings())
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		ctx := context.Background()
		rows, err := src.Open(ctx)
		if err != nil {
			return // a header problem; Open must say so, not panic
		}
		defer rows.Close()
		rec := engine.Record{}
		for n := 0; ; n++ {
			if n > len(data)+1 {
				t.Fatalf("more records (%d) than bytes (%d)", n, len(data))
			}
			clear(rec)
			meta, err := rows.Next(ctx, rec)
			if err == io.EOF {
				return
			}
			if !strings.HasPrefix(meta.Pos, "f.csv:") {
				t.Fatalf("Pos %q", meta.Pos)
			}
			var re *engine.RecordError
			if errors.As(err, &re) {
				continue
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if s, _ := rec["order_no"].(string); s == "" {
				t.Fatalf("%s: record without order_no: %v", meta.Pos, rec)
			}
			for k, v := range rec {
				switch v := v.(type) {
				case string:
					if v == "" || (strings.ContainsRune(v, '\uFFFD') && !strings.Contains(string(data), "\uFFFD")) {
						t.Fatalf("%s: %s = %q", meta.Pos, k, v)
					}
				case time.Time:
					if v.Location() != tokyo {
						t.Fatalf("%s: %s in %v", meta.Pos, k, v.Location())
					}
				default:
					t.Fatalf("%s: %s has type %T", meta.Pos, k, v)
				}
			}
		}
	})
}

// FuzzParseStamp checks the hand-written timestamp parser against
// time.Parse on the layouts it claims to accept.
func FuzzParseStamp(f *testing.F) {
	for _, s := range []string{"2026-11-21 14:03:11", "2026/11/21 14:03", "2026-11-21", "2026/1/5 9:03", "2026-02-29", "2024-02-29 23:59:59", " 2026-11-21 "} {
		f.Add(s)
	}
	layouts := []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02", "2006/01/02 15:04:05", "2006/01/02 15:04", "2006/01/02"}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime(s, tokyo)
		for _, l := range layouts {
			if want, werr := time.ParseInLocation(l, s, tokyo); werr == nil && want.Year() >= 1900 {
				if err != nil || !got.Equal(want) {
					t.Fatalf("parseTime(%q) = %v, %v; time.Parse(%q) = %v", s, got, err, l, want)
				}
			}
		}
		if err == nil && (got.Year() < 1900 || got.Location() != tokyo) {
			t.Fatalf("parseTime(%q) = %v", s, got)
		}
	})
}
