package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestCheckNesting counts what HCL's parser will recurse on, and only that:
// brackets in strings, comments and heredocs are text; interpolations open
// a level.
func TestCheckNesting(t *testing.T) {
	deep := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	for _, tt := range []struct {
		name string
		src  string
		want string // "" when it passes; else the position it names
	}{
		{"flat", `a = [1, 2, {b = (3)}]`, ""},
		{"at the bound", "a = " + deep("[", "]", MaxNesting), ""},
		{"past the bound", "a = " + deep("[", "]", MaxNesting+1), "1:105"},
		{"mixed", "a = " + deep("{b=[(", ")]}", 40), "1:173"},
		{"in a block", "job \"x\" {\n  a = " + deep("[", "]", MaxNesting) + "\n}", "2:106"},
		{"brackets in a string", `a = "` + strings.Repeat("[", 500) + `"`, ""},
		{"escaped quote", `a = "\"` + strings.Repeat("(", 500) + `"`, ""},
		{"interpolations", `a = "` + deep("${", "}", MaxNesting+1) + `"`, "1:205"},
		{"literal $${", `a = "` + strings.Repeat("$${", 500) + `"`, ""},
		{"comments", "# " + strings.Repeat("[", 500) + "\n// " + strings.Repeat("{", 500) + "\n/* " + strings.Repeat("(", 500) + " */\na = 1", ""},
		{"heredoc", "a = <<EOT\n" + strings.Repeat("[", 500) + "\nEOT\nb = 1", ""},
		{"indented heredoc", "a = <<-EOT\n  " + strings.Repeat("{", 500) + "\n  EOT\n", ""},
		{"wide characters", "# 日本語\na = " + deep("[", "]", MaxNesting+1), "2:105"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := checkNesting([]byte(tt.src), "f.hcl", hcl.InitialPos)
			switch {
			case tt.want == "" && d.HasErrors():
				t.Errorf("refused: %s", d)
			case tt.want != "" && !d.HasErrors():
				t.Errorf("passed, want refused at %s", tt.want)
			case tt.want != "":
				if got := fmt.Sprintf("%d:%d", d[0].Subject.Start.Line, d[0].Subject.Start.Column); got != tt.want {
					t.Errorf("at %s, want %s", got, tt.want)
				}
			}
		})
	}
	if err := exprNesting(`a == '(((' && ` + deep("(", ")", MaxNesting)); err != nil {
		t.Errorf("expression at the bound: %v", err)
	}
	if err := exprNesting(deep("(", ")", MaxNesting+1)); err == nil {
		t.Error("expression past the bound passed")
	}
}
