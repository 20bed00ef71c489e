package futureshoptest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func token(t *testing.T, s *Server) string {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.SetBasicAuth(s.ClientID, s.ClientSecret)
	req.Header.Set("X-SHOP-KEY", s.ShopKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&tr) != nil || tr.AccessToken == "" {
		t.Fatalf("token: %s", res.Status)
	}
	return tr.AccessToken
}

func post(t *testing.T, s *Server, tok, path, body string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-SHOP-KEY", s.ShopKey)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestStrict(t *testing.T) {
	s := NewServer(WithRateLimit(0, 0))
	defer s.Close()
	s.Seed(SampleOrders()...)
	tok := token(t, s)
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf(`{"orderNo":"%d"}`, 100000001201+i)
	}
	tests := []struct {
		name, path, body string
		hdr              []string
		status           int
		want             string
	}{
		{"ok", "/admin-api/v1/shipping/status",
			`{"orderList":[{"orderNo":"100000001201","shipmentList":[{"shipmentNo":1,"shippingInfo":{"shippingDate":"2026-11-27"}}]}]}`,
			nil, 200, `"status":"success"`},
		{"unknown key", "/admin-api/v1/shipping/status",
			`{"orderList":[{"orderNo":"100000001201","shipmentList":[{"shipmentNo":1,"shippingInfo":{"carrier":"x"}}]}]}`,
			nil, 400, `unknown field`},
		{"orderNo over 12 bytes", "/admin-api/v1/shipping/status",
			`{"orderList":[{"orderNo":"1000000012010","shipmentList":[{"shipmentNo":1,"shippingInfo":{}}]}]}`,
			nil, 400, `orderList[0].orderNo`},
		{"invoiceNo over 100 bytes", "/admin-api/v1/shipping/status",
			`{"orderList":[{"orderNo":"100000001201","shipmentList":[{"shipmentNo":1,"shippingInfo":{"invoiceNo":"` + strings.Repeat("番", 34) + `"}}]}]}`,
			nil, 400, `TooLong`},
		{"unknown order", "/admin-api/v1/order/complete", `{"orderList":[{"orderNo":"100000009999"}]}`,
			nil, 200, `"code":"NotFound"`},
		{"too many", "/admin-api/v1/order/complete", `{"orderList":[` + strings.Join(many, ",") + `]}`,
			nil, 400, `TooMany`},
		{"no shop key", "/admin-api/v1/order/complete", `{"orderList":[{"orderNo":"100000001201"}]}`,
			[]string{"X-SHOP-KEY", "other"}, 401, ``},
		{"bad token", "/admin-api/v1/order/complete", `{"orderList":[{"orderNo":"100000001201"}]}`,
			[]string{"Authorization", "Bearer nope"}, 401, ``},
	}
	for _, tt := range tests {
		status, body := post(t, s, tok, tt.path, tt.body, tt.hdr...)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s; want %d containing %q", tt.name, status, body, tt.status, tt.want)
		}
	}
	o, _ := s.Order("100000001201")
	if o.Shipments[0].Status != ShipmentShipped || o.Status != StatusReceived {
		t.Errorf("order after updates: %+v", o)
	}
}

