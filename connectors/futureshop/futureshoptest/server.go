package futureshoptest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of a Server.
const (
	DefaultShopKey      = "test-shop"
	DefaultClientID     = "test-client"
	DefaultClientSecret = "test-secret"

	// DefaultRateLimit and DefaultBurst model futureshop's budget of about
	// one request per second per client. The burst of 2 tolerates the
	// jitter between a client's send time and the server's arrival time, so
	// a client that keeps to the rate is never refused.
	DefaultRateLimit = 1.0
	DefaultBurst     = 2

	DefaultTokenTTL = time.Hour
	DefaultPageSize = 100

	// MaxOrders is the most orders one update call takes.
	MaxOrders = 100
)

const (
	timeLayout = "2006-01-02T15:04:05"
	dateLayout = "2006-01-02"
)

// Request is one request as the server saw it.
type Request struct {
	Time   time.Time // arrival
	Method string
	Path   string
	Status int // 0 while the request is being answered, or when the client left first
	Orders int // orders in an update's body, or in a search page
	// UserAgent is the request's User-Agent header.
	UserAgent string
	// Duration is how long the answer took, from arrival to its last byte;
	// 0 while the request is being answered.
	Duration time.Duration
	// Query is the URL's query (a search's orderNo list); Body is an API
	// call's body (an update's orders). The token call's are not kept.
	Query string
	Body  []byte
	// Token is the access token the call carried; empty for the token call.
	// A client that fetches a token of its own per session (the runner does,
	// per run) shows its session by it.
	Token string
}

// Option configures a Server.
type Option func(*Server)

// WithCredentials sets the credentials the server accepts.
func WithCredentials(shopKey, clientID, clientSecret string) Option {
	return func(s *Server) { s.ShopKey, s.ClientID, s.ClientSecret = shopKey, clientID, clientSecret }
}

// WithRateLimit sets the request budget, shared by every request including
// token requests. rps <= 0 turns limiting off.
func WithRateLimit(rps float64, burst int) Option {
	return func(s *Server) { s.rps, s.burst = rps, max(burst, 1) }
}

// WithTokenTTL sets how long tokens live. expires_in is the TTL rounded up
// to whole seconds, as the real service reports it.
func WithTokenTTL(d time.Duration) Option { return func(s *Server) { s.tokenTTL = d } }

// WithPageSize sets how many orders a search page holds.
func WithPageSize(n int) Option { return func(s *Server) { s.pageSize = max(n, 1) } }

// WithRelativeNextURL makes searches return nextUrl as a path and query
// instead of an absolute URL.
func WithRelativeNextURL() Option { return func(s *Server) { s.relativeNext = true } }

// WithShiftingPages makes every search page after the first start one
// order early, as when orders arrive while a client pages: the last order
// of each page is listed again at the top of the next.
func WithShiftingPages() Option { return func(s *Server) { s.shifting = true } }

// WithListener makes the server accept connections on l instead of a new
// listener on 127.0.0.1 with a port of its own: a caller that must choose
// the address, or report a port already taken, listens itself.
func WithListener(l net.Listener) Option { return func(s *Server) { s.listener = l } }

// WithRequestLog calls fn with every request once it has been answered
// (or its client has gone, Status 0), in the order the answers end. fn
// must not block: the answer's connection waits for it.
func WithRequestLog(fn func(Request)) Option { return func(s *Server) { s.onRequest = fn } }

// Server is a fake futureshop admin API over an in-memory shop, listening
// on 127.0.0.1. It is strict where the real service is (headers, JSON
// shapes, byte limits, batch sizes) so that a client passing against it has
// a fair chance against the real one.
type Server struct {
	URL string // base URL, "http://127.0.0.1:port"

	// The credentials the server accepts; set them with WithCredentials.
	ShopKey, ClientID, ClientSecret string

	ts           *httptest.Server
	rps          float64
	burst        int
	tokenTTL     time.Duration
	pageSize     int
	relativeNext bool
	shifting     bool
	limiter      *rate.Limiter
	listener     net.Listener
	onRequest    func(Request)

	mu         sync.Mutex
	orders     map[string]*Order
	seq        []string // order numbers in insertion order, the search order
	tokens     map[string]time.Time
	log        []Request
	logGen     int // counts ResetRequests, so a request in flight does not write into a new log
	apiOff     bool
	failNext   []int
	slowNext   int
	slowFor    time.Duration
	malformed  int
	orderFault map[string]orderResult
	answers    []string // bodies that replace the next answers to updates
	stallNext  int      // updates applied, then answered too late
	stallFor   time.Duration
	loopNext   bool // the next search page's nextUrl leads back to it
	// applied counts, per order, the shipping updates and completions the
	// shop applied: a client that sends one twice shows here.
	shipped, completed map[string]int
}

