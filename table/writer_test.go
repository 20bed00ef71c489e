package table

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestWriterAsTabwriter: on ASCII text the Writer lays out exactly as the
// tabwriter the commands used (minwidth 0, padding 2, spaces), columns,
// headings, ragged lines and all.
func TestWriterAsTabwriter(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"one line", "a\tbb\tccc\n"},
		{"table", "run\tjob\tstatus\terror\n1\tship\tok\t\n12\timport-orders\tfailed\tsome record failed\n"},
		{"empty column", "a\t\tc\nd\t\tf\n"},
		{"heading breaks the columns", "  settings:\n    api_domain\trequired\tthe host\n    timeout\t\tper call\n  fields:\n    order_no\tstring\trequired\tthe order\n    x\tint\t\tmore\n"},
		{"ragged", "a\tb\tc\nlonger\tb\nx\ty\tz\tw\n"},
		{"no final newline", "a\tb\nccc\td"},
		{"trailing tab", "a\tb\t\nccc\td\t\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want, got bytes.Buffer
			tw := tabwriter.NewWriter(&want, 0, 4, 2, ' ', 0)
			tw.Write([]byte(tt.in))
			tw.Flush()
			w := NewWriter(&got)
			w.Write([]byte(tt.in))
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("got\n%q\nwant (tabwriter)\n%q", got.String(), want.String())
			}
		})
	}
}

// TestWriterJapanese: cells in Japanese, half-width katakana and emoji
// line up by the cells a terminal draws; the goldens show it.
func TestWriterJapanese(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"shop", "order\tshipment status\torder status\tshipping date\n" +
			"100000001201\t発送済み\tCOMPLETED\t2026-11-26\n" +
			"100000001203\t未発送\tAWAITING_SHIPMENT\t-\n"},
		{"failures", "job\tkey\tcode\treason\n" +
			"発送情報の更新\t100000001201/1\tCannotUpdateStorePickup\t店舗受取の発送先は更新できません\n" +
			"shipping\t100000001206/1\tTooLong\tinvoice_no is over 100 bytes\n"},
		{"mixed widths", "name\tnote\tn\n" +
			"ﾊﾝｶｸｶﾅ\thalf-width\t1\n" +
			"ＺＥＮＫＡＫＵ\tfull-width\t2\n" +
			"👍🏽 ok\temoji\t3\n" +
			"𠮷野家\tCJK extension B\t4\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			w := NewWriter(&got)
			w.Write([]byte(tt.in))
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			golden(t, "japanese-"+strings.ReplaceAll(tt.name, " ", "-"), got.String())
			// Every line's cells start where the header's do.
			lines := strings.Split(strings.TrimSuffix(got.String(), "\n"), "\n")
			head := starts(strings.Split(strings.TrimSuffix(tt.in, "\n"), "\n")[0], lines[0])
			for i, l := range lines[1:] {
				cells := strings.Split(strings.Split(strings.TrimSuffix(tt.in, "\n"), "\n")[i+1], "\t")
				if s := starts(strings.Join(cells, "\t"), l); !equal(s, head) {
					t.Errorf("line %d starts its cells at %v, the header at %v:\n%s", i+2, s, head, got.String())
				}
			}
		})
	}
}

// starts returns the display columns where the cells of in begin in out.
func starts(in, out string) []int {
	var s []int
	col := 0
	for _, cell := range strings.Split(in, "\t") {
		i := strings.Index(out, cell)
		col += Width(out[:i])
		s = append(s, col)
		col += Width(cell)
		out = out[i+len(cell):]
	}
	return s
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\ngot\n%s\nwant\n%s", path, got, want)
	}
}
