package scheduler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/ledger/ledgertest"
	"github.com/goqsync/runner/scheduler"
)

// testLogger collects logs and shows them only when the test fails, so that
// River's goroutines never log into a finished test.
func testLogger(t *testing.T) *slog.Logger {
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Log("logs:\n" + buf.String())
			mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// occ is one scheduled occurrence of a job.
type occ struct {
	job  string
	slot time.Time
}

// recorder is a RunFunc that records runs in a real ledger and counts
// scheduled occurrences.
type recorder struct {
	store    *ledger.Store
	instance string
	took     time.Duration

	mu       *sync.Mutex
	started  map[occ][]string // occurrence → instances that started it
	finished map[occ][]string
	onStart  func(job, instance string)
}

func (r *recorder) run(ctx context.Context, req scheduler.RunRequest) (int64, error) {
	lock, err := waitLock(ctx, r.store, req)
	if err != nil {
		return 0, err
	}
	defer lock.Unlock()
	job := req.Job
	id := req.RunID
	if id != 0 {
		err = r.store.StartQueued(ctx, id, job, req.Trigger, time.Now())
	} else {
		id, err = r.store.StartRun(ctx, job, req.Trigger, time.Now())
	}
	if err != nil {
		return 0, err
	}
	slot, scheduled := scheduler.Occurrence(ctx)
	if scheduled != !req.Occurrence.IsZero() || !slot.Equal(req.Occurrence) {
		return id, fmt.Errorf("occurrence %v in the context, %v in the request", slot, req.Occurrence)
	}
	if scheduled {
		r.mu.Lock()
		r.started[occ{job, slot}] = append(r.started[occ{job, slot}], r.instance)
		r.mu.Unlock()
	}
	if r.onStart != nil {
		r.onStart(job, r.instance)
	}
	select {
	case <-time.After(r.took):
	case <-ctx.Done():
		// A hard stop: the engine would finish its batch; record it as cut.
	}
	if scheduled && ctx.Err() == nil {
		r.mu.Lock()
		r.finished[occ{job, slot}] = append(r.finished[occ{job, slot}], r.instance)
		r.mu.Unlock()
	}
	errText := ""
	if ctx.Err() != nil {
		errText = "cancelled"
	}
	return id, r.store.FinishRun(context.WithoutCancel(ctx), id, time.Now(), ledger.Counts{}, errText)
}

// waitLock takes the job's lock in the ledger as the engine does: it waits
// while another run holds it, until req.WaitUntil (ErrBusy), and gives up
// when req.Abandon closes (ErrNotStarted).
func waitLock(ctx context.Context, store *ledger.Store, req scheduler.RunRequest) (*ledger.Lock, error) {
	for {
		l, err := store.TryLock(ctx, "job:"+req.Job, ledger.Owner{Job: req.Job, Command: "test"})
		var le *ledger.LockedError
		if !errors.As(err, &le) {
			return l, err
		}
		if !req.WaitUntil.IsZero() && !time.Now().Before(req.WaitUntil) {
			return nil, fmt.Errorf("%w: %v", scheduler.ErrBusy, err)
		}
		select {
		case <-req.Abandon:
			return nil, scheduler.ErrNotStarted
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func newRecorder(store *ledger.Store, instance string, took time.Duration) *recorder {
	return &recorder{store: store, instance: instance, took: took, mu: &sync.Mutex{},
		started: map[occ][]string{}, finished: map[occ][]string{}}
}

func openLedger(t *testing.T, dsn string) *ledger.Store {
	t.Helper()
	s, err := ledger.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func start(t *testing.T, cfg scheduler.Config) *scheduler.Scheduler {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	ctx := context.Background()
	s, err := scheduler.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func history(t *testing.T, store *ledger.Store, job string) []ledger.Run {
	t.Helper()
	h, err := store.History(context.Background(), job, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func finishedRuns(t *testing.T, store *ledger.Store, job string) int {
	n := 0
	for _, r := range history(t, store, job) {
		if !r.EndedAt.IsZero() {
			n++
		}
	}
	return n
}

// TestScheduled: a job every second runs and records; Reload swaps the job
// set.
func TestScheduled(t *testing.T) {
	t.Parallel()
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			dsn := d.DSN(t)
			store := openLedger(t, dsn)
			rec := newRecorder(store, "a", 100*time.Millisecond)
			s := start(t, scheduler.Config{Database: dsn, Run: rec.run, Ledger: store,
				Jobs: []scheduler.Job{{Name: "every-second", Schedule: scheduler.Every(time.Second), Spec: "every 1s"}}})

			waitFor(t, 15*time.Second, "two scheduled runs", func() bool { return finishedRuns(t, store, "every-second") >= 2 })
			for _, r := range history(t, store, "every-second") {
				if r.Trigger != ledger.TriggerSchedule {
					t.Errorf("run %d trigger = %q, want schedule", r.ID, r.Trigger)
				}
			}

			if err := s.Reload([]scheduler.Job{{Name: "other", Schedule: scheduler.Every(time.Second)}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "a run of the reloaded job", func() bool { return finishedRuns(t, store, "other") >= 1 })
			before := len(history(t, store, "every-second"))
			time.Sleep(2500 * time.Millisecond)
			// An occurrence queued just before the reload may still run.
			if after := len(history(t, store, "every-second")); after > before+1 {
				t.Errorf("removed job ran %d more times after reload", after-before)
			}

			rec.mu.Lock()
			defer rec.mu.Unlock()
			for o, who := range rec.started {
				if len(who) != 1 {
					t.Errorf("occurrence %v ran %d times", o, len(who))
				}
			}
		})
	}
}

type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c apiClient) do(method, path string, out any) int {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, nil)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			c.t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// TestManualRun: the 発送情報の更新 button through the HTTP API, with a token.
func TestManualRun(t *testing.T) {
	t.Parallel()
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			dsn := d.DSN(t)
			store := openLedger(t, dsn)
			rec := newRecorder(store, "a", 0)
			release := make(chan struct{})
			running := make(chan struct{}, 10)
			rec.onStart = func(job, _ string) {
				running <- struct{}{}
				<-release
			}
			const token = "s3cret-token"
			s := start(t, scheduler.Config{Database: dsn, Run: rec.run, Ledger: store,
				Listen: "0.0.0.0:8080", Token: token,
				Jobs: []scheduler.Job{{Name: "shipping"}}})
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			api := apiClient{t, srv.URL, token}
			anon := apiClient{t, srv.URL, ""}

			if code := anon.do("POST", "/jobs/shipping/runs", nil); code != http.StatusUnauthorized {
				t.Errorf("POST without token: %d, want 401", code)
			}
			if code := (apiClient{t, srv.URL, "wrong"}).do("GET", "/jobs", nil); code != http.StatusUnauthorized {
				t.Errorf("GET /jobs with a wrong token: %d, want 401", code)
			}
			if code := anon.do("GET", "/healthz", nil); code != http.StatusOK {
				t.Errorf("healthz: %d", code)
			}
			waitFor(t, 5*time.Second, "readyz", func() bool { return anon.do("GET", "/readyz", nil) == http.StatusOK })
			if code := api.do("POST", "/jobs/nope/runs", nil); code != http.StatusNotFound {
				t.Errorf("POST unknown job: %d, want 404", code)
			}

			var e scheduler.Enqueued
			if code := api.do("POST", "/jobs/shipping/runs", &e); code != http.StatusAccepted || e.RunID == 0 {
				t.Fatalf("POST: %d %+v, want 202 with a run id", code, e)
			}
			var queued ledger.Run
			if code := api.do("GET", fmt.Sprint("/runs/", e.RunID), &queued); code != http.StatusOK || queued.ID != e.RunID ||
				queued.Status != "queued" && queued.Status != "running" {
				t.Errorf("GET /runs/%d right after the POST: %d %+v", e.RunID, code, queued)
			}
			select {
			case <-running:
			case <-time.After(10 * time.Second):
				t.Fatal("manual run did not start")
			}
			// While it runs, another request is refused.
			var dup scheduler.Enqueued
			if code := api.do("POST", "/jobs/shipping/runs", &dup); code != http.StatusConflict || dup.RiverJobID != e.RiverJobID || dup.RunID != e.RunID {
				t.Errorf("second POST while running: %d %+v, want 409 with job %d, run %d", code, dup, e.RiverJobID, e.RunID)
			}
			close(release)
			waitFor(t, 10*time.Second, "the manual run to finish", func() bool { return finishedRuns(t, store, "shipping") == 1 })

			h := history(t, store, "shipping")
			if h[0].Trigger != ledger.TriggerManual || h[0].ID != e.RunID || len(h) != 1 {
				t.Errorf("history %+v, want one manual run %d: the refused request left no run", h, e.RunID)
			}
			var run ledger.Run
			if code := api.do("GET", fmt.Sprint("/runs/", h[0].ID), &run); code != http.StatusOK || run.ID != h[0].ID || run.Job != "shipping" {
				t.Errorf("GET /runs/%d: %d %+v", h[0].ID, code, run)
			}
			if code := api.do("GET", "/runs/999999", nil); code != http.StatusNotFound {
				t.Errorf("GET missing run: %d, want 404", code)
			}
			if code := api.do("GET", "/runs/x", nil); code != http.StatusBadRequest {
				t.Errorf("GET /runs/x: %d, want 400", code)
			}
			var jobs []scheduler.JobStatus
			if code := api.do("GET", "/jobs", &jobs); code != http.StatusOK || len(jobs) != 1 ||
				jobs[0].Name != "shipping" || jobs[0].LastRun == nil || jobs[0].LastRun.ID != h[0].ID || !jobs[0].NextRun.IsZero() {
				t.Errorf("GET /jobs: %d %+v", code, jobs)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if code := anon.do("GET", "/readyz", nil); code != http.StatusServiceUnavailable {
				t.Errorf("readyz after Stop: %d, want 503", code)
			}
		})
	}
}

func TestNewNeedsTokenOffLoopback(t *testing.T) {
	_, err := scheduler.New(context.Background(), scheduler.Config{
		Database: ledgertest.SQLite(t), Listen: ":8080",
		Run: func(context.Context, scheduler.RunRequest) (int64, error) { return 0, nil },
	})
	if err == nil || !strings.Contains(err.Error(), "RUNNER_API_TOKEN") {
		t.Errorf("New off loopback without a token: %v", err)
	}
}

// TestTwoInstances: two schedulers on one PostgreSQL database, a job every
// two seconds. No occurrence runs twice, and stopping one instance in the
// middle of a run loses nothing: the run finishes, and the other instance
// takes over the schedule. While leadership moves (a few seconds when River's
// notice of the resignation comes late), the new leader runs only the latest
// occurrence it missed, which covers the ones before it: those are the only
// occurrences allowed not to run.
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	dsn := ledgertest.Postgres(t)
	store := openLedger(t, dsn)

	var (
		mu       sync.Mutex
		started  = map[occ][]string{}
		finished = map[occ][]string{}
		running  = make(chan string, 100) // the instance that started a run
	)
	const job = "shipping"
	jobs := []scheduler.Job{{Name: job, Schedule: scheduler.Every(2 * time.Second)}}
	newInstance := func(name string) (*scheduler.Scheduler, *recorder) {
		rec := newRecorder(store, name, 1200*time.Millisecond)
		rec.mu, rec.started, rec.finished = &mu, started, finished
		rec.onStart = func(_, instance string) { running <- instance }
		s, err := scheduler.New(context.Background(), scheduler.Config{Database: dsn, Run: rec.run, Jobs: jobs,
			Logger: testLogger(t).With("instance", name)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s, rec
	}
	instances := map[string]*scheduler.Scheduler{}
	instances["a"], _ = newInstance("a")
	instances["b"], _ = newInstance("b")
	stop := func(s *scheduler.Scheduler) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
	}
	defer func() {
		for _, s := range instances {
			stop(s) // a second Stop does nothing
		}
	}()

	begin := time.Now()
	time.Sleep(8 * time.Second)
	// Stop an instance while it runs an occurrence: whichever runs the
	// next one (who runs what is River's choice).
	for len(running) > 0 {
		<-running
	}
	var victim string
	select {
	case victim = <-running:
	case <-time.After(12 * time.Second):
		t.Fatal("no instance ran anything")
	}
	stop(instances[victim])
	stoppedAt := time.Now()
	time.Sleep(10 * time.Second)
	for name, s := range instances {
		if name != victim {
			stop(s)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	var slots []time.Time
	for o := range started {
		slots = append(slots, o.slot)
	}
	if len(slots) < 6 {
		t.Fatalf("only %d occurrences ran in %v", len(slots), time.Since(begin))
	}
	first, last := slots[0], slots[0]
	for _, s := range slots {
		if s.Before(first) {
			first = s
		}
		if s.After(last) {
			last = s
		}
	}
	// The handover: after the last occurrence started before a stopped, up
	// to the first one started after.
	var lastBefore, firstAfter time.Time
	for _, s := range slots {
		if o := (occ{job, s}); len(started[o]) > 0 && s.Before(stoppedAt) && s.After(lastBefore) {
			lastBefore = s
		}
		if s.After(stoppedAt) && (firstAfter.IsZero() || s.Before(firstAfter)) {
			firstAfter = s
		}
	}
	ranOn := map[string]int{}
	for slot := first; !slot.After(last); slot = slot.Add(2 * time.Second) {
		o := occ{job, slot}
		who := finished[o]
		switch {
		case len(started[o]) == 0 && slot.After(lastBefore) && slot.Before(firstAfter):
			t.Logf("occurrence %s not run: covered by %s, the new leader's first", slot.Format("15:04:05"), firstAfter.Format("15:04:05"))
		case len(started[o]) != 1 || len(who) != 1:
			t.Errorf("occurrence %s: started on %v, finished on %v; want exactly once",
				slot.Format("15:04:05"), started[o], who)
		default:
			ranOn[who[0]]++
		}
	}
	if ranOn["a"] == 0 || ranOn["b"] == 0 {
		t.Errorf("occurrences per instance = %v; want both to have run some", ranOn)
	}
	if firstAfter.IsZero() || firstAfter.After(stoppedAt.Add(8*time.Second)) {
		t.Errorf("first occurrence after %s stopped at %v: %v; want the other to take over within 8s", victim, stoppedAt, firstAfter)
	}
	if !last.After(stoppedAt.Add(4 * time.Second)) {
		t.Errorf("last occurrence %v: the other instance did not take over after %s stopped at %v", last, victim, stoppedAt)
	}
	// The ledger agrees: every run finished, none was cut short.
	for _, r := range history(t, store, job) {
		if r.EndedAt.IsZero() || r.Error != "" {
			t.Errorf("run %d: ended %v, error %q", r.ID, r.EndedAt, r.Error)
		}
	}
	t.Logf("%d occurrences from %s to %s, per instance %v", len(slots), first.Format("15:04:05"), last.Format("15:04:05"), ranOn)
}

func TestStopWithoutStart(t *testing.T) {
	s, err := scheduler.New(context.Background(), scheduler.Config{
		Database: ledgertest.SQLite(t), Logger: testLogger(t),
		Run: func(context.Context, scheduler.RunRequest) (int64, error) { return 0, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Error("Start after Stop succeeded")
	}
}
