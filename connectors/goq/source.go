package goq

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/goqsync/runner/engine"
)

// column is one field of the record schema and the header GoQ gives it by
// default (the header of a stock カスタムCSV export, as in the shared
// sample).
type column struct {
	field  string
	header string
	kind   engine.Kind
	doc    string
}

// columns is the record schema. The field names are fixed: job files use
// them in filters and mappings.
var columns = [nCols]column{
	{"goq_no", "GoQ番号", engine.String, "GoQ's internal order id"},
	{"order_no", "受注番号", engine.String, "the store's order number (futureshop's 受注コード)"},
	{"store", "販売店舗", engine.String, "the store the order came from, e.g. FutureShop 1号店"},
	{"ordered_at", "注文日", engine.Time, "when the order was placed"},
	{"status", "受注ステータス", engine.String, "GoQ order status (per account: 新規受付, キャンセル, ★発送済み…)"},
	{"updated_at", "最終更新日時", engine.Time, "when the order last changed in GoQ"},
	{"shipped_on", "出荷日", engine.Date, "ship date"},
	{"carrier", "配送会社", engine.String, "carrier name"},
	{"tracking_no", "お荷物伝票番号", engine.String, "tracking number(s); several are comma-separated"},
	{"delivery_date", "お届け指定日", engine.Date, "delivery date the buyer asked for"},
	{"delivery_time", "お届け時間帯", engine.String, "delivery time slot the buyer asked for"},
	{"note", "備考", engine.String, "free-form note"},
}

const nCols = 12

// Indexes into columns, for the fields the reader itself needs.
const (
	colOrderNo   = 1
	colUpdatedAt = 5
)

// interned marks the columns whose values repeat across rows (a handful of
// stores, statuses, carriers, dates); the reader caches their decoded and
// boxed values so that a row costs no allocation for them.
var interned = [nCols]bool{
	2: true, 4: true, 6: true, 7: true, 9: true, 10: true,
}

// sourceConfig is the source block's body.
type sourceConfig struct {
	Path     *string  `hcl:"path,optional"`
	Inbox    *string  `hcl:"inbox,optional"`
	Archive  *string  `hcl:"archive,optional"`
	Encoding *string  `hcl:"encoding,optional"`
	Optional []string `hcl:"optional,optional"`
	Columns  *struct {
		Attrs hcl.Attributes `hcl:",remain"`
	} `hcl:"columns,block"`
}

// Source reads GoQ カスタムCSV order exports. It implements engine.Source.
type Source struct {
	path     string // a file or a glob; empty with an inbox
	inbox    string
	archive  string
	encoding string
	headers  [nCols]string // header name per column
	optional [nCols]bool
	// unused marks fields no filter or mapping reads (see UseFields):
	// their cells are not decoded and their columns may be absent.
	unused [nCols]bool
	loc    *time.Location
}

// UseFields tells the source which fields the job reads; the rest are
// neither decoded nor required in the file. It implements engine.FieldUser.
func (s *Source) UseFields(names []string) {
	used := make(map[string]bool, len(names))
	for _, n := range names {
		used[n] = true
	}
	for i := range columns {
		s.unused[i] = !used[columns[i].field] && i != colOrderNo
	}
}

// NewSource decodes a goq_csv source block:
//
//	source "goq_csv" {
//	  path     = "exports/*.csv"   # a file or a glob; or inbox + archive
//	  encoding = "auto"            # or "cp932" (also "shift_jis", "sjis", "windows-31j"), "utf-8" (also "utf8")
//	  optional = ["note"]          # fields whose column may be missing
//	  columns {                    # header names that differ from GoQ's defaults
//	    tracking_no = "伝票番号"
//	  }
//	}
func NewSource(body hcl.Body, s *engine.Settings) (engine.Source, hcl.Diagnostics) {
	src, diags := newSource(body, s)
	if diags.HasErrors() {
		return nil, diags
	}
	return src, diags
}

