package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/scheduler"
)

// startServe runs serve with args until the test ends, and returns the
// base URL of its API.
func startServe(t testing.TB, lookup func(string) (string, bool), args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- runMain(ctx, append([]string{"serve"}, args...), &out, &errb, lookup) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d\n%s", code, errb.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	addrRE := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve exited %d\n%s\n%s", code, out.String(), errb.String())
		default:
		}
	}
	t.Fatalf("serve did not start:\n%s\n%s", out.String(), errb.String())
	return ""
}

// api calls serve's API and checks every answer against openapi.json.
type api struct {
	t      *testing.T
	base   string
	router routers.Router
}

func newAPI(t *testing.T, base string) *api {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(scheduler.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &api{t, base, router}
}

// do sends a request, validates the response against the document's
// schema for its route and status, and decodes its body into out.
func (a *api) do(method, path string, out any) (int, http.Header) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	route, params, err := a.router.FindRoute(req)
	if err != nil {
		a.t.Fatalf("%s %s: not in openapi.json: %v", method, path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		a.t.Errorf("%s %s: %d response does not match openapi.json: %v\n%s", method, path, resp.StatusCode, err, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			a.t.Fatalf("%s %s: %v\n%s", method, path, err, body)
		}
	}
	return resp.StatusCode, resp.Header
}

// TestServeAPIRuns presses the button twice through serve's API against a
// shop that refuses a store-pickup order (parked) and does not know
// another (failed): the POST's run id is the run GET /runs/{id} and runner
// history show, the run lists its failed and parked orders, GET /runs
// filters, GET /orders/{no} tells the story, times carry the job's offset,
// and every answer matches openapi.json.
func TestServeAPIRuns(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		const job, pickup, unknown = "shipping-to-futureshop", "100000001206", "100000001202"
		srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
		t.Cleanup(srv.Close)
		for _, o := range futureshoptest.SampleOrders() {
			if o.OrderNo == unknown {
				continue
			}
			if o.OrderNo == pickup {
				o.Shipments[0].StorePickup = true
			}
			srv.Seed(o)
		}
		lookup := shopEnv(t, srv, "RUNNER_DATABASE", dsn, "RUNNER_LISTEN", "127.0.0.1:0")
		a := newAPI(t, startServe(t, lookup, "-var", "goq_export="+sample, "-now", seedNow, manualShipping(t)))

		press := func() int64 {
			t.Helper()
			var e scheduler.Enqueued
			code, h := a.do("POST", "/jobs/"+job+"/runs", &e)
			if code != http.StatusAccepted || e.RunID == 0 || h.Get("Location") != fmt.Sprint("/runs/", e.RunID) {
				t.Fatalf("POST: %d %+v Location %q", code, e, h.Get("Location"))
			}
			var run scheduler.RunDetail
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if code, _ := a.do("GET", h.Get("Location"), &run); code != http.StatusOK {
					t.Fatalf("GET %s: %d", h.Get("Location"), code)
				}
				if run.Status != "queued" && run.Status != "running" {
					return e.RunID
				}
			}
			t.Fatalf("run %d did not end: %+v", e.RunID, run)
			return 0
		}
		tokyo, err := time.LoadLocation("Asia/Tokyo")
		if err != nil {
			t.Fatal(err)
		}
		first := press()
		between := time.Now()
		second := press()

		var run scheduler.RunDetail
		a.do("GET", fmt.Sprint("/runs/", first), &run)
		if run.ID != first || run.Trigger != "manual" || run.Status != "failed" {
			t.Errorf("run %d: %+v", first, run.Run)
		}
		if _, off := run.StartedAt.Zone(); off != 9*3600 {
			t.Errorf("started_at %v: want the job's zone, +09:00", run.StartedAt)
		}
		labels := func(evs []ledger.Event) []string {
			var out []string
			for _, e := range evs {
				out = append(out, e.Label+" "+e.Code)
				if len(e.Payload) == 0 {
					t.Errorf("event without its payload: %+v", e)
				}
			}
			return out
		}
		if got := labels(run.FailedOrders); !slices.Equal(got, []string{unknown + " NotFound"}) {
			t.Errorf("failed orders of run %d: %v", first, got)
		}
		if got := labels(run.ParkedOrders); !slices.Equal(got, []string{pickup + " CannotUpdateStorePickup"}) {
			t.Errorf("parked orders of run %d: %v", first, got)
		}

		// runner history shows the same ids.
		out, code := invoke(t, lookup, "history", "-json", job)
		var hist []ledger.Run
		if code != exitOK || json.Unmarshal([]byte(stdoutOf(out)), &hist) != nil || len(hist) != 2 ||
			hist[0].ID != second || hist[1].ID != first || hist[1].Trigger != "manual" {
			t.Errorf("history after POSTs answering %d and %d:\n%s", first, second, out)
		}

		ids := func(query string) []int64 {
			t.Helper()
			var runs []ledger.Run
			if code, _ := a.do("GET", "/runs"+query, &runs); code != http.StatusOK {
				t.Fatalf("GET /runs%s: %d", query, code)
			}
			var out []int64
			for _, r := range runs {
				out = append(out, r.ID)
			}
			return out
		}
		for _, tt := range []struct {
			query string
			want  []int64
		}{
			{"", []int64{second, first}},
			{"?job=" + job, []int64{second, first}},
			{"?job=other", nil},
			{"?status=failed", []int64{second, first}},
			{"?status=ok", nil},
			{"?limit=1", []int64{second}},
			{"?job=" + job + "&status=failed&since=" + between.Format(time.RFC3339Nano), []int64{second}},
			// The job's zone, its "+" unencoded.
			{"?since=" + between.In(tokyo).Format(time.RFC3339Nano), []int64{second}},
			{"?since=" + between.Add(time.Hour).In(tokyo).Format(time.RFC3339Nano), nil},
		} {
			if got := ids(tt.query); !slices.Equal(got, tt.want) {
				t.Errorf("GET /runs%s: %v, want %v", tt.query, got, tt.want)
			}
		}
		for _, q := range []string{"?status=done", "?since=yesterday", "?limit=0"} {
			if code, _ := a.do("GET", "/runs"+q, nil); code != http.StatusBadRequest {
				t.Errorf("GET /runs%s: %d, want 400", q, code)
			}
		}

		var story scheduler.OrderStory
		if code, _ := a.do("GET", "/orders/"+pickup, &story); code != http.StatusOK {
			t.Fatalf("GET /orders/%s: %d", pickup, code)
		}
		var got []string
		for _, e := range story.Events {
			got = append(got, fmt.Sprint(e.RunID, " ", e.Event))
		}
		if want := []string{fmt.Sprint(second, " skipped"), fmt.Sprint(first, " parked")}; !slices.Equal(got, want) {
			t.Errorf("story of %s: %v, want %v", pickup, got, want)
		}
		if code, _ := a.do("GET", "/orders/999", nil); code != http.StatusNotFound {
			t.Errorf("GET /orders/999: %d, want 404", code)
		}
		if code, _ := a.do("GET", "/openapi.json", nil); code != http.StatusOK {
			t.Errorf("GET /openapi.json: %d", code)
		}
		var jobs []scheduler.JobStatus
		if a.do("GET", "/jobs", &jobs); len(jobs) != 1 || jobs[0].LastRun == nil || jobs[0].LastRun.ID != second {
			t.Errorf("GET /jobs: %+v", jobs)
		}
	})
}

