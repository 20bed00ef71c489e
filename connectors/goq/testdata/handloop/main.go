// Command handloop is the yardstick for the plan of a large GoQ export: a
// plain loop that makes the decisions of examples/goq-to-futureshop.hcl by
// hand and writes what runner plan writes for it, byte for byte: a line per
// excluded record with the values its filter read, each record to send
// with its mapped fields, then the side effects, the cost and the counts.
// With -json it writes what runner plan -json writes.
//
// It decodes the CP932 export with x/text's Shift_JIS decoder and
// encoding/csv and knows the job only as code: store "FutureShop 1号店",
// now 2026-11-28 10:00 JST. It assumes a well-formed export with no
// repeated orders, as goqtest.WriteExport writes, and stops at anything
// else. TestHandLoopMatchesPlan in cmd/runner keeps it identical to
// runner plan; BenchmarkPlanVsHand there compares the two.
//
//	go run ./connectors/goq/testdata/handloop [-json] FILE
package main

import (
	"bufio"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

// The job, as code.
const (
	jobName    = "shipping-to-futureshop"
	store      = "FutureShop 1号店"
	nowRFC3339 = "2026-11-28T10:00:00+09:00"
	batchSize  = 100 // futureshop orders per call
	rate       = 1   // futureshop requests a second
	noShipDate = "出荷日なしで処理済みになります（発送は未発送のまま） / marked 処理済み with no 出荷日: the shipment stays 未発送"
)

// plan is the state of one pass.
type plan struct {
	w        *bufio.Writer
	json     bool
	loc      *time.Location
	today    time.Time
	first    bool // no JSON item written yet
	b        []byte
	read     int
	excluded int
	sends    []string // keys of the records to send
	noShip   []string // keys of those sent without a ship date
}

// record is the fields the job reads from one row; a zero time is unset.
type record struct {
	orderNo, store, status, tracking string
	ordered, updated                 time.Time
	shipped, delivery                time.Time
}

func main() {
	asJSON := flag.Bool("json", false, "write what runner plan -json writes")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: handloop [-json] FILE")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *asJSON, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "handloop:", err)
		os.Exit(1)
	}
}

func run(path string, asJSON bool, out io.Writer) error {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return err
	}
	now, err := time.Parse(time.RFC3339, nowRFC3339)
	if err != nil {
		return err
	}
	now = now.In(loc)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(transform.NewReader(f, japanese.ShiftJIS.NewDecoder()))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return err
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, h := range []string{"受注番号", "販売店舗", "受注ステータス", "注文日", "最終更新日時", "出荷日", "お荷物伝票番号", "お届け指定日"} {
		if _, ok := col[h]; !ok {
			return fmt.Errorf("no column %s", h)
		}
	}
	iOrder, iStore, iStatus, iOrdered, iUpdated := col["受注番号"], col["販売店舗"], col["受注ステータス"], col["注文日"], col["最終更新日時"]
	iShipped, iTracking, iDelivery := col["出荷日"], col["お荷物伝票番号"], col["お届け指定日"]

	p := &plan{w: bufio.NewWriterSize(out, 64<<10), json: asJSON, loc: loc, first: true}
	y, m, d := now.Date()
	p.today = time.Date(y, m, d, 0, 0, 0, 0, loc)
	p.header(now)
	name := filepath.Base(path)
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		line, _ := r.FieldPos(0)
		pos := name + ":" + strconv.Itoa(line)
		var rec record
		rec.orderNo, rec.store, rec.status, rec.tracking = row[iOrder], row[iStore], row[iStatus], row[iTracking]
		if rec.ordered, err = parse(row[iOrdered], "2006-01-02 15:04:05", loc); err != nil {
			return fmt.Errorf("%s: %w", pos, err)
		}
		if rec.updated, err = parse(row[iUpdated], "2006-01-02 15:04:05", loc); err != nil {
			return fmt.Errorf("%s: %w", pos, err)
		}
		if rec.shipped, err = parse(row[iShipped], "2006-01-02", loc); err != nil {
			return fmt.Errorf("%s: %w", pos, err)
		}
		if rec.delivery, err = parse(row[iDelivery], "2006/01/02", loc); err != nil {
			return fmt.Errorf("%s: %w", pos, err)
		}
		p.read++
		// The filters, in the job's order.
		switch {
		case rec.store != store:
			p.exclude(pos, &rec, "store", "store", rec.store, time.Time{}, 0)
		case rec.status == "新規受付" || rec.status == "キャンセル":
			p.exclude(pos, &rec, "status", "status", rec.status, time.Time{}, 0)
		case !p.within(rec.updated, 4):
			p.exclude(pos, &rec, "updated-4d", "updated_at", "", rec.updated, 4)
		case !p.within(rec.ordered, 170):
			p.exclude(pos, &rec, "ordered-170d", "ordered_at", "", rec.ordered, 170)
		default:
			p.send(pos, &rec)
		}
	}
	p.end()
	return p.w.Flush()
}