// NewServer starts a server. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{
		ShopKey: DefaultShopKey, ClientID: DefaultClientID, ClientSecret: DefaultClientSecret,
		rps: DefaultRateLimit, burst: DefaultBurst, tokenTTL: DefaultTokenTTL, pageSize: DefaultPageSize,
		orders: map[string]*Order{}, tokens: map[string]time.Time{}, orderFault: map[string]orderResult{},
		shipped: map[string]int{}, completed: map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.rps > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(s.rps), s.burst)
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if s.listener != nil {
		s.ts.Listener.Close()
		s.ts.Listener = s.listener
	}
	s.ts.Start()
	s.URL = s.ts.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.ts.Close() }

// AddOrder adds or replaces an order.
func (s *Server) AddOrder(o Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orders[o.OrderNo]; !ok {
		s.seq = append(s.seq, o.OrderNo)
	}
	c := o.clone()
	s.orders[o.OrderNo] = &c
}

// RemoveOrder takes an order out of the shop, as if it had never been
// there.
func (s *Server) RemoveOrder(orderNo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.orders, orderNo)
	s.seq = slices.DeleteFunc(s.seq, func(no string) bool { return no == orderNo })
}

// Seed adds orders, as AddOrder does for each.
func (s *Server) Seed(orders ...Order) {
	for _, o := range orders {
		s.AddOrder(o)
	}
}

// Order returns a copy of an order.
func (s *Server) Order(orderNo string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderNo]
	if !ok {
		return Order{}, false
	}
	return o.clone(), true
}

// Orders returns copies of all orders in insertion order.
func (s *Server) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Order, 0, len(s.seq))
	for _, no := range s.seq {
		out = append(out, s.orders[no].clone())
	}
	return out
}

// Requests returns the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// ResetRequests clears the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.log = nil
	s.logGen++
	s.mu.Unlock()
}

// ExpireTokens forgets every token issued, as if they had all expired.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// SetAPIEnabled turns the shop's API option on or off. While it is off,
// tokens are issued but every API call answers 401, as for a shop without
// the API contract.
func (s *Server) SetAPIEnabled(on bool) {
	s.mu.Lock()
	s.apiOff = !on
	s.mu.Unlock()
}

// FailNext makes the next n API calls (not token calls) answer status,
// without touching the shop. 503 and 429 carry "Retry-After: 1".
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	for range n {
		s.failNext = append(s.failNext, status)
	}
	s.mu.Unlock()
}

// SlowNext delays the next n API calls by d before handling them. A call
// whose client gives up first is not applied.
func (s *Server) SlowNext(n int, d time.Duration) {
	s.mu.Lock()
	s.slowNext, s.slowFor = n, d
	s.mu.Unlock()
}

// MalformNext makes the next n API calls answer 200 with a truncated JSON
// body. Updates are applied first: the client cannot know they were.
func (s *Server) MalformNext(n int) {
	s.mu.Lock()
	s.malformed = n
	s.mu.Unlock()
}

// FailOrder makes every update naming orderNo fail for that order with
// code and message, while the rest of the batch succeeds, until ClearFaults.
func (s *Server) FailOrder(orderNo, code, message string) {
	s.mu.Lock()
	s.orderFault[orderNo] = orderResult{Status: "failed", OrderNo: orderNo, Code: code, Message: message}
	s.mu.Unlock()
}

// AnswerNext makes the next updates (shipping or complete calls) apply as
// usual and answer 200 with these bodies instead of their results, one
// body per call: what a client does with an answer that confirms nothing.
func (s *Server) AnswerNext(bodies ...string) {
	s.mu.Lock()
	s.answers = append(s.answers, bodies...)
	s.mu.Unlock()
}

// StallNext makes the next n updates apply and then wait d before
// answering: a client that gives up first cannot know they were applied.
func (s *Server) StallNext(n int, d time.Duration) {
	s.mu.Lock()
	s.stallNext, s.stallFor = n, d
	s.mu.Unlock()
}

