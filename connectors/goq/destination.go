package goq

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"

	"github.com/goqsync/runner/engine"
)

// destBatchSize is how many payloads one Write takes. A file has no reason
// to batch; the number only bounds the work lost to a failed write.
const destBatchSize = 500

// defaultFileMode lets the owner write an import file and its group read
// it: GoQ's uploader often runs as another user of the same group. Nobody
// else reads buyers' names and addresses.
const defaultFileMode = 0o640

// destinationConfig is the destination block's body.
type destinationConfig struct {
	Dir      string            `hcl:"dir"`
	Prefix   *string           `hcl:"prefix,optional"`
	Encoding *string           `hcl:"encoding,optional"`
	Columns  []string          `hcl:"columns"`
	Headers  map[string]string `hcl:"headers,optional"`
	Types    map[string]string `hcl:"types,optional"`
	Key      []string          `hcl:"key,optional"`
	// FormulaGuard, on by default, neutralises text cells a spreadsheet
	// would run as a formula.
	FormulaGuard *bool `hcl:"formula_guard,optional"`
	// FileMode is the import file's permissions, in octal ("0640").
	FileMode *string `hcl:"file_mode,optional"`
}

// Destination writes a CSV file for GoQ's order import. It implements
// engine.Destination.
type Destination struct {
	dir     string
	prefix  string
	cp932   bool
	columns []string
	headers []string
	kinds   []engine.Kind
	key     []string
	loc     *time.Location
	guard   bool        // formula_guard
	mode    os.FileMode // file_mode
	// tag is a short hash of the job's name: a job's temporary files carry
	// it, so that it resolves and sweeps its own and no other job's.
	tag string
}

// NewDestination decodes a goq_csv destination block:
//
//	destination "goq_csv" {
//	  dir      = "out/goq-import"       # must exist
//	  prefix   = "futureshop-orders-"   # file: prefix + yyyymmdd-hhmmss + ".csv"
//	  encoding = "cp932"                # default; or "utf-8"
//	  columns  = ["order_no", "line_no", "product_name", "unit_price"]
//	  headers  = { order_no = "受注番号", unit_price = "単価" }  # default: the field name
//	  types    = { line_no = "int", unit_price = "int" }         # default: string; or "date"
//	  key      = ["order_no", "line_no"]                         # default: the first column
//	}
//
// The columns are the fields a job may map, in file order; unmapped ones are
// written empty. The key fields are required mappings.
func NewDestination(body hcl.Body, s *engine.Settings) (engine.Destination, hcl.Diagnostics) {
	d, diags := newDestination(body, s)
	if diags.HasErrors() {
		return nil, diags
	}
	return d, diags
}

