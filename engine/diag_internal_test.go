package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestIsWide: the caret under a diagnostic counts two cells for every
// wide character, those outside the Basic Multilingual Plane too.
func TestIsWide(t *testing.T) {
	tests := []struct {
		r    rune
		wide bool
	}{
		{'a', false},
		{'漢', true},
		{'Ａ', true},          // full-width letter
		{'ｱ', false},         // half-width katakana
		{'\U0002000B', true}, // CJK Extension B
		{'\U0001F600', true}, // emoji
		{'é', false},
	}
	for _, tt := range tests {
		if got := isWide(tt.r); got != tt.wide {
			t.Errorf("isWide(%U) = %v, want %v", tt.r, got, tt.wide)
		}
	}
	if got := displayWidth("a漢\U0002000B😀b", 1, 4); got != 6 {
		t.Errorf("displayWidth = %d, want 6", got)
	}
}

// TestContent: a misspelt argument is reported at its line with the name
// it misspells, and that name is then not also reported missing.
func TestContent(t *testing.T) {
	schema := &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "api_domain", Required: true}, {Name: "shop_key", Required: true}, {Name: "timeout"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "columns"}},
	}
	tests := []struct {
		name, src string
		want      []string // "line: Summary; Detail"
	}{
		{"valid", "api_domain = \"a\"\nshop_key = \"k\"\n", nil},
		{"misspelt required", "api_domian = \"a\"\nshop_key = \"k\"\n", []string{
			`1: Unsupported argument; An argument named "api_domian" is not expected here. Did you mean api_domain?`}},
		{"far from any name", "api_domain = \"a\"\nzzz = 1\n", []string{
			`2: Unsupported argument; An argument named "zzz" is not expected here.`,
			`0: Missing required argument; The argument "shop_key" is required, but no definition was found.`}},
		{"block as argument", "api_domain = \"a\"\nshop_key = \"k\"\ncolumns = {}\n", []string{
			`3: Unsupported argument; An argument named "columns" is not expected here. Did you mean to define a block of type "columns"?`}},
		{"misspelt block", "api_domain = \"a\"\nshop_key = \"k\"\ncolumsn {}\n", []string{
			`3: Unsupported block type; Blocks of type "columsn" are not expected here. Did you mean columns?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, d := hclsyntax.ParseConfig([]byte(tt.src), "t.hcl", hcl.InitialPos)
			if d.HasErrors() {
				t.Fatal(d)
			}
			_, diags := Content(f.Body, schema)
			var got []string
			for _, d := range diags {
				line := d.Subject.Start.Line
				if d.Summary == "Missing required argument" {
					line = 0 // the body's brace, which a file's root body has not
				}
				got = append(got, fmt.Sprintf("%d: %s", line, message(d)))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
