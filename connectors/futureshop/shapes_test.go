package futureshop

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
)

// The files in testdata have the shapes of bodies captured from the real
// futureshop API (every key, nesting and enum as captured; the values are
// ours): an order search page and an order detail.

// capturedShop answers with the captured-shape bodies: the search page
// (only the orders named in keep, when set) and the detail.
func capturedShop(t *testing.T, keep ...string) (*httptest.Server, *[]string) {
	t.Helper()
	page, err := os.ReadFile("testdata/search-page.json")
	if err != nil {
		t.Fatal(err)
	}
	detail, err := os.ReadFile("testdata/order-detail.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(keep) > 0 {
		var p map[string][]map[string]any
		json.Unmarshal(page, &p)
		p["orderList"] = slices.DeleteFunc(p["orderList"], func(o map[string]any) bool { return !slices.Contains(keep, o["orderNo"].(string)) })
		page, _ = json.Marshal(p)
	}
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case tokenPath:
			io.WriteString(w, `{"access_token":"t","token_type":"Bearer","expires_in":3600}`)
		case searchPath:
			w.Write(page)
		case detailPath + "100000003002":
			w.Write(detail)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"status":"failed","errors":[{"code":"NotFound","message":"no such order"}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func readAll(t *testing.T, src engine.Source) []engine.Record {
	t.Helper()
	recs, err := src.Open(engine.WithNow(context.Background(), testNow))
	if err != nil {
		t.Fatal(err)
	}
	defer recs.Close()
	var out []engine.Record
	for {
		rec := engine.Record{}
		if _, err := recs.Next(context.Background(), rec); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}

// TestSourceReadsCapturedShapes: the search's product lines have skuNo and
// no productNo, its shipments nest shippingInfo, its buyer has mail,
// telNoMain and a prefecture code. productNo and dateLastUpdated are in the
// detail only, which the source reads when, and only when, a job reads
// product_no or updated_at.
func TestSourceReadsCapturedShapes(t *testing.T) {
	srv, calls := capturedShop(t)
	body := parseBody(t, `
api_domain    = "`+srv.URL+`"
shop_key      = "k"
client_id     = "c"
client_secret = "s"
rate_limit    = 50
days          = 400
`)
	src, diags := NewSource(body, &engine.Settings{Location: jst})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	src.(engine.FieldUser).UseFields([]string{"order_no", "sku_no", "count"})
	recs := readAll(t, src)
	if len(recs) != 3 {
		t.Fatalf("%d records, want the 3 product lines", len(recs))
	}
	r := recs[0]
	for k, want := range map[string]any{
		"order_no": "100000003001", "status": "COMPLETED", "sku_no": "mug-red", "count": int64(1), "price": int64(1650),
		"buyer_name": "佐藤 一郎", "buyer_email": "ichiro@example.jp", "buyer_phone": "03-1111-2222", "buyer_zip": "150-0002",
		"buyer_prefecture": "東京都", "buyer_address": "東京都渋谷区渋谷2丁目1-1", "delivery_service": "宅配便",
	} {
		if r[k] != want {
			t.Errorf("%s = %#v, want %#v", k, r[k], want)
		}
	}
	if d, _ := r["shipping_date"].(time.Time); !d.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, jst)) {
		t.Errorf("shipping_date = %v", r["shipping_date"])
	}
	for _, k := range []string{"product_no", "updated_at"} {
		if _, ok := r[k]; ok {
			t.Errorf("%s is set without the detail", k)
		}
	}
	if strings.Join(*calls, ",") != "POST /oauth/token,GET /admin-api/v1/shipping" {
		t.Errorf("calls = %v; want no detail", *calls)
	}

	srv, calls = capturedShop(t, "100000003002")
	body = parseBody(t, `
api_domain    = "`+srv.URL+`"
shop_key      = "k"
client_id     = "c"
client_secret = "s"
rate_limit    = 50
days          = 400
`)
	src, _ = NewSource(body, &engine.Settings{Location: jst})
	src.(engine.FieldUser).UseFields([]string{"order_no", "product_no"})
	recs = readAll(t, src)
	if len(recs) != 2 || recs[0]["product_no"] != "cushion" || recs[1]["product_no"] != "wreath" || recs[1]["sku_no"] != "wreath-lv" {
		t.Errorf("records with the detail: %v", recs)
	}
	if u, _ := recs[0]["updated_at"].(time.Time); !u.Equal(time.Date(2026, 11, 27, 9, 0, 0, 0, jst)) {
		t.Errorf("updated_at = %v", recs[0]["updated_at"])
	}
	if strings.Join(*calls, ",") != "POST /oauth/token,GET /admin-api/v1/shipping,GET /admin-api/v1/orders/100000003002" {
		t.Errorf("calls = %v; want one detail per order", *calls)
	}
}

// keyPaths lists the key paths of a JSON value: "shipmentList[].shippingInfo.invoiceNo".
func keyPaths(v any, prefix string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out[prefix+k] = true
			keyPaths(e, prefix+k+".", out)
		}
	case []any:
		for _, e := range x {
			keyPaths(e, strings.TrimSuffix(prefix, ".")+"[].", out)
		}
	}
}

func paths(t *testing.T, b []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	keyPaths(v, "", out)
	return out
}

// TestTestServerAnswersCapturedShapes holds the project's test server to
// the captured shapes: every key it writes is one the real API wrote in the
// same place, so no test passes on a shape the real API does not return.
func TestTestServerAnswersCapturedShapes(t *testing.T) {
	srv := newServer(t)
	o := futureshoptest.NewOrder("100000003002", testNow)
	o.Shipments[0].Products = append(o.Shipments[0].Products, futureshoptest.Product{ProductNo: "P2", SkuNo: "S2", Name: "二", Price: 1, Count: 1})
	srv.AddOrder(o)
	d := newDest(t, srv, "", false)
	c, err := newClient(d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) []byte {
		resp, err := c.call(context.Background(), http.MethodGet, c.endpoint(path, nil), nil, 0, true)
		if err != nil || resp.status != http.StatusOK {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		return resp.body
	}
	for _, tt := range []struct {
		name, path, captured string
		absent               []string
	}{
		{"search", searchPath, "testdata/search-page.json",
			[]string{"orderList[].shipmentList[].productList[].productNo", "orderList[].dateLastUpdated", "orderList[].paymentStatus"}},
		{"detail", detailPath + "100000003002", "testdata/order-detail.json",
			[]string{"shipmentList[].shippingInfo"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want, err := os.ReadFile(tt.captured)
			if err != nil {
				t.Fatal(err)
			}
			real, ours := paths(t, want), paths(t, get(tt.path))
			var extra []string
			for p := range ours {
				if !real[p] && !strings.HasPrefix(p, "nextUrl") {
					extra = append(extra, p)
				}
			}
			sort.Strings(extra)
			if len(extra) > 0 {
				t.Errorf("the test server writes keys the real API does not: %v", extra)
			}
			for _, p := range tt.absent {
				if ours[p] || real[p] {
					t.Errorf("%s is in the %s", p, tt.name)
				}
			}
		})
	}
}
