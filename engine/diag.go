package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"golang.org/x/text/width"
)

// Diagnostics are hcl.Diagnostic used the HCL way: a terse Title-case
// Summary ("Unknown field"), a Detail that is a full sentence naming the
// place (filter "recent") and, where there is one, a "Did you mean …?",
// the Subject the mistake is in and, where known, the Context: the range
// of the block around it. Text, GitHub annotations and JSON all render
// from that one form, through place.

// Suggest returns the candidate closest to name, or "" when none is close
// enough to be a likely typo.
func Suggest(name string, candidates []string) string {
	best, bestDist := "", 3
	if len(name) <= 3 {
		bestDist = 2
	}
	for _, c := range candidates {
		if d := levenshtein.Distance(name, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean ends a Detail: " Did you mean PREFIXx?" for the candidate x
// closest to name, or "". Names are shown as written in the file, so an
// identifier is bare (api_domain, var.goq_export) and a label is quoted.
func didYouMean(name string, candidates []string, prefix string) string {
	if s := Suggest(name, candidates); s != "" {
		return " Did you mean " + prefix + s + "?"
	}
	return ""
}

// Content is body.Content(schema) with diagnostics that help more: an
// unsupported argument or block gets the schema's closest name ("Did you
// mean api_domain?"), and a required argument that an unsupported one
// misspells is not also reported missing: that is one mistake, and its
// place is the misspelt line, not the block's brace. Connectors call it
// before decoding their bodies with gohcl.
func Content(body hcl.Body, schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return body.Content(schema)
	}
	relaxed := &hcl.BodySchema{Blocks: schema.Blocks}
	for _, a := range schema.Attributes {
		a.Required = false
		relaxed.Attributes = append(relaxed.Attributes, a)
	}
	content, _, diags := sb.PartialContent(relaxed)
	var unset []string
	for _, a := range schema.Attributes {
		if _, ok := content.Attributes[a.Name]; !ok {
			unset = append(unset, a.Name)
		}
	}
	var blockTypes []string
	for _, b := range schema.Blocks {
		blockTypes = append(blockTypes, b.Type)
	}
	misspelt := map[string]bool{}
	var extra []*hclsyntax.Attribute
	for name, a := range sb.Attributes {
		if _, ok := content.Attributes[name]; !ok {
			extra = append(extra, a)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].SrcRange.Start.Byte < extra[j].SrcRange.Start.Byte })
	for _, a := range extra {
		detail := fmt.Sprintf("An argument named %q is not expected here.", a.Name)
		if s := Suggest(a.Name, unset); s != "" {
			misspelt[s] = true
			detail += " Did you mean " + s + "?"
		} else if slices.Contains(blockTypes, a.Name) {
			detail += fmt.Sprintf(" Did you mean to define a block of type %q?", a.Name)
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument",
			Detail: detail, Subject: a.NameRange.Ptr()})
	}
	for _, b := range sb.Blocks {
		if slices.Contains(blockTypes, b.Type) {
			continue
		}
		detail := fmt.Sprintf("Blocks of type %q are not expected here.", b.Type) + didYouMean(b.Type, blockTypes, "")
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported block type",
			Detail: detail, Subject: b.TypeRange.Ptr()})
	}
	for _, a := range schema.Attributes {
		if _, ok := content.Attributes[a.Name]; a.Required && !ok && !misspelt[a.Name] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required argument",
				Detail:  fmt.Sprintf("The argument %q is required, but no definition was found.", a.Name),
				Subject: body.MissingItemRange().Ptr()})
		}
	}
	return content, diags
}

// place is what every renderer reads from a diagnostic: its severity as a
// word, and its subject (nil when it has none) with an empty range widened
// to one character, so that a marker or a highlight always shows.
func place(d *hcl.Diagnostic) (severity string, subject *hcl.Range) {
	severity = "error"
	if d.Severity == hcl.DiagWarning {
		severity = "warning"
	}
	if d.Subject == nil {
		return severity, nil
	}
	r := *d.Subject
	if r.End.Byte <= r.Start.Byte {
		r.End = r.Start
		r.End.Byte++
		r.End.Column++
	}
	return severity, &r
}

// message is a diagnostic's summary and detail on one line, joined as
// hcl.Diagnostic.Error joins them.
func message(d *hcl.Diagnostic) string {
	if d.Detail == "" {
		return d.Summary
	}
	return d.Summary + "; " + strings.Join(strings.Fields(d.Detail), " ")
}

// DiagWriter renders diagnostics for people, for machines (JSON) and for
// GitHub Actions annotations.
type DiagWriter struct {
	Files map[string]*hcl.File // source text, for the offending line
}

