package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/ledger/ledgertest"
)

// TestTwoServeShops runs two serve processes on one PostgreSQL database
// with the shops example for four shops every two seconds, for a minute,
// while new orders of every store keep arriving. Each occurrence of each
// instance runs once, on one process or the other, and no two runs of one
// shop overlap: not in the ledger's run history, and not at the shop, whose
// request log shows each run as the calls carrying its own token.
func TestTwoServeShops(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two real processes for a minute")
	}
	t.Parallel() // real processes that mostly wait
	const (
		every = 2 * time.Second
		span  = 60 * time.Second
	)
	dsn := ledgertest.Postgres(t)
	bin := buildRunner(t)
	keys := []string{"a", "b", "c", "d"}
	f := newShopsFixtureOf(t, keys, 1, 50, "    rate_limit    = 50")
	job, err := os.ReadFile(f.job)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.job, []byte(strings.Replace(string(job), `schedule    = "every 10m"`, `schedule    = "every 2s"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	// An order of every store every half second: every run has some to
	// send, so that every run shows at its shop.
	arriving := make(chan struct{})
	grown := make(chan error, 1)
	go func() {
		tick := time.NewTicker(every / 4)
		defer tick.Stop()
		for {
			select {
			case <-arriving:
				grown <- nil
				return
			case <-tick.C:
				if err := f.grow(1); err != nil {
					grown <- err
					return
				}
			}
		}
	}()

	environ := append(os.Environ(), f.env...)
	// Two workers each: the four shops due at once do not fit in one
	// process, so each occurrence must go to whichever has a worker free.
	const workers = 2
	environ = append(environ, "RUNNER_DATABASE="+dsn, "RUNNER_LISTEN=127.0.0.1:0", fmt.Sprintf("RUNNER_WORKERS=%d", workers))
	type proc struct {
		cmd *exec.Cmd
		out *syncBuffer
	}
	var procs []proc
	for range 2 {
		var out syncBuffer
		cmd := exec.Command(bin, "serve", "-var-file", f.vars, "-var", "goq_export_all="+f.export, "-now", seedNow, f.job)
		cmd.Env, cmd.Stdout, cmd.Stderr = environ, &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, proc{cmd, &out})
	}
	began := time.Now()
	time.Sleep(span)
	stopped := time.Now()
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for i, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("serve %d did not stop cleanly: %v\n%s", i, err, p.out.String())
		}
	}
	close(arriving)
	if err := <-grown; err != nil {
		t.Fatal(err)
	}
	logs := func() string {
		var b strings.Builder
		for i, p := range procs {
			fmt.Fprintf(&b, "--- serve %d\n%s", i, p.out.String())
		}
		return b.String()
	}

	// From both logs: the occurrences each process ran, by instance.
	type occurrence struct {
		job  string
		slot time.Time
	}
	ran := map[occurrence][]int{} // the processes that ran it
	// An occurrence still waiting for the instance's run in flight when the
	// next one falls due is skipped, logged, and covered by the next: the
	// scheduler's design, which a loaded machine reaches.
	covered := map[occurrence]bool{}
	perProc, most := make([]int, len(procs)), make([]int, len(procs))
	for i, p := range procs {
		for _, e := range logEntries(p.out.String(), "skipping occurrence: the run in flight lasted until the next one, which covers it") {
			if slot, err := time.Parse(time.RFC3339Nano, e["occurrence"]); err == nil {
				covered[occurrence{e["job"], slot}] = true
			}
		}
		var spans []session
		for _, e := range logEntries(p.out.String(), "run finished") {
			end, err1 := time.Parse(time.RFC3339Nano, e["time"])
			took, err2 := time.ParseDuration(e["took"])
			if err1 != nil || err2 != nil {
				t.Fatalf("serve %d: run finished without its time or length: %v", i, e)
			}
			spans = append(spans, session{end.Add(-took), end})
			slot, err := time.Parse(time.RFC3339Nano, e["occurrence"])
			if err != nil {
				t.Fatalf("serve %d: run finished without an occurrence: %v", i, e)
			}
			o := occurrence{e["job"], slot}
			ran[o] = append(ran[o], i)
			perProc[i]++
		}
		if most[i] = overlapping(spans); most[i] > workers {
			t.Errorf("serve %d ran %d runs at once with %d workers", i, most[i], workers)
		}
	}
	for o, by := range ran {
		if len(by) > 1 {
			t.Errorf("%s at %s ran %d times (by serve %v)", o.job, o.slot.Format(time.TimeOnly), len(by), by)
		}
	}
	// Every occurrence due while both processes were up ran: from the
	// first one that ran (the first leader is elected a second or a few
	// after the processes start; it runs the latest occurrence it missed,
	// which covers any before) to the last one due a run's length before
	// they stopped. The first must come soon after the start.
	var first time.Time
	for o := range ran {
		if first.IsZero() || o.slot.Before(first) {
			first = o.slot
		}
	}
	if first.IsZero() || first.After(began.Add(10*time.Second)) {
		t.Fatalf("the first occurrence ran at %v, %v after the processes started", first, first.Sub(began))
	}
	last := stopped.Add(-every).Truncate(every)
	for _, key := range keys {
		name := engine.InstanceName("shipping", key)
		var missing []string
		for slot := first; !slot.After(last); slot = slot.Add(every) {
			if o := (occurrence{name, slot.UTC()}); len(ran[o]) == 0 && !covered[o] {
				missing = append(missing, slot.Format(time.TimeOnly))
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: %d occurrence(s) of %s to %s did not run: %v", name, len(missing),
				first.Format(time.TimeOnly), last.Format(time.TimeOnly), missing)
		}
	}

	// From the ledger: each instance's runs, one after the other.
	st, err := ledger.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, key := range keys {
		name := engine.InstanceName("shipping", key)
		hist, err := st.History(context.Background(), name, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var runs []ledger.Run
		for _, r := range hist {
			if r.Status == "error" && strings.Contains(r.Error, "is being run by") {
				continue // refused: it never held the lock
			}
			runs = append(runs, r)
		}
		logged := 0
		for o := range ran {
			if o.job == name {
				logged++
			}
		}
		if len(runs) != logged {
			t.Errorf("%s: %d runs in the ledger, %d in the logs", name, len(runs), logged)
		}
		sort.Slice(runs, func(i, k int) bool { return runs[i].StartedAt.Before(runs[k].StartedAt) })
		for i, r := range runs {
			if r.Status != "ok" || r.Trigger != "schedule" {
				t.Errorf("%s: run %d is %s by %s (%s)", name, r.ID, r.Status, r.Trigger, r.Error)
			}
			if i > 0 && r.StartedAt.Before(runs[i-1].EndedAt) {
				t.Errorf("%s: run %d started at %s, before run %d ended at %s", name, r.ID,
					r.StartedAt.Format(time.StampMicro), runs[i-1].ID, runs[i-1].EndedAt.Format(time.StampMicro))
			}
		}
	}

	// From each shop's request log: each run's calls carry the token it
	// fetched; the calls of one token end before those of the next begin.
	for _, key := range keys {
		sessions := tokenSessions(f.srvs[key].Requests())
		for i := 1; i < len(sessions); i++ {
			if prev, s := sessions[i-1], sessions[i]; s.from.Before(prev.to) {
				t.Errorf("shop %s: a session's calls from %s while another's ran until %s", key,
					s.from.Format(time.StampMicro), prev.to.Format(time.StampMicro))
			}
		}
		// Each run sent what had arrived since the one before.
		if n := len(ran) / len(keys); len(sessions) < n*3/4 {
			t.Errorf("shop %s: %d sessions for some %d runs", key, len(sessions), n)
		}
		for _, no := range sentTo(f.srvs[key]) {
			if !strings.HasPrefix(no, fmt.Sprintf("1%04d", slices.Index(keys, key)+1)) {
				t.Errorf("shop %s received order %s of another store", key, no)
			}
		}
		// Orders that arrived well before the stop were sent, once.
		orders := f.ordersOf(key)
		for _, no := range orders[:len(orders)-int(3*every/(every/4))] {
			o, _ := f.srvs[key].Order(no)
			if o.Status != futureshoptest.StatusCompleted {
				t.Errorf("shop %s: order %s is %s", key, no, o.Status)
			}
			if n := f.srvs[key].Shipped(no); n != 1 {
				t.Errorf("shop %s: order %s shipped %d times", key, no, n)
			}
		}
	}
	// Both took their share: neither sat idle while the other ran.
	for i, n := range perProc {
		if n == 0 {
			t.Errorf("serve %d ran nothing", i)
		}
	}
	if t.Failed() {
		t.Log(logs())
	}
	t.Logf("%d runs of %d shops in %s, by serve: %v, at most %v at once", len(ran), len(keys), stopped.Sub(began).Round(time.Second), perProc, most)
}

// session is the calls one token made at a shop, from the first one's
// arrival to the last one's answer.
type session struct{ from, to time.Time }

// tokenSessions turns a shop's request log into its sessions, in order of
// their first call.
func tokenSessions(reqs []futureshoptest.Request) []session {
	by := map[string]*session{}
	for _, r := range reqs {
		if r.Token == "" {
			continue
		}
		end := r.Time.Add(r.Duration)
		s, ok := by[r.Token]
		if !ok {
			by[r.Token] = &session{r.Time, end}
			continue
		}
		if r.Time.Before(s.from) {
			s.from = r.Time
		}
		if end.After(s.to) {
			s.to = end
		}
	}
	out := make([]session, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].from.Before(out[k].from) })
	return out
}

// overlapping returns the most spans in progress at one time.
func overlapping(spans []session) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, s := range spans {
		edges = append(edges, edge{s.from, 1}, edge{s.to, -1})
	}
	// At a tie an end comes first: a run that starts as another ends
	// does not overlap it.
	sort.Slice(edges, func(i, k int) bool {
		if edges[i].at.Equal(edges[k].at) {
			return edges[i].delta < edges[k].delta
		}
		return edges[i].at.Before(edges[k].at)
	})
	most, now := 0, 0
	for _, e := range edges {
		now += e.delta
		most = max(most, now)
	}
	return most
}

// logEntries returns the attributes of the lines of a text log whose
// message is msg, their quoted values unquoted.
func logEntries(log, msg string) []map[string]string {
	var out []map[string]string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "msg="+strconv.Quote(msg)) && !strings.Contains(line, "msg="+msg+" ") {
			continue
		}
		e := map[string]string{}
		for _, m := range attrRE.FindAllStringSubmatch(line, -1) {
			v := m[2]
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			}
			e[m[1]] = v
		}
		out = append(out, e)
	}
	return out
}

var attrRE = regexp.MustCompile(`([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)`)

// BenchmarkShopsPerProcess measures what one runner process carries: the
// shops example with N shops at futureshop's default budget of one request
// a second each (ten orders a shop, one a batch: a token and twenty
// updates, some twenty seconds), all at once in one `runner run` process
// (-parallelism N), its ledger on SQLite or on PostgreSQL. It reports each
// shop's achieved rate while it was sent to (the slowest shop's and the
// mean), the process's CPU time and peak RSS, and on PostgreSQL the most
// database sessions it held at once. Past 100 shops the SQLite ledger's
// writes outlast its busy timeout (150 fail with "database is locked"); on
// PostgreSQL a run holds one session for its locks, besides the pool, and
// past 60 shops (80 fail) the default of 100 connections runs out:
//
//	go test ./cmd/runner -run '^$' -bench ShopsPerProcess -benchtime 1x
func BenchmarkShopsPerProcess(b *testing.B) {
	bin := buildRunner(b)
	for _, size := range []struct {
		db string
		n  int
	}{{"sqlite", 10}, {"sqlite", 50}, {"sqlite", 100}, {"postgres", 10}, {"postgres", 20}, {"postgres", 40}, {"postgres", 60}} {
		b.Run(fmt.Sprintf("%s/shops=%d", size.db, size.n), func(b *testing.B) {
			n := size.n
			var slowest, mean, cpu, rss, conns float64
			for range b.N {
				b.StopTimer()
				keys := make([]string, n)
				for i := range keys {
					keys[i] = fmt.Sprintf("s%03d", i)
				}
				f := newShopsFixtureOf(b, keys, 10, 1, "    rate_limit    = 1\n    batch_size    = 1")
				environ := append(os.Environ(), f.env...)
				var sessions func() int
				if size.db == "postgres" {
					dsn := ledgertest.Postgres(b)
					app := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
					environ = append(environ, "RUNNER_DATABASE="+dsn+"&application_name="+app)
					db, err := sql.Open("pgx", dsn)
					if err != nil {
						b.Fatal(err)
					}
					defer db.Close()
					sessions = func() int {
						var c int
						db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&c)
						return c
					}
				}
				cmd := exec.Command(bin, "run", "-var-file", f.vars, "-var", "goq_export_all="+f.export, "-now", seedNow,
					"-parallelism", strconv.Itoa(n), f.job)
				cmd.Env = environ
				var out syncBuffer
				cmd.Stdout, cmd.Stderr = &out, &out
				b.StartTimer()
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				most := 0
				var err error
			wait:
				for {
					select {
					case err = <-done:
						break wait
					case <-time.After(500 * time.Millisecond):
						if sessions != nil {
							most = max(most, sessions())
						}
					}
				}
				b.StopTimer()
				if err != nil {
					log := out.String()
					if i := strings.Index(log, "level=ERROR"); i >= 0 {
						log = log[i:min(len(log), i+1000)]
					}
					b.Fatalf("runner run: %v\n%s", err, log)
				}
				low, sum := math.Inf(1), 0.0
				for _, key := range keys {
					reqs := f.srvs[key].Requests()
					if len(reqs) != 21 {
						b.Fatalf("shop %s: %d requests, want 21 (a token and 10 orders' two updates)", key, len(reqs))
					}
					r := float64(len(reqs)-1) / reqs[len(reqs)-1].Time.Sub(reqs[0].Time).Seconds()
					low, sum = min(low, r), sum+r
				}
				slowest += low
				mean += sum / float64(n)
				u := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				cpu += time.Duration(u.Utime.Nano() + u.Stime.Nano()).Seconds()
				rss += float64(u.Maxrss) / 1024 // KiB on Linux
				conns += float64(most)
			}
			per := float64(b.N)
			b.ReportMetric(slowest/per, "slowest-req/s")
			b.ReportMetric(mean/per, "mean-req/s")
			b.ReportMetric(cpu/per, "cpu-s")
			b.ReportMetric(rss/per, "rss-MiB")
			if size.db == "postgres" {
				b.ReportMetric(conns/per, "pg-sessions")
			}
		})
	}
}
