package main

import (
	"context"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
)

// engineLedger lets the engine record into the ledger store. command
// ("run", "serve") tells others who holds a lock.
type engineLedger struct {
	s       *ledger.Store
	command string
	// queued, when not zero, is the run the API queued this one as
	// (serve's manual runs): StartRun starts it instead of a new one.
	queued int64
}

func (l engineLedger) Lock(ctx context.Context, name, job string) (engine.Lock, error) {
	lk, err := l.s.TryLock(ctx, name, ledger.Owner{Job: job, Command: l.command})
	if err != nil {
		return nil, err
	}
	return engineLock{lk}, nil
}

// engineLock is a ledger lock as the engine holds it: a run's shop locks
// are taken on its job lock's session (engine.LockExtender).
type engineLock struct{ *ledger.Lock }

func (l engineLock) LockAlso(ctx context.Context, name, job string) (engine.Lock, error) {
	lk, err := l.TryLockAlso(ctx, name)
	if err != nil {
		return nil, err
	}
	return engineLock{lk}, nil
}

func (l engineLedger) Lookup(ctx context.Context, job, dest string, keys []string) (map[string]engine.LedgerEntry, error) {
	got, err := l.s.Lookup(ctx, job, dest, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]engine.LedgerEntry, len(got))
	for k, e := range got {
		out[k] = engine.LedgerEntry{Hash: e.Hash, Status: e.Status, Code: e.Code, Message: e.Message, Fails: e.Fails}
	}
	return out, nil
}

func (l engineLedger) Begin(ctx context.Context, run int64, job, dest string, batch []engine.LedgerSend) error {
	sends := make([]ledger.Send, len(batch))
	for i, s := range batch {
		sends[i] = ledger.Send{Key: s.Key, Hash: s.Hash, Payload: s.Payload, Label: s.Label}
	}
	return l.s.Begin(ctx, run, job, dest, sends)
}

func (l engineLedger) Record(ctx context.Context, run int64, job, dest string, outcomes []engine.LedgerOutcome) error {
	outs := make([]ledger.Outcome, len(outcomes))
	for i, o := range outcomes {
		outs[i] = ledger.Outcome{Key: o.Key, Status: o.Status, Code: o.Code, Message: o.Message, Token: o.Token}
	}
	return l.s.Record(ctx, run, job, dest, outs)
}

func (l engineLedger) Staged(ctx context.Context, job, dest string) ([]string, error) {
	return l.s.Staged(ctx, job, dest)
}

func (l engineLedger) Settle(ctx context.Context, job, dest, token, status, message string) error {
	_, err := l.s.Settle(ctx, job, dest, token, status, message)
	return err
}

func (l engineLedger) Adopt(ctx context.Context, job, from, to string) error {
	_, err := l.s.Adopt(ctx, job, from, to)
	return err
}

func (l engineLedger) StartRun(ctx context.Context, job, trigger string, at time.Time) (int64, error) {
	if l.queued != 0 {
		return l.queued, l.s.StartQueued(ctx, l.queued, job, trigger, at)
	}
	return l.s.StartRun(ctx, job, trigger, at)
}

func (l engineLedger) FinishRun(ctx context.Context, run int64, at time.Time, s engine.RunSummary, runErr error) error {
	errText := ""
	if runErr != nil {
		errText = runErr.Error()
	} else if s.Interrupted {
		errText = "interrupted"
	}
	return l.s.FinishRun(ctx, run, at, ledger.Counts{
		// A saved plan's stale order did not go out: the run did not do all
		// it was asked, and its history says failed.
		Sent: s.Counts.Send, OK: s.OK, Failed: s.Failed - s.NewlyParked + s.Stale, Parked: s.NewlyParked,
		Unchanged: s.Counts.Unchanged, Excluded: s.Counts.Excluded, Errors: s.Counts.Errors,
	}, errText)
}
