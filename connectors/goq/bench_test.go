package goq

import (
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"

	"github.com/goqsync/runner/connectors/goq/goqtest"
	"github.com/goqsync/runner/engine"
)

// benchRows is the size of the export issue 4's benchmark names.
const benchRows = 1_000_000

// writeExport writes the benchmark's export (goqtest.WriteExport) to path.
func writeExport(tb testing.TB, path string, n int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := goqtest.WriteExport(f, n); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// The three seed rules at 2026-11-28 10:00 JST (design.md §1).
var (
	benchStore    = "FutureShop 1号店"
	updatedFloor  = time.Date(2026, 11, 24, 0, 0, 0, 0, tokyo)
	orderedFloor  = time.Date(2026, 6, 11, 0, 0, 0, 0, tokyo)
	benchExcluded = map[string]bool{"新規受付": true, "キャンセル": true}
)

// BenchmarkReader reads a generated 1,000,000-row CP932 export through
// the goq_csv source and applies the three seed rules to each typed
// record. One op is the whole file; per-row figures are reported too.
//
//	go test -run '^$' -bench 'Reader|HandLoop' -benchtime 3x -count 3 ./connectors/goq
func BenchmarkReader(b *testing.B) {
	path := filepath.Join(b.TempDir(), "export.csv")
	writeExport(b, path, benchRows)
	src, diags := NewSource(parseBody(b, "b.hcl", []byte(`path = "`+filepath.ToSlash(path)+`"`+"\n")), testSettings())
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	ctx := context.Background()
	measure(b, func() int {
		rows, err := src.Open(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		rec := engine.Record{}
		kept := 0
		for {
			clear(rec)
			_, err := rows.Next(ctx, rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			store, _ := rec["store"].(string)
			status, _ := rec["status"].(string)
			updated, _ := rec["updated_at"].(time.Time)
			ordered, _ := rec["ordered_at"].(time.Time)
			if store == benchStore && !benchExcluded[status] &&
				!updated.Before(updatedFloor) && !ordered.Before(orderedFloor) {
				kept++
			}
		}
		return kept
	})
}

// BenchmarkHandLoop is the yardstick: a plain loop that decodes the same
// file with x/text's Shift_JIS decoder and encoding/csv and applies the
// same three rules by hand.
func BenchmarkHandLoop(b *testing.B) {
	path := filepath.Join(b.TempDir(), "export.csv")
	writeExport(b, path, benchRows)
	measure(b, func() int {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		r := csv.NewReader(transform.NewReader(f, japanese.ShiftJIS.NewDecoder()))
		r.ReuseRecord = true
		header, err := r.Read()
		if err != nil {
			b.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range header {
			col[h] = i
		}
		iStore, iStatus, iUpdated, iOrdered := col["販売店舗"], col["受注ステータス"], col["最終更新日時"], col["注文日"]
		kept := 0
		for {
			row, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if row[iStore] != benchStore || benchExcluded[row[iStatus]] {
				continue
			}
			updated, err := time.ParseInLocation("2006-01-02 15:04:05", row[iUpdated], tokyo)
			if err != nil || updated.Before(updatedFloor) {
				continue
			}
			ordered, err := time.ParseInLocation("2006-01-02 15:04:05", row[iOrdered], tokyo)
			if err != nil || ordered.Before(orderedFloor) {
				continue
			}
			kept++
		}
		return kept
	})
}

// measure runs pass b.N times and reports per-row figures besides the
// per-file ones.
func measure(b *testing.B, pass func() int) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	kept := 0
	for i := 0; i < b.N; i++ {
		kept = pass()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	rows := float64(b.N) * benchRows
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rows, "ns/row")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/rows, "allocs/row")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/rows, "B/row")
	b.ReportMetric(float64(kept), "kept")
}

// BenchmarkSurvey is the reader's first pass alone over the 1,000,000-row
// export: what finding repeated orders, encodings and line ends costs
// before the first record is read.
//
//	go test -run '^$' -bench Survey -benchtime 3x -count 3 ./connectors/goq
func BenchmarkSurvey(b *testing.B) {
	path := filepath.Join(b.TempDir(), "export.csv")
	writeExport(b, path, benchRows)
	src, diags := newSource(parseBody(b, "b.hcl", []byte(`path = "`+filepath.ToSlash(path)+`"`+"\n")), testSettings())
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	ctx := context.Background()
	measure(b, func() int {
		sv, err := src.survey(ctx, []string{path})
		if err != nil {
			b.Fatal(err)
		}
		return len(sv.dup)
	})
}
