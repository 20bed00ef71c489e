package engine

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
)

// Bounds on what the loader reads. Parsers recurse once per level of
// nesting, and a file of a few hundred thousand brackets is enough to
// overflow Go's stack, which no recover can catch: a bad file must be
// refused before it reaches a parser, never crash validate or a serve
// reloading it.
const (
	// MaxFileBytes bounds a job or variable file. Real ones are a few KiB.
	MaxFileBytes = 1 << 20
	// MaxValueBytes bounds one -var value.
	MaxValueBytes = 256 << 10
	// MaxNesting bounds brackets, braces, parentheses and template
	// interpolations inside one another, in HCL and in expressions. Real
	// job files nest fewer than ten levels.
	MaxNesting = 100
)

// readBounded reads a job or variable file, refusing one too large.
func readBounded(path string) ([]byte, hcl.Diagnostics) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read file", Detail: err.Error()}}
	}
	if fi.Size() > MaxFileBytes {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "File too large",
			Detail:  fmt.Sprintf("%s is %d bytes; a job or variable file may hold at most %d (1 MiB).", path, fi.Size(), MaxFileBytes),
			Subject: &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}}}
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read file", Detail: err.Error()}}
	}
	return src, checkNesting(src, path, hcl.InitialPos)
}

// checkNesting refuses HCL source nested deeper than MaxNesting, pointing
// at the bracket that goes too deep. It follows HCL's lexical structure
// well enough to count only what the parser will: brackets in strings and
// comments are text, interpolations ${ … } and %{ … } open a level.
func checkNesting(src []byte, filename string, start hcl.Pos) hcl.Diagnostics {
	const (
		code = iota
		str  // inside "…"
	)
	stack := []int{code} // the mode of each open level
	pos := start
	advance := func(n int) {
		for _, c := range src[pos.Byte-start.Byte : pos.Byte-start.Byte+n] {
			if c == '\n' {
				pos.Line, pos.Column = pos.Line+1, 1
			} else if c < 0x80 || c >= 0xC0 {
				pos.Column++
			}
		}
		pos.Byte += n
	}
	deep := func() hcl.Diagnostics {
		end := pos
		end.Byte++
		end.Column++
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Nested too deeply",
			Detail:  fmt.Sprintf("Brackets, braces and interpolations nest more than %d levels deep here; no job needs that many, and parsing it could exhaust the stack.", MaxNesting),
			Subject: &hcl.Range{Filename: filename, Start: pos, End: end}}}
	}
	for i := 0; i < len(src); {
		c := src[i]
		mode := stack[len(stack)-1]
		n := 1
		if mode == str {
			switch {
			case c == '\\' && i+1 < len(src):
				n = 2
			case c == '"':
				stack = stack[:len(stack)-1]
			case (c == '$' || c == '%') && i+2 < len(src) && src[i+1] == c && src[i+2] == '{':
				n = 3 // $${ and %%{ are literal text
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				if len(stack) > MaxNesting {
					return deep()
				}
				stack = append(stack, code)
				n = 2
			}
			advance(n)
			i += n
			continue
		}
		switch {
		case c == '"':
			stack = append(stack, str)
		case c == '#' || (c == '/' && i+1 < len(src) && src[i+1] == '/'):
			for n = 0; i+n < len(src) && src[i+n] != '\n'; n++ {
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			n = 2
			for i+n+1 < len(src) && !(src[i+n] == '*' && src[i+n+1] == '/') {
				n++
			}
			n = min(n+2, len(src)-i)
		case c == '<' && i+1 < len(src) && src[i+1] == '<':
			// A heredoc is text up to its marker line; its interpolations
			// are rare enough to count as text too, and the marker search
			// keeps this linear.
			n = heredoc(src[i:])
		case c == '(' || c == '[' || c == '{':
			if len(stack) > MaxNesting {
				return deep()
			}
			stack = append(stack, code)
		case c == ')' || c == ']' || c == '}':
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
		}
		advance(n)
		i += n
	}
	return nil
}

// heredoc returns the length of a heredoc starting at b ("<<EOT\n…\nEOT"),
// or 2 when b is not one.
func heredoc(b []byte) int {
	i := 2
	if i < len(b) && b[i] == '-' {
		i++
	}
	j := i
	for j < len(b) && (b[j] == '_' || b[j] >= 'A' && b[j] <= 'Z' || b[j] >= 'a' && b[j] <= 'z' || b[j] >= '0' && b[j] <= '9') {
		j++
	}
	if j == i || j >= len(b) || (b[j] != '\n' && b[j] != '\r') {
		return 2
	}
	marker := string(b[i:j])
	for k := j; k < len(b); {
		e := k
		for e < len(b) && b[e] != '\n' {
			e++
		}
		line := b[k:e]
		for len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			line = line[1:]
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if k > j && string(line) == marker {
			return e
		}
		k = e + 1
	}
	return len(b)
}

// exprNesting refuses an expr-lang expression nested deeper than
// MaxNesting. Quoted strings in it are text.
func exprNesting(src string) error {
	depth := 0
	var quote byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '(' || c == '[' || c == '{':
			if depth++; depth > MaxNesting {
				return fmt.Errorf("the expression nests more than %d levels deep", MaxNesting)
			}
		case c == ')' || c == ']' || c == '}':
			depth--
		}
	}
	return nil
}