// WriteText writes each diagnostic as one line, "file:line:col: severity:
// Summary; Detail", followed by the offending source line and a marker.
func (w *DiagWriter) WriteText(out io.Writer, diags hcl.Diagnostics) {
	for _, d := range diags {
		sev, subj := place(d)
		if subj != nil {
			fmt.Fprintf(out, "%s:%d:%d: ", subj.Filename, subj.Start.Line, subj.Start.Column)
		}
		fmt.Fprintf(out, "%s: %s\n", sev, message(d))
		if subj == nil {
			continue
		}
		f := w.Files[subj.Filename]
		if f == nil {
			continue
		}
		line, ok := sourceLine(f.Bytes, subj.Start.Line)
		if !ok {
			continue
		}
		num := fmt.Sprintf("%5d", subj.Start.Line)
		start := subj.Start.Column
		end := subj.End.Column
		line = strings.TrimRight(line, "\r")
		if subj.End.Line != subj.Start.Line {
			end = utf8.RuneCountInString(line) + 1
		}
		line, start, end = window(line, start, end)
		fmt.Fprintf(out, "%s | %s\n", num, line)
		if end <= start {
			end = start + 1
		}
		fmt.Fprintf(out, "%s | %s%s\n", strings.Repeat(" ", len(num)), pad(line, start-1), strings.Repeat("^", displayWidth(line, start-1, end-1)))
	}
}

// maxQuoted bounds the part of a source line a diagnostic quotes: a line
// of a million brackets must not become a million-column message.
const maxQuoted = 160

// window cuts a long source line to maxQuoted characters around the
// columns start and end (1-based, in characters), and moves them to match.
func window(line string, start, end int) (string, int, int) {
	runes := []rune(line)
	if len(runes) <= maxQuoted {
		return line, start, end
	}
	from := max(0, start-1-maxQuoted/4)
	to := min(len(runes), from+maxQuoted)
	end = min(end, to+1)
	prefix, suffix := "", ""
	if from > 0 {
		prefix = "…"
	}
	if to < len(runes) {
		suffix = "…"
	}
	shift := from - len([]rune(prefix))
	return prefix + string(runes[from:to]) + suffix, start - shift, end - shift
}

// pad returns spaces as wide as the first n characters of line, keeping
// tabs so the marker lines up, and counting wide characters as two.
func pad(line string, n int) string {
	var b strings.Builder
	i := 0
	for _, r := range line {
		if i >= n {
			break
		}
		switch {
		case r == '\t':
			b.WriteByte('\t')
		case isWide(r):
			b.WriteString("  ")
		default:
			b.WriteByte(' ')
		}
		i++
	}
	return b.String()
}

func displayWidth(line string, from, to int) int {
	w, i := 0, 0
	for _, r := range line {
		if i >= to {
			break
		}
		if i >= from {
			if isWide(r) {
				w += 2
			} else {
				w++
			}
		}
		i++
	}
	if w == 0 {
		w = 1
	}
	return w
}

// isWide reports East Asian wide and full-width characters, which
// terminals draw two cells wide (Unicode's East Asian Width, from
// x/text/width, so CJK Extension B and emoji count too).
func isWide(r rune) bool {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return true
	}
	return false
}

func sourceLine(src []byte, n int) (string, bool) {
	lines := strings.Split(string(src), "\n")
	if n < 1 || n > len(lines) {
		return "", false
	}
	return lines[n-1], true
}

// JSONDiag is the machine form of a diagnostic, in the shape of
// Terraform's (internal/command/views/json/diagnostic.go), so that tools
// built for terraform validate -json read it.
type JSONDiag struct {
	Severity string       `json:"severity"`
	Summary  string       `json:"summary"`
	Detail   string       `json:"detail"`
	Range    *JSONRange   `json:"range,omitempty"`
	Snippet  *JSONSnippet `json:"snippet,omitempty"`
}

// JSONRange is a diagnostic's subject.
type JSONRange struct {
	Filename string  `json:"filename"`
	Start    JSONPos `json:"start"`
	End      JSONPos `json:"end"`
}

// JSONPos is a position: line and column count from 1, byte from 0.
type JSONPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// JSONSnippet quotes the source of a diagnostic's subject: Code is its
// whole lines, the highlight offsets are bytes within Code, Context is the
// header of the enclosing block (job "ship", filter "recent").
type JSONSnippet struct {
	Context              *string          `json:"context"`
	Code                 string           `json:"code"`
	StartLine            int              `json:"start_line"`
	HighlightStartOffset int              `json:"highlight_start_offset"`
	HighlightEndOffset   int              `json:"highlight_end_offset"`
	Values               []JSONDiagValues `json:"values"`
}

// JSONDiagValues is Terraform's "values" entry. Runner never fills it in
// (a value could be a secret from env()), but keeps the key, an empty
// array, for readers that expect it.
type JSONDiagValues struct {
	Traversal string `json:"traversal"`
	Statement string `json:"statement"`
}

