package jobtest

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
)

// File is one loaded test file.
type File struct {
	Name string // the path as given
	Dir  string // where its jobs are
	Runs []*Run
}

// Run is one run block.
type Run struct {
	Name      string
	DeclRange hcl.Range
	Job       string
	JobAt     *hcl.Range
	Now       time.Time
	Command   string // "plan" or "run"
	Vars      []engine.VarArg
	Input     *Input
	Shop      []futureshoptest.Order // nil: no shop block
	Expects   []*Expect
	Calls     map[string]int // "METHOD /path" → requests, with command = "run"
	CallsAt   hcl.Range
	After     []*After

	file *File
}

// Input is a file source's input: inline CSV, rows or a fixture file.
type Input struct {
	CSV  string
	Rows []map[string]string
	File string // relative to the test file
	Rng  hcl.Range
}

// Expect is what must become of one order (a record key or label).
type Expect struct {
	Key  string
	Rng  hcl.Range
	Want string // "send", "excluded", "error" or "absent"
	// Send: the payload fields to compare; Exact: no other field.
	Payload             map[string]string
	Exact               bool
	Filter              string // excluded by this filter
	Error               string // an error containing this
	Failure             string // with command = "run": sent and refused with this code or message
	filterAt, payloadAt hcl.Range
}

// After is an order of the test shop after the run.
type After struct {
	OrderNo  string
	Rng      hcl.Range
	Shipment int
	Fields   map[string]string // status, shipment_status, shipping_date, invoice_no, expected_arrival
	at       map[string]hcl.Range
}

var fileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "run", LabelNames: []string{"name"}}}}

var runSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "job"}, {Name: "now", Required: true}, {Name: "command"}, {Name: "calls"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variables"}, {Type: "input"}, {Type: "shop"},
		{Type: "expect", LabelNames: []string{"order"}},
		{Type: "shop_after", LabelNames: []string{"order"}},
	},
}

var inputSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "csv"}, {Name: "rows"}, {Name: "file"}}}

var expectSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "send"}, {Name: "exact"}, {Name: "excluded"}, {Name: "error"}, {Name: "failure"}, {Name: "absent"},
}}

var shopSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "order", LabelNames: []string{"order_no"}}}}

var orderSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "ordered_at", Required: true}, {Name: "updated_at"}, {Name: "status"}, {Name: "payment_status"},
		{Name: "grand_total"}, {Name: "store_pickup"}, {Name: "delivery_service"}, {Name: "invoice_no"},
		{Name: "shipping_date"}, {Name: "expected_arrival"}, {Name: "preferred_delivery_date"}, {Name: "preferred_delivery_time"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "product"}},
}

var productSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "sku_no"}, {Name: "product_no"}, {Name: "name"}, {Name: "price"}, {Name: "count"},
	{Name: "option_name"}, {Name: "option_selection"}, {Name: "option_price"},
}}

var afterSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "shipment"}, {Name: "status"}, {Name: "shipment_status"}, {Name: "shipping_date"},
	{Name: "invoice_no"}, {Name: "expected_arrival"},
}}

// decoder collects diagnostics while it reads attribute values.
type decoder struct{ diags hcl.Diagnostics }

func (d *decoder) content(body hcl.Body, schema *hcl.BodySchema) *hcl.BodyContent {
	c, diags := engine.Content(body, schema)
	d.diags = append(d.diags, diags...)
	return c
}

func (d *decoder) value(a *hcl.Attribute) (cty.Value, bool) {
	v, diags := a.Expr.Value(nil)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || v.IsNull() || !v.IsWhollyKnown() {
		if !diags.HasErrors() {
			d.fail(a.Expr.Range(), "Invalid value", fmt.Sprintf("The argument %s needs a value.", a.Name))
		}
		return cty.NilVal, false
	}
	return v, true
}

func (d *decoder) fail(r hcl.Range, summary, detail string) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: r.Ptr()})
}

func (d *decoder) str(attrs hcl.Attributes, name string) (string, bool) {
	a, ok := attrs[name]
	if !ok {
		return "", false
	}
	v, ok := d.value(a)
	if !ok {
		return "", false
	}
	s, ok := scalar(v)
	if !ok || v.Type() != cty.String {
		d.fail(a.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("The argument %s must be a string.", name))
		return "", false
	}
	return s, true
}

func (d *decoder) num(attrs hcl.Attributes, name string) (int64, bool) {
	a, ok := attrs[name]
	if !ok {
		return 0, false
	}
	v, ok := d.value(a)
	if !ok {
		return 0, false
	}
	if v.Type() == cty.Number {
		if n, acc := v.AsBigFloat().Int64(); acc == big.Exact {
			return n, true
		}
	}
	d.fail(a.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("The argument %s must be a whole number.", name))
	return 0, false
}

