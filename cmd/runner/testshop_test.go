package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/table"
)

// A client's export and job: UTF-8 with a BOM, every column the job reads
// renamed through columns { }, and 6 of its 11 orders eligible at seedNow.
const (
	clientExport = "testdata/testshop/client-export.csv"
	clientJob    = "testdata/testshop/client-job.hcl"
	// otherExport has the default headers but none of the sample's orders.
	otherExport = "testdata/testshop/other-export.csv"
)

var clientEligible = []string{"200000000101", "200000000102", "200000000107", "200000000108", "200000000109", "200000000110"}

// testShop is runner testshop running in-process.
type testShop struct {
	out, errb *syncBuffer
	cancel    context.CancelFunc
	done      chan struct{}
	code      int
	vars      map[string]string // what it exported
}

// startTestShop runs runner testshop with args until the test ends or
// stop, and waits for its export lines.
func startTestShop(t *testing.T, args ...string) *testShop {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &testShop{out: &syncBuffer{}, errb: &syncBuffer{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.code = runMain(ctx, append([]string{"testshop"}, args...), s.out, s.errb, env())
	}()
	t.Cleanup(func() { cancel(); <-s.done })
	for deadline := time.Now().Add(20 * time.Second); strings.Count(s.out.String(), "\n") < 4; time.Sleep(5 * time.Millisecond) {
		select {
		case <-s.done:
			t.Fatalf("testshop exited %d before exporting:\n%s%s", s.code, s.out.String(), s.errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testshop exported nothing:\n%s", s.errb.String())
		}
	}
	s.vars = parseExports(t, s.out.String())
	return s
}

// stop ends the shop as SIGINT would and returns its exit status.
func (s *testShop) stop() int {
	s.cancel()
	<-s.done
	return s.code
}

// env is the environment of a runner command pointed at the shop.
func (s *testShop) env(t *testing.T) func(string) (string, bool) {
	kv := []string{"RUNNER_DATABASE", filepath.Join(t.TempDir(), "state.db")}
	for k, v := range s.vars {
		kv = append(kv, k, v)
	}
	return env(kv...)
}

var exportLine = regexp.MustCompile(`^export (FUTURESHOP_[A-Z_]+)=(\S+)$`)

// parseExports reads testshop's stdout: nothing but the four export lines.
func parseExports(t *testing.T, out string) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for line := range strings.Lines(out) {
		m := exportLine.FindStringSubmatch(strings.TrimSuffix(line, "\n"))
		if m == nil {
			t.Fatalf("stdout holds %q, want only export lines", line)
		}
		vars[m[1]] = m[2]
	}
	for _, k := range []string{"FUTURESHOP_API_DOMAIN", "FUTURESHOP_SHOP_KEY", "FUTURESHOP_CLIENT_ID", "FUTURESHOP_CLIENT_SECRET"} {
		if vars[k] == "" {
			t.Fatalf("no %s in\n%s", k, out)
		}
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[1-9][0-9]*$`).MatchString(vars["FUTURESHOP_API_DOMAIN"]) {
		t.Errorf("FUTURESHOP_API_DOMAIN=%s, want the server's URL with its real port", vars["FUTURESHOP_API_DOMAIN"])
	}
	return vars
}

var requestLine = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3} (GET|POST) (/\S*) (\d{3}|-) (\S+)$`)

// requestsLogged returns "METHOD PATH STATUS" for each request line of
// testshop's stderr, checking each line's duration.
func requestsLogged(t *testing.T, stderr string) []string {
	t.Helper()
	var out []string
	for _, m := range requestLine.FindAllStringSubmatch(stderr, -1) {
		if d, err := time.ParseDuration(m[4]); err != nil || d <= 0 {
			t.Errorf("request line with duration %q", m[4])
		}
		out = append(out, m[1]+" "+m[2]+" "+m[3])
	}
	return out
}

// readState reads a state file testshop saved.
func readState(t *testing.T, path string) map[string]futureshoptest.Order {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Orders []futureshoptest.Order `json:"orders"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	m := map[string]futureshoptest.Order{}
	for _, o := range st.Orders {
		m[o.OrderNo] = o
	}
	return m
}

// shopTable shows the orders of a state file as demo does, for goldens.
func shopTable(t *testing.T, path string) string {
	t.Helper()
	b, _ := os.ReadFile(path)
	var st struct {
		Orders []futureshoptest.Order `json:"orders"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var sb strings.Builder
	tw := table.NewWriter(&sb)
	fmt.Fprintln(tw, "order\tshipment\tshipping date\tinvoice no\texpected arrival\tstore pickup\tshipment status\torder status")
	for _, o := range st.Orders {
		for _, s := range o.Shipments {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%t\t%s\t%s\n", o.OrderNo, s.ShipmentNo,
				dash(s.ShippingDate), dash(s.InvoiceNo), dash(s.ExpectedArrival), s.StorePickup, s.Status, o.Status)
		}
	}
	tw.Flush()
	return sb.String()
}

// TestTestShopRehearsal is the rehearsal a new user does with their own
// export: testshop seeded from it through their job, then runner run of
// that job against it: every eligible order is updated and 処理済み, no
// other is in the shop, and each request has its log line.
func TestTestShopRehearsal(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "shop.json")
	shop := startTestShop(t, "-rate", "50", "-burst", "5", "-seed-from", clientExport, "-job", clientJob, "-now", seedNow, "-state", state)
	out, code := invoke(t, shop.env(t), "run", "-var", "goq_export="+clientExport, "-now", seedNow, clientJob)
	if code != exitOK || !strings.Contains(out, "11 read, 6 sent in 1 batch(es): 6 ok, 0 failed") {
		t.Errorf("run: exit %d, want 0 and every eligible order ok\n%s", code, out)
	}
	if code := shop.stop(); code != exitOK {
		t.Errorf("testshop exit %d, want 0", code)
	}
	stderr := shop.errb.String()
	if !strings.Contains(stderr, "with 6 order(s), 6 seeded from "+clientExport+" by "+clientJob) {
		t.Errorf("stderr does not say what was seeded:\n%s", stderr)
	}
	want := []string{"POST /oauth/token 200", "POST /admin-api/v1/shipping/status 200", "POST /admin-api/v1/order/complete 200"}
	if got := requestsLogged(t, stderr); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests logged:\n%s\nwant\n%s\nstderr:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), stderr)
	}
	if strings.Contains(stderr, "test-secret") || strings.Contains(out, "test-secret") {
		t.Error("the client secret is in a log")
	}
	golden(t, "testshop-rehearsal", shopTable(t, state))
}

