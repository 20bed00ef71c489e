package goq

import (
	"bufio"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"

	"github.com/goqsync/runner/engine"
)

// benchRows is the size of the export issue 4's benchmark names.
const benchRows = 1_000_000

// writeExport writes a CP932 export of n rows shaped like the shared sample:
// three stores, a handful of statuses and carriers, timestamps spread over
// a year, some notes and delivery slots.
func writeExport(tb testing.TB, path string, n int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := japanese.ShiftJIS.NewEncoder()
	sjis := func(s string) string {
		e, err := enc.String(s)
		if err != nil {
			tb.Fatal(err)
		}
		return e
	}
	w.WriteString(sjis("GoQ番号,受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,配送会社,お荷物伝票番号,お届け指定日,お届け時間帯,備考\r\n"))
	stores := []string{sjis("FutureShop 1号店"), sjis("楽天市場店"), sjis("Yahoo!ショッピング店")}
	statuses := []string{sjis("出荷済み"), sjis("新規受付"), sjis("キャンセル"), sjis("発送待ち"), sjis("★発送済み")}
	carriers := []string{sjis("ヤマト運輸"), sjis("佐川急便"), sjis("日本郵便")}
	slots := []string{"", sjis("午前中"), sjis("14時～16時"), sjis("18時～20時")}
	notes := []string{"", "", "", sjis("ギフト包装"), sjis("\"のし\"\"御歳暮\"\"\n2行目\"")}
	base := time.Date(2026, 11, 28, 10, 0, 0, 0, tokyo)
	for i := 0; i < n; i++ {
		ordered := base.Add(-time.Duration(i%365*24+i%24) * time.Hour)
		updated := base.Add(-time.Duration(i%10*24+i%60) * time.Hour)
		shipped, delivery := "", ""
		if i%3 != 0 {
			shipped = updated.Format("2006-01-02")
		}
		if i%4 == 0 {
			delivery = updated.AddDate(0, 0, 2).Format("2006/01/02")
		}
		fmt.Fprintf(w, "%d,1%011d,%s,%s,%s,%s,%s,%s,%012d,%s,%s,%s\r\n",
			200000+i, i, stores[i%len(stores)], ordered.Format("2006-01-02 15:04:05"),
			statuses[i%len(statuses)], updated.Format("2006-01-02 15:04:05"), shipped,
			carriers[i%len(carriers)], int64(i)*7919%1_000_000_000_000, delivery,
			slots[i%len(slots)], notes[i%len(notes)])
	}
	if err := w.Flush(); err != nil {
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

var exportFile = flag.String("export-file", "", "TestWriteExport writes the 1,000,000-row benchmark export here")

// TestWriteExport writes the benchmark's export to -export-file, for
// whole-process measurements of runner plan against the hand loop in
// testdata/handloop. Without the flag it does nothing.
func TestWriteExport(t *testing.T) {
	if *exportFile == "" {
		t.Skip("set -export-file to write the benchmark export")
	}
	writeExport(t, *exportFile, benchRows)
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