func (d *decoder) boolean(attrs hcl.Attributes, name string) bool {
	a, ok := attrs[name]
	if !ok {
		return false
	}
	v, ok := d.value(a)
	if !ok {
		return false
	}
	if v.Type() != cty.Bool {
		d.fail(a.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("The argument %s must be true or false.", name))
		return false
	}
	return v.True()
}

// scalar is a string, number or bool value as text, as payloads print it.
func scalar(v cty.Value) (string, bool) {
	if v.IsNull() || !v.IsKnown() {
		return "", false
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), true
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), true
	case cty.Bool:
		if v.True() {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// parseFile reads one test file's run blocks. Checks against the jobs
// come after (check).
func parseFile(p *hclparse.Parser, name string) (*File, hcl.Diagnostics) {
	f := &File{Name: name, Dir: filepath.Dir(name)}
	src, err := os.ReadFile(name)
	if err != nil {
		return f, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read test file", Detail: err.Error() + "."}}
	}
	hf, diags := p.ParseHCL(src, name)
	if diags.HasErrors() {
		return f, diags
	}
	d := &decoder{diags: diags}
	content := d.content(hf.Body, fileSchema)
	seen := map[string]hcl.Range{}
	for _, blk := range content.Blocks {
		name := blk.Labels[0]
		if prev, dup := seen[name]; dup {
			d.fail(blk.LabelRanges[0], "Duplicate run", fmt.Sprintf("A run named %q is already declared at %s:%d; run names must be unique in a file.", name, prev.Filename, prev.Start.Line))
			continue
		}
		seen[name] = blk.DefRange
		if r := d.run(blk); r != nil {
			r.file = f
			f.Runs = append(f.Runs, r)
		}
	}
	if len(content.Blocks) == 0 && !d.diags.HasErrors() {
		d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No runs",
			Detail: fmt.Sprintf("The test file %s declares no run blocks; add run \"NAME\" { ... }.", name), Subject: hf.Body.MissingItemRange().Ptr()})
	}
	return f, d.diags
}

func (d *decoder) run(blk *hcl.Block) *Run {
	r := &Run{Name: blk.Labels[0], DeclRange: blk.DefRange, Command: "plan"}
	c := d.content(blk.Body, runSchema)
	if s, ok := d.str(c.Attributes, "job"); ok {
		r.Job, r.JobAt = s, c.Attributes["job"].Expr.Range().Ptr()
	}
	if s, ok := d.str(c.Attributes, "now"); ok {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			d.fail(c.Attributes["now"].Expr.Range(), "Invalid now", fmt.Sprintf("now %q is not an RFC 3339 time; write it as \"2026-11-28T10:00:00+09:00\".", s))
		}
		r.Now = t
	}
	if s, ok := d.str(c.Attributes, "command"); ok {
		if s != "plan" && s != "run" {
			hint := ""
			if m := engine.Suggest(s, []string{"plan", "run"}); m != "" {
				hint = fmt.Sprintf(" Did you mean %q?", m)
			}
			d.fail(c.Attributes["command"].Expr.Range(), "Invalid command", fmt.Sprintf("command is \"plan\" (the default: what the job would do) or \"run\" (against the test shop), not %q.%s", s, hint))
		}
		r.Command = s
	}
	if a, ok := c.Attributes["calls"]; ok {
		r.CallsAt = a.Expr.Range()
		if v, ok := d.value(a); ok {
			r.Calls = map[string]int{}
			if !v.Type().IsObjectType() && !v.Type().IsMapType() {
				d.fail(a.Expr.Range(), "Incorrect attribute value type", `calls is an object of "METHOD /path" = count, such as { "POST /admin-api/v1/shipping/status" = 1 }.`)
			} else {
				for k, n := range v.AsValueMap() {
					f, _ := scalar(n)
					var cnt int
					if _, err := fmt.Sscanf(f, "%d", &cnt); err != nil || n.Type() != cty.Number || !strings.Contains(k, " /") {
						d.fail(a.Expr.Range(), "Invalid calls", fmt.Sprintf("calls maps \"METHOD /path\" to a count of requests; %q = %s is not that.", k, f))
						continue
					}
					r.Calls[k] = cnt
				}
			}
		}
	}
	for _, b := range c.Blocks {
		switch b.Type {
		case "variables":
			attrs, diags := b.Body.JustAttributes()
			d.diags = append(d.diags, diags...)
			names := make([]string, 0, len(attrs))
			for n := range attrs {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				v, ok := d.value(attrs[n])
				if !ok {
					continue
				}
				r.Vars = append(r.Vars, varArg(n, v))
			}
		case "input":
			if r.Input != nil {
				d.fail(b.DefRange, "Duplicate input block", fmt.Sprintf("Run %q may have one input block.", r.Name))
				continue
			}
			r.Input = d.input(b)
		case "shop":
			if r.Shop != nil {
				d.fail(b.DefRange, "Duplicate shop block", fmt.Sprintf("Run %q may have one shop block.", r.Name))
				continue
			}
			r.Shop = d.shop(b)
		case "expect":
			if e := d.expect(b, r); e != nil {
				r.Expects = append(r.Expects, e)
			}
		case "shop_after":
			if r.Command != "run" {
				d.fail(b.DefRange, "Shop state without a run", fmt.Sprintf("Run %q plans (command = \"plan\"), so the shop is never written; shop_after needs command = \"run\".", r.Name))
			}
			r.After = append(r.After, d.after(b))
		}
	}
	if r.Calls != nil && r.Command != "run" {
		d.fail(r.CallsAt, "Calls without a run", fmt.Sprintf("Run %q plans (command = \"plan\"), so it counts no calls; calls needs command = \"run\".", r.Name))
	}
	return r
}

