package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/ledger/ledgertest"
)

// buildRunner builds the binary once per test that needs a real process.
func buildRunner(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "runner")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestKillAndRerun kills the runner with SIGKILL while futureshop is
// answering the shipping update (the request arrived; the answer and the
// ledger write have not), runs it again, and checks that every admitted
// order ends up exported and completed.
func TestKillAndRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real process")
	}
	t.Parallel() // a real process that mostly waits
	bin := buildRunner(t)
	databases(t, func(t *testing.T, dsn string) {
		fast := fastShipping(t)
		srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
		defer srv.Close()
		srv.Seed(futureshoptest.SampleOrders()...)
		// Token call answers at once; the shipping call takes long enough
		// to kill the process while it waits.
		srv.SlowNext(2, 3*time.Second)

		env := append(os.Environ(),
			"RUNNER_DATABASE="+dsn,
			"FUTURESHOP_API_DOMAIN="+srv.URL, "FUTURESHOP_SHOP_KEY="+srv.ShopKey,
			"FUTURESHOP_CLIENT_ID="+srv.ClientID, "FUTURESHOP_CLIENT_SECRET="+srv.ClientSecret)
		args := []string{"run", "-var", "goq_export=" + sample, "-now", seedNow, fast}

		cmd := exec.Command(bin, args...)
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for countPath(srv, "/admin-api/v1/shipping/status") == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()

		srv.ClearFaults()
		again := exec.Command(bin, args...)
		again.Env = env
		out, err := again.CombinedOutput()
		if err != nil {
			t.Fatalf("second run: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "9 ok") {
			t.Errorf("the second run should re-send what the killed one could not prove:\n%s", out)
		}
		for _, no := range admitted {
			o, _ := srv.Order(no)
			if o.Status != futureshoptest.StatusCompleted {
				t.Errorf("order %s: %s after kill and rerun", no, o.Status)
			}
		}
	})
}

// TestTwoServeProcesses runs two serve processes on one PostgreSQL
// database with a job every two seconds, stops one half-way, and checks
// the run history: no occurrence ran twice, the occurrences kept running
// after the stop, and every admitted order was exported.
func TestTwoServeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two real processes for 40 seconds")
	}
	t.Parallel() // a real process that mostly waits
	dsn := ledgertest.Postgres(t)
	bin := buildRunner(t)
	every2s := variant(t, t.TempDir(), "every-2s.hcl", `schedule    = "every 10m"`, `schedule    = "every 2s"`)
	srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
	defer srv.Close()
	srv.Seed(futureshoptest.SampleOrders()...)
	env := append(os.Environ(),
		"RUNNER_DATABASE="+dsn, "RUNNER_LISTEN=127.0.0.1:0",
		"FUTURESHOP_API_DOMAIN="+srv.URL, "FUTURESHOP_SHOP_KEY="+srv.ShopKey,
		"FUTURESHOP_CLIENT_ID="+srv.ClientID, "FUTURESHOP_CLIENT_SECRET="+srv.ClientSecret)
	start := func() (*exec.Cmd, *syncBuffer) {
		var out syncBuffer
		cmd := exec.Command(bin, "serve", "-var", "goq_export="+sample, "-now", seedNow, every2s)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	began := time.Now()
	a, aOut := start()
	b, bOut := start()
	time.Sleep(20 * time.Second)
	a.Process.Signal(syscall.SIGTERM) // mid-run or between runs, whichever
	if err := a.Wait(); err != nil {
		t.Errorf("first serve did not stop cleanly: %v\n%s", err, aOut.String())
	}
	stopped := time.Now()
	time.Sleep(20 * time.Second)
	b.Process.Signal(syscall.SIGTERM)
	if err := b.Wait(); err != nil {
		t.Errorf("second serve did not stop cleanly: %v\n%s", err, bOut.String())
	}

	st, err := ledger.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.History(context.Background(), "shipping-to-futureshop", 1000)
	if err != nil {
		t.Fatal(err)
	}
	// An occurrence that found the previous one still running and gave up
	// at the next is in the history as refused; the rest ran.
	var runs []ledger.Run
	for _, r := range all {
		if r.Status == "error" && strings.Contains(r.Error, "is being run by") {
			continue
		}
		runs = append(runs, r)
	}
	// Each process logs the scheduled occurrence of every run it finished.
	occurrences := map[string]int{}
	for _, m := range regexp.MustCompile(`msg="run finished".* occurrence=(\S+) run_id=`).FindAllStringSubmatch(aOut.String()+bOut.String(), -1) {
		occurrences[m[1]]++
	}
	for occ, n := range occurrences {
		if n > 1 {
			t.Errorf("the occurrence at %s ran %d times\n--- first\n%s\n--- second\n%s", occ, n, aOut.String(), bOut.String())
		}
	}
	if len(occurrences) != len(runs) {
		t.Errorf("%d occurrences logged, %d runs in the history", len(occurrences), len(runs))
	}
	after := 0
	for _, r := range runs {
		if r.Trigger != "schedule" {
			t.Errorf("run %d has trigger %q", r.ID, r.Trigger)
		}
		if r.EndedAt.IsZero() || r.Error != "" {
			t.Errorf("run %d did not finish cleanly: %+v", r.ID, r)
		}
		if r.StartedAt.After(stopped) {
			after++
		}
	}
	elapsed := time.Since(began)
	if len(runs) < int(elapsed/(2*time.Second))/2 || after < 3 {
		t.Errorf("%d scheduled runs in %s (%d after the first process stopped)\n--- first\n%s\n--- second\n%s",
			len(runs), elapsed.Round(time.Second), after, aOut.String(), bOut.String())
	}
	for _, no := range admitted {
		if o, _ := srv.Order(no); o.Status != futureshoptest.StatusCompleted {
			t.Errorf("order %s: %s", no, o.Status)
		}
	}
	if n := countPath(srv, "/admin-api/v1/shipping/status"); n != 1 {
		t.Errorf("%d shipping calls over all runs, want 1", n)
	}
	t.Logf("%d scheduled runs in %s, %d after one process stopped", len(runs), elapsed.Round(time.Second), after)
}
