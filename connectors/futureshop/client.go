package futureshop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/goqsync/runner/version"
)

// userAgent names the build on every call, so a shop's logs tell which
// runner sent what.
var userAgent = version.Current().UserAgent()

// Defaults of the client.
const (
	// DefaultRateLimit is futureshop's budget as public client code observes
	// it: about one request per second per client.
	DefaultRateLimit = 1.0
	DefaultTimeout   = 30 * time.Second
	DefaultMaxTries  = 5

	defaultMinBackoff = 500 * time.Millisecond
	defaultMaxBackoff = 30 * time.Second
	// maxRetryAfter bounds how long a Retry-After may keep a run waiting;
	// beyond it the call fails and the next run tries again.
	maxRetryAfter = 2 * time.Minute
	maxBodyBytes  = 64 << 20
)

// ErrCredentials is returned when futureshop rejects the credentials even
// after a fresh token. It stops the run (see engine.StopsRun).
var ErrCredentials = errors.New("futureshop refused the credentials: the shop's API option may not be enabled, or the credentials are wrong")

// ErrUnreachable is returned once breakerThreshold attempts in a row failed
// to reach futureshop (timeouts, refused connections, gateway errors): the
// circuit is open and the client sends nothing more. It stops the run.
var ErrUnreachable = errors.New("futureshop cannot be reached")

// breakerThreshold is how many attempts in a row may fail to reach the shop
// before the client stops trying: with the default timeout, a silent shop
// ends a run in about a minute and a half instead of holding every batch
// for minutes.
const breakerThreshold = 3

// stopError marks an error that ends the whole run, not one batch.
type stopError struct{ err error }

func (e *stopError) Error() string  { return e.err.Error() }
func (e *stopError) Unwrap() error  { return e.err }
func (e *stopError) StopsRun() bool { return true }

// inDoubtError is a failure after which futureshop may or may not have
// applied the request: a timeout or a lost connection after it was sent, a
// gateway error, an answer that confirms nothing. An update that is not
// idempotent must be read back, not simply sent again.
type inDoubtError struct{ err error }

func (e *inDoubtError) Error() string { return e.err.Error() + " (the request may have been applied)" }
func (e *inDoubtError) Unwrap() error { return e.err }

const tracerName = "github.com/goqsync/runner/connectors/futureshop"

// config holds what a client needs. It carries secrets: never format it.
type config struct {
	apiDomain    string
	shopKey      string
	clientID     string
	clientSecret string
	rateLimit    float64       // requests per second
	timeout      time.Duration // per HTTP call
	maxTries     int
	minBackoff   time.Duration
	maxBackoff   time.Duration
}

// check reports the first missing credential by name, never by value.
func (c *config) check() error {
	for _, f := range []struct{ name, v string }{
		{"api_domain", c.apiDomain},
		{"shop_key", c.shopKey},
		{"client_id", c.clientID},
		{"client_secret", c.clientSecret},
	} {
		if strings.TrimSpace(f.v) == "" {
			return fmt.Errorf("%s is empty", f.name)
		}
	}
	return nil
}

// client talks to one shop's admin API. It is safe for concurrent use.
type client struct {
	base    *url.URL
	cfg     config
	hc      *http.Client
	limiter *rate.Limiter
	tracer  trace.Tracer
	m       *clientMetrics

	mu      sync.Mutex // guards token and renewAt; held while fetching a token
	token   string
	renewAt time.Time

	bmu      sync.Mutex // guards the circuit breaker, lastSent and calls
	failures int        // attempts in a row that did not reach the shop
	lastFail error
	lastSent time.Time      // when this client last sent a request
	calls    map[string]int // requests sent, by callKind
}

// callKind names an endpoint (endpointOf) for cost accounting: the kinds
// the destination's Cost uses.
func callKind(endpoint string) string {
	switch endpoint {
	case tokenPath:
		return "token"
	case shippingStatusPath:
		return "shipping"
	case completePath:
		return "complete"
	case searchPath:
		return "search"
	case detailPath + "{orderNo}":
		return "detail"
	}
	return endpoint
}

