package futureshop

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCallErrorsNameTheCallOnce: send names the call ("futureshop POST
// /path") once, whether it gives up, ends in doubt or is asked to wait
// too long; the attempts' own errors do not name it again.
func TestCallErrorsNameTheCallOnce(t *testing.T) {
	hangUp := func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // an answer that never comes: EOF
		}
	}
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		idempotent bool
		want       string
	}{
		{"giving up", hangUp, true, "futureshop POST /x: giving up after 2 tries: "},
		{"in doubt", hangUp, false, "futureshop POST /x: "},
		{"asked to wait too long", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, true, "futureshop POST /x: 503 Service Unavailable; the shop asks to wait 1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c, err := newClient(config{apiDomain: srv.URL, shopKey: "k", clientID: "c", clientSecret: "s",
				rateLimit: testRate, maxTries: 2, minBackoff: time.Millisecond, maxBackoff: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.send(context.Background(), http.MethodPost, c.endpoint("/x", nil), 0, func(*http.Request) {}, nil, tt.idempotent)
			if err == nil {
				t.Fatal("send succeeded")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.want) {
				t.Errorf("error %q does not start with %q", msg, tt.want)
			}
			if n := strings.Count(msg, "futureshop POST /x"); n != 1 {
				t.Errorf("error names the call %d times: %s", n, msg)
			}
		})
	}
}
