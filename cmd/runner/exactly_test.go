package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/ledger"
)

// proc is a runner process of a test.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when it has exited
	code int
}

// startRunner starts the binary with env and args.
func startRunner(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = env, p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		err := p.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
				p.code = 128 + int(ws.Signal())
				return
			}
			p.code = ee.ExitCode()
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait returns the exit status.
func (p *proc) wait() int {
	<-p.done
	return p.code
}

// processEnv is the environment of a runner process against srv.
func processEnv(srv *futureshoptest.Server, dsn string, extra ...string) []string {
	return append(append(os.Environ(),
		"RUNNER_DATABASE="+dsn,
		"FUTURESHOP_API_DOMAIN="+srv.URL, "FUTURESHOP_SHOP_KEY="+srv.ShopKey,
		"FUTURESHOP_CLIENT_ID="+srv.ClientID, "FUTURESHOP_CLIENT_SECRET="+srv.ClientSecret), extra...)
}

// waitForPath waits until the server has seen a request to path.
func waitForPath(t *testing.T, srv *futureshoptest.Server, path string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); countPath(srv, path) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no request to %s", path)
		}
	}
}

// onceEach checks that every admitted order was shipped and completed
// exactly once.
func onceEach(t *testing.T, srv *futureshoptest.Server) {
	t.Helper()
	for _, no := range admitted {
		if s, c := srv.Shipped(no), srv.Completed(no); s != 1 || c != 1 {
			t.Errorf("order %s shipped %d and completed %d times, want once each", no, s, c)
		}
	}
}

// TestTwoRunsAtOnce starts a second runner run of the job while the first
// is in flight: the second refuses at once, naming the first's pid and
// host, with its own exit status; with -lock-timeout it waits its turn and
// then finds nothing to send. Every order goes out once.
func TestTwoRunsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes")
	}
	t.Parallel() // a real process that mostly waits
	bin := buildRunner(t)
	host, _ := os.Hostname()
	databases(t, func(t *testing.T, dsn string) {
		fast := fastShipping(t)
		srv := sampleShop(t)
		srv.SlowNext(1, 2*time.Second) // the first shipping call
		env := processEnv(srv, dsn)
		args := []string{"run", "-var", "goq_export=" + sample, "-now", seedNow, fast}
		first := startRunner(t, bin, env, args...)
		waitForPath(t, srv, "/admin-api/v1/shipping/status")

		second := startRunner(t, bin, env, args...)
		if code := second.wait(); code != exitLocked {
			t.Errorf("second run: exit %d, want %d\n%s", code, exitLocked, second.out)
		}
		want := fmt.Sprintf(`is being run by pid %d on %s since `, first.cmd.Process.Pid, host)
		if !strings.Contains(second.out.String(), want) || !strings.Contains(second.out.String(), "runner unlock shipping-to-futureshop") {
			t.Errorf("second run does not name the holder (%q):\n%s", want, second.out)
		}

		third := startRunner(t, bin, env, append([]string{"run", "-lock-timeout", "30s"}, args[1:]...)...)
		if code := first.wait(); code != 0 {
			t.Fatalf("first run: exit %d\n%s", code, first.out)
		}
		if code := third.wait(); code != 0 || !strings.Contains(third.out.String(), "9 unchanged") || !strings.Contains(third.out.String(), "waiting for a lock") {
			t.Errorf("a run that waited: exit %d\n%s", code, third.out)
		}
		onceEach(t, srv)

		// The history shows the refused run, with its reason.
		out, _ := invoke(t, shopEnv(t, srv, "RUNNER_DATABASE", dsn), "history", "-json", "shipping-to-futureshop")
		var runs []ledger.Run
		if err := json.Unmarshal([]byte(stdoutOf(out)), &runs); err != nil {
			t.Fatalf("history: %v\n%s", err, out)
		}
		statuses := map[string]int{}
		for _, r := range runs {
			statuses[r.Status]++
			if r.Status == "error" && !strings.Contains(r.Error, "is being run by pid") {
				t.Errorf("refused run %d: error %q", r.ID, r.Error)
			}
		}
		if len(runs) != 3 || statuses["ok"] != 2 || statuses["error"] != 1 {
			t.Errorf("history: %d runs, statuses %v; want 2 ok and the refused one\n%s", len(runs), statuses, out)
		}
	})
}