// Calls returns the requests this client sent, by kind.
func (c *client) Calls() map[string]int {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	return maps.Clone(c.calls)
}

func newClient(cfg config) (*client, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	base, err := parseAPIDomain(cfg.apiDomain)
	if err != nil {
		return nil, err
	}
	if cfg.rateLimit <= 0 {
		cfg.rateLimit = DefaultRateLimit
	}
	if cfg.timeout <= 0 {
		cfg.timeout = DefaultTimeout
	}
	if cfg.maxTries <= 0 {
		cfg.maxTries = DefaultMaxTries
	}
	if cfg.minBackoff <= 0 {
		cfg.minBackoff = defaultMinBackoff
	}
	if cfg.maxBackoff <= 0 {
		cfg.maxBackoff = defaultMaxBackoff
	}
	return &client{
		base:    base,
		cfg:     cfg,
		hc:      &http.Client{CheckRedirect: noRedirect},
		limiter: sharedLimiter(base.String(), cfg.shopKey, cfg.clientID, cfg.rateLimit),
		tracer:  otel.Tracer(tracerName),
		m:       newClientMetrics(otel.GetMeterProvider()),
	}, nil
}

// close ends the client's use of the shop's budget: it returns only once
// the shop would take the next request, so that a run in another process
// that takes the shop's lock next cannot come too soon after this one.
func (c *client) close() {
	c.bmu.Lock()
	last := c.lastSent
	c.bmu.Unlock()
	if !last.IsZero() {
		time.Sleep(time.Until(last.Add(interval(c.cfg.rateLimit))))
	}
	c.hc.CloseIdleConnections()
}