// varArg turns a variable's value into the -var form: a string as it is,
// anything else as HCL.
func varArg(name string, v cty.Value) engine.VarArg {
	if v.Type() == cty.String {
		return engine.VarArg{Value: name + "=" + v.AsString()}
	}
	return engine.VarArg{Value: name + "=" + hclText(v)}
}

func (d *decoder) input(b *hcl.Block) *Input {
	in := &Input{Rng: b.DefRange}
	c := d.content(b.Body, inputSchema)
	if len(c.Attributes) != 1 {
		d.fail(b.DefRange, "Invalid input block", "An input block gives the source's rows one way: csv (the export's text, headers first), rows (a list of objects keyed by the export's headers) or file (a fixture, in any encoding the source reads).")
		return nil
	}
	in.CSV, _ = d.str(c.Attributes, "csv")
	in.File, _ = d.str(c.Attributes, "file")
	if a, ok := c.Attributes["rows"]; ok {
		v, ok := d.value(a)
		if !ok {
			return nil
		}
		if !v.CanIterateElements() || v.Type().IsObjectType() || v.Type().IsMapType() {
			d.fail(a.Expr.Range(), "Incorrect attribute value type", `rows is a list of objects keyed by the export's headers, such as [{ 受注番号 = "100000001201", 出荷日 = "2026-11-27" }].`)
			return nil
		}
		for _, row := range v.AsValueSlice() {
			if !row.Type().IsObjectType() && !row.Type().IsMapType() {
				d.fail(a.Expr.Range(), "Incorrect attribute value type", "Each of rows is an object keyed by the export's headers.")
				return nil
			}
			m := map[string]string{}
			for k, cell := range row.AsValueMap() {
				s, ok := scalar(cell)
				if !ok && !cell.IsNull() {
					d.fail(a.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("The cell %q must be a string, a number or null.", k))
					return nil
				}
				m[k] = s
			}
			in.Rows = append(in.Rows, m)
		}
	}
	return in
}

func (d *decoder) shop(b *hcl.Block) []futureshoptest.Order {
	orders := []futureshoptest.Order{}
	c := d.content(b.Body, shopSchema)
	for _, ob := range c.Blocks {
		no := ob.Labels[0]
		oc := d.content(ob.Body, orderSchema)
		at := func(name string) (time.Time, bool) {
			s, ok := d.str(oc.Attributes, name)
			if !ok {
				return time.Time{}, false
			}
			t, err := engine.ParseTime(s, jst)
			if err != nil {
				d.fail(oc.Attributes[name].Expr.Range(), "Invalid time", fmt.Sprintf("%s %q is not a time futureshop writes; use \"2026-11-20 14:03:11\" (JST).", name, s))
				return time.Time{}, false
			}
			return t, true
		}
		ordered, _ := at("ordered_at")
		o := futureshoptest.NewOrder(no, ordered)
		if t, ok := at("updated_at"); ok {
			o.UpdatedAt = t
		}
		if s, ok := d.str(oc.Attributes, "status"); ok {
			o.Status = s
		}
		if s, ok := d.str(oc.Attributes, "payment_status"); ok {
			o.PaymentStatus = s
		}
		if n, ok := d.num(oc.Attributes, "grand_total"); ok {
			o.GrandTotal = n
		}
		sh := &o.Shipments[0]
		sh.StorePickup = d.boolean(oc.Attributes, "store_pickup")
		for name, dst := range map[string]*string{
			"delivery_service": &sh.DeliveryServiceName, "invoice_no": &sh.InvoiceNo, "shipping_date": &sh.ShippingDate,
			"expected_arrival": &sh.ExpectedArrival, "preferred_delivery_date": &sh.PreferredDeliveryDate,
			"preferred_delivery_time": &sh.PreferredDeliveryTime,
		} {
			if s, ok := d.str(oc.Attributes, name); ok {
				*dst = s
			}
		}
		if sh.ShippingDate != "" {
			sh.Status = futureshoptest.ShipmentShipped
		}
		if len(oc.Blocks) > 0 {
			sh.Products = nil
		}
		for _, pb := range oc.Blocks {
			pc := d.content(pb.Body, productSchema)
			p := futureshoptest.Product{Count: 1}
			p.SkuNo, _ = d.str(pc.Attributes, "sku_no")
			p.ProductNo, _ = d.str(pc.Attributes, "product_no")
			p.Name, _ = d.str(pc.Attributes, "name")
			if n, ok := d.num(pc.Attributes, "price"); ok {
				p.Price = n
			}
			if n, ok := d.num(pc.Attributes, "count"); ok {
				p.Count = n
			}
			if n, ok := d.num(pc.Attributes, "option_price"); ok {
				opt := futureshoptest.ProductOption{Price: n}
				opt.Name, _ = d.str(pc.Attributes, "option_name")
				opt.Selection, _ = d.str(pc.Attributes, "option_selection")
				p.Options = append(p.Options, opt)
			}
			sh.Products = append(sh.Products, p)
		}
		orders = append(orders, o)
	}
	return orders
}