func newSource(body hcl.Body, s *engine.Settings) (*Source, hcl.Diagnostics) {
	var cfg sourceConfig
	diags := decodeBody(body, evalContext(s), &cfg)
	if diags.HasErrors() {
		return nil, diags
	}
	src := &Source{encoding: encAuto, loc: location(s)}
	for i, c := range columns {
		src.headers[i] = c.header
	}

	switch {
	case cfg.Path != nil && cfg.Inbox != nil:
		diags = append(diags, attrDiag(body, "inbox", "Conflicting inputs",
			"A goq_csv source reads either path (a file or a glob) or inbox, not both."))
	case cfg.Path != nil:
		if *cfg.Path == "" {
			diags = append(diags, attrDiag(body, "path", "Empty path", "path names a CSV file or a glob such as \"exports/*.csv\"."))
		}
		src.path = *cfg.Path
	case cfg.Inbox != nil:
		if *cfg.Inbox == "" {
			diags = append(diags, attrDiag(body, "inbox", "Empty inbox", "inbox names a directory."))
		}
		src.inbox = *cfg.Inbox
	default:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing input",
			Detail:   "A goq_csv source needs path (a file or a glob) or inbox and archive (directories).",
			Subject:  body.MissingItemRange().Ptr(),
		})
	}
	switch {
	case cfg.Archive != nil && cfg.Inbox == nil:
		diags = append(diags, attrDiag(body, "archive", "Archive without inbox",
			"archive is where files of the inbox go once every order in them has a result; it needs inbox."))
	case cfg.Inbox != nil && cfg.Archive == nil:
		diags = append(diags, attrDiag(body, "inbox", "Missing archive",
			"An inbox needs an archive directory: a file moves there once every order in it has a result."))
	case cfg.Archive != nil:
		src.archive = *cfg.Archive
		if src.archive == "" || filepath.Clean(src.archive) == filepath.Clean(src.inbox) {
			diags = append(diags, attrDiag(body, "archive", "Invalid archive",
				"archive must be a directory other than the inbox."))
		}
	}

	if cfg.Encoding != nil {
		switch e := strings.ToLower(*cfg.Encoding); e {
		case encAuto, encCP932, encSJIS, encUTF8:
			src.encoding = e
		case "utf8", "sjis", "windows-31j":
			src.encoding = map[string]string{"utf8": encUTF8, "sjis": encSJIS, "windows-31j": encCP932}[e]
		default:
			diags = append(diags, attrDiag(body, "encoding", "Unknown encoding",
				fmt.Sprintf("encoding %q is not one of \"auto\", \"cp932\" (also \"shift_jis\", \"sjis\", \"windows-31j\") or \"utf-8\" (also \"utf8\").", *cfg.Encoding)))
		}
	}

	for _, name := range cfg.Optional {
		i := fieldIndex(name)
		if i < 0 {
			diags = append(diags, attrDiag(body, "optional", "Unknown field",
				fmt.Sprintf("optional names %q, which is not a goq_csv field.%s", name, suggest(name))))
			continue
		}
		if i == colOrderNo {
			diags = append(diags, attrDiag(body, "optional", "Order number cannot be optional",
				"order_no identifies every record; its column must be present."))
			continue
		}
		src.optional[i] = true
	}

	if cfg.Columns != nil {
		// In source order, so that diagnostics come out in a stable order.
		attrs := make([]*hcl.Attribute, 0, len(cfg.Columns.Attrs))
		for _, a := range cfg.Columns.Attrs {
			attrs = append(attrs, a)
		}
		sort.Slice(attrs, func(i, j int) bool { return attrs[i].Range.Start.Byte < attrs[j].Range.Start.Byte })
		for _, attr := range attrs {
			name := attr.Name
			i := fieldIndex(name)
			if i < 0 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unknown field",
					Detail:   fmt.Sprintf("%q is not a goq_csv field.%s The fields are %s.", name, suggest(name), fieldList()),
					Subject:  attr.NameRange.Ptr(),
				})
				continue
			}
			var h string
			d := gohcl.DecodeExpression(attr.Expr, evalContext(s), &h)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			if strings.TrimSpace(h) == "" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Empty header name",
					Detail:   fmt.Sprintf("columns.%s must name the CSV header of the column.", name),
					Subject:  attr.Expr.Range().Ptr(),
				})
				continue
			}
			src.headers[i] = strings.TrimSpace(h)
		}
	}
	return src, diags
}

// Fields implements engine.Source.
func (s *Source) Fields() []engine.Field { return sourceFields() }

func sourceFields() []engine.Field {
	fs := make([]engine.Field, len(columns))
	for i, c := range columns {
		fs[i] = engine.Field{Name: c.field, Kind: c.kind, Doc: c.header + ": " + c.doc}
	}
	return fs
}

