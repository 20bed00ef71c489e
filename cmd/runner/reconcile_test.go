package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
)

const (
	searchPath   = "/admin-api/v1/shipping"
	shippingPath = "/admin-api/v1/shipping/status"
	completePath = "/admin-api/v1/order/complete"
)

// reconcileReport is the part of reconcile -json the tests read.
type reconcileReport struct {
	Job      string         `json:"job"`
	Calls    int            `json:"calls"`
	Counts   map[string]int `json:"counts"`
	Requeued int            `json:"requeued"`
	Records  []struct {
		Key    string `json:"key"`
		State  string `json:"state"`
		Fields []struct {
			Field   string `json:"field"`
			Sent    any    `json:"sent"`
			Current any    `json:"current"`
		} `json:"fields"`
		Actions []string `json:"actions"`
	} `json:"records"`
}

// reconcileJSON runs reconcile -json and returns its exit status and report.
func reconcileJSON(t *testing.T, e func(string) (string, bool), args ...string) (int, reconcileReport, string) {
	t.Helper()
	out, code := invoke(t, e, append([]string{"reconcile", "-json"}, args...)...)
	var reps []reconcileReport
	body := stdoutOf(out)
	if err := json.Unmarshal([]byte(body), &reps); err != nil || len(reps) != 1 {
		t.Fatalf("reconcile -json: exit %d, %v\n%s", code, err, out)
	}
	return code, reps[0], out
}

// drift lists a report's records that are not in sync, one line each.
func drift(r reconcileReport) []string {
	var out []string
	for _, rec := range r.Records {
		if rec.State == "in_sync" {
			continue
		}
		line := rec.Key + " " + rec.State
		for _, f := range rec.Fields {
			line += fmt.Sprintf(" %s %v→%v", f.Field, f.Sent, f.Current)
		}
		for _, a := range rec.Actions {
			line += " " + a
		}
		out = append(out, line)
	}
	return out
}

// edit changes an order in the shop, as staff in futureshop's admin would.
func edit(t *testing.T, srv *futureshoptest.Server, no string, fn func(*futureshoptest.Order)) {
	t.Helper()
	o, ok := srv.Order(no)
	if !ok {
		t.Fatalf("no order %s", no)
	}
	fn(&o)
	srv.AddOrder(o)
}