// TestRunWhileServe: runner run while runner serve runs the same job is
// refused the same way.
func TestRunWhileServe(t *testing.T) {
	fast := manualShipping(t)
	if testing.Short() {
		t.Skip("real processes")
	}
	t.Parallel() // a real process that mostly waits
	bin := buildRunner(t)
	srv := sampleShop(t)
	srv.SlowNext(1, 3*time.Second)
	dsn := filepath.Join(t.TempDir(), "state.db")
	env := processEnv(srv, dsn, "RUNNER_LISTEN=127.0.0.1:0")
	serve := startRunner(t, bin, env, "serve", "-var", "goq_export="+sample, "-now", seedNow, fast)
	defer func() {
		serve.cmd.Process.Signal(syscall.SIGTERM)
		serve.wait()
	}()
	base := serveAddr(t, serve)
	resp, err := http.Post(base+"/jobs/shipping-to-futureshop/runs", "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %v %v", resp, err)
	}
	resp.Body.Close()
	waitForPath(t, srv, "/admin-api/v1/shipping/status")
	run := startRunner(t, bin, env, "run", "-var", "goq_export="+sample, "-now", seedNow, fast)
	if code := run.wait(); code != exitLocked || !strings.Contains(run.out.String(), fmt.Sprintf("pid %d", serve.cmd.Process.Pid)) {
		t.Errorf("run while serve runs the job: exit %d\n%s", code, run.out)
	}
	for deadline := time.Now().Add(20 * time.Second); srv.Completed(admitted[0]) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	onceEach(t, srv)
}

var addrRE = regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)

// serveAddr waits for serve to say where it listens.
func serveAddr(t *testing.T, p *proc) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(p.out.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("serve did not start:\n%s", p.out)
	return ""
}

// TestSharedShopTakesTurns: two different jobs of one shop run in two
// processes at once against a shop that allows one request per second and
// no burst. They take turns on the shop's lock, so the shop refuses none.
func TestSharedShopTakesTurns(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes against a 1 request/s shop")
	}
	t.Parallel() // a real process that mostly waits
	bin := buildRunner(t)
	dir := t.TempDir()
	second := variant(t, dir, "second.hcl", `job "shipping-to-futureshop"`, `job "shipping-again"`)
	strict := func() *futureshoptest.Server {
		srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(1, 1))
		t.Cleanup(srv.Close)
		srv.Seed(futureshoptest.SampleOrders()...)
		return srv
	}
	refused := func(srv *futureshoptest.Server) int {
		n := 0
		for _, r := range srv.Requests() {
			if r.Status == http.StatusTooManyRequests {
				n++
			}
		}
		return n
	}
	race := func(srv *futureshoptest.Server, extra ...string) {
		env := processEnv(srv, filepath.Join(t.TempDir(), "state.db"))
		a := startRunner(t, bin, env, append(append([]string{"run"}, extra...), "-var", "goq_export="+sample, "-now", seedNow, shipping)...)
		b := startRunner(t, bin, env, append(append([]string{"run"}, extra...), "-var", "goq_export="+sample, "-now", seedNow, second)...)
		if ca, cb := a.wait(), b.wait(); ca != 0 || cb != 0 {
			t.Errorf("exit %d and %d\n%s\n%s", ca, cb, a.out, b.out)
		}
	}
	srv := strict()
	race(srv)
	if n := refused(srv); n != 0 {
		var log []string
		for _, r := range srv.Requests() {
			log = append(log, fmt.Sprintf("%s %s %d", r.Time.Format("15:04:05.000000"), r.Path, r.Status))
		}
		t.Errorf("the shop refused %d requests:\n%s", n, strings.Join(log, "\n"))
	}
	// Without the ledger there is no lock: the same race overruns the shop
	// (the clients retry, so the runs still succeed). For the record.
	free := strict()
	race(free, "-no-ledger")
	t.Logf("requests refused with 429: %d with the shop's lock, %d without it", refused(srv), refused(free))
}

