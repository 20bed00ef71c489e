package ledger_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/ledger/ledgertest"
)

// TestLock: a lock is held by one at a time, in one process or two stores
// on one database; the second learns who holds it; unlocking frees it.
func TestLock(t *testing.T) {
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			dsn := d.DSN(t)
			a, b := open(t, dsn), open(t, dsn)
			ctx := context.Background()
			l, err := a.TryLock(ctx, "job:x", ledger.Owner{Job: "x", Command: "run"})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.SetRun(ctx, 17); err != nil {
				t.Fatal(err)
			}
			_, err = b.TryLock(ctx, "job:x", ledger.Owner{Job: "x"})
			var le *ledger.LockedError
			if !errors.As(err, &le) {
				t.Fatalf("second TryLock: %v, want a LockedError", err)
			}
			host, _ := os.Hostname()
			want := "pid " + strconv.Itoa(os.Getpid()) + " on " + host + " since "
			if !strings.HasPrefix(le.Holder(), want) || !strings.Contains(le.Holder(), `(run 17 of job "x")`) {
				t.Errorf("holder = %q, want %q… with the run", le.Holder(), want)
			}
			if o, held, err := b.Holder(ctx, "job:x"); err != nil || !held || o.RunID != 17 {
				t.Errorf("Holder = %+v, %v, %v", o, held, err)
			}
			// Another name is another lock.
			other, err := b.TryLock(ctx, "job:y", ledger.Owner{})
			if err != nil {
				t.Fatalf("lock of another job: %v", err)
			}
			other.Unlock()
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
			if err := l.Unlock(); err != nil {
				t.Errorf("second Unlock: %v", err)
			}
			if _, held, _ := b.Holder(ctx, "job:x"); held {
				t.Error("held after Unlock")
			}
			l2, err := b.TryLock(ctx, "job:x", ledger.Owner{})
			if err != nil {
				t.Fatalf("TryLock after Unlock: %v", err)
			}
			l2.Unlock()
		})
	}
}

// TestLockDiesWithItsProcess: a process holding a lock is killed; on
// PostgreSQL the server frees it with the session, on SQLite the next
// taker sees that the holder, on this host, no longer exists.
func TestLockDiesWithItsProcess(t *testing.T) {
	if dsn := os.Getenv("LEDGER_LOCK_CHILD"); dsn != "" {
		s, err := ledger.Open(context.Background(), dsn)
		if err != nil {
			panic(err)
		}
		if _, err := s.TryLock(context.Background(), "job:x", ledger.Owner{Job: "x"}); err != nil {
			panic(err)
		}
		os.Stdout.WriteString("locked\n")
		select {}
	}
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			dsn := d.DSN(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestLockDiesWithItsProcess$")
			cmd.Env = append(os.Environ(), "LEDGER_LOCK_CHILD="+dsn)
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 7)
			if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
				t.Fatalf("child: %q %v", buf, err)
			}
			s := open(t, dsn)
			ctx := context.Background()
			if _, err := s.TryLock(ctx, "job:x", ledger.Owner{}); err == nil {
				t.Fatal("took the lock of a live holder")
			}
			cmd.Process.Kill()
			cmd.Wait()
			var l *ledger.Lock
			var err error
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if l, err = s.TryLock(ctx, "job:x", ledger.Owner{}); err == nil {
					break
				}
			}
			if err != nil {
				t.Fatalf("lock of a killed holder not taken over: %v", err)
			}
			l.Unlock()
		})
	}
}

