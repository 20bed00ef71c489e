package goq

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
)

// fingerprints reads export with a source that uses only order_no (as a job
// reading no 最終更新日時 would) and returns each row's fingerprint.
func fingerprints(t *testing.T, export string) map[string]engine.Fingerprint {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "orders.csv"), []byte(export), 0o644); err != nil {
		t.Fatal(err)
	}
	src, diags := NewSource(parseBody(t, "source.hcl", []byte(`path = "`+filepath.Join(dir, "orders.csv")+`"`)), testSettings())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	src.(engine.FieldUser).UseFields([]string{"order_no"})
	recs, err := src.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer recs.Close()
	out := map[string]engine.Fingerprint{}
	for rec := (engine.Record{}); ; clear(rec) {
		if _, err := recs.Next(context.Background(), rec); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out[rec["order_no"].(string)] = recs.(engine.Fingerprinter).Fingerprint()
	}
}

// TestFingerprint: a row's fingerprint changes with any cell, read or not,
// and carries its 最終更新日時 even when no expression reads it.
func TestFingerprint(t *testing.T) {
	const head = "GoQ番号,受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,配送会社,お荷物伝票番号,お届け指定日,お届け時間帯,備考\n"
	row := func(no, updated, note string) string {
		return "1," + no + ",FutureShop 1号店,2026-11-20 14:03:11,出荷済み," + updated + ",2026-11-26,ヤマト運輸,123,,," + note + "\n"
	}
	base := fingerprints(t, head+row("A", "2026-11-26 09:12:40", "")+row("B", "2026-11-26 09:12:40", ""))
	if want := time.Date(2026, 11, 26, 9, 12, 40, 0, tokyo); !base["A"].Updated.Equal(want) {
		t.Errorf("updated %v, want %v", base["A"].Updated, want)
	}
	if base["A"].Hash == base["B"].Hash || len(base["A"].Hash) != 64 {
		t.Errorf("two rows, hashes %q and %q", base["A"].Hash, base["B"].Hash)
	}
	tests := []struct {
		name, export string
		same         bool
	}{
		{"the same row again", head + row("A", "2026-11-26 09:12:40", ""), true},
		{"a note no job reads", head + row("A", "2026-11-26 09:12:40", "ギフト"), false},
		{"a comma moved between cells", head + "1,A,FutureShop 1号店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,ヤマト運輸,12,3,,\n", false},
		{"a later 最終更新日時", head + row("A", "2026-11-27 09:12:40", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fingerprints(t, tt.export)["A"]
			if (got.Hash == base["A"].Hash) != tt.same {
				t.Errorf("hash %s, the first %s: same = %v, want %v", got.Hash, base["A"].Hash, !tt.same, tt.same)
			}
		})
	}
}