// parse reads a cell of the given layout; "" and GoQ's zero date are unset.
func parse(s, layout string, loc *time.Location) (time.Time, error) {
	if s == "" || strings.HasPrefix(s, "0000-00-00") || strings.HasPrefix(s, "0000/00/00") {
		return time.Time{}, nil
	}
	return time.ParseInLocation(layout, s, loc)
}

// within is within_days: t's date is on or after today − n days.
func (p *plan) within(t time.Time, n int) bool {
	return !t.IsZero() && !t.Before(p.today.AddDate(0, 0, -n))
}

func (p *plan) header(now time.Time) {
	if p.json {
		p.w.WriteString(`{"destination":"futureshop","format_version":"1.0","job":"` + jobName + `","now":"` +
			now.Format(time.RFC3339) + `","source":"goq_csv","time_zone":"` + p.loc.String() + `","items":[`)
		return
	}
	fmt.Fprintf(p.w, "Job %q: goq_csv → futureshop, now %s (%s)\n\n", jobName, now.Format(time.RFC3339), p.loc)
}

// exclude writes an excluded record: the filter and the one field it read,
// a string s or a time t (zero: unset), with the window of n days.
func (p *plan) exclude(pos string, rec *record, filter, field, s string, t time.Time, n int) {
	p.excluded++
	b := p.b[:0]
	if p.json {
		b = p.item(b, pos, rec.orderNo, "excluded")
		b = append(b, `,"filter":"`...)
		b = append(b, filter...)
		b = append(b, `","values":{"`...)
		b = append(b, field...)
		b = append(b, `":`...)
		switch {
		case n == 0:
			b = appendJSON(b, s)
		case t.IsZero():
			b = append(b, "null"...)
		default:
			b = append(b, '"')
			b = t.AppendFormat(b, time.RFC3339)
			b = append(b, '"')
		}
		b = append(b, "}}"...)
	} else {
		b = append(b, "- "...)
		b = append(b, rec.orderNo...)
		b = append(b, "  "...)
		b = append(b, pos...)
		b = append(b, `  excluded by filter "`...)
		b = append(b, filter...)
		b = append(b, `": `...)
		b = append(b, field...)
		b = append(b, " = "...)
		switch {
		case n == 0:
			b = strconv.AppendQuote(b, s)
		case t.IsZero():
			b = append(b, "unset"...)
		default:
			b = appendWhen(b, t)
			days := int(p.today.Sub(midnight(t)).Round(24*time.Hour) / (24 * time.Hour))
			switch {
			case days == 1:
				b = append(b, " (1 day ago"...)
			case days >= 0:
				b = append(b, " ("...)
				b = strconv.AppendInt(b, int64(days), 10)
				b = append(b, " days ago"...)
			default:
				b = append(b, " (in "...)
				b = strconv.AppendInt(b, int64(-days), 10)
				b = append(b, " days"...)
			}
			b = append(b, "; the window starts "...)
			b = p.today.AddDate(0, 0, -n).AppendFormat(b, "2006-01-02")
			b = append(b, ')')
		}
		b = append(b, '\n')
	}
	p.w.Write(b)
	p.b = b
}

