package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/goqsync/runner/metrics"
)

// shownRun is a run as GET /jobs shows it.
type shownRun struct {
	ID      int64          `json:"id"`
	Status  string         `json:"status"`
	EndedAt time.Time      `json:"ended_at"`
	Counts  map[string]int `json:"counts"`
}

// manualRun presses the button for job and waits for a run newer than
// after to end.
func manualRun(t *testing.T, base, job string, after int64) shownRun {
	t.Helper()
	resp, err := http.Post(base+"/jobs/"+job+"/runs", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST run: %s", resp.Status)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var jobs []struct {
			LastRun *shownRun `json:"last_run"`
		}
		resp, err := http.Get(base + "/jobs")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&jobs)
		resp.Body.Close()
		if len(jobs) == 1 && jobs[0].LastRun != nil && jobs[0].LastRun.ID > after && !jobs[0].LastRun.EndedAt.IsZero() {
			return *jobs[0].LastRun
		}
	}
	t.Fatal("the run did not end")
	return shownRun{}
}

// scrape reads GET /metrics with the Prometheus text parser.
func scrape(t *testing.T, base string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, b)
	}
	return fams, string(b)
}

// sample is the value of the series of family name whose labels include
// want; NaN when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return math.NaN()
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return math.NaN()
}

// byLabels sums family name's series by the given labels, as "a b c" keys.
func byLabels(fams map[string]*dto.MetricFamily, name string, labels ...string) map[string]int {
	out := map[string]int{}
	f := fams[name]
	if f == nil {
		return out
	}
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		var key []string
		for _, l := range labels {
			key = append(key, got[l])
		}
		out[strings.Join(key, " ")] += int(m.Counter.GetValue())
	}
	return out
}

var orderPath = regexp.MustCompile(`^/admin-api/v1/orders/[^/]+$`)

