package futureshop

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
	"github.com/hashicorp/hcl/v2"
)

func TestDecodeDestination(t *testing.T) {
	base := `
api_domain    = ""
shop_key      = ""
client_id     = ""
client_secret = ""
`
	tests := []struct {
		name     string
		body     string
		complete bool   // after_export turns complete_order on
		err      string // summary of the expected error
		warn     string // summary of the expected warning
		warnAt   string // the source text the warning points at
		actions  []string
		batch    int
	}{
		{name: "empty credentials decode", body: base, batch: 100},
		{name: "batch size", body: base + "batch_size = 40\n", batch: 40},
		{name: "batch size over 100", body: base + "batch_size = 101\n", err: "Invalid batch_size"},
		{name: "http off loopback", body: strings.Replace(base, `api_domain    = ""`, `api_domain = "http://shop.example.jp"`, 1), err: "Invalid api_domain"},
		{name: "rate limit", body: base + "rate_limit = 0\n", err: "Invalid rate_limit"},
		{name: "timeout", body: base + "timeout = \"soon\"\n", err: "Invalid timeout"},
		{name: "unknown points setting", body: base + "points_activation = \"often\"\n", err: "Invalid points_activation"},
		{name: "unknown attribute", body: base + "carrier_key = \"x\"\n", err: "Unsupported argument"},
		{name: "complete order", body: base, complete: true, actions: []string{ActionCompleteOrder}, batch: 100},
		{
			name: "points on complete", body: base + "points_activation = \"処理済み時に有効\"\n", complete: true,
			warn: "Points need manual activation", warnAt: `"処理済み時に有効"`, actions: []string{ActionCompleteOrder}, batch: 100,
		},
		{name: "points on complete, no status change", body: base + "points_activation = \"on_complete\"\n", batch: 100},
		{name: "points on ship, no status change", body: base + "points_activation = \"on_ship\"\n", batch: 100},
		{
			name: "points on ship", body: base + "points_activation = \"on_ship\"\n", complete: true,
			warn: "Points need manual activation", warnAt: `"on_ship"`, actions: []string{ActionCompleteOrder}, batch: 100,
		},
		{name: "points on order", body: base + "points_activation = \"注文完了時に有効\"\n", complete: true, actions: []string{ActionCompleteOrder}, batch: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := settings()
			if tt.complete {
				s.Actions = []string{ActionCompleteOrder}
			}
			d, diags := NewDestination(parseBody(t, tt.body), s)
			if tt.err != "" {
				if !diags.HasErrors() || diags[0].Summary != tt.err {
					t.Fatalf("diags = %v, want error %q", diags, tt.err)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("diags = %v", diags)
			}
			if tt.warn == "" && len(diags) > 0 {
				t.Fatalf("unexpected diags %v", diags)
			}
			if tt.warn != "" {
				if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Summary != tt.warn {
					t.Fatalf("diags = %v, want warning %q", diags, tt.warn)
				}
				r := diags[0].Subject
				if got := string(r.SliceBytes([]byte(tt.body))); got != tt.warnAt {
					t.Errorf("warning points at %q, want %q", got, tt.warnAt)
				}
				c := d.(engine.Caveater).Caveat()
				if !strings.Contains(c, "手動") || !strings.Contains(c, "by hand") || strings.Contains(c, "\n") {
					t.Errorf("Caveat() = %q, want one line in Japanese and English", c)
				}
			} else if c := d.(engine.Caveater).Caveat(); c != "" {
				t.Errorf("Caveat() = %q, want none", c)
			}
			if got := actions(d.(*destination)); !equal(got, tt.actions) {
				t.Errorf("actions = %v, want %v", got, tt.actions)
			}
			if d.BatchSize() != tt.batch {
				t.Errorf("BatchSize() = %d, want %d", d.BatchSize(), tt.batch)
			}
		})
	}
}

func TestOpenChecksCredentials(t *testing.T) {
	d, diags := NewDestination(parseBody(t, `
api_domain    = "shop.example.jp"
shop_key      = "k"
client_id     = "id"
client_secret = ""
`), settings())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, err := d.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "client_secret is empty") {
		t.Fatalf("Open = %v, want client_secret is empty", err)
	}
}

