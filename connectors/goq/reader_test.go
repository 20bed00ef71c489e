package goq

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/goqsync/runner/engine"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var tokyo = mustLoad("Asia/Tokyo")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// testNow is the run's clock in tests that name files by it.
var testNow = time.Date(2026, 11, 28, 10, 0, 0, 0, tokyo)

func testSettings() *engine.Settings {
	return &engine.Settings{Location: tokyo, JobName: "test"}
}

func parseBody(t testing.TB, name string, src []byte) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", name, diags)
	}
	return f.Body
}

// TestReaderGolden reads every case under testdata/reader: each directory
// holds input files, an optional source.hcl (the source block's body;
// default `path = "*.csv"`) and golden.txt, a dump of what the reader made
// of them. Run with -update to rewrite the golden files.
func TestReaderGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/reader/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			golden := filepath.Join(dir, "golden.txt")
			abs, err := filepath.Abs(golden)
			if err != nil {
				t.Fatal(err)
			}
			cfg := []byte(`path = "*.csv"` + "\n")
			if b, err := os.ReadFile(filepath.Join(dir, "source.hcl")); err == nil {
				cfg = b
			}
			t.Chdir(dir) // paths in source.hcl are relative to the case
			got := dumpSource(t, parseBody(t, "source.hcl", cfg))
			if *update {
				if err := os.WriteFile(abs, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(abs)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("dump differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// dumpSource decodes body, reads every record and returns a readable dump.
func dumpSource(t testing.TB, body hcl.Body) string {
	var b strings.Builder
	src, diags := NewSource(body, testSettings())
	for _, d := range diags {
		fmt.Fprintf(&b, "diag: %s: %s: %s\n", d.Subject, d.Summary, d.Detail)
	}
	if diags.HasErrors() {
		return b.String()
	}
	ctx := context.Background()
	rows, err := src.Open(ctx)
	if err != nil {
		fmt.Fprintf(&b, "open: %v\n", err)
		return b.String()
	}
	defer rows.Close()
	fields := src.Fields()
	rec := engine.Record{}
	for n := 0; ; n++ {
		if n > 10000 {
			t.Fatal("reader does not end")
		}
		clear(rec)
		meta, err := rows.Next(ctx, rec)
		if err == io.EOF {
			break
		}
		var re *engine.RecordError
		if errors.As(err, &re) {
			if re.Pos != meta.Pos {
				t.Errorf("RecordError.Pos %q, Meta.Pos %q", re.Pos, meta.Pos)
			}
			fmt.Fprintf(&b, "%s ERROR %v\n", meta.Pos, re.Err)
			continue
		}
		if err != nil {
			fmt.Fprintf(&b, "fatal: %v\n", err)
			break
		}
		fmt.Fprintf(&b, "%s", meta.Pos)
		if meta.Skip != "" {
			fmt.Fprintf(&b, " SKIP %s", meta.Skip)
		}
		b.WriteString("\n")
		for _, f := range fields {
			v, ok := rec[f.Name]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "\t%-13s %s\n", f.Name, dumpValue(t, f, v))
		}
		if len(rec) > len(fields) {
			t.Errorf("%s: record has keys outside the schema: %v", meta.Pos, rec)
		}
	}
	return b.String()
}

func dumpValue(t testing.TB, f engine.Field, v any) string {
	switch f.Kind {
	case engine.String:
		s, ok := v.(string)
		if !ok || s == "" {
			t.Errorf("%s: %#v is not a non-empty string", f.Name, v)
		}
		return strconv.Quote(s) + codepoints(s)
	case engine.Time, engine.Date:
		tm, ok := v.(time.Time)
		if !ok || tm.IsZero() || tm.Location() != tokyo {
			t.Errorf("%s: %#v is not a time in Asia/Tokyo", f.Name, v)
		}
		if f.Kind == engine.Date {
			if tm.Hour() != 0 || tm.Minute() != 0 || tm.Second() != 0 {
				t.Errorf("%s: date %v is not midnight", f.Name, tm)
			}
			return "date " + tm.Format("2006-01-02")
		}
		return "time " + tm.Format("2006-01-02 15:04:05 MST")
	}
	t.Errorf("%s: unexpected kind %v", f.Name, f.Kind)
	return fmt.Sprint(v)
}

// codepoints spells out the characters that look alike but differ between
// the CP932 and JIS mappings, so that the golden files show which one the
// reader produced.
func codepoints(s string) string {
	var cps []string
	seen := map[rune]bool{}
	for _, r := range s {
		if strings.ContainsRune("〜～−－‖∥¢￠£￡¬￢―—＼\\~￣‾¥", r) && !seen[r] {
			seen[r] = true
			cps = append(cps, fmt.Sprintf("%c=%U", r, r))
		}
	}
	if cps == nil {
		return ""
	}
	sort.Strings(cps)
	return " [" + strings.Join(cps, " ") + "]"
}