var jst = time.FixedZone("JST", 9*3600)

func (d *decoder) expect(b *hcl.Block, r *Run) *Expect {
	e := &Expect{Key: b.Labels[0], Rng: b.DefRange}
	c := d.content(b.Body, expectSchema)
	var wants []string
	for _, w := range []string{"send", "excluded", "error", "absent"} {
		if _, ok := c.Attributes[w]; ok {
			wants = append(wants, w)
		}
	}
	if _, ok := c.Attributes["failure"]; ok && len(wants) == 0 {
		wants = append(wants, "send") // a failure is a send the shop refused
	}
	if len(wants) != 1 {
		d.fail(b.DefRange, "Invalid expect block", fmt.Sprintf("An expect block says one fate of order %s: send = { field = value, ... } (the payload, or a part of it), excluded = \"FILTER\", error = \"TEXT\" or absent = true (the source never reads it); it says %d.", e.Key, len(wants)))
		return nil
	}
	e.Want = wants[0]
	if a, ok := c.Attributes["send"]; ok {
		e.payloadAt = a.Expr.Range()
		if v, ok := d.value(a); ok {
			if !v.Type().IsObjectType() && !v.Type().IsMapType() {
				d.fail(a.Expr.Range(), "Incorrect attribute value type", "send is the payload as an object, such as { invoice_no = \"123456789012\" }; {} only says the order is sent.")
			} else {
				e.Payload = map[string]string{}
				for k, fv := range v.AsValueMap() {
					s, ok := scalar(fv)
					if !ok {
						d.fail(a.Expr.Range(), "Incorrect attribute value type", fmt.Sprintf("The payload field %s must be a string, a number or a bool.", k))
						continue
					}
					e.Payload[k] = s
				}
			}
		}
	}
	e.Exact = d.boolean(c.Attributes, "exact")
	if _, ok := c.Attributes["absent"]; ok && !d.boolean(c.Attributes, "absent") {
		d.fail(c.Attributes["absent"].Expr.Range(), "Invalid expect block", "absent = true says the source never reads the order; false says nothing.")
	}
	if e.Exact && e.Want != "send" {
		d.fail(c.Attributes["exact"].NameRange, "Invalid expect block", "exact = true says the payload is exactly send's: it needs send.")
	}
	if s, ok := d.str(c.Attributes, "excluded"); ok {
		e.Filter, e.filterAt = s, c.Attributes["excluded"].Expr.Range()
	}
	e.Error, _ = d.str(c.Attributes, "error")
	if s, ok := d.str(c.Attributes, "failure"); ok {
		e.Failure = s
		if r.Command != "run" {
			d.fail(c.Attributes["failure"].NameRange, "Failure without a run", fmt.Sprintf("Run %q plans (command = \"plan\"), so nothing is sent and nothing can fail; failure needs command = \"run\".", r.Name))
		}
	}
	return e
}

func (d *decoder) after(b *hcl.Block) *After {
	a := &After{OrderNo: b.Labels[0], Rng: b.DefRange, Shipment: 1, Fields: map[string]string{}, at: map[string]hcl.Range{}}
	c := d.content(b.Body, afterSchema)
	if n, ok := d.num(c.Attributes, "shipment"); ok {
		a.Shipment = int(n)
	}
	for name, attr := range c.Attributes {
		if name == "shipment" {
			continue
		}
		if s, ok := d.str(c.Attributes, name); ok {
			a.Fields[name], a.at[name] = s, attr.Expr.Range()
		}
	}
	return a
}

func hclText(v cty.Value) string { return string(hclwrite.TokensForValue(v).Bytes()) }