func TestFieldsAndKey(t *testing.T) {
	d := &destination{}
	fields := map[string]engine.Field{}
	for _, f := range d.Fields() {
		fields[f.Name] = f
	}
	if f := fields[fieldOrderNo]; !f.Required || f.MaxBytes != 12 || f.Kind != engine.String {
		t.Errorf("order_no = %+v", f)
	}
	if f := fields[fieldInvoiceNo]; f.MaxBytes != 100 {
		t.Errorf("invoice_no = %+v", f)
	}
	if f := fields[fieldCarrier]; f.Unsent == "" {
		t.Errorf("carrier has no Unsent note while its key is unconfirmed")
	}
	for name, kind := range map[string]engine.Kind{fieldShipmentNo: engine.Int, fieldShippingDate: engine.Date, fieldExpectedArrival: engine.Date} {
		if fields[name].Kind != kind {
			t.Errorf("%s kind = %v, want %v", name, fields[name].Kind, kind)
		}
	}
	for _, tt := range []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{"order_no": "100000001201"}, "100000001201/1"},
		{map[string]any{"order_no": "100000001201", "shipment_no": int64(2)}, "100000001201/2"},
	} {
		if got := d.Key(tt.values); got != tt.want {
			t.Errorf("Key(%v) = %q, want %q", tt.values, got, tt.want)
		}
	}
}