// TestServeAPIReconcileRun: a reconcile requested through the API starts
// under the run id the POST answered, as the job's run with trigger
// "reconcile", and no queued run is left behind.
func TestServeAPIReconcileRun(t *testing.T) {
	job := variant(t, t.TempDir(), "shipping.hcl", append(slices.Clone(fastRate),
		"  after_export {", "  reconcile {\n    schedule = \"every 10m\"\n  }\n\n  after_export {")...)
	srv := sampleShop(t)
	e := shopEnv(t, srv, "RUNNER_LISTEN", "127.0.0.1:0")
	vars := []string{"-var", "goq_export=" + sample, "-now", seedNow}
	if out, code := invoke(t, e, append(append([]string{"run"}, vars...), job)...); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	a := newAPI(t, startServe(t, e, append(vars, job)...))
	var en scheduler.Enqueued
	if code, _ := a.do("POST", "/jobs/"+reconcilePrefix+"shipping-to-futureshop/runs", &en); code != http.StatusAccepted || en.RunID == 0 {
		t.Fatalf("POST: %d %+v", code, en)
	}
	var run scheduler.RunDetail
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		a.do("GET", fmt.Sprint("/runs/", en.RunID), &run)
		if run.Status != "queued" && run.Status != "running" {
			break
		}
	}
	if run.Job != "shipping-to-futureshop" || run.Trigger != "reconcile" || run.Status != "ok" || run.Counts.Sent != 9 {
		t.Errorf("the reconcile's run %d: %+v", en.RunID, run.Run)
	}
	var queued []ledger.Run
	if a.do("GET", "/runs?status=queued", &queued); len(queued) != 0 {
		t.Errorf("queued runs left: %+v", queued)
	}
}

// TestServeAPIJobLevelError: credentials the shop refuses stop a run
// pressed through the API with one job-level error: GET /runs/{id} shows
// status error and the reason, and no order failed or was parked.
func TestServeAPIJobLevelError(t *testing.T) {
	const job = "shipping-to-futureshop"
	srv := sampleShop(t)
	lookup := shopEnv(t, srv, "RUNNER_LISTEN", "127.0.0.1:0", "FUTURESHOP_CLIENT_SECRET", "wrong")
	a := newAPI(t, startServe(t, lookup, "-var", "goq_export="+sample, "-now", seedNow, manualShipping(t)))
	var e scheduler.Enqueued
	code, h := a.do("POST", "/jobs/"+job+"/runs", &e)
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d", code)
	}
	var run scheduler.RunDetail
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && (run.Status == "" || run.Status == "queued" || run.Status == "running"); time.Sleep(100 * time.Millisecond) {
		a.do("GET", h.Get("Location"), &run)
	}
	if run.Status != "error" || !strings.Contains(run.Error, "refused the credentials") {
		t.Errorf("run %d: status %q, error %q; want error and the reason", e.RunID, run.Status, run.Error)
	}
	if run.Counts.Failed != 0 || run.Counts.Parked != 0 || len(run.FailedOrders) != 0 || len(run.ParkedOrders) != 0 {
		t.Errorf("a job-level error was counted per order: %+v", run)
	}
}