// LoopNextPage makes the next search page's nextUrl lead back to that same
// page.
func (s *Server) LoopNextPage() {
	s.mu.Lock()
	s.loopNext = true
	s.mu.Unlock()
}

// Shipped returns how many shipping updates the shop applied to an order.
func (s *Server) Shipped(orderNo string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shipped[orderNo]
}

// Completed returns how many times the shop moved an order to 処理済み.
func (s *Server) Completed(orderNo string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.completed[orderNo]
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.failNext, s.slowNext, s.malformed = nil, 0, 0
	s.answers, s.stallNext, s.loopNext = nil, 0, false
	clear(s.orderFault)
	s.mu.Unlock()
}

// Wire shapes.

type apiError struct {
	Code    string `json:"code"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

type orderResult struct {
	Status  string `json:"status"`
	OrderNo string `json:"orderNo"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type updateResponse struct {
	Status  string        `json:"status"`
	Errors  []apiError    `json:"errors"`
	Results []orderResult `json:"results"`
}

// exchange is what a handler learned, for the log and the response.
type exchange struct {
	status int
	orders int
	body   any
	header http.Header
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	// Read the body first: only then does net/http watch the connection,
	// so that a slow or stalled answer notices a client that gave up.
	var kept []byte
	if body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20)); err == nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		kept = body
	}
	query := r.URL.RawQuery
	if r.URL.Path == "/oauth/token" {
		kept, query = nil, ""
	}
	// The log shows a request from its arrival (Status 0 while it is
	// being answered), so a test can act while a slow call is in flight.
	tok, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !bearer {
		tok = "" // the token call's Basic credentials are not for the log
	}
	req := Request{Time: arrived, Method: r.Method, Path: r.URL.Path, UserAgent: r.UserAgent(), Query: query, Body: kept, Token: tok}
	s.mu.Lock()
	at, gen := len(s.log), s.logGen
	s.log = append(s.log, req)
	s.mu.Unlock()
	// The answer's last byte, or the client's leaving, ends the request.
	defer func() {
		req.Duration = time.Since(arrived)
		s.mu.Lock()
		if gen == s.logGen {
			s.log[at].Duration = req.Duration
		}
		s.mu.Unlock()
		if s.onRequest != nil {
			s.onRequest(req)
		}
	}()
	ex := s.handle(w, r, arrived)
	req.Status, req.Orders = ex.status, ex.orders
	update := r.Method == http.MethodPost && r.URL.Path != "/oauth/token"
	s.mu.Lock()
	if gen == s.logGen {
		s.log[at].Status, s.log[at].Orders = ex.status, ex.orders
	}
	malformed := false
	if ex.status == http.StatusOK && s.malformed > 0 && r.URL.Path != "/oauth/token" {
		s.malformed--
		malformed = true
	}
	var answer *string
	if ex.status == http.StatusOK && update && len(s.answers) > 0 {
		answer, s.answers = &s.answers[0], s.answers[1:]
	}
	var stall time.Duration
	if ex.status == http.StatusOK && update && s.stallNext > 0 {
		s.stallNext--
		stall = s.stallFor
	}
	s.mu.Unlock()
	if ex.status == 0 { // the client went away
		return
	}
	if stall > 0 {
		select {
		case <-time.After(stall):
		case <-r.Context().Done():
			return // applied, and the client will never know
		}
	}
	if answer != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(*answer))
		return
	}
	for k, v := range ex.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(ex.status)
	b, _ := json.Marshal(ex.body)
	if malformed {
		b = b[:len(b)/2]
	}
	w.Write(b)
}