// JSON converts diagnostics to their machine form.
func (w *DiagWriter) JSON(diags hcl.Diagnostics) []JSONDiag {
	out := make([]JSONDiag, 0, len(diags))
	for _, d := range diags {
		sev, subj := place(d)
		j := JSONDiag{Severity: sev, Summary: d.Summary, Detail: d.Detail}
		if subj != nil {
			j.Range = &JSONRange{Filename: subj.Filename,
				Start: JSONPos{subj.Start.Line, subj.Start.Column, subj.Start.Byte},
				End:   JSONPos{subj.End.Line, subj.End.Column, subj.End.Byte}}
			if f := w.Files[subj.Filename]; f != nil {
				j.Snippet = snippet(f, *subj, d.Context)
			}
		}
		out = append(out, j)
	}
	return out
}

// snippet quotes the lines subj spans, as Terraform does, and names the
// block ctx is when the diagnostic has one.
func snippet(f *hcl.File, subj hcl.Range, ctx *hcl.Range) *JSONSnippet {
	s := &JSONSnippet{StartLine: subj.Start.Line, Values: []JSONDiagValues{}}
	if ctx != nil {
		if b := blockAt(f, *ctx); b != nil {
			h := blockHeader(b)
			s.Context = &h
		}
	}
	var code strings.Builder
	first := -1
	sc := hcl.NewRangeScanner(f.Bytes, subj.Filename, bufio.ScanLines)
	for sc.Scan() {
		r := sc.Range()
		last := subj.End.Line
		if last > subj.Start.Line && subj.End.Column == 1 {
			last-- // the subject ends with the line before
		}
		if r.Start.Line < subj.Start.Line || r.Start.Line > last {
			continue
		}
		if first < 0 {
			first = r.Start.Byte
		} else {
			code.WriteByte('\n')
		}
		code.Write(r.SliceBytes(f.Bytes))
	}
	s.Code = code.String()
	clamp := func(n int) int { return min(max(n, 0), len(s.Code)) }
	s.HighlightStartOffset = clamp(subj.Start.Byte - first)
	s.HighlightEndOffset = clamp(subj.End.Byte - first)
	return s
}

// WriteJSON writes v as indented JSON, without HTML escapes.
func WriteJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteGitHub writes GitHub Actions workflow commands, which show each
// diagnostic on the offending line of a pull request: the summary as the
// annotation's title, the detail as its message.
func WriteGitHub(out io.Writer, diags hcl.Diagnostics) {
	esc := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	prop := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
	for _, d := range diags {
		sev, subj := place(d)
		msg := d.Detail
		if msg == "" {
			msg = d.Summary
		}
		var props []string
		if subj != nil {
			props = append(props, "file="+prop.Replace(subj.Filename), fmt.Sprintf("line=%d,col=%d,endLine=%d,endColumn=%d",
				subj.Start.Line, subj.Start.Column, subj.End.Line, subj.End.Column))
		}
		props = append(props, "title="+prop.Replace(d.Summary))
		fmt.Fprintf(out, "::%s %s::%s\n", sev, strings.Join(props, ","), esc.Replace(msg))
	}
}

// enclose sets the Context of each diagnostic that has a subject and no
// context to the innermost block around the subject, so that every
// diagnostic inside a block says which block.
func enclose(files map[string]*hcl.File, diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Subject == nil || d.Context != nil {
			continue
		}
		f := files[d.Subject.Filename]
		if f == nil {
			continue
		}
		body, ok := f.Body.(*hclsyntax.Body)
		var inner *hclsyntax.Block
		for ok {
			ok = false
			for _, b := range body.Blocks {
				if b.Range().ContainsOffset(d.Subject.Start.Byte) {
					inner, body, ok = b, b.Body, true
					break
				}
			}
		}
		if inner != nil {
			d.Context = inner.Range().Ptr()
		}
	}
}

// blockAt finds the block whose range is rng.
func blockAt(f *hcl.File, rng hcl.Range) *hclsyntax.Block {
	body, ok := f.Body.(*hclsyntax.Body)
	for ok {
		ok = false
		for _, b := range body.Blocks {
			r := b.Range()
			if r.Start.Byte == rng.Start.Byte && r.End.Byte == rng.End.Byte {
				return b
			}
			if r.ContainsOffset(rng.Start.Byte) {
				body, ok = b.Body, true
				break
			}
		}
	}
	return nil
}

// blockHeader is a block's type and labels as written: filter "recent".
func blockHeader(b *hclsyntax.Block) string {
	var s strings.Builder
	s.WriteString(b.Type)
	for _, l := range b.Labels {
		fmt.Fprintf(&s, " %q", l)
	}
	return s.String()
}

// SortDiags orders diagnostics by file and position, so output is stable
// whatever order the checks ran in.
func SortDiags(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}