// TestReconcile: after a run, reconcile finds every order in sync, with one
// search and no write; after three orders are edited in the shop it reports
// exactly those three with their fields; -requeue then lets the next run
// send exactly those three again, and the shop is in sync once more. An
// order moved back from 処理済み is not completed; one gone is missing.
func TestReconcile(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		fast := fastShipping(t)
		srv := sampleShop(t)
		e := shopEnv(t, srv, "RUNNER_DATABASE", dsn)
		vars := []string{"-var", "goq_export=" + sample}
		runArgs := append(append([]string{"run"}, vars...), "-now", seedNow, fast)
		if out, code := invoke(t, e, runArgs...); code != 0 {
			t.Fatalf("run: exit %d\n%s", code, out)
		}

		srv.ResetRequests()
		out, code := invoke(t, e, append(append([]string{"reconcile"}, vars...), fast)...)
		if code != 0 || !strings.Contains(out, "9 checked: 9 in sync, 0 drifted, 0 not completed, 0 missing.") ||
			!strings.Contains(out, `reading back 9 record(s) from futureshop in 2 request(s)`) {
			t.Fatalf("after the run: exit %d\n%s", code, out)
		}
		var calls []string
		for _, r := range srv.Requests() {
			calls = append(calls, r.Method+" "+r.Path)
		}
		if want := []string{"POST /oauth/token", "GET " + searchPath}; !slices.Equal(calls, want) {
			t.Errorf("reconcile's requests: %q, want %q", calls, want)
		}
		if q, _ := url.ParseQuery(srv.Requests()[1].Query); strings.Join(admitted, ",") != q.Get("orderNo") {
			t.Errorf("search orderNo = %q, want %q", q.Get("orderNo"), strings.Join(admitted, ","))
		}

		// Staff edit three orders in the shop's admin.
		edit(t, srv, "100000001201", func(o *futureshoptest.Order) { o.Shipments[0].InvoiceNo = "999900001111" })
		edit(t, srv, "100000001206", func(o *futureshoptest.Order) { o.Shipments[0].ExpectedArrival = "2026-12-05" })
		edit(t, srv, "100000001211", func(o *futureshoptest.Order) {
			o.Shipments[0].InvoiceNo, o.Shipments[0].ExpectedArrival = "", ""
		})
		want := []string{
			"100000001201/1 drifted invoice_no 123456789012→999900001111",
			"100000001206/1 drifted expected_arrival 2026-11-26→2026-12-05",
			"100000001211/1 drifted expected_arrival 2026-11-29→ invoice_no 111122223333→",
		}
		code, rep, out := reconcileJSON(t, e, append(vars, fast)...)
		if code != exitFailed || !slices.Equal(drift(rep), want) || rep.Counts["in_sync"] != 6 || rep.Calls != 2 {
			t.Fatalf("after three edits: exit %d, drift\n%s\nwant\n%s\n%s", code, strings.Join(drift(rep), "\n"), strings.Join(want, "\n"), out)
		}
		out, code = invoke(t, e, append(append([]string{"reconcile"}, vars...), fast)...)
		if code != exitFailed {
			t.Errorf("text report: exit %d, want %d", code, exitFailed)
		}
		for _, line := range []string{"~ 100000001201/1  drifted", `    invoice_no: sent "123456789012", now "999900001111"`,
			"9 checked: 6 in sync, 3 drifted, 0 not completed, 0 missing."} {
			if !strings.Contains(out, line) {
				t.Errorf("text report lacks %q:\n%s", line, out)
			}
		}

		// -requeue, then a run: exactly those three are sent again.
		code, rep, out = reconcileJSON(t, e, append(append([]string{"-requeue"}, vars...), fast)...)
		if code != exitFailed || rep.Requeued != 3 {
			t.Fatalf("-requeue: exit %d, requeued %d\n%s", code, rep.Requeued, out)
		}
		srv.ResetRequests()
		if out, code := invoke(t, e, runArgs...); code != 0 || !strings.Contains(out, "3 sent in 1 batch(es): 3 ok") {
			t.Fatalf("run after -requeue: exit %d\n%s", code, out)
		}
		var sent []string
		for _, r := range srv.Requests() {
			if r.Path != shippingPath {
				continue
			}
			var body struct {
				OrderList []struct {
					OrderNo string `json:"orderNo"`
				} `json:"orderList"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			for _, o := range body.OrderList {
				sent = append(sent, o.OrderNo)
			}
		}
		if n := countPath(srv, shippingPath); n != 1 || !slices.Equal(sent, []string{"100000001201", "100000001206", "100000001211"}) {
			t.Errorf("after -requeue the run made %d shipping call(s) for %q, want 1 for the three", n, sent)
		}
		if n := countPath(srv, completePath); n != 1 {
			t.Errorf("%d complete calls, want 1", n)
		}
		if o, _ := srv.Order("100000001211"); o.Shipments[0].InvoiceNo != "111122223333" || o.Shipments[0].ExpectedArrival != "2026-11-29" {
			t.Errorf("100000001211 after the run: %+v", o.Shipments[0])
		}
		if code, rep, out := reconcileJSON(t, e, append(vars, fast)...); code != 0 || rep.Counts["in_sync"] != 9 {
			t.Fatalf("after the re-send: exit %d\n%s", code, out)
		}

		// An order moved back from 処理済み, and one that is gone.
		edit(t, srv, "100000001202", func(o *futureshoptest.Order) { o.Status = futureshoptest.StatusReceived })
		srv.RemoveOrder("100000001208")
		srv.ResetRequests()
		code, rep, out = reconcileJSON(t, e, append(append([]string{"-requeue"}, vars...), fast)...)
		want = []string{"100000001202/1 not_completed complete_order", "100000001208/1 missing"}
		if code != exitFailed || !slices.Equal(drift(rep), want) || rep.Requeued != 1 {
			t.Fatalf("not completed and missing: exit %d, requeued %d, drift\n%s\nwant\n%s\n%s", code, rep.Requeued, strings.Join(drift(rep), "\n"), strings.Join(want, "\n"), out)
		}
		for _, r := range srv.Requests() {
			if r.Method != http.MethodGet && r.Path != "/oauth/token" {
				t.Errorf("reconcile wrote to the shop: %s %s", r.Method, r.Path)
			}
		}

		// -requeue takes the job's turn: a run in flight holds it off.
		st, err := ledger.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		lk, err := st.TryLock(context.Background(), engine.JobLock("shipping-to-futureshop"), ledger.Owner{Job: "shipping-to-futureshop", Command: "run"})
		if err != nil {
			t.Fatal(err)
		}
		defer lk.Unlock()
		out, code = invoke(t, e, append(append([]string{"reconcile", "-requeue"}, vars...), fast)...)
		if code != exitLocked || !strings.Contains(out, "is being run by") {
			t.Errorf("-requeue while a run holds the job: exit %d\n%s", code, out)
		}
	})
}

// TestReconcileRefuses: a destination that cannot read back, a bad window
// and a missing ledger are named, with the README's exit statuses.
func TestReconcileRefuses(t *testing.T) {
	dir := t.TempDir()
	toGoQ := rewrite(t, importExample, dir, "import.hcl")
	srv := sampleShop(t)
	e := shopEnv(t, srv, "GOQ_IMPORT_DIR", dir)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"cannot read back", []string{"reconcile", "-var", "goq_import_dir=" + dir, toGoQ}, exitConfig, "destination goq_csv cannot read back what it holds"},
		{"bad window", []string{"reconcile", "-since", "a week", "-var", "goq_export=" + sample, shipping}, exitConfig, `-since "a week": want a positive number of days`},
		{"no ledger yet", []string{"reconcile", "-var", "goq_export=" + sample, shipping}, exitOK, "no ledger at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := invoke(t, e, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, want %d and %q\n%s", code, tt.code, tt.want, out)
			}
		})
	}
}

// TestServeReconciles: serve runs a job's reconcile block on its schedule
// and records each reconcile in the history with trigger "reconcile", which
// runner history shows; with requeue, the next run sends what drifted.
func TestServeReconciles(t *testing.T) {
	dir := t.TempDir()
	job := variant(t, dir, "shipping.hcl", append(slices.Clone(fastRate),
		"  schedule    = \"every 10m\"\n", "",
		"  after_export {", "  reconcile {\n    schedule = \"every 1s\"\n    requeue  = true\n  }\n\n  after_export {")...)
	srv := sampleShop(t)
	e := shopEnv(t, srv, "RUNNER_LISTEN", "127.0.0.1:0")
	vars := []string{"-var", "goq_export=" + sample, "-now", seedNow}
	if out, code := invoke(t, e, append(append([]string{"run"}, vars...), job)...); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	edit(t, srv, "100000001201", func(o *futureshoptest.Order) { o.Shipments[0].InvoiceNo = "999900001111" })
	srv.ResetRequests()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- runMain(ctx, append(append([]string{"serve"}, vars...), job), &out, &errb, e) }()

	var runs []struct {
		Trigger string         `json:"trigger"`
		EndedAt time.Time      `json:"ended_at"`
		Counts  map[string]int `json:"counts"`
		Error   string         `json:"error"`
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		h, code := invoke(t, e, "history", "-json", "shipping-to-futureshop")
		if i := strings.Index(h, "[\n"); code == 0 && i >= 0 {
			runs = nil
			json.Unmarshal([]byte(h[i:strings.LastIndex(h, "]")+1]), &runs)
		}
		if len(runs) > 1 && runs[len(runs)-2].Trigger == "reconcile" && !runs[len(runs)-2].EndedAt.IsZero() {
			break
		}
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
	// Newest first: the first reconcile is next to the oldest run, the CLI's.
	if len(runs) < 2 {
		t.Fatalf("no reconcile in the history: %+v\n%s", runs, errb.String())
	}
	first := runs[len(runs)-2]
	if first.Trigger != "reconcile" || first.Counts["sent"] != 9 || first.Counts["ok"] != 8 || first.Counts["failed"] != 1 ||
		!strings.Contains(first.Error, "drift: 1 drifted, 0 not completed, 0 missing (100000001201/1); 1 requeued") {
		t.Errorf("the first reconcile in the history: %+v", first)
	}
	h, _ := invoke(t, e, "history", "shipping-to-futureshop")
	if !strings.Contains(h, "reconcile") {
		t.Errorf("runner history does not show the reconcile:\n%s", h)
	}
	for _, r := range srv.Requests() {
		if r.Method != http.MethodGet && r.Path != "/oauth/token" {
			t.Errorf("serve's reconcile wrote to the shop: %s %s", r.Method, r.Path)
		}
	}
	out2, _ := invoke(t, e, append(append([]string{"plan"}, vars...), job)...)
	if !strings.Contains(out2, "1 to send") {
		t.Errorf("after the requeue, plan does not send the drifted order again:\n%s", out2)
	}
}