// TestLedgerScope: the ledger remembers per shop. The same job pointed at
// another shop sends everything there; plan names the scope it reads; a
// ledger written before scopes is adopted, not sent again.
func TestLedgerScope(t *testing.T) {
	fast := fastShipping(t)
	dsn := filepath.Join(t.TempDir(), "state.db")
	a, b := sampleShop(t), sampleShop(t)
	args := []string{"run", "-var", "goq_export=" + sample, "-now", seedNow, fast}
	if out, code := invoke(t, shopEnv(t, a, "RUNNER_DATABASE", dsn), args...); code != 0 {
		t.Fatalf("run against a: exit %d\n%s", code, out)
	}
	out, code := invoke(t, shopEnv(t, b, "RUNNER_DATABASE", dsn), args...)
	if code != 0 || !strings.Contains(out, "9 ok") {
		t.Fatalf("run against b, another shop, must send everything: exit %d\n%s", code, out)
	}
	onceEach(t, b)
	out, _ = invoke(t, shopEnv(t, b, "RUNNER_DATABASE", dsn), "plan", "-var", "goq_export="+sample, "-now", seedNow, shipping)
	u := strings.TrimPrefix(b.URL, "http://")
	if !regexp.MustCompile(`Ledger: `+regexp.QuoteMeta(dsn)+`, scope "futureshop `+regexp.QuoteMeta(u)+` shop [0-9a-f]{12}"`).MatchString(out) ||
		!strings.Contains(out, "9 unchanged") {
		t.Errorf("plan does not name its scope:\n%s", out)
	}

	// A ledger from before scopes keyed everything by "futureshop".
	old := filepath.Join(t.TempDir(), "old.db")
	c := sampleShop(t)
	if out, code := invoke(t, shopEnv(t, c, "RUNNER_DATABASE", old), args...); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	db, err := sql.Open("sqlite", old)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE ledger_entries SET dest = 'futureshop'`); err != nil {
		t.Fatal(err)
	}
	c.ResetRequests()
	out, _ = invoke(t, shopEnv(t, c, "RUNNER_DATABASE", old), "plan", "-var", "goq_export="+sample, "-now", seedNow, shipping)
	if !strings.Contains(out, "9 unchanged") {
		t.Errorf("plan over a ledger from before scopes:\n%s", out)
	}
	out, code = invoke(t, shopEnv(t, c, "RUNNER_DATABASE", old), args...)
	if code != 0 || !strings.Contains(out, "9 unchanged") || countPath(c, "/admin-api/v1/shipping/status") != 0 {
		t.Errorf("the first run after the upgrade sent again: exit %d\n%s", code, out)
	}
}

// repeatedExport writes an export where each of five orders has three
// rows, as templates with one row per product line do.
func repeatedExport(t *testing.T, dir string, rows ...string) string {
	t.Helper()
	path := filepath.Join(dir, "repeated.csv")
	if err := os.WriteFile(path, []byte(goqHeader+strings.Join(rows, "\r\n")+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func sampleRow(no, status, updated, tracking string) string {
	return "1," + no + ",FutureShop 1号店,2026-11-20 14:03:11," + status + "," + updated + ",2026-11-26,ヤマト運輸," + tracking + ",,,"
}

// TestRepeatedRows: an order on several rows of an export gets one
// decision per run: the row with the newest 最終更新日時, its filters
// applied. Identical rows cost nothing extra.
func TestRepeatedRows(t *testing.T) {
	fast := fastShipping(t)
	srv := sampleShop(t)
	dir := t.TempDir()
	var rows []string
	for i := 0; i < 3; i++ {
		for _, no := range admitted[:5] {
			rows = append(rows, sampleRow(no, "出荷済み", "2026-11-26 09:12:40", "123456789012"))
		}
	}
	path := repeatedExport(t, dir, rows...)
	e := shopEnv(t, srv)
	out, code := invoke(t, e, "run", "-var", "goq_export="+path, "-now", seedNow, fast)
	if code != 0 || !strings.Contains(out, "5 sent in 1 batch(es): 5 ok") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, no := range admitted[:5] {
		if s, c := srv.Shipped(no), srv.Completed(no); s != 1 || c != 1 {
			t.Errorf("order %s shipped %d and completed %d times", no, s, c)
		}
	}
	if n := countPath(srv, "/admin-api/v1/shipping/status"); n != 1 {
		t.Errorf("%d shipping calls, want 1", n)
	}

	// Differing rows: the newest wins wherever it is, and a newest
	// キャンセル keeps the order out.
	path = repeatedExport(t, dir,
		sampleRow("100000001213", "出荷済み", "2026-11-27 13:00:00", "NEWEST"),
		sampleRow("100000001213", "出荷済み", "2026-11-26 13:00:00", "OLDER"),
		sampleRow("100000001214", "出荷済み", "2026-11-26 13:00:00", "SHIP-ME-NOT"),
		sampleRow("100000001214", "キャンセル", "2026-11-28 08:00:00", ""),
	)
	out, code = invoke(t, env(), "plan", "-no-ledger", "-var", "goq_export="+path, "-now", seedNow, shipping)
	for _, want := range []string{
		"+ 100000001213/1  repeated.csv:2",
		`invoice_no       = "NEWEST"`,
		"~ 100000001213  repeated.csv:3  skipped: superseded by repeated.csv:2 (updated 2026-11-27 13:00:00)",
		"~ 100000001214  repeated.csv:4  skipped: superseded by repeated.csv:5 (updated 2026-11-28 08:00:00)",
		`- 100000001214  repeated.csv:5  excluded by filter "status"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SHIP-ME-NOT") || code != 0 {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// TestSilentShopStopsTheRun: futureshop does not answer. The run stops
// after three attempts with one job-level error and its own exit status,
// the batch it sent stays pending, and the history says why.
func TestSilentShopStopsTheRun(t *testing.T) {
	srv := sampleShop(t)
	srv.SlowNext(100, time.Hour)
	job := variant(t, t.TempDir(), "impatient.hcl", `points_activation = "注文完了時に有効"`, "points_activation = \"注文完了時に有効\"\n    timeout = \"200ms\"")
	dsn := filepath.Join(t.TempDir(), "state.db")
	e := shopEnv(t, srv, "RUNNER_DATABASE", dsn)
	start := time.Now()
	out, code := invoke(t, e, "run", "-var", "goq_export="+sample, "-now", seedNow, job)
	if code != exitStopped || !strings.Contains(out, "futureshop cannot be reached: 3 attempts in a row failed") {
		t.Fatalf("exit %d, want %d\n%s", code, exitStopped, out)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s to stop", took)
	}
	if strings.Count(out, "record=1000") != 0 {
		t.Errorf("a job-level error is reported per order:\n%s", out)
	}
	st, err := ledger.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, _ := st.History(context.Background(), "shipping-to-futureshop", 1)
	if len(h) != 1 || !strings.Contains(h[0].Error, "cannot be reached") {
		t.Errorf("history: %+v", h)
	}
	srv.ClearFaults()
	if out, code := invoke(t, e, "run", "-var", "goq_export="+sample, "-now", seedNow, job); code != 0 || !strings.Contains(out, "9 ok") {
		t.Errorf("the next run: exit %d\n%s", code, out)
	}
}

// TestSigtermFinishesTheBatch: SIGTERM to runner run is Ctrl-C's twin: the
// batch in flight finishes and is recorded, and the exit status says
// SIGTERM.
func TestSigtermFinishesTheBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("a real process")
	}
	t.Parallel() // a real process that mostly waits
	bin := buildRunner(t)
	srv := sampleShop(t)
	srv.SlowNext(2, time.Second) // the token, then the first shipping call
	job := variant(t, t.TempDir(), "small-batches.hcl", `points_activation = "注文完了時に有効"`, "points_activation = \"注文完了時に有効\"\n    batch_size = 3")
	p := startRunner(t, bin, processEnv(srv, filepath.Join(t.TempDir(), "state.db")), "run", "-var", "goq_export="+sample, "-now", seedNow, job)
	waitForPath(t, srv, "/admin-api/v1/shipping/status")
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(); code != exitTerminated {
		t.Errorf("exit %d, want %d\n%s", code, exitTerminated, p.out)
	}
	if n := countPath(srv, "/admin-api/v1/order/complete"); n != 1 || !strings.Contains(p.out.String(), "3 ok") || strings.Contains(p.out.String(), "context canceled") {
		t.Errorf("the batch in flight did not finish (%d complete calls):\n%s", n, p.out)
	}
}

