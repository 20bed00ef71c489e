package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/scheduler"
)

// shopsFixture is the shops example against one test server per shop, fed
// from one export holding every store's orders.
type shopsFixture struct {
	keys   []string // the shops' keys in the job: a, b, c
	srvs   map[string]*futureshoptest.Server
	orders map[string][]string // the export's orders by shop key
	job    string
	vars   string
	export string
	lookup func(string) (string, bool)
	// env is what lookup answers, as KEY=value, for a real process.
	env []string

	mu   sync.Mutex
	csv  bytes.Buffer // the export's content
	rows int          // rows of each store so far
}

// newShopsFixture starts a test server per shop at rps requests a second
// (each with credentials of its own), writes an export with perShop
// eligible orders of each store (and one of a store no shop has), and the
// example with the given destination settings added.
func newShopsFixture(tb testing.TB, perShop int, rps float64, settings string) *shopsFixture {
	return newShopsFixtureOf(tb, []string{"a", "b", "c"}, perShop, rps, settings)
}

// newShopsFixtureOf is newShopsFixture for the shops of the given keys.
func newShopsFixtureOf(tb testing.TB, keys []string, perShop int, rps float64, settings string) *shopsFixture {
	tb.Helper()
	dir := tb.TempDir()
	f := &shopsFixture{keys: keys, srvs: map[string]*futureshoptest.Server{}, orders: map[string][]string{}}
	f.csv.WriteString("受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,お荷物伝票番号,お届け指定日\n")
	var vars strings.Builder
	vars.WriteString("shops = {\n")
	kv := []string{"RUNNER_DATABASE", filepath.Join(dir, "state.db")}
	for _, key := range f.keys {
		srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(rps, 2),
			futureshoptest.WithCredentials("shop-"+key, "client-"+key, "secret-"+key))
		tb.Cleanup(srv.Close)
		f.srvs[key] = srv
		prefix := "SHOP_" + strings.ToUpper(key)
		fmt.Fprintf(&vars, "  %s = { store = \"FutureShop %s店\", env_prefix = %q }\n", key, key, prefix)
		kv = append(kv, prefix+"_API_DOMAIN", srv.URL, prefix+"_SHOP_KEY", srv.ShopKey,
			prefix+"_CLIENT_ID", srv.ClientID, prefix+"_CLIENT_SECRET", srv.ClientSecret)
	}
	vars.WriteString("}\n")
	f.export = filepath.Join(dir, "export.csv")
	f.vars = filepath.Join(dir, "shops.vars.hcl")
	if err := os.WriteFile(f.vars, []byte(vars.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := f.grow(perShop); err != nil {
		tb.Fatal(err)
	}
	src, err := os.ReadFile(shops)
	if err != nil {
		tb.Fatal(err)
	}
	secret := `client_secret = env("${each.value.env_prefix}_CLIENT_SECRET")`
	job := strings.Replace(string(src), secret, secret+"\n"+settings, 1)
	f.job = filepath.Join(dir, "shops.hcl")
	if err := os.WriteFile(f.job, []byte(job), 0o644); err != nil {
		tb.Fatal(err)
	}
	f.lookup = env(kv...)
	for i := 0; i+1 < len(kv); i += 2 {
		f.env = append(f.env, kv[i]+"="+kv[i+1])
	}
	return f
}

// grow adds n eligible orders of each store to the shops and to the export
// (and one of a store no shop has per n), as new orders arrive between
// runs. The export is replaced whole, so a run reading it sees it before or
// after, never half-written.
func (f *shopsFixture) grow(n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ordered := time.Date(2026, 11, 20, 14, 3, 11, 0, time.FixedZone("JST", 9*3600))
	// Rows of the stores interleave, as an export sorted by order date does.
	for i := f.rows; i < f.rows+n; i++ {
		for s, key := range f.keys {
			no := fmt.Sprintf("1%04d%07d", s+1, i)
			fmt.Fprintf(&f.csv, "%s,FutureShop %s店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,%012d,\n", no, key, i)
			f.srvs[key].AddOrder(futureshoptest.NewOrder(no, ordered))
			f.orders[key] = append(f.orders[key], no)
		}
		fmt.Fprintf(&f.csv, "19999%07d,楽天市場店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,1,\n", i)
	}
	f.rows += n
	tmp := f.export + ".new"
	if err := os.WriteFile(tmp, f.csv.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, f.export)
}

// ordersOf returns the orders of a shop's store added so far.
func (f *shopsFixture) ordersOf(key string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.orders[key])
}

