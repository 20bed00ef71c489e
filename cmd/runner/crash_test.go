package main

import (
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/ledger/ledgertest"
)

// TestImportSurvivesKills runs the order import and kills it with SIGKILL
// at a random moment, then runs it again, ten times over: every order line
// ends up in the committed GoQ import files exactly once, and no temporary
// file is left.
func TestImportSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real processes")
	}
	t.Parallel() // a real process that mostly waits
	bin := buildRunner(t)
	src, err := os.ReadFile("../../examples/futureshop-to-goq.hcl")
	if err != nil {
		t.Fatal(err)
	}
	// The example at 20 requests/s, so that ten runs take seconds, not
	// minutes: a run is a token and eight pages.
	job := filepath.Join(t.TempDir(), "import.hcl")
	os.WriteFile(job, []byte(strings.Replace(string(src), "days          = 10", "days          = 10\n    rate_limit    = 20", 1)), 0o644)
	const orders = 400
	// The kills fall anywhere in a run's life, its end included: time
	// one whole run first (the first try), and kill within 1.2 times that.
	var whole time.Duration
	for try := -1; try < 10; try++ {
		srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(40, 2), futureshoptest.WithPageSize(50))
		at := mustTime(t, "2026-11-25T09:30:00+09:00")
		want := map[string]bool{}
		for i := 0; i < orders; i++ {
			o := futureshoptest.NewOrder(fmt.Sprintf("1000%08d", i), at)
			o.Shipments[0].Products = append(o.Shipments[0].Products, futureshoptest.Product{ProductNo: "P-2", SkuNo: "S-2", Name: "二つ目", Price: 100, Count: 1})
			srv.AddOrder(o)
			want[o.OrderNo+"/1"], want[o.OrderNo+"/2"] = true, true
		}
		dir := t.TempDir()
		env := processEnv(srv, filepath.Join(t.TempDir(), "state.db"))
		args := []string{"run", "-var", "goq_import_dir=" + dir, "-now", seedNow, job}
		began := time.Now()
		p := startRunner(t, bin, env, args...)
		if try < 0 {
			if code := p.wait(); code != 0 {
				t.Fatalf("run: exit %d\n%s", code, p.out)
			}
			whole = time.Since(began)
			srv.Close()
			continue
		}
		kill := time.Duration(rand.Int64N(int64(whole) * 6 / 5))
		time.Sleep(kill)
		p.cmd.Process.Kill()
		p.wait()
		committed, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
		again := startRunner(t, bin, env, args...)
		if code := again.wait(); code != 0 {
			t.Fatalf("try %d: rerun after a kill at %s: exit %d\n%s", try, kill, code, again.out)
		}
		got := map[string]int{}
		files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(japanese.ShiftJIS.NewDecoder().Reader(fh)).ReadAll()
			fh.Close()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, r := range rows[1:] {
				got[r[0]+"/"+r[1]]++
			}
		}
		for k := range want {
			if got[k] != 1 {
				t.Errorf("try %d (killed at %s): line %s is in the import files %d times", try, kill, k, got[k])
			}
		}
		if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
			t.Errorf("try %d: temporary files left: %v", try, left)
		}
		t.Logf("try %d: killed at %s, after %d commit(s); %d file(s) in all", try, kill, len(committed), len(files))
		srv.Close()
	}
}

// TestShippingRaceCrashRerun is the shipping export as an operator's bad
// day has it, against a shop that allows one request per second and no
// burst: two processes start the job at once, the one that runs it is
// killed with SIGKILL at a random moment, and it is run again. Every
// eligible order is shipped and completed, once, but for at most the one
// batch in flight at the kill, which the killed run could not prove; and
// the shop refuses no request but possibly the first after the kill.
func TestShippingRaceCrashRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real processes; about twenty seconds at 1 request/s")
	}
	t.Parallel() // a real process that mostly waits
	bin := buildRunner(t)
	for _, d := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", ledgertest.SQLite}, {"postgres", ledgertest.Postgres}} {
		t.Run(d.name, func(t *testing.T) {
			srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(1, 1))
			defer srv.Close()
			const n = 250
			var rows []string
			var nos []string
			at := mustTime(t, "2026-11-25T09:30:00+09:00")
			for i := 0; i < n; i++ {
				no := fmt.Sprintf("1000%08d", i)
				nos = append(nos, no)
				srv.AddOrder(futureshoptest.NewOrder(no, at))
				rows = append(rows, sampleRow(no, "出荷済み", "2026-11-26 09:12:40", fmt.Sprint(500000000000+i)))
			}
			export := repeatedExport(t, t.TempDir(), rows...)
			env := processEnv(srv, d.dsn(t))
			args := []string{"run", "-var", "goq_export=" + export, "-now", seedNow, shipping}
			a, b := startRunner(t, bin, env, args...), startRunner(t, bin, env, args...)
			// One of them runs; the other is refused at once.
			var runner *proc
			select {
			case <-a.done:
				runner = b
				if a.code != exitLocked {
					t.Fatalf("the refused run exited %d\n%s", a.code, a.out)
				}
			case <-b.done:
				runner = a
				if b.code != exitLocked {
					t.Fatalf("the refused run exited %d\n%s", b.code, b.out)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("neither run was refused")
			}
			kill := 1500*time.Millisecond + time.Duration(rand.IntN(4500))*time.Millisecond
			time.Sleep(kill)
			runner.cmd.Process.Kill()
			runner.wait()
			killedAt := time.Now()

			rerun := startRunner(t, bin, env, args...)
			if code := rerun.wait(); code != 0 {
				t.Fatalf("rerun: exit %d\n%s", code, rerun.out)
			}
			twice := 0
			for _, no := range nos {
				s, c := srv.Shipped(no), srv.Completed(no)
				switch {
				case s == 0 || c == 0:
					t.Errorf("order %s shipped %d and completed %d times", no, s, c)
				case s > 2 || c > 2:
					t.Errorf("order %s shipped %d and completed %d times", no, s, c)
				case s == 2 || c == 2:
					twice++
				}
			}
			if twice > futureshoptest.MaxOrders {
				t.Errorf("%d orders sent twice: more than the one batch in flight at the kill", twice)
			}
			refused := 0
			var firstAfter *futureshoptest.Request
			for _, r := range srv.Requests() {
				if r.Time.After(killedAt) && firstAfter == nil {
					r := r
					firstAfter = &r
				}
				if r.Status == http.StatusTooManyRequests && (firstAfter == nil || r.Time != firstAfter.Time) {
					refused++
				}
			}
			if refused > 0 {
				t.Errorf("the shop refused %d requests (beyond the first after the kill)", refused)
			}
			t.Logf("killed at %s; %d orders in the batch in doubt sent twice; %d requests", kill, twice, len(srv.Requests()))
		})
	}
}