// TestServeTwiceOnSQLite: a second serve on one SQLite ledger is refused
// with what to do, instead of dying on River's migrations.
func TestServeTwiceOnSQLite(t *testing.T) {
	fast := manualShipping(t)
	if testing.Short() {
		t.Skip("real processes")
	}
	t.Parallel() // a real process that mostly waits
	bin := buildRunner(t)
	srv := sampleShop(t)
	env := processEnv(srv, filepath.Join(t.TempDir(), "state.db"), "RUNNER_LISTEN=127.0.0.1:0")
	args := []string{"serve", "-var", "goq_export=" + sample, "-now", seedNow, fast}
	a, b := startRunner(t, bin, env, args...), startRunner(t, bin, env, args...)
	time.Sleep(3 * time.Second)
	var loser, winner *proc
	for _, p := range []*proc{a, b} {
		if strings.Contains(p.out.String(), "another runner serve uses the ledger") {
			loser = p
		} else {
			winner = p
		}
	}
	if loser == nil || winner == nil {
		t.Fatalf("want one serve refused\n--- a\n%s\n--- b\n%s", a.out, b.out)
	}
	if code := loser.wait(); code != exitLocked || !strings.Contains(loser.out.String(), "need PostgreSQL") {
		t.Errorf("refused serve: exit %d\n%s", code, loser.out)
	}
	serveAddr(t, winner)
	winner.cmd.Process.Signal(syscall.SIGTERM)
	if code := winner.wait(); code != 0 {
		t.Errorf("serve: exit %d\n%s", code, winner.out)
	}
}