// appendWhen formats a time as a plan's exclusion shows it: no seconds, or
// no time at all, when they are zero.
func appendWhen(b []byte, t time.Time) []byte {
	switch {
	case t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0:
		return t.AppendFormat(b, "2006-01-02")
	case t.Second() == 0:
		return t.AppendFormat(b, "2006-01-02 15:04")
	}
	return t.AppendFormat(b, "2006-01-02 15:04:05")
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// send writes a record to send with its payload: the map block's fields,
// a field with no value left out.
func (p *plan) send(pos string, rec *record) {
	key := rec.orderNo + "/1"
	p.sends = append(p.sends, key)
	type field struct {
		name, value string
		set         bool
	}
	// invoice_no = hankaku(first(tracking_no)); expected_arrival =
	// coalesce(delivery_date, ''): "" clears it.
	invoice := rec.tracking
	if i := strings.IndexAny(invoice, ",、，"); i >= 0 {
		invoice = invoice[:i]
	}
	invoice = hankaku(strings.TrimSpace(invoice))
	arrival := ""
	if !rec.delivery.IsZero() {
		arrival = rec.delivery.Format("2006-01-02")
	}
	fields := [...]field{
		{"order_no", rec.orderNo, true},
		{"shipping_date", rec.shipped.Format("2006-01-02"), !rec.shipped.IsZero()},
		{"invoice_no", invoice, invoice != ""},
		{"expected_arrival", arrival, true},
	}
	noShip := !fields[1].set
	if noShip {
		p.noShip = append(p.noShip, key)
	}
	b := p.b[:0]
	if p.json {
		b = p.item(b, pos, rec.orderNo, "send")
		b = append(b, `,"key":`...)
		b = appendJSON(b, key)
		b = append(b, `,"payload":{`...)
		// encoding/json sorts a map's keys.
		comma := false
		for _, i := range [...]int{3, 2, 0, 1} {
			if !fields[i].set {
				continue
			}
			if comma {
				b = append(b, ',')
			}
			comma = true
			b = append(b, '"')
			b = append(b, fields[i].name...)
			b = append(b, `":`...)
			b = appendJSON(b, fields[i].value)
		}
		b = append(b, '}')
		if arrival == "" {
			b = append(b, `,"clears":["expected_arrival"]`...)
		}
		if noShip {
			b = append(b, `,"side_effects":[`...)
			b = appendJSON(b, noShipDate)
			b = append(b, ']')
		}
		b = append(b, '}')
	} else {
		b = append(b, "+ "...)
		b = append(b, key...)
		b = append(b, "  "...)
		b = append(b, pos...)
		b = append(b, '\n')
		for _, f := range fields {
			if !f.set {
				continue
			}
			b = append(b, "    "...)
			b = append(b, f.name...)
			b = append(b, "                "[:len("expected_arrival")-len(f.name)]...)
			b = append(b, " = "...)
			b = strconv.AppendQuote(b, f.value)
			if f.value == "" {
				b = append(b, "  # clears the field"...)
			}
			b = append(b, '\n')
		}
	}
	p.w.Write(b)
	p.b = b
}

// item starts a JSON item.
func (p *plan) item(b []byte, pos, label, status string) []byte {
	if !p.first {
		b = append(b, ',')
	}
	p.first = false
	b = append(b, "\n{\"pos\":"...)
	b = appendJSON(b, pos)
	b = append(b, `,"label":`...)
	b = appendJSON(b, label)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	return append(b, '"')
}

// end writes the summary: the action, the side effects, the cost (a token,
// then a shipping and a complete call for each batch) and the counts.
func (p *plan) end() {
	n := len(p.sends)
	calls := (n + batchSize - 1) / batchSize
	total := 0
	if calls > 0 {
		total = 1 + 2*calls
	}
	seconds := float64(total) / rate
	counts := fmt.Sprintf(`{"read":%d,"send":%d,"excluded":%d,"skipped":0,"errors":0,"unchanged":0,"parked":0}`, p.read, n, p.excluded)
	if p.json {
		b := append(p.b[:0], "\n],\"after_export\":[\"complete_order\"],\"cost\":"...)
		if total == 0 {
			b = fmt.Appendf(b, `{"calls":null,"total":0,"rate":%d}`, rate)
		} else {
			b = fmt.Appendf(b, `{"calls":{"complete":%d,"shipping":%d,"token":1},"total":%d,"seconds":%s,"rate":%d}`,
				calls, calls, total, strconv.FormatFloat(seconds, 'f', -1, 64), rate)
		}
		if len(p.noShip) > 0 {
			b = append(b, `,"side_effects":[{"message":`...)
			b = appendJSON(b, noShipDate)
			b = append(b, `,"keys":[`...)
			for i, k := range p.noShip {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSON(b, k)
			}
			b = append(b, "]}]"...)
		}
		b = append(b, `,"summary":`...)
		b = append(b, counts...)
		b = append(b, "}\n"...)
		p.w.Write(b)
		return
	}
	if p.read > 0 {
		p.w.WriteString("\n")
	}
	if n > 0 {
		p.w.WriteString("After export: complete_order, for each record whose export succeeds.\n")
	}
	if len(p.noShip) > 0 {
		fmt.Fprintf(p.w, "Side effects:\n  %s (%d):\n    %s\n", noShipDate, len(p.noShip), strings.Join(p.noShip, " "))
	}
	if total == 0 {
		p.w.WriteString("Cost at futureshop: no calls.\n")
	} else {
		fmt.Fprintf(p.w, "Cost at futureshop: %d call(s) (1 token, %d shipping, %d complete), about %s at %d request(s)/s.\n",
			total, calls, calls, time.Duration(seconds*float64(time.Second)).Round(time.Second), rate)
	}
	fmt.Fprintf(p.w, "Plan: %d to send, %d excluded, 0 errors (%d records read).\n", n, p.excluded, p.read)
}

// hankaku turns full-width ASCII forms and the ideographic space into
// ASCII.
func hankaku(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			return r - 0xFF01 + '!'
		case r == 0x3000:
			return ' '
		}
		return r
	}, s)
}

// appendJSON appends s as encoding/json writes a string: quoted, with
// <, > and & escaped for HTML, and U+2028 and U+2029 escaped.
func appendJSON(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