// TestTestShopFaults turns on each of testshop's faults and runs the
// client's job against it: futureshop's answers, as the run sees them.
func TestTestShopFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		code    int
		runWant []string // in the run's transcript
		logWant []string // requests testshop logged, in order, among others
		// failed orders: not shipped, not 処理済み; every other eligible
		// order is both
		failed []string
	}{
		{name: "store pickup", args: []string{"-store-pickup", "200000000102, 200000000109"}, code: exitFailed,
			runWant: []string{"6 sent in 1 batch(es): 4 ok, 2 failed", "record=200000000102/1", "code=CannotUpdateStorePickup"},
			failed:  []string{"200000000102", "200000000109"}},
		{name: "503", args: []string{"-fail-next", "2"}, code: exitOK,
			runWant: []string{"6 ok, 0 failed"},
			logWant: []string{"POST /oauth/token 200", "POST /admin-api/v1/shipping/status 503", "POST /admin-api/v1/shipping/status 503", "POST /admin-api/v1/shipping/status 200"}},
		{name: "rate limit", args: []string{"-rate", "2", "-burst", "1"}, code: exitOK,
			runWant: []string{"6 ok, 0 failed"},
			logWant: []string{"POST /oauth/token 200", "POST /admin-api/v1/shipping/status 429", "POST /admin-api/v1/shipping/status 200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			state := filepath.Join(t.TempDir(), "shop.json")
			args := append([]string{"-rate", "50", "-burst", "5", "-seed-from", clientExport, "-job", clientJob, "-now", seedNow, "-state", state}, tt.args...)
			shop := startTestShop(t, args...)
			out, code := invoke(t, shop.env(t), "run", "-var", "goq_export="+clientExport, "-now", seedNow, clientJob)
			if code != tt.code {
				t.Errorf("run: exit %d, want %d\n%s", code, tt.code, out)
			}
			for _, w := range tt.runWant {
				if !strings.Contains(out, w) {
					t.Errorf("run lacks %q:\n%s", w, out)
				}
			}
			shop.stop()
			logged := strings.Join(requestsLogged(t, shop.errb.String()), "\n")
			if !strings.Contains(logged, strings.Join(tt.logWant, "\n")) {
				t.Errorf("requests logged:\n%s\nwant among them\n%s", logged, strings.Join(tt.logWant, "\n"))
			}
			orders := readState(t, state)
			for _, no := range clientEligible {
				o := orders[no]
				shipped, completed := o.Shipments[0].Status == futureshoptest.ShipmentShipped, o.Status == futureshoptest.StatusCompleted
				if slices.Contains(tt.failed, no) == (shipped || completed) {
					t.Errorf("order %s: shipped %t, 処理済み %t; failed ones are neither, others both", no, shipped, completed)
				}
			}
		})
	}

	// The token's lifetime is what the shop tells the client.
	t.Run("token expiry", func(t *testing.T) {
		t.Parallel()
		shop := startTestShop(t, "-token-ttl", "90s")
		req, _ := http.NewRequest("POST", shop.vars["FUTURESHOP_API_DOMAIN"]+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
		req.SetBasicAuth(shop.vars["FUTURESHOP_CLIENT_ID"], shop.vars["FUTURESHOP_CLIENT_SECRET"])
		req.Header.Set("X-SHOP-KEY", shop.vars["FUTURESHOP_SHOP_KEY"])
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var tok struct {
			ExpiresIn int `json:"expires_in"`
		}
		if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.ExpiresIn != 90 {
			t.Errorf("token: %s, expires_in %d (%v), want 90", res.Status, tok.ExpiresIn, err)
		}
	})
}