// TestServeAfterKill kills serve during a manual run and starts it again:
// the killed run is closed as interrupted at once, and the button works at
// once, instead of answering 409 until River gives up on the dead run.
func TestServeAfterKill(t *testing.T) {
	fast := manualShipping(t)
	if testing.Short() {
		t.Skip("real processes")
	}
	t.Parallel() // a real process that mostly waits
	bin := buildRunner(t)
	srv := sampleShop(t)
	srv.SlowNext(2, 5*time.Second)
	dsn := filepath.Join(t.TempDir(), "state.db")
	env := processEnv(srv, dsn, "RUNNER_LISTEN=127.0.0.1:0")
	args := []string{"serve", "-var", "goq_export=" + sample, "-now", seedNow, fast}
	first := startRunner(t, bin, env, args...)
	base := serveAddr(t, first)
	if resp, err := http.Post(base+"/jobs/shipping-to-futureshop/runs", "application/json", nil); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %v %v", resp, err)
	}
	waitForPath(t, srv, "/admin-api/v1/shipping/status")
	first.cmd.Process.Kill()
	first.wait()
	srv.ClearFaults()

	second := startRunner(t, bin, env, args...)
	defer func() {
		second.cmd.Process.Signal(syscall.SIGTERM)
		second.wait()
	}()
	base = serveAddr(t, second)
	resp, err := http.Post(base+"/jobs/shipping-to-futureshop/runs", "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST after the restart: %v %v\n%s", resp, err, second.out)
	}
	resp.Body.Close()
	st, err := ledger.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var h []ledger.Run
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		h, _ = st.History(context.Background(), "shipping-to-futureshop", 0)
		if len(h) == 2 && !h[0].EndedAt.IsZero() {
			break
		}
	}
	if len(h) != 2 || h[1].Error != ledger.Interrupted || h[0].Error != "" || h[0].EndedAt.IsZero() || h[0].Counts.OK != 9 {
		t.Errorf("history after the restart: %+v\n%s", h, second.out)
	}
	for _, no := range admitted {
		if srv.Completed(no) != 1 {
			t.Errorf("order %s completed %d times", no, srv.Completed(no))
		}
	}
}

