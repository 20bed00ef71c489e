package futureshop

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/hashicorp/hcl/v2"
)

// DefaultDays is how many days back the order search looks by default,
// GoQ's 受注を取得する日数.
const DefaultDays = 10

type sourceConfig struct {
	Days           *int    `hcl:"days,optional"`
	ShippingStatus *string `hcl:"shipping_status,optional"`
	PaymentStatus  *string `hcl:"payment_status,optional"`
}

// source is the order search: one record per product line.
type source struct {
	cfg            config
	days           int
	shippingStatus string
	paymentStatus  string
	loc            *time.Location
	// detail is set when the job reads a field only the order detail has:
	// then every order costs one more request.
	detail bool
}

// NewSource decodes a futureshop source block. It is the registry's
// factory for the source "futureshop".
func NewSource(body hcl.Body, s *engine.Settings) (engine.Source, hcl.Diagnostics) {
	src := &source{days: DefaultDays, loc: jst}
	var ctx *hcl.EvalContext
	if s != nil {
		ctx = s.Eval
		if s.Location != nil {
			src.loc = s.Location
		}
	}
	var creds credentials
	var sc sourceConfig
	diags := decodeBody(body, ctx, &creds, &sc)
	if diags.HasErrors() {
		return nil, diags
	}
	cfg, cdiags := creds.config(body)
	diags = append(diags, cdiags...)
	src.cfg = cfg
	if sc.Days != nil {
		if *sc.Days < 0 {
			diags = append(diags, attrDiag(body, "days", hcl.DiagError, "Invalid days", "days must be 0 or more."))
		}
		src.days = *sc.Days
	}
	for _, f := range []struct {
		name  string
		v     *string
		valid []string
		dst   *string
	}{
		{"shipping_status", sc.ShippingStatus, shippingStatuses, &src.shippingStatus},
		{"payment_status", sc.PaymentStatus, paymentStatuses, &src.paymentStatus},
	} {
		if f.v == nil || *f.v == "" {
			continue
		}
		if !slices.Contains(f.valid, *f.v) {
			diags = append(diags, attrDiag(body, f.name, hcl.DiagError, "Invalid "+f.name,
				fmt.Sprintf("%s must be one of %s.", f.name, strings.Join(f.valid, ", "))))
		}
		*f.dst = *f.v
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return src, diags
}

// jst is the zone of futureshop's timestamps, for jobs without a zone.
var jst = time.FixedZone("JST", 9*60*60)

// Record fields.
var sourceFields = []engine.Field{
	{Name: "order_no", Kind: engine.String, Doc: "Order number (受注コード)."},
	{Name: "ordered_at", Kind: engine.Time, Doc: "Order date and time."},
	{Name: "status", Kind: engine.String, Doc: "Order status as futureshop writes it (COMPLETED, AWAITING_PAYMENT, …)."},
	{Name: "updated_at", Kind: engine.Time, Doc: "When the order last changed. From the order detail: reading it costs one more request per order."},
	{Name: "grand_total", Kind: engine.Int, Doc: "Order total in yen."},
	{Name: "buyer_name", Kind: engine.String, Personal: true, Doc: "Buyer's name, family name first."},
	{Name: "buyer_email", Kind: engine.String, Personal: true},
	{Name: "buyer_phone", Kind: engine.String, Personal: true},
	{Name: "buyer_zip", Kind: engine.String, Personal: true},
	{Name: "buyer_prefecture", Kind: engine.String, Personal: true, Doc: "Prefecture, such as 東京都."},
	{Name: "buyer_address", Kind: engine.String, Personal: true, Doc: "Prefecture and address."},
	{Name: "shipment_no", Kind: engine.Int},
	{Name: "delivery_service", Kind: engine.String, Doc: "Delivery service name."},
	{Name: "invoice_no", Kind: engine.String, Doc: "Tracking number."},
	{Name: "shipping_date", Kind: engine.Date},
	{Name: "expected_arrival", Kind: engine.Date},
	{Name: "preferred_delivery_date", Kind: engine.Date},
	{Name: "preferred_delivery_time", Kind: engine.String},
	{Name: "line_no", Kind: engine.Int, Doc: "Product line within the order, from 1."},
	{Name: "product_no", Kind: engine.String, Doc: "Product number. From the order detail: reading it costs one more request per order."},
	{Name: "sku_no", Kind: engine.String, Doc: "SKU number."},
	{Name: "product_name", Kind: engine.String},
	{Name: "price", Kind: engine.Int, Doc: "Unit price without options."},
	{Name: "count", Kind: engine.Int},
	{Name: "option_price", Kind: engine.Int, Doc: "Sum of the line's option prices, per unit."},
	{Name: "option_text", Kind: engine.String, Doc: `Options as "name:selection, …".`},
}

func (s *source) Fields() []engine.Field { return slices.Clone(sourceFields) }

func (s *source) Label() string { return "order_no" }

// Shares implements engine.Sharer.
func (s *source) Shares() []string { return s.cfg.shares() }

// Shop names the shop for people: see config.Shop.
func (s *source) Shop() string { return s.cfg.Shop() }

// detailFields are the fields only the order detail has.
var detailFields = []string{"product_no", "updated_at"}

// UseFields implements engine.FieldUser: the source asks for each order's
// detail only when the job reads a field only the detail has.
func (s *source) UseFields(names []string) {
	s.detail = false
	for _, n := range names {
		if slices.Contains(detailFields, n) {
			s.detail = true
		}
	}
}

// Open starts the search over [local midnight of today−days, now].
func (s *source) Open(ctx context.Context) (engine.Records, error) {
	c, err := openClient(ctx, s.cfg)
	if err != nil {
		return nil, err
	}
	now := engine.Now(ctx).In(s.loc)
	y, m, d := now.Date()
	start := time.Date(y, m, d-s.days, 0, 0, 0, 0, s.loc)
	// futureshop reads zone-less times as JST whatever the job's zone.
	q := url.Values{
		paramOrderDateStart: {start.In(jst).Format(timeLayout)},
		paramOrderDateEnd:   {now.In(jst).Format(timeLayout)},
	}
	if s.shippingStatus != "" {
		q.Set(paramShippingStatus, s.shippingStatus)
	}
	if s.paymentStatus != "" {
		q.Set(paramPaymentStatus, s.paymentStatus)
	}
	if paramPageSize != "" {
		q.Set(paramPageSize, strconv.Itoa(searchPageSize))
	}
	return &records{pager: newPager(c, c.endpoint(searchPath, q)), loc: s.loc, oi: -1, emitted: map[string]bool{}, detail: s.detail}, nil
}

// records pages through the search lazily, one page in memory.
type records struct {
	*pager
	loc *time.Location

	orders []searchOrder
	oi     int // current order
	lines  []lineRef
	li     int // next line of the current order
	// emitted holds the orders read so far: the list can shift while it
	// is paged, and an order listed again on a later page is skipped.
	emitted map[string]bool
	again   bool // the current order was listed before

	detail  bool         // read each order's detail
	details *detailOrder // the current order's detail
}

type lineRef struct {
	shipment *searchShipment
	product  *product // nil for an order without products
	index    int      // of the product in its shipment
}

func (r *records) Next(ctx context.Context, rec engine.Record) (engine.Meta, error) {
	for r.li >= len(r.lines) {
		// Move to the next order, fetching pages as needed.
		r.oi++
		for r.oi >= len(r.orders) {
			if r.next == nil {
				return engine.Meta{}, io.EOF
			}
			orders, err := r.fetch(ctx)
			if err != nil {
				return engine.Meta{}, err
			}
			r.orders, r.oi = orders, 0
		}
		o := &r.orders[r.oi]
		r.again = r.emitted[o.OrderNo]
		r.emitted[o.OrderNo] = true
		r.lines, r.li, r.details = nil, 0, nil
		if r.detail && !r.again {
			d, err := r.orderDetail(ctx, o.OrderNo)
			if err != nil {
				return engine.Meta{}, err
			}
			r.details = d
		}
		for si := range o.ShipmentList {
			sh := &o.ShipmentList[si]
			for pi := range sh.ProductList {
				r.lines = append(r.lines, lineRef{sh, &sh.ProductList[pi], pi})
			}
		}
		if len(r.lines) == 0 {
			// Keep an order without product lines visible as one record.
			var sh *searchShipment
			if len(o.ShipmentList) > 0 {
				sh = &o.ShipmentList[0]
			}
			r.lines = []lineRef{{shipment: sh}}
		}
		if err := r.fillOrder(engine.Record{}, o); err != nil {
			// The whole order is bad: report it once and skip its lines.
			r.li = len(r.lines)
			return engine.Meta{}, &engine.RecordError{Pos: "futureshop order " + o.OrderNo, Err: err}
		}
	}
	o := &r.orders[r.oi]
	l := r.lines[r.li]
	r.li++
	if err := r.fillOrder(rec, o); err != nil {
		return engine.Meta{}, &engine.RecordError{Pos: "futureshop order " + o.OrderNo, Err: err}
	}
	pos := "futureshop order " + o.OrderNo
	if l.shipment != nil {
		sh := l.shipment
		rec["shipment_no"] = sh.ShipmentNo
		setString(rec, "delivery_service", sh.ShippingInfo.DeliveryServiceName)
		setString(rec, "invoice_no", sh.ShippingInfo.InvoiceNo)
		setString(rec, "preferred_delivery_time", sh.ShippingInfo.PreferredDeliveryTime)
		for _, d := range []struct{ key, v string }{
			{"shipping_date", sh.ShippingInfo.ShippingDate},
			{"expected_arrival", sh.ShippingInfo.ExpectedArrival},
			{"preferred_delivery_date", sh.ShippingInfo.PreferredDeliveryDate},
		} {
			if d.v == "" {
				continue
			}
			t, err := time.ParseInLocation(dateLayout, d.v, r.loc)
			if err != nil {
				return engine.Meta{}, &engine.RecordError{Pos: pos, Err: fmt.Errorf("%s %q is not a yyyy-mm-dd date", d.key, d.v)}
			}
			rec[d.key] = t
		}
	}
	if p := l.product; p != nil {
		pos += " line " + strconv.Itoa(r.li)
		rec["line_no"] = int64(r.li)
		setString(rec, "product_no", r.productNo(l))
		setString(rec, "sku_no", p.SkuNo)
		setString(rec, "product_name", p.Name)
		rec["price"] = p.Price
		rec["count"] = p.Count
		var sum int64
		var texts []string
		for _, op := range p.OptionPriceList {
			sum += op.Price
			texts = append(texts, op.Name+":"+op.SelectionName)
		}
		rec["option_price"] = sum
		if len(texts) > 0 {
			rec["option_text"] = strings.Join(texts, ", ")
		}
	}
	meta := engine.Meta{Pos: pos}
	if r.again {
		meta.Skip = "listed again on a later page of the order search; read once"
	}
	return meta, nil
}

func (r *records) fillOrder(rec engine.Record, o *searchOrder) error {
	rec["order_no"] = o.OrderNo
	setString(rec, "status", o.Status)
	rec["grand_total"] = o.GrandTotal
	updated := ""
	if r.details != nil {
		updated = r.details.DateLastUpdated
	}
	for _, t := range []struct{ key, v string }{{"ordered_at", o.Date}, {"updated_at", updated}} {
		if t.v == "" {
			continue
		}
		v, err := parseTime(t.v, r.loc)
		if err != nil {
			return fmt.Errorf("%s %q is not a yyyy-MM-ddTHH:mm:ss time", t.key, t.v)
		}
		rec[t.key] = v
	}
	b := o.BuyerInfo
	pref := prefecture(b.Prefecture)
	setString(rec, "buyer_name", strings.TrimSpace(b.LastName+" "+b.FirstName))
	setString(rec, "buyer_email", b.Mail)
	setString(rec, "buyer_phone", b.TelNoMain)
	setString(rec, "buyer_zip", b.ZipCode)
	setString(rec, "buyer_prefecture", pref)
	setString(rec, "buyer_address", pref+b.Address1+b.Address2+b.Address3)
	return nil
}

// getJSON GETs u (orders: how many orders the call covers, as for call)
// and decodes a 200 answer into out. Any other status is a *StatusError
// carrying the shop's first error; a body that does not decode is named.
func (c *client) getJSON(ctx context.Context, u *url.URL, orders int, out any) error {
	resp, err := c.call(ctx, http.MethodGet, u, nil, orders, true)
	if err != nil {
		return err
	}
	if resp.status != http.StatusOK {
		se := &StatusError{Method: http.MethodGet, Path: u.Path, StatusCode: resp.status}
		var ur updateResponse
		if decodeJSON(resp.body, &ur) == nil && len(ur.Errors) > 0 {
			se.Code, se.Message = ur.Errors[0].Code, ur.Errors[0].Message
		}
		return se
	}
	if err := decodeJSON(resp.body, out); err != nil {
		return fmt.Errorf("futureshop GET %s: malformed response: %w", u.Path, err)
	}
	return nil
}

// orderDetail reads one order's detail.
func (r *records) orderDetail(ctx context.Context, orderNo string) (*detailOrder, error) {
	u := r.c.endpoint(detailPath+url.PathEscape(orderNo), nil)
	var d detailOrder
	if err := r.c.getJSON(ctx, u, 1, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// productNo finds a search line's product number in the order's detail:
// the line at the same place in the same shipment, when its SKU agrees,
// else the shipment's line of that SKU.
func (r *records) productNo(l lineRef) string {
	if r.details == nil || l.shipment == nil || l.product == nil {
		return ""
	}
	for _, sh := range r.details.ShipmentList {
		if sh.ShipmentNo != l.shipment.ShipmentNo {
			continue
		}
		if i := l.index; i < len(sh.ProductList) && sh.ProductList[i].SkuNo == l.product.SkuNo {
			return sh.ProductList[i].ProductNo
		}
		for _, p := range sh.ProductList {
			if p.SkuNo == l.product.SkuNo {
				return p.ProductNo
			}
		}
	}
	return ""
}

// parseTime reads futureshop's zone-less JST time and returns it in the
// job's zone.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.Replace(s, " ", "T", 1)
	t, err := time.ParseInLocation(timeLayout, s, jst)
	if err != nil {
		return time.Time{}, err
	}
	return t.In(loc), nil
}

// setString sets a string field, leaving "" unset.
func setString(rec engine.Record, key, v string) {
	if v != "" {
		rec[key] = v
	}
}

// pager reads the order search a page at a time, following nextUrl. A
// nextUrl that leads back to a page already read is an error, not a loop.
type pager struct {
	c    *client
	next *url.URL // next page; nil after the last
	read map[string]bool
}

func newPager(c *client, first *url.URL) *pager {
	return &pager{c: c, next: first, read: map[string]bool{}}
}

// fetch reads the next page and resolves its nextUrl.
func (p *pager) fetch(ctx context.Context) ([]searchOrder, error) {
	u := p.next
	if p.read[u.String()] {
		return nil, fmt.Errorf("futureshop GET %s: nextUrl leads back to a page already read (%s); stopping rather than reading the search in a loop",
			u.Path, u.RawQuery)
	}
	p.read[u.String()] = true
	var page searchResponse
	if err := p.c.getJSON(ctx, u, 0, &page); err != nil {
		return nil, err
	}
	p.next = nil
	if page.NextURL != "" {
		next, err := p.resolve(u, page.NextURL)
		if err != nil {
			return nil, err
		}
		p.next = next
	}
	return page.OrderList, nil
}

// resolve resolves nextUrl against the page it came with, and refuses one
// that leaves the configured host: the token must not go elsewhere.
func (p *pager) resolve(page *url.URL, next string) (*url.URL, error) {
	ref, err := url.Parse(next)
	if err != nil {
		return nil, fmt.Errorf("futureshop GET %s: nextUrl is not a URL", page.Path)
	}
	u := page.ResolveReference(ref)
	if u.Scheme != p.c.base.Scheme || u.Host != p.c.base.Host {
		return nil, fmt.Errorf("futureshop GET %s: nextUrl points to another host (%s); refusing to send credentials there", page.Path, u.Host)
	}
	return u, nil
}

// searchOrders looks orders up by number with the order search, a batch of
// numbers per search, and calls fn for each order found.
func searchOrders(ctx context.Context, c *client, nos []string, fn func(*searchOrder)) error {
	for len(nos) > 0 {
		n := min(len(nos), maxOrdersPerSearch)
		p := newPager(c, c.endpoint(searchPath, url.Values{"orderNo": {strings.Join(nos[:n], ",")}}))
		for p.next != nil {
			orders, err := p.fetch(ctx)
			if err != nil {
				return err
			}
			for i := range orders {
				fn(&orders[i])
			}
		}
		nos = nos[n:]
	}
	return nil
}

func (r *records) Close() error {
	r.c.close()
	return nil
}

func (s *source) String() string   { return s.cfg.String() + " source" }
func (s *source) GoString() string { return s.String() }