// TestCallCount: N shipped orders cost ⌈N/100⌉ shipping calls, ⌈N/100⌉
// complete calls and one token call, within the rate.
func TestCallCount(t *testing.T) {
	srv := newServer(t)
	nos := seed(srv, 250)
	d := newDest(t, srv, "", true)
	failed, err := export(context.Background(), t, d, shipped(nos))
	if err != nil || len(failed) > 0 {
		t.Fatalf("export: %v, failed %v", err, failed)
	}
	reqs := srv.Requests()
	want := map[string]int{tokenPath: 1, shippingStatusPath: 3, completePath: 3}
	if got := count(reqs); !equalMap(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	checkRate(t, reqs, testRate)
	for _, no := range nos {
		o, _ := srv.Order(no)
		sh := o.Shipments[0]
		if o.Status != futureshoptest.StatusCompleted || sh.Status != futureshoptest.ShipmentShipped ||
			sh.ShippingDate != "2026-11-27" || sh.InvoiceNo != "INV-"+no {
			t.Fatalf("order %s after export: %+v", no, o)
		}
	}
}

// TestOnlyMappedKeys: a key the payload lacks is never sent; "" is sent
// and clears.
func TestOnlyMappedKeys(t *testing.T) {
	srv := newServer(t)
	o := futureshoptest.NewOrder("100000001201", testNow)
	o.Shipments[0].InvoiceNo = "KEEP-ME"
	o.Shipments[0].ExpectedArrival = "2026-11-30"
	srv.AddOrder(o)
	o2 := futureshoptest.NewOrder("100000001202", testNow)
	o2.Shipments[0].InvoiceNo = "OLD"
	o2.Shipments[0].ExpectedArrival = "2026-11-30"
	srv.AddOrder(o2)

	d := newDest(t, srv, "", false)
	payloads := []engine.Payload{
		shipPayload("100000001201", fieldShippingDate, "2026-11-27", fieldCarrier, "ヤマト運輸"),
		shipPayload("100000001202", fieldShippingDate, "2026-11-27", fieldExpectedArrival, "", fieldInvoiceNo, "ＮＥＷ１２３"),
	}
	if failed, err := export(context.Background(), t, d, payloads); err != nil || len(failed) > 0 {
		t.Fatalf("export: %v, failed %v", err, failed)
	}
	got, _ := srv.Order("100000001201")
	if sh := got.Shipments[0]; sh.InvoiceNo != "KEEP-ME" || sh.ExpectedArrival != "2026-11-30" || sh.ShippingDate != "2026-11-27" {
		t.Errorf("unmapped fields changed: %+v", sh)
	}
	got, _ = srv.Order("100000001202")
	if sh := got.Shipments[0]; sh.InvoiceNo != "ＮＥＷ１２３" || sh.ExpectedArrival != "" {
		t.Errorf("\"\" did not clear expected arrival, or invoice not written: %+v", sh)
	}
}

// TestLocalValidation: the engine makes values canonical and keeps them
// within the fields' byte limits; what the destination still refuses
// before calling futureshop is what no canonical value rules out.
func TestLocalValidation(t *testing.T) {
	srv := newServer(t)
	nos := seed(srv, 1)
	d := newDest(t, srv, "", false)
	c, err := d.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Write(context.Background(), []engine.Payload{
		shipPayload("", fieldShippingDate, "2026-11-27"),
		shipPayload(nos[0], fieldShipmentNo, int64(0), fieldShippingDate, "2026-11-27"),
		shipPayload(nos[0], fieldShipmentNo, int64(-3), fieldShippingDate, "2026-11-27"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.OK || !r.Permanent {
			t.Errorf("result %d = %+v, want a permanent failure", i, r)
		}
	}
	if n := count(srv.Requests())[shippingStatusPath]; n != 0 {
		t.Errorf("%d shipping calls for invalid payloads, want 0", n)
	}
}

// TestServerValidationRejectsOnlyBadOrders: when futureshop refuses a
// request for errors naming orders, those fail permanently and the rest is
// sent again.
func TestServerValidationRejectsOnlyBadOrders(t *testing.T) {
	srv := newServer(t)
	nos := seed(srv, 3)
	d := newDest(t, srv, "", false)
	cn, err := d.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := cn.(*conn)
	items := []item{
		{idx: 0, orderNo: nos[0], shipmentNo: 1, info: map[string]string{keyInvoiceNo: "A"}},
		{idx: 1, orderNo: nos[1], shipmentNo: 1, info: map[string]string{keyInvoiceNo: strings.Repeat("x", 101)}},
		{idx: 2, orderNo: nos[2], shipmentNo: 1, info: map[string]string{keyInvoiceNo: "C"}},
	}
	results := make([]engine.Result, 3)
	if err := c.ship(context.Background(), items, results, true); err != nil {
		t.Fatal(err)
	}
	if !results[0].OK || !results[2].OK || results[1].OK || !results[1].Permanent || results[1].Code != "TooLong" {
		t.Errorf("results = %+v", results)
	}
	if n := count(srv.Requests())[shippingStatusPath]; n != 2 {
		t.Errorf("shipping calls = %d, want 2", n)
	}
}

// TestFaults: every fault ends the write with what failed and why, and a
// second write of the failed payloads completes what can complete.
func TestFaults(t *testing.T) {
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name   string
		inject func(s *futureshoptest.Server, nos []string)
		// wantErr: the first write fails as a whole with this in its error.
		wantErr string
		// wantFailed: orders failing in the first write, with their code.
		wantFailed map[int]string
		permanent  bool
		// stillFailed: orders failing in the second write.
		stillFailed map[int]string
		minTime     time.Duration
	}{
		{
			name:    "500",
			inject:  func(s *futureshoptest.Server, _ []string) { s.FailNext(1, http.StatusInternalServerError) },
			wantErr: "500 Internal Server Error",
		},
		{
			name:   "503 is retried after Retry-After",
			inject: func(s *futureshoptest.Server, _ []string) { s.FailNext(1, http.StatusServiceUnavailable) },
			// Retry-After: 1
			minTime: time.Second,
		},
		{
			name:    "429 is retried after Retry-After",
			inject:  func(s *futureshoptest.Server, _ []string) { s.FailNext(1, http.StatusTooManyRequests) },
			minTime: time.Second,
		},
		{
			name:   "502 is retried with backoff",
			inject: func(s *futureshoptest.Server, _ []string) { s.FailNext(2, http.StatusBadGateway) },
		},
		{
			// Three attempts in a row that do not reach the shop open the
			// circuit: the run stops instead of trying every batch.
			name:    "502 beyond the breaker",
			inject:  func(s *futureshoptest.Server, _ []string) { s.FailNext(5, http.StatusBadGateway) },
			wantErr: "futureshop cannot be reached: 3 attempts in a row failed (the last: futureshop POST /admin-api/v1/shipping/status: 502 Bad Gateway)",
		},
		{
			name:   "slow response is retried",
			inject: func(s *futureshoptest.Server, _ []string) { s.SlowNext(1, 2*timeout) },
		},
		{
			name:    "slow beyond the tries",
			inject:  func(s *futureshoptest.Server, _ []string) { s.SlowNext(5, 2*timeout) },
			wantErr: "context deadline exceeded",
		},
		{
			name:    "malformed JSON",
			inject:  func(s *futureshoptest.Server, _ []string) { s.MalformNext(1) },
			wantErr: "200 with a body that does not parse, which confirms no order",
		},
		{
			name: "partial failure",
			inject: func(s *futureshoptest.Server, nos []string) {
				s.FailOrder(nos[1], "InternalError", "一時的なエラー")
			},
			wantFailed: map[int]string{1: "InternalError"},
		},
		{
			name: "store pickup",
			inject: func(s *futureshoptest.Server, nos []string) {
				o, _ := s.Order(nos[2])
				o.Shipments[0].StorePickup = true
				s.AddOrder(o)
			},
			wantFailed:  map[int]string{2: "CannotUpdateStorePickup"},
			permanent:   true,
			stillFailed: map[int]string{2: "CannotUpdateStorePickup"},
		},
		{
			name:       "unknown order",
			inject:     func(s *futureshoptest.Server, nos []string) {},
			wantFailed: map[int]string{3: "NotFound"},
			// The order appears in the shop later.
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			srv := newServer(t)
			nos := seed(srv, 3)
			nos = append(nos, "100099999999") // not in the shop (yet)
			tt.inject(srv, nos)
			d := newDest(t, srv, `timeout = "200ms"`, true)
			payloads := shipped(nos[:3])
			if tt.name == "unknown order" {
				payloads = shipped(nos)
			}

			start := time.Now()
			failed, err := export(ctx, t, d, payloads)
			if took := time.Since(start); took < tt.minTime {
				t.Errorf("write took %s, want at least %s (Retry-After)", took, tt.minTime)
			}
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if len(failed) != len(payloads) {
					t.Errorf("failed = %v, want every payload", failed)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				checkFailed(t, failed, nos, tt.wantFailed, tt.permanent)
			}

			// Second run: the transient faults are gone; the unknown order
			// has reached the shop; store pickup is still store pickup.
			srv.ClearFaults()
			srv.AddOrder(futureshoptest.NewOrder(nos[3], testNow))
			var again []engine.Payload
			for _, p := range payloads {
				if _, ok := failed[p.Key]; ok {
					again = append(again, p)
				}
			}
			if len(again) > 0 {
				failed, err = export(ctx, t, d, again)
				if err != nil {
					t.Fatalf("second write: %v", err)
				}
				checkFailed(t, failed, nos, tt.stillFailed, true)
			}
			for i, p := range payloads {
				if _, bad := tt.stillFailed[i]; bad {
					continue
				}
				o, _ := srv.Order(p.Values[fieldOrderNo].(string))
				if o.Status != futureshoptest.StatusCompleted || o.Shipments[0].Status != futureshoptest.ShipmentShipped {
					t.Errorf("order %s after the second write: %s / %s", o.OrderNo, o.Status, o.Shipments[0].Status)
				}
			}
		})
	}
}

func checkFailed(t *testing.T, failed map[string]engine.Result, nos []string, want map[int]string, permanent bool) {
	t.Helper()
	if len(failed) != len(want) {
		t.Errorf("failed = %v, want %v", failed, want)
	}
	for i, code := range want {
		r, ok := failed[nos[i]+"/1"]
		if !ok || r.Code != code || r.Message == "" || r.Permanent != permanent {
			t.Errorf("order %s: result %+v, want code %s with a message, permanent %v", nos[i], r, code, permanent)
		}
	}
}
