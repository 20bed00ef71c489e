package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
)

// buildRunner builds the binary once per test that needs a real process.
func buildRunner(t *testing.T) string {
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
	bin := buildRunner(t)
	databases(t, func(t *testing.T, dsn string) {
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
		args := []string{"run", "-var", "goq_export=" + sample, "-now", seedNow, shipping}

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