func fail(status int, code, msg string) exchange {
	return exchange{status: status, body: updateResponse{Status: "failed", Errors: []apiError{{Code: code, Message: msg}}}}
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, now time.Time) exchange {
	if s.limiter != nil {
		res := s.limiter.ReserveN(now, 1)
		if d := res.DelayFrom(now); d > 0 {
			res.CancelAt(now)
			ex := fail(http.StatusTooManyRequests, "TooManyRequests", "rate limit exceeded")
			ex.header = http.Header{"Retry-After": {strconv.Itoa(int(math.Ceil(d.Seconds())))}}
			return ex
		}
	}
	if r.URL.Path == "/oauth/token" {
		return s.token(r, now)
	}
	if ex, ok := s.authorise(r, now); !ok {
		return ex
	}
	s.mu.Lock()
	var injected int
	if len(s.failNext) > 0 {
		injected, s.failNext = s.failNext[0], s.failNext[1:]
	}
	var slow time.Duration
	if injected == 0 && s.slowNext > 0 {
		s.slowNext--
		slow = s.slowFor
	}
	s.mu.Unlock()
	if injected != 0 {
		ex := fail(injected, "InjectedFault", http.StatusText(injected))
		if injected == http.StatusServiceUnavailable || injected == http.StatusTooManyRequests {
			ex.header = http.Header{"Retry-After": {"1"}}
		}
		return ex
	}
	if slow > 0 {
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return exchange{}
		}
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/admin-api/v1/shipping":
		return s.search(r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/admin-api/v1/orders/"):
		return s.detail(strings.TrimPrefix(r.URL.Path, "/admin-api/v1/orders/"))
	case r.Method == http.MethodPost && r.URL.Path == "/admin-api/v1/shipping/status":
		return s.shippingStatus(r)
	case r.Method == http.MethodPost && r.URL.Path == "/admin-api/v1/order/complete":
		return s.complete(r)
	}
	return fail(http.StatusNotFound, "NotFound", "no such endpoint")
}

func (s *Server) token(r *http.Request, now time.Time) exchange {
	unauthorised := exchange{status: http.StatusUnauthorized, body: map[string]string{"error": "invalid_client"}}
	if r.Method != http.MethodPost {
		return exchange{status: http.StatusMethodNotAllowed, body: map[string]string{"error": "invalid_request"}}
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != s.ClientID || secret != s.ClientSecret || r.Header.Get("X-SHOP-KEY") != s.ShopKey {
		return unauthorised
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return exchange{status: http.StatusBadRequest, body: map[string]string{"error": "invalid_request"}}
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		return exchange{status: http.StatusBadRequest, body: map[string]string{"error": "unsupported_grant_type"}}
	}
	var b [16]byte
	rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = now.Add(s.tokenTTL)
	s.mu.Unlock()
	return exchange{status: http.StatusOK, body: map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int64(math.Ceil(s.tokenTTL.Seconds())),
	}}
}

func (s *Server) authorise(r *http.Request, now time.Time) (exchange, bool) {
	unauthorised := fail(http.StatusUnauthorized, "Unauthorized", "invalid or expired token")
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || r.Header.Get("X-SHOP-KEY") != s.ShopKey {
		return unauthorised, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	if !ok || !now.Before(exp) || s.apiOff {
		return unauthorised, false
	}
	return exchange{}, true
}

// decode reads a JSON body strictly: one object, no unknown keys.
func decode(r *http.Request, v any) error {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return errors.New("Content-Type must be application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON body")
	}
	return nil
}

type shippingInfoIn struct {
	InvoiceNo       *string `json:"invoiceNo"`
	ExpectedArrival *string `json:"expectedArrival"`
	ShippingDate    *string `json:"shippingDate"`
}

type shippingRequest struct {
	OrderList []struct {
		OrderNo      string `json:"orderNo"`
		ShipmentList []struct {
			ShipmentNo   *int            `json:"shipmentNo"`
			ShippingInfo *shippingInfoIn `json:"shippingInfo"`
		} `json:"shipmentList"`
	} `json:"orderList"`
}

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func validDate(s string) bool {
	if s == "" {
		return true
	}
	_, err := time.Parse(dateLayout, s)
	return err == nil && dateRE.MatchString(s)
}

