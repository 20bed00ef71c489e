package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeManualRun starts serve, presses the 発送情報の更新 button through
// the HTTP API, waits for the run to show in GET /jobs, and stops serve.
func TestServeManualRun(t *testing.T) {
	fast := manualShipping(t)
	srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
	defer srv.Close()
	srv.Seed(futureshoptest.SampleOrders()...)
	lookup := shopEnv(t, srv, "RUNNER_LISTEN", "127.0.0.1:0", "OTEL_TRACES_EXPORTER", "console")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"serve", "-var", "goq_export=" + sample, "-now", seedNow, fast}, &out, &errb, lookup)
	}()

	addrRE := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d\n%s\n%s", code, out.String(), errb.String())
		default:
		}
	}
	if base == "" {
		t.Fatalf("serve did not start:\n%s\n%s", out.String(), errb.String())
	}

	// The caller's W3C trace context reaches the run through River.
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", base+"/jobs/shipping-to-futureshop/runs", nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST run: %s", resp.Status)
	}
	if resp, _ := http.Post(base+"/jobs/no-such-job/runs", "application/json", nil); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown job: %v", resp)
	}

	type status struct {
		Name    string `json:"name"`
		LastRun *struct {
			Trigger string         `json:"trigger"`
			EndedAt time.Time      `json:"ended_at"`
			Counts  map[string]int `json:"counts"`
		} `json:"last_run"`
	}
	var jobs []status
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(base + "/jobs")
		if err != nil {
			t.Fatal(err)
		}
		jobs = nil
		json.NewDecoder(resp.Body).Decode(&jobs)
		resp.Body.Close()
		if len(jobs) == 1 && jobs[0].LastRun != nil && !jobs[0].LastRun.EndedAt.IsZero() {
			break
		}
	}
	if len(jobs) != 1 || jobs[0].LastRun == nil || jobs[0].LastRun.Trigger != "manual" || jobs[0].LastRun.Counts["ok"] != 9 {
		t.Fatalf("GET /jobs: %+v\n%s", jobs, errb.String())
	}
	if o, _ := srv.Order("100000001201"); o.Status != futureshoptest.StatusCompleted {
		t.Errorf("order after the manual run: %+v", o)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	spans := errb.String()
	for _, want := range []string{`"Name": "POST /jobs/{name}/runs"`, `"Name": "river.work/runner_run"`, `"Name": "job"`} {
		if !strings.Contains(spans, want) {
			t.Errorf("no %s span", want)
		}
	}
	// The request's span, the insert's and the work span's link.
	if n := strings.Count(spans, `"TraceID": "`+traceID+`"`); n < 3 {
		t.Errorf("trace %s appears %d times in the spans, want at least 3", traceID, n)
	}
}

// TestServeWorkersSetting: RUNNER_WORKERS below zero is refused before
// serve opens anything.
func TestServeWorkersSetting(t *testing.T) {
	out, code := invoke(t, shopEnv(t, sampleShop(t), "RUNNER_WORKERS", "-1"), "serve", "-var", "goq_export="+sample, manualShipping(t))
	if code != exitConfig || !strings.Contains(out, "RUNNER_WORKERS=-1") {
		t.Errorf("exit %d, want %d naming RUNNER_WORKERS\n%s", code, exitConfig, out)
	}
}