// TestServeKeepsItsDescriptors: idle keep-alive clients cannot take the
// descriptors scheduled runs need: the API accepts a bounded number of
// connections and closes idle ones.
func TestServeKeepsItsDescriptors(t *testing.T) {
	fast := manualShipping(t)
	s := newHTTPServer(http.NotFoundHandler())
	if s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 || s.ReadHeaderTimeout == 0 {
		t.Errorf("timeouts: %+v", s)
	}
	srv := sampleShop(t)
	lookup := shopEnv(t, srv, "RUNNER_LISTEN", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, []string{"serve", "-var", "goq_export=" + sample, "-now", seedNow, fast}, &out, &errb, lookup)
	}()
	defer func() { cancel(); <-done }()
	base := serveAddr(t, &proc{out: &out})
	fds := func() int { ents, _ := os.ReadDir("/proc/self/fd"); return len(ents) }
	before := fds()
	var conns []*http.Client
	for i := 0; i < 300; i++ {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 200 * time.Millisecond}
		if resp, err := c.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
		}
		conns = append(conns, c)
	}
	// The test holds its client ends; serve holds at most maxConns.
	if grown := fds() - before; grown > 300+maxConns+16 {
		t.Errorf("descriptors grew by %d for 300 idle clients", grown)
	}
	for _, c := range conns {
		c.CloseIdleConnections()
	}
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("healthz after the idle clients left: %v %v", resp, err)
	}
}

// TestNowMustBeHonoured: a -now the runner cannot honour is refused, not
// silently ignored.
func TestNowMustBeHonoured(t *testing.T) {
	for _, now := range []string{"0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"} {
		out, code := invoke(t, env(), "plan", "-var", "goq_export="+sample, "-now", now, shipping)
		if code != exitConfig || !strings.Contains(out, "want a time between 1970 and 9999") {
			t.Errorf("-now %s: exit %d\n%s", now, code, out)
		}
	}
}