func (s *Server) shippingStatus(r *http.Request) exchange {
	var req shippingRequest
	if err := decode(r, &req); err != nil {
		return fail(http.StatusBadRequest, "InvalidRequest", err.Error())
	}
	n := len(req.OrderList)
	if n == 0 {
		return fail(http.StatusBadRequest, "Required", "orderList is empty")
	}
	if n > MaxOrders {
		ex := fail(http.StatusBadRequest, "TooMany", fmt.Sprintf("orderList holds %d orders; at most %d", n, MaxOrders))
		ex.orders = n
		return ex
	}
	var errs []apiError
	for i, o := range req.OrderList {
		p := fmt.Sprintf("orderList[%d]", i)
		if o.OrderNo == "" || len(o.OrderNo) > 12 {
			errs = append(errs, apiError{"InvalidValue", p + ".orderNo", "orderNo must be 1 to 12 bytes"})
		}
		if len(o.ShipmentList) == 0 {
			errs = append(errs, apiError{"Required", p + ".shipmentList", "shipmentList is empty"})
		}
		for j, sh := range o.ShipmentList {
			sp := fmt.Sprintf("%s.shipmentList[%d]", p, j)
			if sh.ShipmentNo == nil {
				errs = append(errs, apiError{"Required", sp + ".shipmentNo", "shipmentNo is required"})
			}
			if sh.ShippingInfo == nil {
				errs = append(errs, apiError{"Required", sp + ".shippingInfo", "shippingInfo is required"})
				continue
			}
			in := sh.ShippingInfo
			if in.InvoiceNo != nil && len(*in.InvoiceNo) > 100 {
				errs = append(errs, apiError{"TooLong", sp + ".shippingInfo.invoiceNo", "invoiceNo must be at most 100 bytes"})
			}
			for _, d := range []struct {
				key string
				v   *string
			}{{"expectedArrival", in.ExpectedArrival}, {"shippingDate", in.ShippingDate}} {
				if d.v != nil && !validDate(*d.v) {
					errs = append(errs, apiError{"InvalidFormat", sp + ".shippingInfo." + d.key, d.key + " must be yyyy-mm-dd"})
				}
			}
		}
	}
	if len(errs) > 0 {
		return exchange{status: http.StatusBadRequest, orders: n, body: updateResponse{Status: "failed", Errors: errs}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := updateResponse{Status: "success", Errors: []apiError{}}
	now := time.Now()
	for _, o := range req.OrderList {
		res := s.updateOne(o.OrderNo, func(ord *Order) *orderResult {
			// Check every shipment before changing any: an order's update
			// is all or nothing.
			for _, sh := range o.ShipmentList {
				t := ord.shipment(*sh.ShipmentNo)
				if t == nil {
					return &orderResult{Code: "NotFound", Message: fmt.Sprintf("shipment %d not found", *sh.ShipmentNo)}
				}
				if t.StorePickup {
					return &orderResult{Code: "CannotUpdateStorePickup", Message: "店舗受取の発送先は更新できません (store-pickup shipments cannot be updated)"}
				}
			}
			for _, sh := range o.ShipmentList {
				t := ord.shipment(*sh.ShipmentNo)
				in := sh.ShippingInfo
				if in.InvoiceNo != nil {
					t.InvoiceNo = *in.InvoiceNo
				}
				if in.ExpectedArrival != nil {
					t.ExpectedArrival = *in.ExpectedArrival
				}
				if in.ShippingDate != nil {
					t.ShippingDate = *in.ShippingDate
					t.Status = ShipmentShipped
					if t.ShippingDate == "" {
						t.Status = ShipmentNotShipped
					}
				}
			}
			ord.UpdatedAt = now
			return nil
		})
		if res.Status != "success" {
			resp.Status = "failed"
		} else {
			s.shipped[o.OrderNo]++
		}
		resp.Results = append(resp.Results, res)
	}
	return exchange{status: http.StatusOK, orders: n, body: resp}
}

// updateOne applies fn to an order, honouring injected per-order faults.
// s.mu is held.
func (s *Server) updateOne(orderNo string, fn func(*Order) *orderResult) orderResult {
	if f, ok := s.orderFault[orderNo]; ok {
		return f
	}
	o, ok := s.orders[orderNo]
	if !ok {
		return orderResult{Status: "failed", OrderNo: orderNo, Code: "NotFound", Message: "order not found"}
	}
	if res := fn(o); res != nil {
		res.Status, res.OrderNo = "failed", orderNo
		return *res
	}
	return orderResult{Status: "success", OrderNo: orderNo}
}

type completeRequest struct {
	OrderList []struct {
		OrderNo string `json:"orderNo"`
	} `json:"orderList"`
}

func (s *Server) complete(r *http.Request) exchange {
	var req completeRequest
	if err := decode(r, &req); err != nil {
		return fail(http.StatusBadRequest, "InvalidRequest", err.Error())
	}
	n := len(req.OrderList)
	switch {
	case n == 0:
		return fail(http.StatusBadRequest, "Required", "orderList is empty")
	case n > MaxOrders:
		ex := fail(http.StatusBadRequest, "TooMany", fmt.Sprintf("orderList holds %d orders; at most %d", n, MaxOrders))
		ex.orders = n
		return ex
	}
	var errs []apiError
	for i, o := range req.OrderList {
		if o.OrderNo == "" || len(o.OrderNo) > 12 {
			errs = append(errs, apiError{"InvalidValue", fmt.Sprintf("orderList[%d].orderNo", i), "orderNo must be 1 to 12 bytes"})
		}
	}
	if len(errs) > 0 {
		return exchange{status: http.StatusBadRequest, orders: n, body: updateResponse{Status: "failed", Errors: errs}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := updateResponse{Status: "success", Errors: []apiError{}}
	now := time.Now()
	for _, o := range req.OrderList {
		res := s.updateOne(o.OrderNo, func(ord *Order) *orderResult {
			ord.Status = StatusCompleted
			ord.UpdatedAt = now
			return nil
		})
		if res.Status != "success" {
			resp.Status = "failed"
		} else {
			s.completed[o.OrderNo]++
		}
		resp.Results = append(resp.Results, res)
	}
	return exchange{status: http.StatusOK, orders: n, body: resp}
}

// Search.

var searchParams = []string{"orderDateStart", "orderDateEnd", "shippingStatus", "paymentStatus", "orderNo", "cursor"}

func (s *Server) search(r *http.Request) exchange {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(searchParams, k) {
			return fail(http.StatusBadRequest, "InvalidParameter", "unknown parameter "+k)
		}
	}
	var start, end time.Time
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"orderDateStart", &start}, {"orderDateEnd", &end}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.ParseInLocation(timeLayout, v, jst)
			if err != nil {
				return fail(http.StatusBadRequest, "InvalidFormat", p.name+" must be yyyy-MM-ddTHH:mm:ss")
			}
			*p.t = t
		}
	}
	ship, pay := q.Get("shippingStatus"), q.Get("paymentStatus")
	if ship != "" && ship != "notShipped" && ship != "shipped" {
		return fail(http.StatusBadRequest, "InvalidValue", "shippingStatus must be notShipped or shipped")
	}
	if pay != "" && pay != PaymentNotReceived && pay != PaymentReceived {
		return fail(http.StatusBadRequest, "InvalidValue", "paymentStatus must be notReceived or received")
	}
	var nos []string
	if v := q.Get("orderNo"); v != "" {
		nos = strings.Split(v, ",")
	}
	offset := 0
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			return fail(http.StatusBadRequest, "InvalidValue", "invalid cursor")
		}
		offset = n
	}

	s.mu.Lock()
	var match []searchOrder
	for _, no := range s.seq {
		o := s.orders[no]
		switch {
		case !start.IsZero() && o.OrderedAt.Before(start),
			!end.IsZero() && o.OrderedAt.After(end),
			ship == "shipped" && !o.shipped(),
			ship == "notShipped" && o.shipped(),
			pay != "" && o.PaymentStatus != pay,
			nos != nil && !slices.Contains(nos, no):
			continue
		}
		match = append(match, searchJSON(o))
	}
	s.mu.Unlock()

	from := offset
	if s.shifting && offset > 0 {
		from-- // the list moved: the previous page's last order again
	}
	page := match[min(from, len(match)):min(offset+s.pageSize, len(match))]
	body := map[string]any{"orderList": append([]searchOrder{}, page...)}
	s.mu.Lock()
	loop := s.loopNext
	s.loopNext = false
	s.mu.Unlock()
	if loop {
		body["nextUrl"] = s.URL + r.URL.RequestURI()
	} else if offset+s.pageSize < len(match) {
		q.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset+s.pageSize))))
		next := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		if s.relativeNext {
			body["nextUrl"] = next.String()
		} else {
			body["nextUrl"] = s.URL + next.String()
		}
	}
	return exchange{status: http.StatusOK, orders: len(page), body: body}
}

func (s *Server) detail(orderNo string) exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderNo]
	if !ok {
		return fail(http.StatusNotFound, "NotFound", "order not found")
	}
	return exchange{status: http.StatusOK, orders: 1, body: detailJSON(o)}
}
