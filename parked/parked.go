package parked

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
)

// Lock takes job's lock for command, which changes the job's ledger
// entries, waiting up to wait for a run in flight. Past wait it returns the
// *ledger.LockedError that names the holder.
func Lock(ctx context.Context, st *ledger.Store, job string, wait time.Duration, command string) (*ledger.Lock, error) {
	deadline := time.Now().Add(wait)
	for {
		lk, err := st.TryLock(ctx, engine.JobLock(job), ledger.Owner{Job: job, Command: command})
		var held *ledger.LockedError
		switch {
		case err == nil:
			return lk, nil
		case !errors.As(err, &held):
			return nil, err
		case !time.Now().Before(deadline):
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// MistakeError lists what is wrong with a request to retry or resolve:
// a job the ledger does not know, keys that are not parked, each with the
// nearest name. Nothing changed.
type MistakeError struct {
	Problems []string
}

func (e *MistakeError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return fmt.Sprintf("%s (and %d more)", e.Problems[0], len(e.Problems)-1)
}

// Check checks job and keys against the ledger: an unknown job or a key
// that is not parked is a *MistakeError.
func Check(ctx context.Context, st *ledger.Store, job string, keys []string) error {
	jobs, err := st.Jobs(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(jobs, job) {
		msg := "the ledger knows no job " + strconv.Quote(job)
		if s := engine.Suggest(job, jobs); s != "" {
			msg += "; did you mean " + strconv.Quote(s) + "?"
		}
		return &MistakeError{Problems: []string{msg}}
	}
	parked, err := st.Parked(ctx, job)
	if err != nil {
		return err
	}
	var have []string
	for _, e := range parked {
		have = append(have, e.Key)
	}
	var bad []string
	for _, k := range keys {
		if slices.Contains(have, k) {
			continue
		}
		msg := job + " has no parked record " + strconv.Quote(k)
		if s := engine.Suggest(k, have); s != "" {
			msg += "; did you mean " + strconv.Quote(s) + "?"
		}
		bad = append(bad, msg)
	}
	if len(bad) > 0 {
		return &MistakeError{Problems: bad}
	}
	return nil
}

// Options says how Retry and Resolve take the job's lock.
type Options struct {
	Wait    time.Duration // how long to wait for a run in flight
	Command string        // who holds the lock meanwhile ("retry", "console")
}

// Retry lets parked records of job (all of them when keys is empty) be
// sent on the next run, and returns how many.
func Retry(ctx context.Context, st *ledger.Store, job string, keys []string, o Options) (int, error) {
	return under(ctx, st, job, keys, o, func() (int, error) { return st.Retry(ctx, job, keys) })
}

// Resolve settles parked records of job for good: by says who, reason
// why; runs skip them while their values stay the same.
func Resolve(ctx context.Context, st *ledger.Store, job string, keys []string, by, reason string, at time.Time, o Options) (int, error) {
	if len(keys) == 0 {
		return 0, &MistakeError{Problems: []string{"name the records to resolve"}}
	}
	return under(ctx, st, job, keys, o, func() (int, error) { return st.Resolve(ctx, job, keys, by, reason, at) })
}

func under(ctx context.Context, st *ledger.Store, job string, keys []string, o Options, change func() (int, error)) (int, error) {
	lk, err := Lock(ctx, st, job, o.Wait, o.Command)
	if err != nil {
		return 0, err
	}
	defer lk.Unlock()
	if err := Check(ctx, st, job, keys); err != nil {
		return 0, err
	}
	return change()
}