// TestFmtIgnoresPlantedFiles: fmt writes through a file it creates itself,
// so a symlink planted where an older version put its temporary file is
// neither followed nor overwritten.
func TestFmtIgnoresPlantedFiles(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim.txt")
	os.WriteFile(victim, []byte("keep me"), 0o644)
	job := filepath.Join(dir, "job.hcl")
	os.WriteFile(job, []byte("variable \"x\" {\ntype=string\n}\n"), 0o640)
	os.Symlink(victim, job+".fmt-tmp")
	if out, code := invoke(t, env(), "fmt", job); code != 0 {
		t.Fatalf("fmt: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Errorf("the symlink's target was overwritten: %q", b)
	}
	fi, _ := os.Stat(job)
	b, _ := os.ReadFile(job)
	if fi.Mode().Perm() != 0o640 || !strings.Contains(string(b), "type = string") {
		t.Errorf("formatted file: mode %v\n%s", fi.Mode(), b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".job.hcl.fmt-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestDeepNesting: files nested deep enough to overflow a parser's stack
// are refused with their place, by validate and by a serve reload, which
// keeps serving.
func TestDeepNesting(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "deep.hcl")
	os.WriteFile(deep, []byte("variable \"x\" {\n  default = "+strings.Repeat("[", 200000)+strings.Repeat("]", 200000)+"\n}\n"), 0o644)
	out, code := invoke(t, env(), "validate", deep)
	if code != exitFailed || !strings.Contains(out, deep+":2:112: error: Nested too deeply") {
		t.Errorf("validate: exit %d\n%s", code, engineClip(out))
	}
	tags := variant(t, dir, "tags.hcl", `variable "store" {`, "variable \"tags\" {\n  type    = list(any)\n  default = []\n}\n\nvariable \"store\" {")
	out, code = invoke(t, env(), "validate", "-var", "tags="+strings.Repeat("[", 50000)+strings.Repeat("]", 50000), tags)
	if code != exitFailed || !strings.Contains(out, "-var tags:1:101: error: Nested too deeply") {
		t.Errorf("-var: exit %d\n%s", code, engineClip(out))
	}
	vars := filepath.Join(dir, "deep.vars.hcl")
	os.WriteFile(vars, []byte("store = "+strings.Repeat("{a=", 100000)+"1"+strings.Repeat("}", 100000)+"\n"), 0o644)
	out, code = invoke(t, env(), "validate", "-var-file", vars, shipping)
	if code != exitFailed || !strings.Contains(out, "Nested too deeply") {
		t.Errorf("-var-file: exit %d\n%s", code, engineClip(out))
	}
	big := filepath.Join(dir, "big.hcl")
	os.WriteFile(big, []byte("# "+strings.Repeat("x", 2<<20)+"\n"), 0o644)
	if out, code := invoke(t, env(), "validate", big); code != exitFailed || !strings.Contains(out, "File too large") {
		t.Errorf("a 2 MiB file: exit %d\n%s", code, engineClip(out))
	}
}

// TestDeepNestingReload: SIGHUP with such a file in serve's directory is
// refused, and serve keeps running its jobs.
func TestDeepNestingReload(t *testing.T) {
	if testing.Short() {
		t.Skip("a real process")
	}
	t.Parallel() // a real process that mostly waits
	bin := buildRunner(t)
	srv := sampleShop(t)
	dir := t.TempDir()
	job := variant(t, dir, "job.hcl")
	serve := startRunner(t, bin, processEnv(srv, filepath.Join(t.TempDir(), "state.db"), "RUNNER_LISTEN=127.0.0.1:0"),
		"serve", "-var", "goq_export="+sample, "-now", seedNow, dir)
	base := serveAddr(t, serve)
	src, _ := os.ReadFile(job)
	os.WriteFile(job, append(src, []byte("\nvariable \"deep\" {\n  default = "+strings.Repeat("[", 500000)+strings.Repeat("]", 500000)+"\n}\n")...), 0o644)
	serve.cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(serve.out.String(), "reload refused") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if resp, err := http.Post(base+"/jobs/shipping-to-futureshop/runs", "application/json", nil); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("serve after the reload: %v %v\n%s", resp, err, engineClip(serve.out.String()))
	}
	serve.cmd.Process.Signal(syscall.SIGTERM)
	if code := serve.wait(); code != 0 || !strings.Contains(serve.out.String(), "Nested too deeply") {
		t.Errorf("serve: exit %d\n%s", code, engineClip(serve.out.String()))
	}
}

// engineClip keeps a failing test's output readable.
func engineClip(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "… (" + strconv.Itoa(len(s)) + " bytes)"
	}
	return s
}

// TestRunDeadline: past -timeout the run stops after the batch in flight,
// with a job-level error; what it did is recorded, the rest waits.
func TestRunDeadline(t *testing.T) {
	srv := sampleShop(t)
	srv.SlowNext(2, 700*time.Millisecond)
	job := variant(t, t.TempDir(), "small-batches.hcl", `points_activation = "注文完了時に有効"`, "points_activation = \"注文完了時に有効\"\n    batch_size = 3")
	out, code := invoke(t, shopEnv(t, srv), "run", "-timeout", "300ms", "-var", "goq_export="+sample, "-now", seedNow, job)
	if code != exitStopped || !strings.Contains(out, "the run's deadline of 300ms passed; stopped after the batch in flight") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if n := countPath(srv, "/admin-api/v1/shipping/status"); n != 1 {
		t.Errorf("%d shipping calls, want the one in flight", n)
	}
}

// TestImportOfShiftingSearch: the order search lists orders again as the
// list moves under it; each order line is written into the import file
// once.
func TestImportOfShiftingSearch(t *testing.T) {
	srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2), futureshoptest.WithPageSize(2), futureshoptest.WithShiftingPages())
	defer srv.Close()
	at := mustTime(t, "2026-11-25T09:30:00+09:00")
	for i := 0; i < 7; i++ {
		srv.AddOrder(futureshoptest.NewOrder(fmt.Sprintf("1000000020%02d", i), at))
	}
	dir := t.TempDir()
	out, code := invoke(t, shopEnv(t, srv), "run", "-var", "goq_import_dir="+dir, "-now", seedNow, fastImport(t))
	if code != 0 || !strings.Contains(out, "7 ok") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	rows := readCP932CSV(t, dir)
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		if seen[r[0]+"/"+r[1]] {
			t.Errorf("line %s/%s written twice", r[0], r[1])
		}
		seen[r[0]+"/"+r[1]] = true
	}
	if len(seen) != 7 {
		t.Errorf("%d lines written, want 7", len(seen))
	}
}