func TestRateLimitAndTokenExpiry(t *testing.T) {
	s := NewServer(WithRateLimit(10, 2), WithTokenTTL(200*time.Millisecond))
	defer s.Close()
	tok := token(t, s) // one of the burst of 2
	status, _ := post(t, s, tok, "/admin-api/v1/order/complete", `{"orderList":[{"orderNo":"1"}]}`)
	if status != 200 {
		t.Fatalf("second request: %d", status)
	}
	req, _ := http.NewRequest("GET", s.URL+"/admin-api/v1/shipping", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "1" {
		t.Errorf("third request: %d Retry-After %q, want 429 and 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	time.Sleep(250 * time.Millisecond)
	if status, _ := post(t, s, tok, "/admin-api/v1/order/complete", `{"orderList":[{"orderNo":"1"}]}`); status != 401 {
		t.Errorf("expired token: %d, want 401", status)
	}
	if n := len(s.Requests()); n != 4 {
		t.Errorf("%d requests logged, want 4", n)
	}
}

func TestSearchPaging(t *testing.T) {
	s := NewServer(WithRateLimit(0, 0), WithPageSize(5))
	defer s.Close()
	s.Seed(SampleOrders()...)
	tok := token(t, s)
	next := s.URL + "/admin-api/v1/shipping?" + url.Values{"orderDateStart": {"2026-11-18T00:00:00"}}.Encode()
	var got []string
	for next != "" {
		req, _ := http.NewRequest("GET", next, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-SHOP-KEY", s.ShopKey)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			OrderList []struct {
				OrderNo string `json:"orderNo"`
			} `json:"orderList"`
			NextURL string `json:"nextUrl"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.OrderList {
			got = append(got, o.OrderNo)
		}
		next = page.NextURL
	}
	// 1207 and 1208 were ordered in June.
	if len(got) != 11 || got[0] != "100000001201" || got[10] != "100000001214" {
		t.Errorf("orders = %v", got)
	}
}

// TestListenerAndRequestLog: a server on a listener its caller opened
// serves there, and reports every answered request with its duration.
func TestListenerAndRequestLog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logged []Request
	s := NewServer(WithListener(ln), WithRateLimit(0, 0), WithRequestLog(func(r Request) {
		mu.Lock()
		logged = append(logged, r)
		mu.Unlock()
	}))
	defer s.Close()
	if want := "http://" + ln.Addr().String(); s.URL != want {
		t.Errorf("URL = %s, want %s", s.URL, want)
	}
	s.Seed(SampleOrders()...)
	tok := token(t, s)
	s.FailNext(1, http.StatusServiceUnavailable)
	post(t, s, tok, "/admin-api/v1/order/complete", `{"orderList":[{"orderNo":"100000001201"}]}`)
	post(t, s, tok, "/admin-api/v1/order/complete", `{"orderList":[{"orderNo":"100000001201"}]}`)

	mu.Lock()
	defer mu.Unlock()
	want := []struct {
		method, path string
		status       int
	}{
		{"POST", "/oauth/token", 200},
		{"POST", "/admin-api/v1/order/complete", 503},
		{"POST", "/admin-api/v1/order/complete", 200},
	}
	if len(logged) != len(want) {
		t.Fatalf("%d requests logged, want %d: %+v", len(logged), len(want), logged)
	}
	for i, w := range want {
		r := logged[i]
		if r.Method != w.method || r.Path != w.path || r.Status != w.status || r.Duration <= 0 {
			t.Errorf("request %d = %s %s %d in %v, want %s %s %d in more than 0", i, r.Method, r.Path, r.Status, r.Duration, w.method, w.path, w.status)
		}
	}
	if got := s.Requests(); len(got) != 3 || got[2].Duration != logged[2].Duration {
		t.Errorf("Requests() = %+v, want the logged requests with their durations", got)
	}
}

// TestStateRoundTrip: what one server saves, another loads, updates and
// store-pickup marks included; a state with an unknown key is refused.
func TestStateRoundTrip(t *testing.T) {
	a := NewServer(WithRateLimit(0, 0))
	defer a.Close()
	orders := SampleOrders()
	orders[1].Shipments[0].StorePickup = true
	a.Seed(orders...)
	tok := token(t, a)
	post(t, a, tok, "/admin-api/v1/shipping/status",
		`{"orderList":[{"orderNo":"100000001201","shipmentList":[{"shipmentNo":1,"shippingInfo":{"shippingDate":"2026-11-27","invoiceNo":"１２３"}}]}]}`)
	var buf strings.Builder
	if err := a.SaveState(&buf); err != nil {
		t.Fatal(err)
	}

	b := NewServer(WithRateLimit(0, 0))
	defer b.Close()
	if err := b.LoadState(strings.NewReader(buf.String())); err != nil {
		t.Fatal(err)
	}
	// Times come back as the same instants, in a zone of the same offset.
	var again strings.Builder
	if err := b.SaveState(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != buf.String() {
		t.Errorf("saved again, the state differs:\n%s\nwant\n%s", again.String(), buf.String())
	}
	o, _ := b.Order("100000001201")
	if sh := o.Shipments[0]; sh.Status != ShipmentShipped || sh.InvoiceNo != "１２３" {
		t.Errorf("loaded 100000001201 = %+v, want it shipped with its invoice", sh)
	}
	// The store-pickup mark survives, and the loaded shop acts on it.
	status, body := post(t, b, token(t, b), "/admin-api/v1/shipping/status",
		`{"orderList":[{"orderNo":"100000001202","shipmentList":[{"shipmentNo":1,"shippingInfo":{"shippingDate":"2026-11-27"}}]}]}`)
	if status != 200 || !strings.Contains(body, "CannotUpdateStorePickup") {
		t.Errorf("store pickup after load: %d %s", status, body)
	}

	for _, bad := range []string{`{"orders":[{"orderNo":"1","shipmnts":[]}]}`, `{"orders":[{}]}`, `not json`} {
		if err := NewServer().LoadState(strings.NewReader(bad)); err == nil {
			t.Errorf("LoadState(%s) = nil, want an error", bad)
		}
	}
}
