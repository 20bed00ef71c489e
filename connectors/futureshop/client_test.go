package futureshop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/version"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestParseAPIDomain(t *testing.T) {
	tests := []struct {
		in, want string
		err      string
	}{
		{in: "shop.example.jp", want: "https://shop.example.jp"},
		{in: "shop.example.jp:8443", want: "https://shop.example.jp:8443"},
		{in: "https://api.example.jp/base/", want: "https://api.example.jp/base"},
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "http://127.3.4.5", want: "http://127.3.4.5"},
		{in: "http://localhost:9", want: "http://localhost:9"},
		{in: "http://[::1]:9", want: "http://[::1]:9"},
		{in: "http://shop.example.jp", err: "plain http is allowed only for loopback"},
		{in: "http://10.0.0.1", err: "plain http is allowed only for loopback"},
		{in: "ftp://shop.example.jp", err: "scheme must be https"},
		{in: "https://user:hunter2@shop.example.jp", err: "without credentials"},
		{in: "https://shop.example.jp/?a=b", err: "must be a host"},
		{in: "", err: "empty"},
	}
	for _, tt := range tests {
		u, err := parseAPIDomain(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseAPIDomain(%q) = %v, %v; want error containing %q", tt.in, u, err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("parseAPIDomain(%q): error leaks the password: %v", tt.in, err)
			}
			continue
		}
		if err != nil || u.String() != tt.want {
			t.Errorf("parseAPIDomain(%q) = %v, %v; want %s", tt.in, u, err, tt.want)
		}
	}
}

func TestToken(t *testing.T) {
	ctx := context.Background()
	write := func(t *testing.T, d *destination, nos ...string) error {
		_, err := export(ctx, t, d, shipped(nos))
		return err
	}

	t.Run("cached", func(t *testing.T) {
		srv := newServer(t)
		nos := seed(srv, 3)
		d := newDest(t, srv, "batch_size = 1", false)
		if err := write(t, d, nos...); err != nil {
			t.Fatal(err)
		}
		if got := count(srv.Requests())[tokenPath]; got != 1 {
			t.Errorf("token calls = %d, want 1", got)
		}
		// Every call, the token's too, names the build.
		want := version.Current().UserAgent()
		for _, r := range srv.Requests() {
			if r.UserAgent != want || !strings.HasPrefix(want, "runner/") {
				t.Errorf("%s %s: User-Agent %q, want %q", r.Method, r.Path, r.UserAgent, want)
			}
		}
	})

	t.Run("renewed before expiry", func(t *testing.T) {
		srv := newServer(t, futureshoptest.WithTokenTTL(time.Second))
		nos := seed(srv, 2)
		d := newDest(t, srv, "", false)
		c, err := d.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(ctx, shipped(nos[:1])); err != nil {
			t.Fatal(err)
		}
		time.Sleep(950 * time.Millisecond) // past renewal (0.9 s), before expiry
		if _, err := c.Write(ctx, shipped(nos[1:])); err != nil {
			t.Fatal(err)
		}
		for _, r := range srv.Requests() {
			if r.Status == http.StatusUnauthorized {
				t.Errorf("%s answered 401: the token was not renewed ahead of expiry", r.Path)
			}
		}
		if got := count(srv.Requests())[tokenPath]; got != 2 {
			t.Errorf("token calls = %d, want 2", got)
		}
	})

	t.Run("401 fetches a new token once", func(t *testing.T) {
		srv := newServer(t)
		nos := seed(srv, 2)
		d := newDest(t, srv, "", false)
		c, err := d.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(ctx, shipped(nos[:1])); err != nil {
			t.Fatal(err)
		}
		srv.ExpireTokens()
		res, err := c.Write(ctx, shipped(nos[1:]))
		if err != nil || !res[0].OK {
			t.Fatalf("Write after token loss = %v, %v", res, err)
		}
		var got []int
		for _, r := range srv.Requests() {
			got = append(got, r.Status)
		}
		want := []int{200, 200, 401, 200, 200} // token, write, refused, token, write
		if !equal(got, want) {
			t.Errorf("statuses = %v, want %v", got, want)
		}
	})

	secrets := []string{"s3cret-shop-key", "s3cret-client-secret"}
	for _, tt := range []struct {
		name  string
		setup func(*futureshoptest.Server)
		creds func(*destination)
		calls map[string]int
	}{
		{
			name:  "API option off",
			setup: func(s *futureshoptest.Server) { s.SetAPIEnabled(false) },
			calls: map[string]int{tokenPath: 2, shippingStatusPath: 2},
		},
		{
			name:  "wrong secret",
			creds: func(d *destination) { d.cfg.clientSecret = "s3cret-wrong" },
			calls: map[string]int{tokenPath: 1},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, futureshoptest.WithCredentials(secrets[0], "client", secrets[1]))
			nos := seed(srv, 1)
			if tt.setup != nil {
				tt.setup(srv)
			}
			d := newDest(t, srv, "", false)
			if tt.creds != nil {
				tt.creds(d)
			}
			err := write(t, d, nos...)
			if !errors.Is(err, ErrCredentials) {
				t.Fatalf("err = %v, want ErrCredentials", err)
			}
			for _, s := range append(secrets, "s3cret-wrong") {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error leaks a secret: %v", err)
				}
			}
			if got := count(srv.Requests()); !equalMap(got, tt.calls) {
				t.Errorf("calls = %v, want %v", got, tt.calls)
			}
		})
	}
}

