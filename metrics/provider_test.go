package metrics_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goqsync/runner/metrics"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		prometheus  bool
		wantErr     string
		wantScrape  bool // Handler serves the Prometheus text format
		wantConsole bool // the counter is written to stderr at shutdown
	}{
		{name: "nothing asked"},
		{name: "serve", prometheus: true, wantScrape: true},
		{name: "console", env: map[string]string{"OTEL_METRICS_EXPORTER": "console"}, wantConsole: true},
		{name: "none", env: map[string]string{"OTEL_METRICS_EXPORTER": "none"}},
		{name: "disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_METRICS_EXPORTER": "console"}, prometheus: true},
		{name: "unknown exporter", env: map[string]string{"OTEL_METRICS_EXPORTER": "carrier-pigeon"}, wantErr: "OTEL_METRICS_EXPORTER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// autoexport reads the process environment, the rest lookupEnv.
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			p, err := metrics.New(context.Background(), metrics.Options{
				Prometheus: tt.prometheus, Stderr: &stderr,
				LookupEnv: func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok },
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New: %v, want an error about %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			c, _ := p.MeterProvider().Meter("test").Int64Counter("test.things")
			c.Add(ctx, 3)
			if (p.Handler() != nil) != tt.wantScrape {
				t.Fatalf("Handler() = %v, want one: %v", p.Handler(), tt.wantScrape)
			}
			if tt.wantScrape {
				srv := httptest.NewServer(p.Handler())
				defer srv.Close()
				resp, err := http.Get(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.Contains(string(b), "test_things_total 3\n") || !strings.Contains(string(b), `service_name="runner"`) {
					t.Errorf("scrape:\n%s", b)
				}
			}
			if err := p.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(stderr.String(), `"test.things"`); got != tt.wantConsole {
				t.Errorf("console output holds the counter: %v\n%s", got, stderr.String())
			}
		})
	}
}