// TestStaleLockTakenOver: on SQLite a lock whose holder stopped beating
// (another machine, gone) is taken over after the stale time, and the
// holder, should it come back, sees it lost.
func TestStaleLockTakenOver(t *testing.T) {
	defer ledger.SetLockTimes(50*time.Millisecond, 300*time.Millisecond)()
	dsn := ledgertest.SQLite(t)
	s := open(t, dsn)
	ctx := context.Background()
	l, err := s.TryLock(ctx, "job:x", ledger.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	// Pretend the holder is on another host and stopped beating: the
	// heartbeat can no longer keep it (its token row is rewritten).
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE ledger_locks SET host = 'host-b', heartbeat = ? WHERE name = 'job:x'`, time.Now().Add(-time.Hour).UTC()); err != nil {
		t.Fatal(err)
	}
	other := open(t, dsn)
	l2, err := other.TryLock(ctx, "job:x", ledger.Owner{})
	if err != nil {
		// The old holder's heartbeat may have run in between; a stale
		// time later it is ours.
		time.Sleep(400 * time.Millisecond)
		db.Exec(`UPDATE ledger_locks SET heartbeat = ? WHERE name = 'job:x'`, time.Now().Add(-time.Hour).UTC())
		if l2, err = other.TryLock(ctx, "job:x", ledger.Owner{}); err != nil {
			t.Fatalf("stale lock not taken over: %v", err)
		}
	}
	defer l2.Unlock()
	select {
	case <-l.Lost():
	case <-time.After(5 * time.Second):
		t.Error("the old holder did not see its lock lost")
	}
}

// TestForceUnlock: runner unlock releases a live holder's lock (the
// holder sees it lost) and says who held it.
func TestForceUnlock(t *testing.T) {
	defer ledger.SetLockTimes(50*time.Millisecond, time.Minute)()
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			dsn := d.DSN(t)
			a, b := open(t, dsn), open(t, dsn)
			ctx := context.Background()
			l, err := a.TryLock(ctx, "job:x", ledger.Owner{Job: "x"})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Unlock()
			o, held, err := b.ForceUnlock(ctx, "job:x")
			if err != nil || !held || o.PID != os.Getpid() {
				t.Fatalf("ForceUnlock = %+v, %v, %v", o, held, err)
			}
			select {
			case <-l.Lost():
			case <-time.After(10 * time.Second):
				t.Error("the holder did not see its lock lost")
			}
			l2, err := b.TryLock(ctx, "job:x", ledger.Owner{})
			if err != nil {
				t.Fatalf("TryLock after ForceUnlock: %v", err)
			}
			l2.Unlock()
		})
	}
}

// TestRecordNeverGoesBack: a run may only record the entries it began. An
// older run finishing late (here, its batch failed on 429s) does not turn
// a newer run's entry back.
func TestRecordNeverGoesBack(t *testing.T) {
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			s := open(t, d.DSN(t))
			ctx := context.Background()
			a, b := startRun(t, s, job, "cli", t0), startRun(t, s, job, "cli", t0)
			k := send("K/1", map[string]any{"x": 1})
			if err := s.Begin(ctx, a, job, dest, []ledger.Send{k}); err != nil {
				t.Fatal(err)
			}
			if err := s.Begin(ctx, b, job, dest, []ledger.Send{k}); err != nil {
				t.Fatal(err)
			}
			if err := s.Record(ctx, b, job, dest, []ledger.Outcome{{Key: k.Key, Status: ledger.StatusOK}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Record(ctx, a, job, dest, []ledger.Outcome{{Key: k.Key, Status: ledger.StatusFailed, Code: "TooManyRequests", Message: "429"}}); err != nil {
				t.Fatal(err)
			}
			if e := lookup(t, s, k.Key)[k.Key]; e.Status != ledger.StatusOK || e.RunID != b {
				t.Errorf("entry = %+v, want ok from run %d", e, b)
			}
		})
	}
}

// TestStagedAndSettled: staged entries wait on their commit's token; Settle
// makes them ok or sends them back to pending.
func TestStagedAndSettled(t *testing.T) {
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			s := open(t, d.DSN(t))
			ctx := context.Background()
			run := startRun(t, s, job, "cli", t0)
			a, b := send("A/1", map[string]any{"x": 1}), send("B/1", map[string]any{"x": 2})
			if err := s.Begin(ctx, run, job, dest, []ledger.Send{a, b}); err != nil {
				t.Fatal(err)
			}
			if err := s.Record(ctx, run, job, dest, []ledger.Outcome{
				{Key: a.Key, Status: ledger.StatusStaged, Token: "t1"},
				{Key: b.Key, Status: ledger.StatusStaged, Token: "t2"},
			}); err != nil {
				t.Fatal(err)
			}
			tokens, err := s.Staged(ctx, job, dest)
			if err != nil || strings.Join(tokens, ",") != "t1,t2" && strings.Join(tokens, ",") != "t2,t1" {
				t.Fatalf("Staged = %v, %v", tokens, err)
			}
			if n, err := s.Settle(ctx, job, dest, "t1", ledger.StatusOK, ""); n != 1 || err != nil {
				t.Errorf("Settle t1 = %d, %v", n, err)
			}
			if n, err := s.Settle(ctx, job, dest, "t2", ledger.StatusPending, ""); n != 1 || err != nil {
				t.Errorf("Settle t2 = %d, %v", n, err)
			}
			got := lookup(t, s, a.Key, b.Key)
			if got[a.Key].Status != ledger.StatusOK || got[b.Key].Status != ledger.StatusPending {
				t.Errorf("after Settle: %+v", got)
			}
			if tokens, _ := s.Staged(ctx, job, dest); len(tokens) != 0 {
				t.Errorf("still staged: %v", tokens)
			}
		})
	}
}

// TestAdopt: entries of a ledger written before scopes move to the scope
// once; a scope that has entries of its own adopts nothing.
func TestAdopt(t *testing.T) {
	s := open(t, ledgertest.SQLite(t))
	ctx := context.Background()
	run := startRun(t, s, job, "cli", t0)
	batch(t, s, run, []ledger.Send{send("A/1", map[string]any{"x": 1})}, ledger.StatusOK)
	const scope = "futureshop api.example.jp shop 0123456789ab"
	if n, err := s.Adopt(ctx, job, dest, scope); n != 1 || err != nil {
		t.Fatalf("Adopt = %d, %v", n, err)
	}
	got, _ := s.Lookup(ctx, job, scope, []string{"A/1"})
	if got["A/1"].Status != ledger.StatusOK {
		t.Errorf("adopted entry: %+v", got)
	}
	batch(t, s, run, []ledger.Send{send("B/1", map[string]any{"x": 1})}, ledger.StatusOK)
	if n, _ := s.Adopt(ctx, job, dest, scope); n != 0 {
		t.Errorf("second Adopt moved %d entries", n)
	}
}

// TestStartRunClosesInterruptedRuns: a run that starts holding the job's
// lock closes the job's runs whose process died; InterruptOrphans does it
// for every job nobody runs.
func TestStartRunClosesInterruptedRuns(t *testing.T) {
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			s := open(t, d.DSN(t))
			ctx := context.Background()
			killed := startRun(t, s, job, "manual", t0)
			startRun(t, s, job, "schedule", t0.Add(time.Minute))
			h, _ := s.History(ctx, job, 0)
			if len(h) != 2 || h[1].ID != killed || h[1].Error != ledger.Interrupted || h[1].EndedAt.IsZero() {
				t.Errorf("history: %+v", h)
			}
			orphan := startRun(t, s, "other", "manual", t0)
			lockName := func(j string) string { return "job:" + j }
			if n, err := s.InterruptOrphans(ctx, lockName); n != 2 || err != nil {
				t.Errorf("InterruptOrphans = %d, %v; want both open runs closed", n, err)
			}
			r, _ := s.Run(ctx, orphan)
			if r.Error != ledger.Interrupted {
				t.Errorf("orphan: %+v", r)
			}
			// A run whose lock is held is left alone.
			live := startRun(t, s, "live", "manual", t0)
			l, err := s.TryLock(ctx, "job:live", ledger.Owner{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Unlock()
			l.SetRun(ctx, live)
			if n, _ := s.InterruptOrphans(ctx, lockName); n != 0 {
				t.Errorf("closed %d runs of a job in flight", n)
			}
		})
	}
}

// TestOpenSaysWhatIsWrong: a damaged or unwritable SQLite ledger is named,
// with what to do.
func TestOpenSaysWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "state.db")
	os.WriteFile(bad, []byte("this is not a database, it is a text file left here by mistake ....."), 0o600)
	_, err := ledger.Open(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "not a SQLite database or is damaged") {
		t.Errorf("corrupt: %v", err)
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: file permissions do not stop root; the read-only case is not checked")
		return
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o500)
	_, err = ledger.Open(context.Background(), filepath.Join(ro, "state.db"))
	if err == nil || !strings.Contains(err.Error(), ro) {
		t.Errorf("read-only: %v", err)
	}
}

// TestNewLedgerIsPrivate: a new SQLite ledger is readable by its owner only.
func TestNewLedgerIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "runner.db")
	open(t, path)
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
}

// TestLockAlso: a holder's further lock is taken on its first lock's
// database session (PostgreSQL): one connection for a run's job and shop
// locks. Each is released on its own; ending the session (runner unlock of
// either) releases both, and the holder sees both lost.
func TestLockAlso(t *testing.T) {
	defer ledger.SetLockTimes(50*time.Millisecond, time.Minute)()
	for _, d := range ledgertest.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			dsn := d.DSN(t)
			a, b := open(t, dsn), open(t, dsn)
			ctx := context.Background()
			job, err := a.TryLock(ctx, "job:x", ledger.Owner{Job: "x", Command: "run"})
			if err != nil {
				t.Fatal(err)
			}
			shop, err := job.TryLockAlso(ctx, "shop:1")
			if err != nil {
				t.Fatal(err)
			}
			var le *ledger.LockedError
			if _, err := b.TryLock(ctx, "shop:1", ledger.Owner{}); !errors.As(err, &le) || le.Owner.Job != "x" {
				t.Fatalf("shop lock taken twice: %v", err)
			}
			if d.Name == "postgres" {
				jp, err1 := ledger.HolderPIDs(ctx, a, "job:x")
				sp, err2 := ledger.HolderPIDs(ctx, a, "shop:1")
				if err1 != nil || err2 != nil || len(jp) != 1 || len(sp) != 1 || jp[0] != sp[0] {
					t.Errorf("sessions holding job:x %v and shop:1 %v (%v, %v): want one and the same", jp, sp, err1, err2)
				}
			}
			// Released one at a time: the other stays held.
			if err := shop.Unlock(); err != nil {
				t.Fatal(err)
			}
			s2, err := b.TryLock(ctx, "shop:1", ledger.Owner{})
			if err != nil {
				t.Fatalf("shop lock after its Unlock: %v", err)
			}
			s2.Unlock()
			if _, err := b.TryLock(ctx, "job:x", ledger.Owner{}); !errors.As(err, &le) {
				t.Fatalf("job lock free once the shop lock was released: %v", err)
			}
			if err := job.Unlock(); err != nil {
				t.Fatal(err)
			}
			j2, err := b.TryLock(ctx, "job:x", ledger.Owner{})
			if err != nil {
				t.Fatalf("job lock after its Unlock: %v", err)
			}
			j2.Unlock()

			if d.Name != "postgres" {
				return
			}
			job, err = a.TryLock(ctx, "job:x", ledger.Owner{Job: "x"})
			if err != nil {
				t.Fatal(err)
			}
			defer job.Unlock()
			shop, err = job.TryLockAlso(ctx, "shop:1")
			if err != nil {
				t.Fatal(err)
			}
			defer shop.Unlock()
			if _, held, err := b.ForceUnlock(ctx, "shop:1"); err != nil || !held {
				t.Fatalf("ForceUnlock: %v %v", held, err)
			}
			for name, l := range map[string]*ledger.Lock{"job": job, "shop": shop} {
				select {
				case <-l.Lost():
				case <-time.After(10 * time.Second):
					t.Errorf("the %s lock is not lost with its session", name)
				}
			}
			if l, err := b.TryLock(ctx, "job:x", ledger.Owner{}); err != nil {
				t.Errorf("job lock after its session ended: %v", err)
			} else {
				l.Unlock()
			}
		})
	}
}