// run runs every shop's instance at once and returns the exit status, the
// summaries by job and the transcript.
func (f *shopsFixture) run(extra ...string) (int, map[string]engine.RunSummary, string) {
	args := append([]string{"run", "-json", "-var-file", f.vars, "-var", "goq_export_all=" + f.export, "-now", seedNow}, extra...)
	args = append(args, f.job)
	var out, errb bytes.Buffer
	code := runMain(context.Background(), args, &out, &errb, f.lookup)
	var list []engine.RunSummary
	json.Unmarshal(out.Bytes(), &list)
	sums := map[string]engine.RunSummary{}
	for _, s := range list {
		sums[s.Job] = s
	}
	return code, sums, out.String() + errb.String()
}

// sentTo lists the order numbers of the updates a shop received.
func sentTo(srv *futureshoptest.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Method != "POST" || len(r.Body) == 0 {
			continue
		}
		var body struct {
			OrderList []struct {
				OrderNo string `json:"orderNo"`
			} `json:"orderList"`
		}
		json.Unmarshal(r.Body, &body)
		for _, o := range body.OrderList {
			out = append(out, o.OrderNo)
		}
	}
	return out
}

// TestShopsSideBySide runs the shops example for three shops from one
// export: each shop gets every eligible order of its store and none of
// another's; one shop answering 503 to every call stops its own run only.
func TestShopsSideBySide(t *testing.T) {
	tests := []struct {
		name string
		down string // the shop answering 503
		code int
	}{
		{name: "all up", code: exitOK},
		{name: "one down", down: "c", code: exitStopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newShopsFixture(t, 30, 50, "    rate_limit    = 50")
			if tt.down != "" {
				f.srvs[tt.down].FailNext(1000, 503)
			}
			code, sums, transcript := f.run()
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, transcript)
			}
			for _, key := range f.keys {
				srv, name := f.srvs[key], engine.InstanceName("shipping", key)
				sum, ok := sums[name]
				if !ok {
					t.Errorf("no summary of %s", name)
				}
				for _, no := range sentTo(srv) {
					if !slices.Contains(f.orders[key], no) {
						t.Errorf("shop %s received order %s of another store", key, no)
					}
				}
				if key == tt.down {
					if sum.OK != 0 {
						t.Errorf("%s: %d ok from a shop answering 503", name, sum.OK)
					}
					continue
				}
				if sum.OK != len(f.orders[key]) || sum.Counts.Read != 4*30 {
					t.Errorf("%s: %d ok of %d read, want %d of %d", name, sum.OK, sum.Counts.Read, len(f.orders[key]), 4*30)
				}
				for _, no := range f.orders[key] {
					if o, _ := srv.Order(no); o.Status != futureshoptest.StatusCompleted {
						t.Errorf("shop %s: order %s is %s, want %s", key, no, o.Status, futureshoptest.StatusCompleted)
					}
				}
			}
		})
	}
}

// BenchmarkShopsSideBySide runs the shops example for three shops at 10
// requests a second each (one order a batch, so every order costs two
// requests), all up and with one answering 503 to every call. It reports
// the shops' aggregate rate while they send (first to last request), that
// rate over the 30 requests a second the shops allow, and in "one down"
// the healthy shops' run time over their time with all up:
//
//	go test ./cmd/runner -run '^$' -bench ShopsSideBySide -benchtime 3x
func BenchmarkShopsSideBySide(b *testing.B) {
	const perShop = 25
	var alone time.Duration // the healthy shops' run time, all up
	for _, down := range []string{"", "c"} {
		name := "all-up"
		if down != "" {
			name = "one-down"
		}
		b.Run(name, func(b *testing.B) {
			var rate, slowdown float64
			for range b.N {
				b.StopTimer()
				f := newShopsFixture(b, perShop, 10, "    rate_limit    = 10\n    batch_size    = 1")
				if down != "" {
					f.srvs[down].FailNext(1000, 503)
				}
				b.StartTimer()
				_, sums, transcript := f.run()
				b.StopTimer()
				var took time.Duration
				for _, key := range f.keys {
					if key == down {
						continue
					}
					sum := sums[engine.InstanceName("shipping", key)]
					if sum.OK != perShop {
						b.Fatalf("shop %s: %d ok, want %d\n%s", key, sum.OK, perShop, transcript)
					}
					took = max(took, sum.Duration)
					// The shop's rate while it was sent to: requests
					// after the first over the time since the first.
					reqs := f.srvs[key].Requests()
					if down == "" && len(reqs) > 1 {
						rate += float64(len(reqs)-1) / reqs[len(reqs)-1].Time.Sub(reqs[0].Time).Seconds()
					}
				}
				if down == "" {
					alone = max(alone, took)
				} else if alone > 0 {
					slowdown += float64(took) / float64(alone)
				}
			}
			if down == "" {
				b.ReportMetric(rate/float64(b.N), "req/s")
				b.ReportMetric(rate/float64(b.N)/30, "of-30-req/s")
			} else if alone > 0 {
				b.ReportMetric(slowdown/float64(b.N), "slowdown")
			}
		})
	}
}