func newDestination(body hcl.Body, s *engine.Settings) (*Destination, hcl.Diagnostics) {
	var cfg destinationConfig
	diags := decodeBody(body, evalContext(s), &cfg)
	if diags.HasErrors() {
		return nil, diags
	}
	d := &Destination{dir: cfg.Dir, cp932: true, loc: location(s), guard: true, mode: defaultFileMode}
	job := ""
	if s != nil {
		job = s.JobName
	}
	h := sha256.Sum256([]byte(job))
	d.tag = hex.EncodeToString(h[:4])
	if cfg.FormulaGuard != nil {
		d.guard = *cfg.FormulaGuard
	}
	if cfg.FileMode != nil {
		m, err := strconv.ParseUint(*cfg.FileMode, 8, 32)
		if err != nil || m > 0o777 || m&0o600 != 0o600 {
			diags = append(diags, attrDiag(body, "file_mode", "Invalid file_mode",
				fmt.Sprintf("file_mode is the import file's permissions in octal, such as \"0640\", and the owner must read and write it; not %q.", *cfg.FileMode)))
		} else {
			d.mode = os.FileMode(m)
		}
	}
	if cfg.Dir == "" {
		diags = append(diags, attrDiag(body, "dir", "Empty dir", "dir names the directory the import files are written to."))
	}
	if cfg.Prefix != nil {
		d.prefix = *cfg.Prefix
		if strings.ContainsAny(d.prefix, `/\`) || strings.HasPrefix(d.prefix, ".") {
			diags = append(diags, attrDiag(body, "prefix", "Invalid prefix",
				"prefix is the start of a file name: no path separators, and not a dot (dot files are temporaries)."))
		}
	}
	if cfg.Encoding != nil {
		switch strings.ToLower(*cfg.Encoding) {
		case encCP932, encSJIS, "sjis", "windows-31j":
		case encUTF8, "utf8":
			d.cp932 = false
		default:
			diags = append(diags, attrDiag(body, "encoding", "Unknown encoding",
				fmt.Sprintf("encoding %q is not \"cp932\" (the default) or \"utf-8\".", *cfg.Encoding)))
		}
	}

	index := make(map[string]int, len(cfg.Columns))
	if len(cfg.Columns) == 0 {
		diags = append(diags, attrDiag(body, "columns", "No columns", "columns lists the fields to write, in file order."))
	}
	for i, c := range cfg.Columns {
		if c == "" || strings.ContainsAny(c, " .,\"") {
			diags = append(diags, attrDiag(body, "columns", "Invalid column name",
				fmt.Sprintf("%q cannot be a field name; use letters, digits and _ and give the CSV header in headers.", c)))
			continue
		}
		if _, dup := index[c]; dup {
			diags = append(diags, attrDiag(body, "columns", "Duplicate column", fmt.Sprintf("%q is listed twice.", c)))
			continue
		}
		index[c] = i
	}
	d.columns = cfg.Columns
	d.headers = append([]string(nil), cfg.Columns...)
	d.kinds = make([]engine.Kind, len(cfg.Columns))
	for i := range d.kinds {
		d.kinds[i] = engine.String
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Headers)) {
		h := cfg.Headers[name]
		i, ok := index[name]
		if !ok {
			diags = append(diags, attrDiag(body, "headers", "Unknown column",
				fmt.Sprintf("headers names %q, which is not in columns.", name)))
			continue
		}
		d.headers[i] = h
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Types)) {
		t := cfg.Types[name]
		i, ok := index[name]
		if !ok {
			diags = append(diags, attrDiag(body, "types", "Unknown column",
				fmt.Sprintf("types names %q, which is not in columns.", name)))
			continue
		}
		switch t {
		case "string":
		case "int":
			d.kinds[i] = engine.Int
		case "date":
			d.kinds[i] = engine.Date
		default:
			diags = append(diags, attrDiag(body, "types", "Unknown type",
				fmt.Sprintf("types.%s is %q; a column is \"string\" (the default), \"int\" or \"date\".", name, t)))
		}
	}
	d.key = cfg.Key
	if len(d.key) == 0 && len(cfg.Columns) > 0 {
		d.key = cfg.Columns[:1]
	}
	for _, k := range d.key {
		if _, ok := index[k]; !ok {
			diags = append(diags, attrDiag(body, "key", "Unknown key column",
				fmt.Sprintf("key names %q, which is not in columns.", k)))
		}
	}
	if d.cp932 {
		enc := newEncoder()
		for _, h := range d.headers {
			if _, err := enc.encode(h); err != nil {
				diags = append(diags, attrDiag(body, "headers", "Header cannot be written in CP932",
					fmt.Sprintf("header %q: %v.", h, err)))
			}
		}
	}
	return d, diags
}

// Fields implements engine.Destination.
func (d *Destination) Fields() []engine.Field {
	fs := make([]engine.Field, len(d.columns))
	for i, c := range d.columns {
		fs[i] = engine.Field{Name: c, Kind: d.kinds[i], Doc: "CSV column " + d.headers[i]}
		for _, k := range d.key {
			if k == c {
				fs[i].Required = true
			}
		}
	}
	return fs
}

// Key implements engine.Destination: the key columns' values joined by "/".
func (d *Destination) Key(values map[string]any) string {
	parts := make([]string, len(d.key))
	for i, k := range d.key {
		parts[i] = formatValue(values[k])
	}
	return strings.Join(parts, "/")
}

// BatchSize implements engine.Destination.
func (d *Destination) BatchSize() int { return destBatchSize }

// Actions implements engine.Destination: GoQ's import has none.
// Scope implements engine.Scoper: what was written is remembered per
// import directory.
func (d *Destination) Scope() string {
	dir, err := filepath.Abs(d.dir)
	if err != nil {
		dir = d.dir
	}
	return "goq_csv " + dir
}

// tmpPrefix and tmpSuffix frame the names of the job's temporary files:
// dot files, which GoQ and a glob skip.
func (d *Destination) tmpPrefix() string { return "." + d.prefix + d.tag + "-" }

const tmpSuffix = ".tmp"

// Open implements engine.Destination. It creates a hidden temporary file in
// dir; Close gives it its final name, which commits every row at once.
func (d *Destination) Open(ctx context.Context) (engine.Conn, error) {
	if fi, err := os.Stat(d.dir); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("output directory %s is not a directory", d.dir)
	}
	f, err := os.CreateTemp(d.dir, d.tmpPrefix()+"*"+tmpSuffix)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(d.mode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	c := &conn{d: d, f: f, row: make([]string, len(d.columns)), now: engine.Now(ctx)}
	if d.cp932 {
		c.enc = newEncoder()
	}
	c.reset()
	return c, nil
}

// Resolve implements engine.Resolver. A token is the name of a temporary
// file; Close renames it to its final name, which is the commit, so a
// token whose file is gone was committed, and one whose file is still there
// was not: that file is removed and its records are sent again. Any other
// temporary file of the job is left from a run that died before it
// recorded anything, and is removed too. The engine calls it only while it
// holds the job's lock.
func (d *Destination) Resolve(ctx context.Context, tokens []string) (map[string]bool, error) {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	left := map[string]bool{}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, d.tmpPrefix()) && strings.HasSuffix(n, tmpSuffix) {
			left[n] = true
		}
	}
	out := make(map[string]bool, len(tokens))
	for _, t := range tokens {
		if t != filepath.Base(t) || !strings.HasPrefix(t, d.tmpPrefix()) {
			return nil, fmt.Errorf("%q is not a temporary file of this job", t)
		}
		// Still there and linked to a final name: a move by link and
		// unlink stopped half way; the commit happened.
		out[t] = !left[t] || linked(filepath.Join(d.dir, t))
	}
	for n := range left {
		if err := os.Remove(filepath.Join(d.dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove an uncommitted import file: %w", err)
		}
	}
	return out, nil
}

// conn is one run's output file.
type conn struct {
	d      *Destination
	now    time.Time // the run's clock, for the file's name
	f      *os.File
	w      *csv.Writer
	enc    *encoder // nil for UTF-8
	row    []string
	rows   int   // data rows in the file
	good   int64 // file size after the last batch that was written whole
	done   bool
	failed error
}

// reset starts a CSV writer at the end of the last whole batch.
func (c *conn) reset() {
	c.w = csv.NewWriter(c.f)
	c.w.UseCRLF = true // GoQ's import is a Windows-era format
}

// Write implements engine.Conn. A payload with a value the file's encoding
// cannot hold fails alone, permanently; a failed write to disk fails the
// batch and leaves the file as it was before it.
func (c *conn) Write(ctx context.Context, batch []engine.Payload) ([]engine.Result, error) {
	if c.done {
		return nil, errors.New("write after close")
	}
	if c.failed != nil {
		return nil, c.failed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results := make([]engine.Result, len(batch))
	rows := c.rows
	for i, p := range batch {
		if err := c.encodeRow(p.Values); err != nil {
			results[i] = engine.Result{Code: "unencodable", Message: fmt.Sprintf("order %s: %v", p.Key, err), Permanent: true}
			continue
		}
		if rows == 0 {
			header, err := c.encodeAll(c.d.headers)
			if err != nil {
				return nil, fmt.Errorf("header: %w", err)
			}
			c.w.Write(header)
		}
		c.w.Write(c.row)
		rows++
		results[i] = engine.Result{OK: true}
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		// Cut the partial batch off, so that Close commits only
		// rows whose Write reported success.
		if terr := c.rollback(); terr != nil {
			c.failed = fmt.Errorf("write %s: %w (and cannot roll back: %v)", c.f.Name(), err, terr)
			return nil, c.failed
		}
		return nil, fmt.Errorf("write %s: %w", c.f.Name(), err)
	}
	off, err := c.f.Seek(0, io.SeekCurrent)
	if err != nil {
		c.failed = err
		return nil, c.failed
	}
	c.rows, c.good = rows, off
	return results, nil
}

func (c *conn) rollback() error {
	if err := c.f.Truncate(c.good); err != nil {
		return err
	}
	if _, err := c.f.Seek(c.good, io.SeekStart); err != nil {
		return err
	}
	c.reset()
	return nil
}

// encodeRow fills c.row with the payload's values in column order.
func (c *conn) encodeRow(values map[string]any) error {
	for i, col := range c.d.columns {
		s := formatValue(values[col])
		if c.d.guard && c.d.kinds[i] == engine.String {
			s = defuse(s)
		}
		if c.enc != nil {
			e, err := c.enc.encode(s)
			if err != nil {
				return fmt.Errorf("column %s (%s): %w", col, c.d.headers[i], err)
			}
			s = e
		} else if !utf8.ValidString(s) {
			return fmt.Errorf("column %s (%s): invalid UTF-8", col, c.d.headers[i])
		}
		c.row[i] = s
	}
	return nil
}

func (c *conn) encodeAll(ss []string) ([]string, error) {
	if c.enc == nil {
		return ss, nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		e, err := c.enc.encode(s)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// StageToken implements engine.Stager: rows are visible to GoQ only once
// Close gives the file its final name.
func (c *conn) StageToken() string { return filepath.Base(c.f.Name()) }

// Apply implements engine.Conn; goq_csv declares no actions.
func (c *conn) Apply(ctx context.Context, action string, batch []engine.Payload) ([]engine.Result, error) {
	return nil, fmt.Errorf("no post-export action %q", action)
}

// Close implements engine.Conn: it makes the file durable and gives it its
// final name, prefix + local time + ".csv", never replacing an existing
// file (a second file in the same second gets a "-2" suffix). A run that
// wrote no row leaves no file: an import of nothing is not worth a file
// for someone to look at every ten minutes.
func (c *conn) Close(ctx context.Context) error {
	if c.done {
		return nil
	}
	c.done = true
	tmp := c.f.Name()
	if c.rows == 0 {
		c.f.Close()
		if err := os.Remove(tmp); err != nil {
			return fmt.Errorf("remove %s: %w", tmp, err)
		}
		return nil
	}
	// Drop anything after the last whole batch, then make it durable
	// before it can appear under its final name.
	err := c.f.Truncate(c.good)
	if err == nil {
		err = c.f.Sync()
	}
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	final := filepath.Join(c.d.dir, c.d.prefix+c.now.In(c.d.loc).Format("20060102-150405")+".csv")
	if err != nil {
		// The file stays where it is, uncommitted: the next run's Resolve
		// removes it and sends its records again.
		return fmt.Errorf("commit import file %s: write %s: %w", final, filepath.Base(tmp), err)
	}
	if err := moveNoReplace(tmp, final); err != nil {
		return fmt.Errorf("commit import file %s: %w", final, err)
	}
	return nil
}

// defuse neutralises a text cell that a spreadsheet would read as a formula
// (=, +, -, @, or a tab or CR first) with a leading apostrophe, the usual
// guard: anyone opening the import file in Excel would otherwise run
// =HYPERLINK(…) or +cmd|… from a buyer's name. A plain number such as -5
// or +81 is left as it is.
func defuse(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
	default:
		return s
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil && s[0] != '=' && s[0] != '@' {
		return s
	}
	return "'" + s
}

func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format("2006/01/02 15:04:05")
	}
	return fmt.Sprint(v)
}

// cp932Twins maps characters that Unicode holds twice (once from the JIS
// tables, once from Microsoft's) to the form CP932 can encode. Text typed
// on a Mac carries the JIS forms (〜 U+301C); refusing them would fail
// orders over a character GoQ stores fine.
var cp932Twins = map[rune]rune{
	'\u301C': '\uFF5E', // 〜 WAVE DASH → ～
	'\u2212': '\uFF0D', // − MINUS SIGN → －
	'\u2016': '\u2225', // ‖ DOUBLE VERTICAL LINE → ∥
	'\u00A2': '\uFFE0', // ¢ → ￠
	'\u00A3': '\uFFE1', // £ → ￡
	'\u00AC': '\uFFE2', // ¬ → ￢
	'\u2014': '\u2015', // — EM DASH → ―
	'\u00A5': '\\',     // ¥: 0x5C, which Japanese fonts show as ¥
	'\u203E': '~',      // ‾ OVERLINE: 0x7E of JIS X 0201
}

// encoder converts UTF-8 to CP932, reporting (never replacing) a character
// CP932 cannot hold.
type encoder struct {
	t   transform.Transformer
	src []byte
	dst []byte
}

func newEncoder() *encoder { return &encoder{t: japanese.ShiftJIS.NewEncoder()} }

func (e *encoder) encode(s string) (string, error) {
	if isASCII(s) {
		return s, nil
	}
	if !utf8.ValidString(s) {
		return "", errors.New("invalid UTF-8")
	}
	e.src = e.src[:0]
	for _, r := range s {
		if t, ok := cp932Twins[r]; ok {
			r = t
		}
		e.src = utf8.AppendRune(e.src, r)
	}
	if cap(e.dst) < len(e.src) {
		e.dst = make([]byte, len(e.src))
	}
	e.t.Reset()
	n, nsrc, err := e.t.Transform(e.dst[:cap(e.dst)], e.src, true)
	if err != nil {
		r, _ := utf8.DecodeRune(e.src[nsrc:])
		return "", fmt.Errorf("%q (%U) cannot be written in CP932", r, r)
	}
	return string(e.dst[:n]), nil
}
