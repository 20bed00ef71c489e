package scheduler_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/ledger/ledgertest"
	"github.com/goqsync/runner/scheduler"
)

// TestKilledInstance SIGKILLs the instance that leads and is running an
// occurrence. The other instance takes over the schedule once the dead
// leader's lease runs out (River's is 15 s), catches up the latest missed
// occurrence, and no occurrence runs twice. The killed run is closed as
// interrupted in the ledger, and its records stay pending there for the
// next run.
func TestKilledInstance(t *testing.T) {
	if dsn := os.Getenv("SCHEDULER_CHILD_DSN"); dsn != "" {
		killChild(dsn)
		return
	}
	if testing.Short() {
		t.Skip("takes about 30 s")
	}
	t.Parallel()
	dsn := ledgertest.Postgres(t)
	store := openLedger(t, dsn)

	child := exec.Command(os.Args[0], "-test.run=^TestKilledInstance$")
	child.Env = append(os.Environ(), "SCHEDULER_CHILD_DSN="+dsn)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var childSlots []string
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("child exited")
			}
			childSlots = append(childSlots, strings.TrimPrefix(l, "started "))
			return l
		case <-time.After(20 * time.Second):
			t.Fatal("child ran nothing")
		}
		return ""
	}
	next() // the child leads: it is alone

	rec := newRecorder(store, "b", 300*time.Millisecond)
	b := start(t, scheduler.Config{Database: dsn, Run: rec.run, Jobs: killJobs})
	next() // the child runs another occurrence, as leader still
	child.Process.Kill()
	child.Wait()
	killed := time.Now()

	waitFor(t, 30*time.Second, "b to run two occurrences after the kill", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		n := 0
		for o := range rec.started {
			if o.slot.After(killed) {
				n++
			}
		}
		return n >= 2
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Stop(ctx); err != nil { // let b's run in flight finish
		t.Fatal(err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, s := range childSlots {
		for o, who := range rec.started {
			if o.slot.Format(time.RFC3339) == s {
				t.Errorf("occurrence %s ran on the child and on %v", s, who)
			}
		}
	}
	for o, who := range rec.started {
		if len(who) != 1 {
			t.Errorf("occurrence %v ran %d times", o, len(who))
		}
	}
	// The killed run was closed as interrupted by the next run of its job.
	var unfinished, interrupted int
	for _, r := range history(t, store, "every-2s") {
		if r.EndedAt.IsZero() {
			unfinished++
		}
		if r.Error == ledger.Interrupted {
			interrupted++
		}
	}
	if unfinished != 0 || interrupted != 1 {
		t.Errorf("%d unfinished and %d interrupted runs in the ledger, want 0 and 1 (the killed one)", unfinished, interrupted)
	}
	e, err := store.Lookup(context.Background(), "every-2s", "dest", []string{"K/1"})
	if err != nil || e["K/1"].Status != ledger.StatusPending {
		t.Errorf("killed run's record: %+v, %v; want pending", e["K/1"], err)
	}
	t.Logf("child ran %v; b took over %v after the kill", childSlots, firstAfter(rec.started, killed).Sub(killed).Round(time.Second))
}

var killJobs = []scheduler.Job{{Name: "every-2s", Schedule: scheduler.Every(2 * time.Second)}}

func firstAfter(m map[occ][]string, t time.Time) time.Time {
	var first time.Time
	for o := range m {
		if o.slot.After(t) && (first.IsZero() || o.slot.Before(first)) {
			first = o.slot
		}
	}
	return first
}

// killChild is the instance that gets killed. It prints each occurrence it
// starts, leaves a record pending as a run in flight would, and runs long
// enough to be killed in the middle.
func killChild(dsn string) {
	ctx := context.Background()
	store, err := ledger.Open(ctx, dsn)
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	run := func(ctx context.Context, req scheduler.RunRequest) (int64, error) {
		lock, err := waitLock(ctx, store, req)
		if err != nil {
			return 0, err
		}
		defer lock.Unlock()
		job := req.Job
		id, err := store.StartRun(ctx, job, req.Trigger, time.Now())
		if err != nil {
			return 0, err
		}
		if err := store.Begin(ctx, id, job, "dest", []ledger.Send{{Key: "K/1", Hash: fmt.Sprint(id)}}); err != nil {
			return id, err
		}
		slot, _ := scheduler.Occurrence(ctx)
		mu.Lock()
		fmt.Println("started", slot.Format(time.RFC3339))
		mu.Unlock()
		time.Sleep(1500 * time.Millisecond)
		if err := store.Record(ctx, id, job, "dest", []ledger.Outcome{{Key: "K/1", Status: ledger.StatusOK}}); err != nil {
			return id, err
		}
		return id, store.FinishRun(ctx, id, time.Now(), ledger.Counts{Sent: 1, OK: 1}, "")
	}
	s, err := scheduler.New(ctx, scheduler.Config{Database: dsn, Run: run, Jobs: killJobs,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	select {}
}