// TestServeShopInstances: serve knows a for_each job's instances by name:
// the API starts one (its name escaped in the path), history and the
// metrics' job label name it, and the other instance does not run.
func TestServeShopInstances(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		f := newShopsFixture(t, 3, 50, "    rate_limit    = 50")
		// Scheduled once a year, so that only the button runs it.
		job, err := os.ReadFile(f.job)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(f.job, []byte(strings.Replace(string(job), `schedule    = "every 10m"`, `schedule    = "0 0 1 1 *"`, 1)), 0o644)
		base := f.lookup
		lookup := func(k string) (string, bool) {
			switch k {
			case "RUNNER_DATABASE":
				return dsn, true
			case "RUNNER_LISTEN":
				return "127.0.0.1:0", true
			}
			return base(k)
		}
		url := startServe(t, lookup, "-var-file", f.vars, "-var", "goq_export_all="+f.export, "-now", seedNow, f.job)
		a := newAPI(t, url)
		const name = `shipping["a"]`
		var e scheduler.Enqueued
		code, h := a.do("POST", "/jobs/"+neturl.PathEscape(name)+"/runs", &e)
		if code != http.StatusAccepted || e.Job != name {
			t.Fatalf("POST: %d %+v", code, e)
		}
		var run scheduler.RunDetail
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && (run.Status == "" || run.Status == "queued" || run.Status == "running"); time.Sleep(100 * time.Millisecond) {
			a.do("GET", h.Get("Location"), &run)
		}
		if run.Status != "ok" || run.Job != name {
			t.Fatalf("run %d: %+v", e.RunID, run.Run)
		}
		out, code := invoke(t, lookup, "history", "-json", name)
		var hist []ledger.Run
		if code != exitOK || json.Unmarshal([]byte(stdoutOf(out)), &hist) != nil || len(hist) != 1 || hist[0].ID != e.RunID {
			t.Errorf("history of %s:\n%s", name, out)
		}
		fams, _ := scrape(t, url)
		if v := value(fams, "runner_runs_total", map[string]string{"job": name, "outcome": "ok"}); v != 1 {
			t.Errorf("runner_runs_total{job=%q,outcome=ok} = %v, want 1", name, v)
		}
		for _, key := range f.keys[1:] {
			if got := sentTo(f.srvs[key]); len(got) != 0 {
				t.Errorf("shop %s received %v from a run of %s", key, got, name)
			}
		}
		if got := len(sentTo(f.srvs["a"])); got != 2*3 {
			t.Errorf("shop a received %d order updates, want %d (shipping and complete of 3)", got, 2*3)
		}
	})
}

// TestShopsParallelism: by default the shops' runs overlap; with
// -parallelism 1 each starts after the one before ended, in order.
func TestShopsParallelism(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		overlap bool
	}{{nil, true}, {[]string{"-parallelism", "1"}, false}} {
		t.Run(fmt.Sprint(tt.args), func(t *testing.T) {
			f := newShopsFixture(t, 30, 10, "    rate_limit    = 10\n    batch_size    = 10")
			if code, _, transcript := f.run(tt.args...); code != exitOK {
				t.Fatalf("exit %d\n%s", code, transcript)
			}
			a, b := f.srvs["a"].Requests(), f.srvs["b"].Requests()
			if overlap := b[0].Time.Before(a[len(a)-1].Time); overlap != tt.overlap {
				t.Errorf("shop b's first request at %s, shop a's last at %s: overlap %v, want %v",
					b[0].Time.Format(time.StampMicro), a[len(a)-1].Time.Format(time.StampMicro), overlap, tt.overlap)
			}
		})
	}
}

// TestShopsOnePass: the shops example's instances read the export in one
// pass (the engine's TestSharePasses counts the decodes of such a pass),
// unless -parallelism keeps them apart.
func TestShopsOnePass(t *testing.T) {
	f := newShopsFixture(t, 1, 50, "")
	cfg, diags := engine.Load([]string{f.job}, engine.LoadOptions{Registry: registry(), LookupEnv: f.lookup,
		Vars: []engine.VarArg{{File: true, Value: f.vars}, {Value: "goq_export_all=" + f.export}}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, tt := range []struct {
		size int
		want string
	}{{0, "[[0 1 2]]"}, {2, "[[0 1] [2]]"}, {1, "[[0] [1] [2]]"}} {
		if got := fmt.Sprint(engine.SharePasses(cfg.Jobs, tt.size).Groups); got != tt.want {
			t.Errorf("passes of at most %d: %s, want %s", tt.size, got, tt.want)
		}
	}
}