// noRedirect keeps the bearer token and shop key on the configured host.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// parseAPIDomain accepts "host[:port]" (https) or a base URL. Plain http is
// allowed only for loopback hosts, so a token never crosses a network in
// clear text. Errors quote the value only when it cannot hold a password.
func parseAPIDomain(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("api_domain is empty")
	}
	raw := s
	if !strings.Contains(s, "://") {
		raw = "https://" + s
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil {
		return nil, errors.New("api_domain must be a host[:port] or a URL like https://host[:port][/path] without credentials")
	}
	if u.Host == "" || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("api_domain %q must be a host[:port] or a URL like https://host[:port][/path]", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("api_domain %q: plain http is allowed only for loopback addresses; use https", s)
		}
	default:
		return nil, fmt.Errorf("api_domain %q: scheme must be https", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// limiters holds one limiter per set of credentials, process-wide: the
// budget belongs to the shop's API client, not to a job, so every job using
// the same credentials must share it.
var limiters = struct {
	sync.Mutex
	m map[string]*rate.Limiter
}{m: map[string]*rate.Limiter{}}

// interval is the least time between two requests at rps, with a margin:
// the shop counts arrivals, and a request whose connection was quicker to
// set up than the one before it arrives early by as much. At futureshop's
// 1 request/s the margin is 25 ms; at high test rates, a twentieth.
func interval(rps float64) time.Duration {
	d := time.Duration(float64(time.Second) / rps)
	return d + min(25*time.Millisecond, d/20)
}

// sharedLimiter returns the limiter of the credentials. When jobs configure
// different rates for the same credentials the lowest wins, since the shop's
// budget is the same whichever job asks.
func sharedLimiter(base, shopKey, clientID string, rps float64) *rate.Limiter {
	// Hash the key so the shop key does not sit in a map readable in a dump.
	h := sha256.Sum256([]byte(base + "\x00" + shopKey + "\x00" + clientID))
	key := hex.EncodeToString(h[:])
	limiters.Lock()
	defer limiters.Unlock()
	limit := rate.Every(interval(rps))
	l, ok := limiters.m[key]
	if !ok {
		// Burst 1: the service counts requests, not averages.
		l = rate.NewLimiter(limit, 1)
		limiters.m[key] = l
	} else if limit < l.Limit() {
		l.SetLimit(limit)
	}
	return l
}

// endpoint returns the URL of an API path under the base.
func (c *client) endpoint(path string, q url.Values) *url.URL {
	u := *c.base
	u.Path = c.base.Path + path
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return &u
}

// response is a completed HTTP exchange whose status the caller interprets.
type response struct {
	status int
	body   []byte
}

// call sends an authorised API request. A 401 drops the token and tries
// once more with a new one; a second 401 is ErrCredentials. A request that
// is not idempotent is sent again only after failures that show it was not
// applied (a 429 or 503 refusal, a connection never made); other failures
// come back as an *inDoubtError.
func (c *client) call(ctx context.Context, method string, u *url.URL, body []byte, orders int, idempotent bool) (*response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.accessToken(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.send(ctx, method, u, orders, func(req *http.Request) {
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set(headerShopKey, c.cfg.shopKey)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("User-Agent", userAgent)
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
		}, body, idempotent)
		if err != nil {
			return nil, err
		}
		if resp.status == http.StatusUnauthorized {
			c.dropToken(tok)
			if attempt == 0 {
				continue
			}
			return nil, &stopError{ErrCredentials}
		}
		return resp, nil
	}
}

// accessToken returns a cached token, fetching a new one when the cached
// one is near its expiry.
func (c *client) accessToken(ctx context.Context) (_ string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Now().Before(c.renewAt) {
		return c.token, nil
	}
	defer func() { c.m.token(ctx, err == nil) }()
	c.token = ""
	form := []byte(url.Values{"grant_type": {"client_credentials"}}.Encode())
	resp, err := c.send(ctx, http.MethodPost, c.endpoint(tokenPath, nil), 0, func(req *http.Request) {
		req.SetBasicAuth(c.cfg.clientID, c.cfg.clientSecret)
		req.Header.Set(headerShopKey, c.cfg.shopKey)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", userAgent)
	}, form, true)
	if err != nil {
		return "", err
	}
	switch {
	case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden ||
		resp.status == http.StatusBadRequest:
		// OAuth servers answer invalid_client with 400 or 401.
		return "", &stopError{ErrCredentials}
	case resp.status != http.StatusOK:
		return "", &StatusError{Method: http.MethodPost, Path: tokenPath, StatusCode: resp.status}
	}
	var tr tokenResponse
	if err := decodeJSON(resp.body, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("futureshop POST %s: malformed token response", tokenPath)
	}
	ttl := time.Duration(tr.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = time.Hour
	}
	// Renew ahead of expiry so a token never dies in flight: a minute
	// early, or a tenth of its life when that is shorter.
	c.token = tr.AccessToken
	c.renewAt = time.Now().Add(ttl - min(time.Minute, ttl/10))
	return c.token, nil
}

func (c *client) dropToken(tok string) {
	c.mu.Lock()
	if c.token == tok {
		c.token = ""
	}
	c.mu.Unlock()
}

// StatusError is an HTTP status futureshop answered with and the connector
// could not act on. Code and Message are futureshop's first error, if any.
type StatusError struct {
	Method     string
	Path       string
	StatusCode int
	Code       string
	Message    string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("futureshop %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" || e.Message != "" {
		s += ": " + strings.TrimPrefix(e.Code+": "+e.Message, ": ")
	}
	return s
}

// retryable reports statuses that say "not now" rather than "no".
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable,
		http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// send performs one logical request with up to maxTries attempts. Every
// attempt waits for the shared limiter, has its own timeout and its own
// span. It returns the first response that is not retryable. When the
// request is not idempotent, a failure that may have been applied ends it
// at once with an *inDoubtError.
func (c *client) send(ctx context.Context, method string, u *url.URL, orders int, header func(*http.Request), body []byte, idempotent bool) (*response, error) {
	var lastErr error
	for try := 0; try < c.cfg.maxTries; try++ {
		if try > 0 {
			wait := c.backoff(try)
			var ra time.Duration
			var se *retryAfterError
			if errors.As(lastErr, &se) && se.after > 0 {
				ra = se.after
				if ra > maxRetryAfter {
					return nil, fmt.Errorf("futureshop %s %s: %w; the shop asks to wait %s, longer than the connector waits", method, u.Path, lastErr, ra)
				}
				wait = ra
			}
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
		if err := c.circuit(); err != nil {
			return nil, err
		}
		resp, err := c.attempt(ctx, method, u, orders, header, body)
		if err != nil {
			// The breaker quotes its last failure, so that one names its call.
			c.observe(fmt.Errorf("futureshop %s %s: %w", method, u.Path, err))
		} else {
			c.observe(nil)
		}
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
		if !idempotent && !notApplied(err) {
			return nil, &inDoubtError{fmt.Errorf("futureshop %s %s: %w", method, u.Path, err)}
		}
	}
	if err := c.circuit(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("futureshop %s %s: giving up after %d tries: %w", method, u.Path, c.cfg.maxTries, lastErr)
}

// notApplied reports failures that show the shop did not act on a request:
// it refused it (429, 503) or the connection was never made.
func notApplied(err error) bool {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.status == http.StatusTooManyRequests || ra.status == http.StatusServiceUnavailable
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// observe feeds the circuit breaker with an attempt's outcome: any answer
// but a gateway or availability error shows the shop is reachable.
func (c *client) observe(err error) {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	var ra *retryAfterError
	switch {
	case err == nil, errors.As(err, &ra) && ra.status == http.StatusTooManyRequests:
		c.failures, c.lastFail = 0, nil
	case errors.Is(err, context.Canceled):
	default:
		c.failures++
		c.lastFail = err
	}
}

// circuit returns ErrUnreachable, as a run-stopping error, once too many
// attempts in a row failed.
func (c *client) circuit() error {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	if c.failures < breakerThreshold {
		return nil
	}
	return &stopError{fmt.Errorf("%w: %d attempts in a row failed (the last: %v)", ErrUnreachable, c.failures, c.lastFail)}
}

// retryAfterError is a retryable status, carrying the server's Retry-After.
type retryAfterError struct {
	status int
	after  time.Duration
}

func (e *retryAfterError) Error() string {
	return fmt.Sprintf("%d %s", e.status, http.StatusText(e.status))
}

// attempt is one HTTP exchange. It returns an error only for outcomes worth
// retrying: network errors, timeouts and retryable statuses. Its errors do
// not name the call: send names it once, whatever it returns.
func (c *client) attempt(ctx context.Context, method string, u *url.URL, orders int, header func(*http.Request), body []byte) (*response, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return nil, err
	}
	// One name for the endpoint, for the call counts and the metrics, and
	// a path under the API base like any other.
	endpoint := endpointOf(strings.TrimPrefix(u.Path, c.base.Path))
	c.bmu.Lock()
	c.lastSent = time.Now()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[callKind(endpoint)]++
	c.bmu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	ctx, span := c.tracer.Start(ctx, "futureshop "+method+" "+u.Path, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("http.request.method", method),
			attribute.String("url.path", u.Path),
			attribute.Int("futureshop.order_count", orders),
		))
	defer span.End()

	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	header(req)
	res, err := c.hc.Do(req)
	if err != nil {
		c.m.request(ctx, method, endpoint, 0)
		span.SetStatus(codes.Error, "request failed")
		return nil, stripURL(err)
	}
	defer res.Body.Close()
	c.m.request(ctx, method, endpoint, res.StatusCode)
	span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBodyBytes))
	if err != nil {
		span.SetStatus(codes.Error, "reading response failed")
		return nil, fmt.Errorf("reading response: %w", stripURL(err))
	}
	if retryable(res.StatusCode) {
		span.SetStatus(codes.Error, http.StatusText(res.StatusCode))
		return nil, &retryAfterError{status: res.StatusCode, after: parseRetryAfter(res.Header.Get("Retry-After"))}
	}
	if res.StatusCode >= 400 {
		span.SetStatus(codes.Error, http.StatusText(res.StatusCode))
	}
	return &response{status: res.StatusCode, body: b}, nil
}

// stripURL drops the URL from a *url.Error: the operation and path are
// already in the message, and the query is noise.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// backoff is exponential with jitter: a random wait in [d/2, d] where d
// doubles each try, so clients that failed together do not retry together.
func (c *client) backoff(try int) time.Duration {
	d := c.cfg.minBackoff << (try - 1)
	if d > c.cfg.maxBackoff || d <= 0 {
		d = c.cfg.maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
