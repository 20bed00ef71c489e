package goq

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqsync/runner/engine"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const header = "GoQ番号,受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,配送会社,お荷物伝票番号,お届け指定日,お届け時間帯,備考\n"

func TestInboxArchive(t *testing.T) {
	root := t.TempDir()
	inbox, archive := filepath.Join(root, "inbox"), filepath.Join(root, "archive")
	if err := os.Mkdir(inbox, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(inbox, "b.csv"), header+"2,B-1,店,2026-11-20,出荷済み,2026-11-26 09:00,,,,,,\n")
	writeFile(t, filepath.Join(inbox, "a.CSV"), header+"1,A-1,店,2026-11-20,出荷済み,2026-11-26 09:00,,,,,,\n")
	writeFile(t, filepath.Join(inbox, ".c.csv"), "half-written")
	writeFile(t, filepath.Join(inbox, "notes.txt"), "not an export")

	body := parseBody(t, "source.hcl", []byte(`inbox = "`+filepath.ToSlash(inbox)+`"
archive = "`+filepath.ToSlash(archive)+`"
`))
	es, diags := NewSource(body, testSettings())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	src := es.(*Source)
	ctx := context.Background()
	recs, err := src.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := recs.(*Rows)
	files := rows.Files()
	if len(files) != 2 || filepath.Base(files[0]) != "a.CSV" || filepath.Base(files[1]) != "b.csv" {
		t.Fatalf("Files() = %v", files)
	}
	var got []string
	for {
		rec := engine.Record{}
		meta, err := rows.Next(ctx, rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, meta.Pos+" "+rec["order_no"].(string))
	}
	if strings.Join(got, ",") != "a.CSV:2 A-1,b.csv:2 B-1" {
		t.Errorf("records = %v", got)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}

	// The archive already holds an a.CSV from an earlier day: keep both.
	if err := os.Mkdir(archive, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(archive, "a.CSV"), "older export")
	// A crash after linking b.csv into the archive and before removing
	// it from the inbox.
	if err := os.Link(files[1], filepath.Join(archive, "b.csv")); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := src.Archive(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(all(t, inbox), " "); got != ".c.csv notes.txt" {
		t.Errorf("inbox = %s", got)
	}
	if got := strings.Join(all(t, archive), " "); got != "a-2.CSV a.CSV b.csv" {
		t.Errorf("archive = %s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(archive, "a.CSV")); string(b) != "older export" {
		t.Errorf("archived file overwritten: %q", b)
	}

	if err := src.Archive(ctx, filepath.Join(root, "elsewhere.csv")); err == nil {
		t.Error("Archive of a file outside the inbox succeeded")
	}
	if err := src.Archive(ctx, files[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Archive of an archived file: %v", err)
	}

	// An empty inbox is a run with nothing to do.
	recs, err = src.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recs.Next(ctx, engine.Record{}); err != io.EOF {
		t.Errorf("empty inbox: %v", err)
	}
}

func TestArchiveWithoutInbox(t *testing.T) {
	body := parseBody(t, "source.hcl", []byte(`path = "x.csv"`))
	src, diags := NewSource(body, testSettings())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if err := src.(*Source).Archive(context.Background(), "x.csv"); err == nil {
		t.Error("Archive without an inbox succeeded")
	}
}

func TestNextHonoursContext(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(header)
	for i := 0; i < 3*ctxEvery; i++ {
		b.WriteString("1,A,店,2026-11-20,出荷済み,2026-11-26 09:00,,,,,,\n")
	}
	writeFile(t, filepath.Join(dir, "big.csv"), b.String())
	src, diags := NewSource(parseBody(t, "s.hcl", []byte(`path = "`+filepath.ToSlash(filepath.Join(dir, "big.csv"))+`"`)), testSettings())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := src.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cancel()
	n := 0
	for {
		_, err := rows.Next(ctx, engine.Record{})
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("after %d rows: %v", n, err)
			}
			break
		}
		n++
	}
	if n >= ctxEvery {
		t.Errorf("read %d rows after cancel", n)
	}
}
