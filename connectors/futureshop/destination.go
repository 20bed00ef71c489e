package futureshop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"

	"github.com/goqsync/runner/engine"
	"github.com/hashicorp/hcl/v2"
)

// Destination fields.
const (
	fieldOrderNo         = "order_no"
	fieldShipmentNo      = "shipment_no"
	fieldShippingDate    = "shipping_date"
	fieldInvoiceNo       = "invoice_no"
	fieldExpectedArrival = "expected_arrival"
	fieldCarrier         = "carrier"
)

// ActionCompleteOrder moves orders to 処理済み after their shipping update.
const ActionCompleteOrder = "complete_order"

type destConfig struct {
	BatchSize         *int    `hcl:"batch_size,optional"`
	PointsActivation  *string `hcl:"points_activation,optional"`
	ParkNotFoundAfter *int    `hcl:"park_not_found_after,optional"`
}

// defaultNotFoundTries is park_not_found_after's default.
const defaultNotFoundTries = 3

// destination is the shipping sink: 発送API plus the 処理済み action.
type destination struct {
	cfg           config
	batchSize     int
	notFoundTries int
	completeOrder bool
	points        string // normalised ポイント有効処理設定, "" when not stated
	cmp           compareClient
}

// NewDestination decodes a futureshop destination block. It is the
// registry's factory for the destination "futureshop".
func NewDestination(body hcl.Body, s *engine.Settings) (engine.Destination, hcl.Diagnostics) {
	var ctx *hcl.EvalContext
	if s != nil {
		ctx = s.Eval
	}
	var creds credentials
	var dc destConfig
	diags := decodeBody(body, ctx, &creds, &dc)
	if diags.HasErrors() {
		return nil, diags
	}
	cfg, cdiags := creds.config(body)
	diags = append(diags, cdiags...)
	d := &destination{cfg: cfg, batchSize: maxOrdersPerUpdate, notFoundTries: defaultNotFoundTries}
	if dc.BatchSize != nil {
		if n := *dc.BatchSize; n < 1 || n > maxOrdersPerUpdate {
			diags = append(diags, attrDiag(body, "batch_size", hcl.DiagError, "Invalid batch_size",
				fmt.Sprintf("batch_size must be between 1 and %d: futureshop takes at most %d orders per call.", maxOrdersPerUpdate, maxOrdersPerUpdate)))
		} else {
			d.batchSize = n
		}
	}
	if dc.ParkNotFoundAfter != nil {
		if n := *dc.ParkNotFoundAfter; n < 1 {
			diags = append(diags, attrDiag(body, "park_not_found_after", hcl.DiagError, "Invalid park_not_found_after",
				"park_not_found_after is how many runs in a row an order futureshop does not know is tried before it is parked: 1 or more."))
		} else {
			d.notFoundTries = n
		}
	}
	if dc.PointsActivation != nil {
		p, ok := normPoints(*dc.PointsActivation)
		if !ok {
			diags = append(diags, attrDiag(body, "points_activation", hcl.DiagError, "Invalid points_activation",
				fmt.Sprintf("points_activation is the shop's ポイント有効処理設定: %q, %q or %q (or on_order, on_complete, on_ship).",
					pointsOnOrder, pointsOnComplete, pointsOnShip)))
		}
		d.points = p
	}
	d.completeOrder = s != nil && slices.Contains(s.Actions, ActionCompleteOrder)
	if msg := d.Caveat(); msg != "" {
		diags = append(diags, attrDiag(body, "points_activation", hcl.DiagWarning, "Points need manual activation", msg))
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return d, diags
}

func (d *destination) Fields() []engine.Field { return destinationFields() }

func destinationFields() []engine.Field {
	unsent := "futureshop's 発送API has no confirmed key for the carrier (配送会社), so the value is accepted but not sent."
	if carrierKey != "" {
		unsent = ""
	}
	return []engine.Field{
		{Name: fieldOrderNo, Kind: engine.String, Required: true, MaxBytes: maxOrderNoBytes,
			Doc: "futureshop order number (受注コード)."},
		{Name: fieldShipmentNo, Kind: engine.Int,
			Doc: "Shipment number within the order; 1 when not mapped."},
		{Name: fieldShippingDate, Kind: engine.Date,
			Doc: "Ship date (出荷日); writing it marks the shipment 発送済み."},
		{Name: fieldInvoiceNo, Kind: engine.String, MaxBytes: maxInvoiceNoBytes,
			Doc: "Tracking number (お荷物伝票番号); full-width characters allowed."},
		{Name: fieldExpectedArrival, Kind: engine.Date,
			Doc: "Expected arrival date (到着予定日); \"\" clears it."},
		{Name: fieldCarrier, Kind: engine.String, Unsent: unsent,
			Doc: "Carrier (配送会社)."},
	}
}

// Key is "orderNo/shipmentNo", the unit futureshop updates.
func (d *destination) Key(values map[string]any) string {
	no, _ := values[fieldOrderNo].(string)
	sn := shipmentNo(values)
	return no + "/" + strconv.FormatInt(sn, 10)
}

func (d *destination) BatchSize() int { return d.batchSize }

// Scope implements engine.Scoper: what was sent is remembered per shop.
func (d *destination) Scope() string { return d.cfg.identity() }

// Shop names the shop for people: see config.Shop.
func (d *destination) Shop() string { return d.cfg.Shop() }

// Shares implements engine.Sharer.
func (d *destination) Shares() []string { return d.cfg.shares() }

// Cost implements engine.Coster: the 発送API takes batchSize orders a
// call, and 処理済み the same orders a call after it.
func (d *destination) Cost(batch []engine.Payload) []engine.Calls {
	n := len(chunkByOrder(batch, func(p engine.Payload) string { no, _ := p.Values[fieldOrderNo].(string); return no }, d.batchSize))
	calls := []engine.Calls{{Kind: "shipping", N: n}}
	if d.completeOrder {
		calls = append(calls, engine.Calls{Kind: "complete", N: n})
	}
	return calls
}

// Overhead implements engine.Coster: a run's first call fetches a token.
func (d *destination) Overhead() []engine.Calls { return []engine.Calls{{Kind: "token", N: 1}} }

// Rate implements engine.Coster.
func (d *destination) Rate() float64 { return d.cfg.rateLimit }

// Calls implements engine.CallCounter: the requests the connection sent.
func (c *conn) Calls() map[string]int { return c.c.Calls() }

// SideEffects implements engine.SideEffecter: 処理済み on an order whose
// payload has no ship date leaves its shipment 未発送 in a completed order,
// which the shop's staff would not expect of an export.
func (d *destination) SideEffects(p engine.Payload) []string {
	if !d.completeOrder {
		return nil
	}
	if s, _ := p.Values[fieldShippingDate].(string); s == "" {
		return []string{noShipDate}
	}
	return nil
}

// noShipDate is the side effect of completing an order with no ship date.
const noShipDate = "出荷日なしで処理済みになります（発送は未発送のまま） / marked 処理済み with no 出荷日: the shipment stays 未発送"

// Caveat returns the points caveat when the job moves orders to 処理済み
// and the shop activates points on a status change, since API status
// changes do not activate them; otherwise "".
func (d *destination) Caveat() string {
	switch {
	case d.completeOrder && (d.points == pointsOnComplete || d.points == pointsOnShip):
		return fmt.Sprintf("ポイント有効処理設定が「%s」のため、APIによるステータス変更では購入者のポイントが有効になりません。対象の注文のポイントを手動で有効にしてください（推奨設定:「%s」） / "+
			"the shop activates points %s: status changes made through the API do not activate the buyer's points, so activate them by hand for these orders (recommended setting: %s)",
			d.points, pointsOnOrder, d.points, pointsOnOrder)
	}
	return ""
}

func (d *destination) Open(ctx context.Context) (engine.Conn, error) {
	c, err := openClient(ctx, d.cfg)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, batchSize: d.batchSize, notFound: d.notFoundTries}, nil
}