func TestRateNeverExceeded(t *testing.T) {
	// At 10 requests a second the client's margin (5 ms) and the shop's
	// burst of 2 absorb the arrival jitter of a loaded machine running the
	// race detector; at the tests' usual 50, a 1 ms margin did not always.
	const rps, n = 10, 24
	ctx := context.Background()
	srv := newServer(t, futureshoptest.WithRateLimit(rps, 2))
	nos := seed(srv, n)
	// Two jobs with the same credentials share one budget.
	d1 := newDestAt(t, srv, rps, "batch_size = 1", false)
	d2 := newDestAt(t, srv, rps, "batch_size = 1", false)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, d := range []*destination{d1, d2} {
		wg.Go(func() {
			_, errs[i] = export(ctx, t, d, shipped(nos[i*n/2:(i+1)*n/2]))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if got := count(reqs)[shippingStatusPath]; got != n {
		t.Fatalf("shipping calls = %d, want %d", got, n)
	}
	checkRate(t, reqs, rps)
}

func TestSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	srv := newServer(t)
	nos := seed(srv, 3)
	d := newDest(t, srv, "", true)
	if _, err := export(context.Background(), t, d, shipped(nos)); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3 (token, shipping, complete)", len(spans))
	}
	for _, s := range spans {
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
			for _, secret := range []string{srv.ShopKey, srv.ClientSecret} {
				if strings.Contains(kv.Value.String(), secret) {
					t.Errorf("span %s attribute %s holds a secret", s.Name(), kv.Key)
				}
			}
		}
		if attrs["http.request.method"] != "POST" || attrs["http.response.status_code"] != "200" || attrs["url.path"] == "" {
			t.Errorf("span %s attributes = %v", s.Name(), attrs)
		}
		if attrs["url.path"] == shippingStatusPath && attrs["futureshop.order_count"] != "3" {
			t.Errorf("shipping span order count = %s, want 3", attrs["futureshop.order_count"])
		}
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalMap(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

var _ engine.Destination = (*destination)(nil)

func TestPrintingHidesSecrets(t *testing.T) {
	srv := newServer(t, futureshoptest.WithCredentials("s3cret-shop-key", "client", "s3cret-client-secret"))
	d := newDest(t, srv, "", true)
	src, diags := NewSource(parseBody(t, credBody(srv, "")), settings())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, v := range []any{d, src, d.cfg} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, "s3cret") {
				t.Errorf("%s of %T shows a secret: %s", verb, v, s)
			}
		}
	}
}