// TestTestShopState: what one testshop saves, the next loads; seeding
// again does not undo what the state holds, and a broken state is refused.
func TestTestShopState(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "shop.json")
	seed := []string{"-rate", "50", "-burst", "5", "-seed-from", clientExport, "-job", clientJob, "-now", seedNow, "-state", state}
	first := startTestShop(t, seed...)
	if out, code := invoke(t, first.env(t), "run", "-var", "goq_export="+clientExport, "-now", seedNow, clientJob); code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	first.stop()
	saved, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(state); fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}

	second := startTestShop(t, seed...)
	if code := second.stop(); code != exitOK {
		t.Fatalf("second testshop: exit %d\n%s", code, second.errb.String())
	}
	if want := "with 6 order(s), 0 seeded from " + clientExport + " by " + clientJob + ", 6 from " + state; !strings.Contains(second.errb.String(), want) {
		t.Errorf("second testshop's stderr lacks %q:\n%s", want, second.errb.String())
	}
	again, _ := os.ReadFile(state)
	if string(again) != string(saved) {
		t.Errorf("state after a restart without requests:\n%s\nwant\n%s", again, saved)
	}
	golden(t, "testshop-rehearsal", shopTable(t, state))

	os.WriteFile(state, []byte(`{"orders": [{"orderNo": "1", "shipmnts": []}]}`), 0o600)
	out, code := invoke(t, env(), "testshop", "-state", state)
	if code != exitConfig || !strings.Contains(out, `unknown field "shipmnts"`) {
		t.Errorf("broken state: exit %d, want %d naming the key\n%s", code, exitConfig, out)
	}
}

// TestTestShopRefuses: mistakes end testshop before it listens, each
// named.
func TestTestShopRefuses(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	noVar := filepath.Join(tmp, "no-var.hcl")
	src, _ := os.ReadFile(clientJob)
	os.WriteFile(noVar, []byte(strings.Replace(strings.Replace(string(src), "path = var.goq_export", `path = "x.csv"`, 1),
		"variable \"goq_export\" {\n  type        = string\n  description = \"GoQ カスタムCSV export\"\n}\n", "", 1)), 0o644)
	tests := []struct {
		name string
		args []string
	}{
		{"testshop-seed-without-job", []string{"testshop", "-seed-from", clientExport}},
		{"testshop-not-loopback", []string{"testshop", "-addr", "0.0.0.0:0"}},
		{"testshop-unknown-pickup", []string{"testshop", "-rate", "0", "-seed-from", clientExport, "-job", clientJob, "-now", seedNow, "-store-pickup", "200000000103"}},
		{"testshop-no-export-var", []string{"testshop", "-seed-from", clientExport, "-job", noVar}},
		{"testshop-missing-export", []string{"testshop", "-seed-from", "testdata/testshop/no-such.csv", "-job", clientJob}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, code := invoke(t, env(), tt.args...)
			if code != exitConfig {
				t.Errorf("exit %d, want %d\n%s", code, exitConfig, got)
			}
			golden(t, tt.name, strings.ReplaceAll(got, tmp, "$TMP"))
		})
	}
}