// TestServeMetrics runs the shipping example once through serve's button,
// against a shop that refuses one store-pickup order and throttles one
// call, and checks /metrics against the run's history entry and the shop's
// request log.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	const job = "shipping-to-futureshop"
	srv := sampleShop(t, "100000001201")
	srv.FailNext(1, http.StatusTooManyRequests)
	lookup := shopEnv(t, srv, "RUNNER_LISTEN", "127.0.0.1:0")
	// Once a year: a scheduled run in the middle would add to the counts.
	base := startServe(t, lookup, "-var", "goq_export="+sample, "-now", seedNow, manualShipping(t))

	fams, _ := scrape(t, base)
	if v := value(fams, "runner_parked_records", map[string]string{"job": job}); v != 0 {
		t.Errorf("parked before any run: %v, want 0", v)
	}
	run := manualRun(t, base, job, 0)
	if run.Status != "failed" || run.Counts["parked"] != 1 {
		t.Fatalf("the run: %+v; want failed with one order parked", run)
	}
	fams, text := scrape(t, base)

	check := func(name string, labels map[string]string, want float64) {
		t.Helper()
		if got := value(fams, name, labels); got != want {
			t.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
	}
	check("runner_runs_total", map[string]string{"job": job, "outcome": "failed"}, 1)
	check("runner_run_duration_seconds", map[string]string{"job": job, "outcome": "failed"}, 1)
	for outcome, key := range map[string]string{"sent": "sent", "ok": "ok", "failed": "failed", "parked": "parked",
		"excluded": "excluded", "unchanged": "unchanged", "error": "errors"} {
		check("runner_records_total", map[string]string{"job": job, "outcome": outcome}, float64(run.Counts[key]))
	}
	check("runner_parked_records", map[string]string{"job": job}, 1)
	if v := value(fams, "runner_last_success_timestamp_seconds", map[string]string{"job": job}); !math.IsNaN(v) {
		t.Errorf("last success of a job that never succeeded: %v", v)
	}

	// Every request the shop saw, by endpoint pattern, method and status.
	want := map[string]int{}
	tokens := 0
	for _, r := range srv.Requests() {
		path := r.Path
		if orderPath.MatchString(path) {
			path = "/admin-api/v1/orders/{orderNo}"
		}
		if path == "/oauth/token" && r.Status == http.StatusOK {
			tokens++
		}
		want[fmt.Sprintf("%s %s %d", path, r.Method, r.Status)]++
	}
	got := byLabels(fams, "futureshop_requests_total", "endpoint", "method", "status")
	if fmt.Sprint(sortedKeys(got), got) != fmt.Sprint(sortedKeys(want), want) {
		t.Errorf("futureshop_requests_total by endpoint, method, status:\n got %v\nwant %v (the shop's log)", got, want)
	}
	check("futureshop_throttled_total", map[string]string{"endpoint": "/admin-api/v1/shipping/status"}, 1)
	check("futureshop_token_refreshes_total", map[string]string{"outcome": "ok"}, float64(tokens))

	// Bounded cardinality: no order number, key or secret in any label.
	for _, secret := range []string{"1000000012", srv.ShopKey, srv.ClientID, srv.ClientSecret} {
		if strings.Contains(text, secret) {
			t.Errorf("/metrics holds %q", secret)
		}
	}

	// The next run leaves the parked order alone and succeeds: it sets the
	// job's last success, and the parked gauge still reads the ledger.
	srv.ClearFaults()
	again := manualRun(t, base, job, run.ID)
	if again.Status != "ok" {
		t.Fatalf("the second run: %+v", again)
	}
	fams, _ = scrape(t, base)
	check("runner_runs_total", map[string]string{"job": job, "outcome": "ok"}, 1)
	check("runner_runs_total", map[string]string{"job": job, "outcome": "failed"}, 1)
	check("runner_records_total", map[string]string{"job": job, "outcome": "sent"}, float64(run.Counts["sent"]+again.Counts["sent"]))
	check("runner_parked_records", map[string]string{"job": job}, 1)
	if v := value(fams, "runner_last_success_timestamp_seconds", map[string]string{"job": job}); math.Abs(v-float64(again.EndedAt.UnixNano())/1e9) > 0.001 {
		t.Errorf("last success %v, want %v (%s)", v, float64(again.EndedAt.UnixNano())/1e9, again.EndedAt)
	}

	// The README's table of metrics is what /metrics publishes.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `((?:runner|futureshop)_[a-z_]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	if len(documented) == 0 {
		t.Fatal("the README lists no metrics")
	}
	for name := range fams {
		if (strings.HasPrefix(name, "runner_") || strings.HasPrefix(name, "futureshop_")) && !documented[name] {
			t.Errorf("/metrics has %s, which the README does not list", name)
		}
	}
	for name := range documented {
		// No run here waited for a lock (engine tests cover the waits).
		if fams[name] == nil && name != "runner_lock_wait_duration_seconds" {
			t.Errorf("the README lists %s, which /metrics does not have", name)
		}
	}
}

// TestRunExportsMetrics: runner run has no /metrics, but exports its
// metrics when OTEL_METRICS_EXPORTER asks (console here, on stderr, so
// nothing mixes with the run's output).
func TestRunExportsMetrics(t *testing.T) {
	t.Parallel()
	srv := sampleShop(t)
	out, code := invoke(t, shopEnv(t, srv, "OTEL_METRICS_EXPORTER", "console"),
		"run", "-json", "-var", "goq_export="+sample, "-now", seedNow, fastShipping(t))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	stdout, stderr, _ := strings.Cut(out, "--- stderr\n")
	for _, want := range []string{`"Name": "runner.runs"`, `"Name": "runner.records"`, `"Name": "futureshop.requests"`, `"Value": "/admin-api/v1/shipping/status"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %s", want)
		}
		if strings.Contains(stdout, want) {
			t.Errorf("stdout holds %s", want)
		}
	}
}

// TestMetricsToken: off loopback /metrics wants the API's token, as the
// API does; the API's own routes pass through untouched.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	mp, err := metrics.New(context.Background(), metrics.Options{Prometheus: true})
	if err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api") })
	tests := []struct {
		name, token, path, auth string
		want                    int
	}{
		{"no token set", "", "/metrics", "", http.StatusOK},
		{"token missing", "s3cret", "/metrics", "", http.StatusUnauthorized},
		{"token wrong", "s3cret", "/metrics", "Bearer nope", http.StatusUnauthorized},
		{"token given", "s3cret", "/metrics", "Bearer s3cret", http.StatusOK},
		{"the API's routes", "s3cret", "/jobs", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(serveMetrics(api, mp, tt.token))
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s: %s, want %d", tt.path, resp.Status, tt.want)
			}
		})
	}
}