// Label implements engine.Source.
func (s *Source) Label() string { return "order_no" }

// Inputs lists the files the source would read now, in reading order
// (sorted by name, which for GoQ's timestamped export names is also the
// order they were exported in).
func (s *Source) Inputs() ([]string, error) {
	if s.inbox != "" {
		ents, err := os.ReadDir(s.inbox)
		if err != nil {
			return nil, fmt.Errorf("read inbox: %w", err)
		}
		var files []string
		for _, e := range ents {
			// Dot files are exporters' temporaries; anything else that
			// is not a CSV file is not ours to read.
			n := e.Name()
			if strings.HasPrefix(n, ".") || !strings.EqualFold(filepath.Ext(n), ".csv") || !e.Type().IsRegular() {
				continue
			}
			files = append(files, filepath.Join(s.inbox, n))
		}
		return files, nil
	}
	if !hasMeta(s.path) {
		if _, err := os.Stat(s.path); err != nil {
			return nil, err
		}
		return []string{s.path}, nil
	}
	matches, err := filepath.Glob(s.path)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", s.path, err)
	}
	// As a shell would, a glob skips dot files (exporters' temporaries)
	// and directories.
	var files []string
	for _, m := range matches {
		if strings.HasPrefix(filepath.Base(m), ".") {
			continue
		}
		if fi, err := os.Stat(m); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		files = append(files, m)
	}
	sort.Strings(files)
	return files, nil
}

// Open implements engine.Source. It checks the header of every input file
// before returning, so that a renamed or missing column stops the run
// before any record is read. With several files it also reads the order
// numbers and update times of all of them (see doc.go, "Overlapping
// exports").
func (s *Source) Open(ctx context.Context) (engine.Records, error) {
	files, err := s.Inputs()
	if err != nil {
		return nil, err
	}
	r := &Rows{src: s, files: files}
	if r.sv, err = s.survey(ctx, files); err != nil {
		return nil, err
	}
	return r, nil
}

func fieldIndex(name string) int {
	for i, c := range columns {
		if c.field == name {
			return i
		}
	}
	return -1
}

func fieldList() string { return strings.Join(fieldNames(), ", ") }

// fieldNames lists the source's fields in column order.
func fieldNames() []string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.field
	}
	return names
}

// suggest returns " Did you mean x?", HCL's words, for a near miss.
func suggest(name string) string {
	if best := engine.Suggest(name, fieldNames()); best != "" {
		return " Did you mean " + best + "?"
	}
	return ""
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// decodeBody is gohcl.DecodeBody after engine.Content, whose diagnostics
// suggest the setting a misspelt one means.
func decodeBody(body hcl.Body, ctx *hcl.EvalContext, v any) hcl.Diagnostics {
	schema, _ := gohcl.ImpliedBodySchema(v)
	if _, diags := engine.Content(body, schema); diags.HasErrors() {
		return diags
	}
	return gohcl.DecodeBody(body, ctx, v)
}

func evalContext(s *engine.Settings) *hcl.EvalContext {
	if s == nil {
		return nil
	}
	return s.Eval
}

func location(s *engine.Settings) *time.Location {
	if s != nil && s.Location != nil {
		return s.Location
	}
	// The job language's default zone; GoQ writes Japanese local times.
	if loc, err := time.LoadLocation("Asia/Tokyo"); err == nil {
		return loc
	}
	return time.FixedZone("JST", 9*60*60)
}

// attrDiag is an error diagnostic pointing at the named attribute of body,
// or at the body when the attribute is absent.
func attrDiag(body hcl.Body, name, summary, detail string) *hcl.Diagnostic {
	rng := body.MissingItemRange()
	content, _, _ := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: name}}})
	if content != nil {
		if a := content.Attributes[name]; a != nil {
			rng = a.Expr.Range()
		}
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}
}

// ShareKey implements engine.Shareable: runs of jobs whose goq_csv
// sources read the same files the same way (encoding, headers, the fields
// decoded, the zone) read them in one pass. An inbox is not shared: each
// run archives the files it settled.
func (s *Source) ShareKey() string {
	if s.inbox != "" {
		return ""
	}
	return fmt.Sprintf("%q %q %q %v %v %s", s.path, s.encoding, s.headers, s.optional, s.unused, s.loc)
}