// TestTestShopProcess runs testshop as a user would: started by eval
// "$(runner testshop … &)", which returns once the exports are out while
// the shop keeps serving, used by a run, stopped by SIGTERM, leaving its
// state; and started plainly and stopped by SIGINT.
func TestTestShopProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a real process")
	}
	t.Parallel()
	bin := buildRunner(t)
	dir := t.TempDir()
	state, logFile := filepath.Join(dir, "shop.json"), filepath.Join(dir, "shop.log")
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	script := fmt.Sprintf(`eval "$(%s testshop -rate 50 -burst 5 -seed-from %s -job %s -now %s -state %s 2>%s &)"; env | grep '^FUTURESHOP_' | sort`,
		bin, abs(clientExport), abs(clientJob), seedNow, state, logFile)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sh := exec.CommandContext(ctx, "sh", "-c", script)
	sh.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("eval did not return: %v\n%s", err, out)
	}
	vars := parseExports(t, strings.ReplaceAll(string(out), "FUTURESHOP_", "export FUTURESHOP_"))
	logged, _ := os.ReadFile(logFile)
	m := regexp.MustCompile(`kill (\d+)`).FindSubmatch(logged)
	if m == nil {
		t.Fatalf("no pid in the log:\n%s", logged)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	stopped := false
	t.Cleanup(func() {
		if !stopped { // our own child's child, when the test fails before stopping it
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	kv := []string{"RUNNER_DATABASE", filepath.Join(dir, "state.db")}
	for k, v := range vars {
		kv = append(kv, k, v)
	}
	if got, code := invoke(t, env(kv...), "run", "-var", "goq_export="+clientExport, "-now", seedNow, clientJob); code != exitOK {
		t.Fatalf("run against the process: exit %d\n%s", code, got)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(string(logged), "stopped;"); logged, _ = os.ReadFile(logFile) {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown after SIGTERM:\n%s", logged)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopped = true
	golden(t, "testshop-rehearsal", shopTable(t, state))

	// Plainly, stopped by Ctrl-C: exit 0, its stdout the export lines.
	p := startRunner(t, bin, []string{"PATH=" + os.Getenv("PATH")}, "testshop", "-state", state)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.out.String(), "stop it with"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("testshop did not start:\n%s", p.out.String())
		}
	}
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(); code != exitOK || !strings.Contains(p.out.String(), "6 order(s) saved to "+state) {
		t.Errorf("after SIGINT: exit %d, want 0 and the state saved\n%s", code, p.out.String())
	}
}

// TestDemoElsewhere runs demo outside the repository: it needs none of
// its files.
func TestDemoElsewhere(t *testing.T) {
	t.Chdir(t.TempDir())
	out, code := invoke(t, env(), "demo")
	for _, w := range []string{"seeded with the 9 orders the job would update from orders-sample.csv", "14 read, 9 sent in 1 batch(es): 9 ok, 0 failed"} {
		if !strings.Contains(out, w) {
			t.Errorf("demo lacks %q", w)
		}
	}
	if code != exitOK {
		t.Errorf("exit %d, want 0\n%s", code, out)
	}
}

// TestDemoExport: demo seeds its shop from the export it is given, read
// by the job it is given, and every eligible order goes through.
func TestDemoExport(t *testing.T) {
	t.Parallel()
	// A job that maps the shipment: the shop's order has that shipment.
	shipment2 := rewrite(t, clientJob, t.TempDir(), "shipment.hcl",
		`order_no         = "order_no"`, "order_no         = \"order_no\"\n    shipment_no      = \"order_no == '200000000101' ? 2 : 1\"")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"export", []string{"-export", otherExport},
			[]string{"seeded with the 3 orders the job would update from other-export.csv", "4 read, 3 sent in 1 batch(es): 3 ok, 0 failed", "300000000004  1         2026-11-28"}},
		{"file and export", []string{"-file", clientJob, "-export", clientExport},
			[]string{"seeded with the 6 orders the job would update from client-export.csv", "11 read, 6 sent in 1 batch(es): 6 ok, 0 failed"}},
		{"shipment number", []string{"-file", shipment2, "-export", clientExport},
			[]string{"6 ok, 0 failed", "200000000101  2         2026-11-27", "200000000102  1         2026-11-26"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, code := invoke(t, env(), append([]string{"demo", "-now", seedNow}, tt.args...)...)
			if code != exitOK {
				t.Errorf("exit %d, want 0\n%s", code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("demo lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "NotFound") {
				t.Errorf("an order was not in the shop:\n%s", out)
			}
		})
	}
}
