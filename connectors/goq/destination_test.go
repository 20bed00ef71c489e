package goq

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"

	"github.com/goqsync/runner/engine"
)

func newTestDestination(t *testing.T, cfg string) (*Destination, string) {
	t.Helper()
	dir := t.TempDir()
	body := parseBody(t, "dest.hcl", []byte(strings.ReplaceAll(cfg, "DIR", filepath.ToSlash(dir))))
	d, diags := NewDestination(body, testSettings())
	if diags.HasErrors() {
		t.Fatalf("NewDestination: %s", diags)
	}
	return d.(*Destination), dir
}

const importConfig = `
dir     = "DIR"
prefix  = "fs-orders-"
columns = ["order_no", "line_no", "product_name", "unit_price", "note"]
headers = { order_no = "受注番号", line_no = "明細行", product_name = "商品名", unit_price = "単価" }
types   = { line_no = "int", unit_price = "int" }
key     = ["order_no", "line_no"]
`

func payload(d *Destination, v map[string]any) engine.Payload {
	return engine.Payload{Key: d.Key(v), Pos: "test", Values: v}
}

func TestDestinationCP932(t *testing.T) {
	d, dir := newTestDestination(t, importConfig)
	fields := d.Fields()
	if got := len(fields); got != 5 {
		t.Fatalf("%d fields", got)
	}
	if !fields[0].Required || !fields[1].Required || fields[2].Required || fields[1].Kind != engine.Int || fields[2].Kind != engine.String {
		t.Errorf("fields = %+v", fields)
	}
	ctx := engine.WithNow(context.Background(), testNow)
	c, err := d.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch := []engine.Payload{
		payload(d, map[string]any{"order_no": "100000001201", "line_no": int64(1), "product_name": "マグカップ〜①㈱髙 ＼ −5", "unit_price": int64(1980)}),
		payload(d, map[string]any{"order_no": "100000001201", "line_no": int64(2), "product_name": "𠮷野家の湯呑み", "unit_price": int64(500)}),
		payload(d, map[string]any{"order_no": "100000001202", "line_no": int64(1), "product_name": "包装, \"のし\"\n付き", "unit_price": int64(0), "note": "～"}),
		payload(d, map[string]any{"order_no": "100000001203", "line_no": int64(1), "product_name": "絵文字😀"}),
	}
	res, err := c.Write(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	wantOK := []bool{true, false, true, false}
	for i, r := range res {
		if r.OK != wantOK[i] {
			t.Errorf("result %d = %+v, want OK %v", i, r, wantOK[i])
		}
	}
	if m := res[1].Message; !strings.Contains(m, "100000001201/2") || !strings.Contains(m, "𠮷") || !strings.Contains(m, "U+20BB7") || !strings.Contains(m, "product_name") || !res[1].Permanent {
		t.Errorf("unencodable result = %+v", res[1])
	}
	if m := res[3].Message; !strings.Contains(m, "😀") || !strings.Contains(m, "100000001203/1") {
		t.Errorf("unencodable result = %+v", res[3])
	}
	// Nothing appears under a visible name before Close.
	if names := visible(t, dir); len(names) != 0 {
		t.Errorf("before Close: %v", names)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	names := visible(t, dir)
	if len(names) != 1 || names[0] != "fs-orders-20261128-100000.csv" {
		t.Fatalf("files after Close: %v (and hidden: %v)", names, all(t, dir))
	}
	if h := hidden(t, dir); len(h) != 0 {
		t.Errorf("temporary files left: %v", h)
	}
	raw, err := os.ReadFile(filepath.Join(dir, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	want := "受注番号,明細行,商品名,単価,note\r\n" +
		"100000001201,1,マグカップ～①㈱髙 ＼ －5,1980,\r\n" +
		"100000001202,1,\"包装, \"\"のし\"\"\r\n付き\",0,～\r\n"
	wantRaw, err := japanese.ShiftJIS.NewEncoder().String(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, []byte(wantRaw)) {
		got, _ := japanese.ShiftJIS.NewDecoder().Bytes(raw)
		t.Errorf("file:\n%q\nwant:\n%q", got, want)
	}
	// The bytes GoQ sees for the tricky characters.
	for _, b := range [][]byte{{0x81, 0x60}, {0x87, 0x40}, {0x87, 0x8a}, {0xee, 0xe0}, {0x81, 0x7c}} {
		if !bytes.Contains(raw, b) {
			t.Errorf("file lacks % x", b)
		}
	}
}

func TestDestinationUTF8(t *testing.T) {
	d, dir := newTestDestination(t, `dir = "DIR"
encoding = "utf-8"
columns = ["order_no", "name"]`)
	ctx := engine.WithNow(context.Background(), testNow)
	c, err := d.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Write(ctx, []engine.Payload{payload(d, map[string]any{"order_no": "A1", "name": "𠮷😀〜"})})
	if err != nil || !res[0].OK {
		t.Fatal(res, err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "20261128-100000.csv"))
	if string(raw) != "order_no,name\r\nA1,𠮷😀〜\r\n" {
		t.Errorf("file = %q", raw)
	}
}

// TestDestinationNeverOverwrites runs three times in the same second, with
// a file of the final name already there.
func TestDestinationNeverOverwrites(t *testing.T) {
	d, dir := newTestDestination(t, importConfig)
	existing := filepath.Join(dir, "fs-orders-20261128-100000.csv")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := engine.WithNow(context.Background(), testNow)
	for i := 0; i < 2; i++ {
		c, err := d.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(ctx, []engine.Payload{payload(d, map[string]any{"order_no": "A", "line_no": int64(i)})}); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("existing file overwritten: %q", b)
	}
	got := strings.Join(visible(t, dir), " ")
	if want := "fs-orders-20261128-100000-2.csv fs-orders-20261128-100000-3.csv fs-orders-20261128-100000.csv"; got != want {
		t.Errorf("files = %s, want %s", got, want)
	}
}

func TestDestinationEmptyRunLeavesNoFile(t *testing.T) {
	d, dir := newTestDestination(t, importConfig)
	ctx := engine.WithNow(context.Background(), testNow)
	c, err := d.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all(t, dir)) != 1 {
		t.Errorf("Open should create one temporary file: %v", all(t, dir))
	}
	// Only an unencodable row: nothing written.
	if _, err := c.Write(ctx, []engine.Payload{payload(d, map[string]any{"order_no": "😀", "line_no": int64(1)})}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if names := all(t, dir); len(names) != 0 {
		t.Errorf("files = %v", names)
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Write(ctx, nil); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func TestDestinationConfigErrors(t *testing.T) {
	body := parseBody(t, "dest.hcl", []byte(`dir = ""
prefix = "../x"
encoding = "latin1"
columns = ["a", "a", "b c"]
headers = { z = "Z", a = "😀" }
types = { a = "float", y = "int" }
key = ["k"]
`))
	_, diags := NewDestination(body, testSettings())
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary)
	}
	for _, w := range []string{"Empty dir", "Invalid prefix", "Unknown encoding", "Duplicate column", "Invalid column name", "Unknown column", "Unknown type", "Unknown key column", "Header cannot be written in CP932"} {
		if !strings.Contains(strings.Join(got, "|"), w) {
			t.Errorf("no %q diagnostic in %q", w, got)
		}
	}
}

func TestRegister(t *testing.T) {
	r := engine.NewRegistry()
	Register(r)
	src, ok := r.Source("goq_csv")
	dst, ok2 := r.Destination("goq_csv")
	if !ok || !ok2 || len(src.Fields) == 0 || len(dst.Fields) != 0 || len(dst.Actions) != 0 {
		t.Fatalf("registered %+v, %+v", src, dst)
	}
}

func all(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func visible(t *testing.T, dir string) []string {
	var v []string
	for _, n := range all(t, dir) {
		if !strings.HasPrefix(n, ".") {
			v = append(v, n)
		}
	}
	return v
}

func hidden(t *testing.T, dir string) []string {
	var v []string
	for _, n := range all(t, dir) {
		if strings.HasPrefix(n, ".") {
			v = append(v, n)
		}
	}
	return v
}

// TestDestinationStagesUntilClose: rows are staged in a hidden file named
// by the token; Close commits them at once. Resolve tells a committed
// token from one whose file a crash left behind, and removes the latter and
// every other leftover of the job.
func TestDestinationStagesUntilClose(t *testing.T) {
	d, dir := newTestDestination(t, importConfig)
	ctx := engine.WithNow(context.Background(), testNow)
	write := func() (string, engine.Conn) {
		c, err := d.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(ctx, []engine.Payload{payload(d, map[string]any{"order_no": "A", "line_no": int64(1)})}); err != nil {
			t.Fatal(err)
		}
		return c.(engine.Stager).StageToken(), c
	}
	committed, c := write()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	crashed, _ := write() // the process dies before Close
	stray := filepath.Join(dir, d.tmpPrefix()+"left-by-a-crash"+tmpSuffix)
	os.WriteFile(stray, []byte("half"), 0o600)
	other := filepath.Join(dir, ".fs-orders-otherjob-1.tmp")
	os.WriteFile(other, []byte("another job's"), 0o600)

	got, err := d.Resolve(ctx, []string{committed, crashed})
	if err != nil {
		t.Fatal(err)
	}
	if !got[committed] || got[crashed] {
		t.Errorf("Resolve = %v; want %s committed and %s not", got, committed, crashed)
	}
	if h := hidden(t, dir); len(h) != 1 || h[0] != filepath.Base(other) {
		t.Errorf("hidden files after Resolve: %v; want only another job's", h)
	}
	if _, err := d.Resolve(ctx, []string{"../etc/passwd"}); err == nil {
		t.Error("Resolve accepted a token outside the job's files")
	}
}

// TestDestinationDefusesFormulas: a text cell that starts like a formula
// gets a leading apostrophe; numbers, numeric columns and the setting off
// are left alone. The file's mode is the one configured.
func TestDestinationDefusesFormulas(t *testing.T) {
	for _, tt := range []struct {
		cfg  string
		want string
		mode os.FileMode
	}{
		{"", "'=HYPERLINK(\"http://x\"),'+cmd|' /C calc'!A0,'@SUM(A1),'-x,-5,+81,5", 0o640},
		{"formula_guard = false\nfile_mode = \"0600\"", "=HYPERLINK(\"http://x\"),+cmd|' /C calc'!A0,@SUM(A1),-x,-5,+81,5", 0o600},
	} {
		d, dir := newTestDestination(t, `dir = "DIR"
encoding = "utf-8"
columns = ["order_no", "a", "b", "c", "d", "e", "f", "n"]
types = { n = "int" }
`+tt.cfg)
		ctx := engine.WithNow(context.Background(), testNow)
		c, err := d.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v := map[string]any{"order_no": "=HYPERLINK(\"http://x\")", "a": "+cmd|' /C calc'!A0", "b": "@SUM(A1)", "c": "-x", "d": "-5", "e": "+81", "n": int64(5)}
		if res, err := c.Write(ctx, []engine.Payload{payload(d, v)}); err != nil || !res[0].OK {
			t.Fatal(res, err)
		}
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		names := visible(t, dir)
		raw, _ := os.ReadFile(filepath.Join(dir, names[0]))
		rows, _ := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if got := strings.Join(append(rows[1][:6], rows[1][7]), ","); got != tt.want {
			t.Errorf("%q: row %s, want %s", tt.cfg, got, tt.want)
		}
		if fi, _ := os.Stat(filepath.Join(dir, names[0])); fi.Mode().Perm() != tt.mode {
			t.Errorf("%q: mode %v, want %v", tt.cfg, fi.Mode().Perm(), tt.mode)
		}
	}
}