type conn struct {
	c         *client
	batchSize int
	notFound  int // park_not_found_after
}

// parkAfter lets an order futureshop does not know be parked after
// notFound runs in a row: it may be an order not yet in the shop, but one
// still unknown after a few runs would fail every run for ever.
func (c *conn) parkAfter(results []engine.Result) {
	for i := range results {
		if !results[i].OK && results[i].Code == codeNotFound {
			results[i].ParkAfter = c.notFound
		}
	}
}

// shipmentNo reads shipment_no, 1 when unmapped. Payloads come from the
// engine, which makes an Int field's value an int64.
func shipmentNo(values map[string]any) int64 {
	if n, ok := values[fieldShipmentNo].(int64); ok {
		return n
	}
	return 1
}

// item is one payload as the 発送API receives it.
type item struct {
	idx        int
	orderNo    string
	shipmentNo int64
	info       map[string]string
}

// buildItem turns a payload into an item. A key absent from the payload
// is never sent: futureshop blanks a field sent as "". The engine has made
// the values canonical (strings, yyyy-mm-dd dates, int64) and within each
// field's MaxBytes; what is left to refuse is what futureshop cannot take.
func buildItem(i int, p engine.Payload) (item, *engine.Result) {
	fail := func(format string, a ...any) (item, *engine.Result) {
		return item{}, &engine.Result{Code: "Invalid", Message: fmt.Sprintf(format, a...), Permanent: true}
	}
	no, _ := p.Values[fieldOrderNo].(string)
	if no == "" {
		return fail("order_no is empty")
	}
	sn := shipmentNo(p.Values)
	if sn < 1 {
		return fail("shipment_no %d is not a positive integer", sn)
	}
	it := item{idx: i, orderNo: no, shipmentNo: sn, info: map[string]string{}}
	for _, f := range []struct{ field, key string }{
		{fieldShippingDate, keyShippingDate},
		{fieldInvoiceNo, keyInvoiceNo},
		{fieldExpectedArrival, keyExpectedArrival},
		{fieldCarrier, carrierKey},
	} {
		if s, ok := p.Values[f.field].(string); ok && f.key != "" {
			it.info[f.key] = s
		}
	}
	return it, nil
}

