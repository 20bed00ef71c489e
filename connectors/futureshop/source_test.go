package futureshop

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
)

func TestSource(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []futureshoptest.Option
	}{
		{"absolute nextUrl", nil},
		{"relative nextUrl", []futureshoptest.Option{futureshoptest.WithRelativeNextURL()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, append(tt.opts, futureshoptest.WithPageSize(2))...)
			// Five orders in the window, one before it (today−10 is 2026-11-18).
			for i, at := range []string{
				"2026-11-18T00:00:00", "2026-11-20T14:03:11", "2026-11-25T09:00:00",
				"2026-11-27T22:10:05", "2026-11-28T09:59:59", "2026-11-17T23:59:59",
			} {
				ordered, _ := time.ParseInLocation(timeLayout, at, jst)
				srv.AddOrder(futureshoptest.NewOrder("10000000120"+string(rune('1'+i)), ordered))
			}
			o, _ := srv.Order("100000001202")
			o.Shipments[0].InvoiceNo = "123456789012"
			o.Shipments[0].PreferredDeliveryDate = "2026-11-28"
			o.Shipments[0].Products = append(o.Shipments[0].Products, futureshoptest.Product{
				ProductNo: "P2", Name: "ギフト", Price: 500, Count: 2,
				Options: []futureshoptest.ProductOption{{Name: "包装", Selection: "あり", Price: 100}, {Name: "のし", Selection: "なし", Price: 0}},
			})
			srv.AddOrder(o)

			src, diags := NewSource(parseBody(t, credBody(srv, "")), settings())
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			recs, err := src.Open(engine.WithNow(context.Background(), testNow))
			if err != nil {
				t.Fatal(err)
			}
			defer recs.Close()
			var got []engine.Record
			var pos []string
			for {
				rec := engine.Record{}
				meta, err := recs.Next(context.Background(), rec)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, rec)
				pos = append(pos, meta.Pos)
			}
			if len(got) != 6 { // five orders, one with two lines
				t.Fatalf("%d records, want 6: %v", len(got), pos)
			}
			if pos[1] != "futureshop order 100000001202 line 1" || pos[2] != "futureshop order 100000001202 line 2" {
				t.Errorf("positions = %v", pos)
			}
			r := got[2]
			wantAt := time.Date(2026, 11, 20, 14, 3, 11, 0, jst)
			if at, _ := r["ordered_at"].(time.Time); !at.Equal(wantAt) {
				t.Errorf("ordered_at = %v, want %v", r["ordered_at"], wantAt)
			}
			for k, want := range map[string]any{
				"order_no": "100000001202", "line_no": int64(2), "product_name": "ギフト", "price": int64(500),
				"count": int64(2), "option_price": int64(100), "option_text": "包装:あり, のし:なし",
				"invoice_no": "123456789012", "shipment_no": int64(1), "status": futureshoptest.StatusReceived,
				"buyer_name": "山田 花子",
			} {
				if r[k] != want {
					t.Errorf("%s = %#v, want %#v", k, r[k], want)
				}
			}
			if d, _ := r["preferred_delivery_date"].(time.Time); !d.Equal(time.Date(2026, 11, 28, 0, 0, 0, 0, jst)) {
				t.Errorf("preferred_delivery_date = %v", r["preferred_delivery_date"])
			}
			if _, ok := r["expected_arrival"]; ok {
				t.Errorf("expected_arrival is set for \"\"")
			}
			// 1 token call and 3 pages of 2.
			if c := count(srv.Requests()); c[searchPath] != 3 || c[tokenPath] != 1 {
				t.Errorf("calls = %v", c)
			}
		})
	}
}

func TestSourceRefusesForeignNextURL(t *testing.T) {
	r := &pager{c: &client{}}
	r.c.base, _ = parseAPIDomain("https://shop.example.jp")
	page, _ := parseAPIDomain("https://shop.example.jp/admin-api/v1/shipping")
	if _, err := r.resolve(page, "https://evil.example.com/admin-api/v1/shipping?cursor=x"); err == nil {
		t.Error("nextUrl to another host was followed")
	}
	u, err := r.resolve(page, "?cursor=x")
	if err != nil || u.String() != "https://shop.example.jp/admin-api/v1/shipping?cursor=x" {
		t.Errorf("resolve = %v, %v", u, err)
	}
}

func TestDecodeSource(t *testing.T) {
	base := "api_domain = \"\"\nshop_key = \"\"\nclient_id = \"\"\nclient_secret = \"\"\n"
	for _, tt := range []struct {
		body string
		err  string
	}{
		{body: base},
		{body: base + "days = 3\nshipping_status = \"notShipped\"\npayment_status = \"received\"\n"},
		{body: base + "shipping_status = \"sent\"\n", err: "Invalid shipping_status"},
		{body: base + "days = -1\n", err: "Invalid days"},
	} {
		src, diags := NewSource(parseBody(t, tt.body), settings())
		if tt.err != "" {
			if !diags.HasErrors() || diags[0].Summary != tt.err {
				t.Errorf("%q: diags = %v, want %q", tt.body, diags, tt.err)
			}
			continue
		}
		if diags.HasErrors() {
			t.Errorf("%q: %v", tt.body, diags)
			continue
		}
		if src.Label() != "order_no" || len(src.Fields()) == 0 {
			t.Errorf("Label %q, %d fields", src.Label(), len(src.Fields()))
		}
	}
}

func TestRegister(t *testing.T) {
	r := engine.NewRegistry()
	Register(r)
	src, ok := r.Source("futureshop")
	dst, ok2 := r.Destination("futureshop")
	if !ok || !ok2 || len(src.Fields) == 0 || len(dst.Fields) == 0 || len(dst.Actions) != 1 || dst.Actions[0].Name != ActionCompleteOrder {
		t.Fatalf("registered %+v, %+v", src, dst)
	}
}