// TestLedgerKeepsNoPersonalData: the import sends buyers' names, emails,
// phones and addresses to GoQ, but the ledger keeps only their hash.
func TestLedgerKeepsNoPersonalData(t *testing.T) {
	srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
	defer srv.Close()
	srv.AddOrder(futureshoptest.NewOrder("100000002001", mustTime(t, "2026-11-25T09:30:00+09:00")))
	dsn := filepath.Join(t.TempDir(), "state.db")
	dir := t.TempDir()
	if out, code := invoke(t, shopEnv(t, srv, "RUNNER_DATABASE", dsn), "run", "-var", "goq_import_dir="+dir, "-now", seedNow, fastImport(t)); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if rows := readCP932CSV(t, dir); !strings.Contains(strings.Join(rows[1], ","), "山田 花子") {
		t.Fatalf("the import file lacks the buyer: %v", rows)
	}
	raw, err := os.ReadFile(dsn)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(dsn + "-wal")
	raw = append(raw, wal...)
	for _, personal := range []string{"山田", "hanako@example.jp", "03-0000-0000", "千代田区"} {
		if strings.Contains(string(raw), personal) {
			t.Errorf("the ledger file holds %q", personal)
		}
	}
	db, _ := sql.Open("sqlite", dsn)
	defer db.Close()
	var payload string
	if err := db.QueryRow(`SELECT payload FROM ledger_entries LIMIT 1`).Scan(&payload); err != nil || !strings.Contains(payload, `"product_name":"テスト商品"`) {
		t.Errorf("the ledger's payload should keep what is not personal: %q %v", payload, err)
	}
}

// TestWrongSecretStopsTheRun: credentials the shop refuses are one
// job-level error (exit 3), not a failure per order: nothing is failed or
// parked, the history says why, and the next run with the right secret
// sends everything.
func TestWrongSecretStopsTheRun(t *testing.T) {
	fast := fastShipping(t)
	srv := sampleShop(t)
	dsn := filepath.Join(t.TempDir(), "state.db")
	args := []string{"run", "-var", "goq_export=" + sample, "-now", seedNow, fast}
	out, code := invoke(t, shopEnv(t, srv, "RUNNER_DATABASE", dsn, "FUTURESHOP_CLIENT_SECRET", "wrong-s3cret"), args...)
	if code != exitStopped || strings.Count(out, "refused the credentials") != 1 || strings.Contains(out, "failed 10000") || strings.Contains(out, "wrong-s3cret") {
		t.Fatalf("exit %d, want %d with one error, none per order, and no secret\n%s", code, exitStopped, out)
	}
	e := shopEnv(t, srv, "RUNNER_DATABASE", dsn)
	if out, _ := invoke(t, e, "failures"); !strings.Contains(out, "no parked records") {
		t.Errorf("failures after refused credentials:\n%s", out)
	}
	out, _ = invoke(t, e, "history", "-json")
	if !strings.Contains(out, `"status": "error"`) || !strings.Contains(out, `"failed": 0`) || !strings.Contains(out, `"parked": 0`) {
		t.Errorf("history does not show one job-level error:\n%s", out)
	}
	if out, code := invoke(t, e, args...); code != 0 || !strings.Contains(out, "9 ok") {
		t.Errorf("the next run: exit %d\n%s", code, out)
	}
}