// Write sends the batch to the 発送API, one call per batchSize orders, and
// returns futureshop's verdict for every payload.
func (c *conn) Write(ctx context.Context, batch []engine.Payload) ([]engine.Result, error) {
	results := make([]engine.Result, len(batch))
	var items []item
	for i, p := range batch {
		it, bad := buildItem(i, p)
		if bad != nil {
			results[i] = *bad
			continue
		}
		items = append(items, it)
	}
	for _, chunk := range chunkByOrder(items, func(it item) string { return it.orderNo }, c.batchSize) {
		if err := c.ship(ctx, chunk, results, true); err != nil {
			return nil, err
		}
	}
	c.parkAfter(results)
	return results, nil
}

// chunkByOrder splits items into runs of at most n distinct orders, keeping
// the shipments of one order in one call.
func chunkByOrder[T any](items []T, orderNo func(T) string, n int) [][]T {
	var chunks [][]T
	var cur []T
	seen := map[string]bool{}
	for _, it := range items {
		no := orderNo(it)
		if !seen[no] && len(seen) == n {
			chunks = append(chunks, cur)
			cur, seen = nil, map[string]bool{}
		}
		seen[no] = true
		cur = append(cur, it)
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}

// ship sends one 発送API call. When futureshop rejects the request for
// errors that name orders (orderList[i]…), those orders fail permanently
// and, if retry is set, the rest is sent again once. The 発送API is
// idempotent (it sets values), so the client may send it again after a
// failure that leaves doubt.
func (c *conn) ship(ctx context.Context, items []item, results []engine.Result, retry bool) error {
	var req shippingRequest
	pos := map[string]int{} // orderNo → index in req.OrderList
	for _, it := range items {
		i, ok := pos[it.orderNo]
		if !ok {
			i = len(req.OrderList)
			pos[it.orderNo] = i
			req.OrderList = append(req.OrderList, shippingOrder{OrderNo: it.orderNo})
		}
		req.OrderList[i].ShipmentList = append(req.OrderList[i].ShipmentList,
			shippingShipment{ShipmentNo: it.shipmentNo, ShippingInfo: it.info})
	}
	resp, err := c.update(ctx, shippingStatusPath, req, len(req.OrderList), true)
	if err != nil {
		return err
	}
	if resp.rejected != nil {
		bad := rejectedOrders(resp.body.Errors, len(req.OrderList))
		if len(bad) == 0 || !retry {
			return resp.rejected
		}
		var rest []item
		for _, it := range items {
			if e, ok := bad[pos[it.orderNo]]; ok {
				results[it.idx] = engine.Result{Code: e.Code, Message: e.Message, Permanent: true}
				continue
			}
			rest = append(rest, it)
		}
		if len(rest) == 0 {
			return nil
		}
		return c.ship(ctx, rest, results, false)
	}
	for _, it := range items {
		results[it.idx] = resp.result(it.orderNo)
	}
	return nil
}

// Apply runs a post-export action on payloads whose Write succeeded.
func (c *conn) Apply(ctx context.Context, action string, batch []engine.Payload) ([]engine.Result, error) {
	if action != ActionCompleteOrder {
		return nil, fmt.Errorf("unknown action %q", action)
	}
	results := make([]engine.Result, len(batch))
	type ref struct {
		idx     int
		orderNo string
	}
	var refs []ref
	for i, p := range batch {
		no, _ := p.Values[fieldOrderNo].(string)
		if no == "" {
			results[i] = engine.Result{Code: "Invalid", Message: "order_no is empty", Permanent: true}
			continue
		}
		refs = append(refs, ref{i, no})
	}
	for _, chunk := range chunkByOrder(refs, func(r ref) string { return r.orderNo }, c.batchSize) {
		var nos []string
		seen := map[string]bool{}
		for _, r := range chunk {
			if !seen[r.orderNo] {
				seen[r.orderNo] = true
				nos = append(nos, r.orderNo)
			}
		}
		byOrder, err := c.complete(ctx, nos)
		if err != nil {
			return nil, err
		}
		for _, r := range chunk {
			results[r.idx] = byOrder[r.orderNo]
		}
	}
	c.parkAfter(results)
	return results, nil
}

// complete moves orders to 処理済み. The call is not idempotent (each one
// changes an order's status, and may trigger the shop's own actions), so
// after an answer that leaves doubt (a timeout, a lost connection, a
// gateway error, a body that confirms nothing) it is not simply sent again:
// the orders are read back with the order search, and only those not yet
// 処理済み are sent again.
func (c *conn) complete(ctx context.Context, nos []string) (map[string]engine.Result, error) {
	out := make(map[string]engine.Result, len(nos))
	todo := nos
	for try := 1; len(todo) > 0; try++ {
		var req completeRequest
		for _, no := range todo {
			req.OrderList = append(req.OrderList, completeOrder{OrderNo: no})
		}
		resp, err := c.update(ctx, completePath, req, len(req.OrderList), false)
		if err == nil && resp.rejected != nil {
			return nil, resp.rejected
		}
		if err == nil {
			for _, no := range todo {
				out[no] = resp.result(no)
			}
			return out, nil
		}
		var doubt *inDoubtError
		if !errors.As(err, &doubt) || try >= c.c.cfg.maxTries {
			return nil, err
		}
		done, rerr := c.completed(ctx, todo)
		if rerr != nil {
			return nil, fmt.Errorf("%w; reading back which orders it completed failed too: %v", err, rerr)
		}
		var rest []string
		for _, no := range todo {
			if done[no] {
				out[no] = engine.Result{OK: true}
			} else {
				rest = append(rest, no)
			}
		}
		todo = rest
	}
	return out, nil
}

// completed reads back which of nos futureshop holds as 処理済み.
func (c *conn) completed(ctx context.Context, nos []string) (map[string]bool, error) {
	done := map[string]bool{}
	err := searchOrders(ctx, c.c, nos, func(o *searchOrder) {
		if o.Status == orderStatusCompleted {
			done[o.OrderNo] = true
		}
	})
	return done, err
}

func (c *conn) Close(ctx context.Context) error {
	c.c.close()
	return nil
}

// updateResult is a parsed update response.
type updateResult struct {
	body     updateResponse
	byOrder  map[string]orderResult
	rejected *StatusError // the whole request was refused
}

// result is the verdict for one order: ok only when futureshop's answer
// lists the order with status "success". An order the answer does not
// list, or lists with anything else, failed, and says why.
func (u *updateResult) result(orderNo string) engine.Result {
	r, ok := u.byOrder[orderNo]
	switch {
	case ok && r.Status == statusSuccess:
		return engine.Result{OK: true}
	case ok:
		msg := r.Message
		if msg == "" {
			msg = fmt.Sprintf("futureshop answered status %q for the order, not %q, and no message", r.Status, statusSuccess)
		}
		code := r.Code
		if code == "" {
			code = "NotConfirmed"
		}
		return engine.Result{Code: code, Message: msg, Permanent: permanentCodes[r.Code]}
	}
	msg := "futureshop's answer has no result for this order"
	if len(u.body.Errors) > 0 {
		msg += ": " + u.body.Errors[0].Code + " " + u.body.Errors[0].Message
	}
	return engine.Result{Code: "NoResult", Message: msg}
}

// update posts an update body and parses the response. Non-2xx answers
// with a futureshop error body come back as rejected. A 2xx answer must
// list per-order results: anything else (null, {}, a bare status, an empty
// list, a body that does not parse) confirms nothing and is an
// *inDoubtError quoting the start of the body.
func (c *conn) update(ctx context.Context, path string, body any, orders int, idempotent bool) (*updateResult, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding %s request: %w", path, err)
	}
	resp, err := c.c.call(ctx, http.MethodPost, c.c.endpoint(path, nil), b, orders, idempotent)
	if err != nil {
		return nil, err
	}
	var u updateResult
	perr := decodeJSON(resp.body, &u.body)
	if resp.status < 200 || resp.status > 299 {
		se := &StatusError{Method: http.MethodPost, Path: path, StatusCode: resp.status}
		if perr == nil && len(u.body.Errors) > 0 {
			se.Code, se.Message = u.body.Errors[0].Code, u.body.Errors[0].Message
		}
		if perr != nil || len(u.body.Results) == 0 {
			u.rejected = se
			if resp.status >= 500 || perr != nil {
				return nil, se
			}
			return &u, nil
		}
	} else if perr != nil || len(u.body.Results) == 0 {
		why := "no per-order results"
		if perr != nil {
			why = "a body that does not parse"
		}
		return nil, &inDoubtError{fmt.Errorf("futureshop POST %s: %d with %s, which confirms no order: %s",
			path, resp.status, why, snippet(resp.body))}
	}
	u.byOrder = make(map[string]orderResult, len(u.body.Results))
	for _, r := range u.body.Results {
		u.byOrder[r.OrderNo] = r
	}
	return &u, nil
}

// snippet quotes the start of a response body for an error message.
func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "…"
	}
	return strconv.Quote(string(b))
}

var orderPathRE = regexp.MustCompile(`^orderList\[(\d+)\]`)

// rejectedOrders maps order indexes to the error naming them, when every
// error names an order; otherwise it returns nil, since an error that names
// no order means the whole request was wrong.
func rejectedOrders(errs []apiError, n int) map[int]apiError {
	bad := map[int]apiError{}
	for _, e := range errs {
		m := orderPathRE.FindStringSubmatch(e.Path)
		if m == nil {
			return nil
		}
		i, err := strconv.Atoi(m[1])
		if err != nil || i >= n {
			return nil
		}
		if _, dup := bad[i]; !dup {
			bad[i] = e
		}
	}
	return bad
}

func (d *destination) String() string   { return d.cfg.String() + " destination" }
func (d *destination) GoString() string { return d.String() }
