package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Ledger remembers, per job, destination scope and record key, what was
// last sent and how it went, keeps the history of runs, and holds the locks
// that keep runs apart. With one, a run sends only what changed and retries
// only what can succeed, and two runs of one job never overlap.
type Ledger interface {
	// Lock takes the named lock for this process, for job, or fails at once.
	// When another holds it, the error has a Holder() string method that
	// names the holder.
	Lock(ctx context.Context, name, job string) (Lock, error)
	// Lookup returns the entries it has for keys.
	Lookup(ctx context.Context, job, scope string, keys []string) (map[string]LedgerEntry, error)
	// Begin records that a batch is about to be sent, before it is.
	Begin(ctx context.Context, run int64, job, scope string, sends []LedgerSend) error
	// Record stores a batch's outcomes, with the run's progress, at once,
	// for the entries this run began. The engine decides each status (see
	// Outcomes); a ledger stores it as it is.
	Record(ctx context.Context, run int64, job, scope string, outcomes []LedgerOutcome) error
	// Staged lists the tokens of commits that staged records still wait on.
	Staged(ctx context.Context, job, scope string) ([]string, error)
	// Settle ends the staging of a token's records: LedgerOK, LedgerPending
	// (to be sent again) or LedgerFailed with message.
	Settle(ctx context.Context, job, scope, token, status, message string) error
	// Adopt moves job's entries from an older scope to scope, once.
	Adopt(ctx context.Context, job, from, scope string) error
	StartRun(ctx context.Context, job, trigger string, at time.Time) (int64, error)
	FinishRun(ctx context.Context, run int64, at time.Time, s RunSummary, runErr error) error
}

// LockExtender is implemented by Locks that take a run's further locks (its
// shop's) on their own database session, where the ledger's locks are
// sessions (PostgreSQL): a run's locks then cost one connection, and live
// and die together.
type LockExtender interface {
	LockAlso(ctx context.Context, name, job string) (Lock, error)
}

// Lock is a lock a run holds.
type Lock interface {
	// SetRun says which run holds it, for the message others see.
	SetRun(ctx context.Context, run int64) error
	// Lost is closed when the lock is no longer held for sure.
	Lost() <-chan struct{}
	Unlock() error
}

// Ledger entry statuses.
const (
	LedgerOK      = "ok"      // accepted with this hash
	LedgerPending = "pending" // sent, or about to be; the outcome is not known
	LedgerFailed  = "failed"  // retried on the next run
	LedgerParked  = "parked"  // failed for good; waits for runner retry
	LedgerStaged  = "staged"  // accepted into a commit that has not happened yet
	// LedgerResolved is a parked record a person settled for good: it is
	// skipped while its payload stays the one that was parked.
	LedgerResolved = "resolved"
)

// LedgerSend is what a ledger keeps of one payload about to be sent: its
// key, the hash of everything it sends, and its values as JSON, for people
// reading the ledger, without the values mapped from personal fields,
// which the ledger never needs.
type LedgerSend struct {
	Key     string
	Hash    string
	Payload []byte
	Label   string // the record's label (an order number), for its story
}

// LedgerNoter is a Ledger that also keeps what a run made of the records
// it read and did not send (unchanged, excluded, skipped, bad), for each
// record's story. The ledger decides what is worth keeping of them.
type LedgerNoter interface {
	Note(ctx context.Context, run int64, job, scope string, notes []LedgerNote) error
}

// LedgerNote is one record a run read and did not send.
type LedgerNote struct {
	Label  string
	Key    string // "" when the record has none (excluded before mapping, a bad row)
	Status Status // Unchanged, Excluded, Skipped, Parked or Invalid
	Reason string // the filter that excluded it, or why
}

// ledgerSends prepares a batch's payloads for the ledger.
func (j *Job) ledgerSends(batch []Payload) ([]LedgerSend, error) {
	var personal []string
	for _, m := range j.Mappings {
		if m.personal {
			personal = append(personal, m.Field.Name)
		}
	}
	out := make([]LedgerSend, len(batch))
	for i, p := range batch {
		payload, hash, err := EncodePayload(p.Values)
		if err != nil {
			return nil, err
		}
		if len(personal) > 0 {
			kept := make(map[string]any, len(p.Values))
			for k, v := range p.Values {
				if !slices.Contains(personal, k) {
					kept[k] = v
				}
			}
			if payload, _, err = EncodePayload(kept); err != nil {
				return nil, err
			}
		}
		out[i] = LedgerSend{Key: p.Key, Hash: hash, Payload: payload}
	}
	return out, nil
}

// LedgerEntry is what a ledger knows of one record key.
type LedgerEntry struct {
	Hash    string
	Status  string
	Code    string
	Message string
	Fails   int // failed attempts in a row
}

// Unchanged reports whether a payload with hash needs no sending: the
// destination already accepted exactly this payload.
func (e LedgerEntry) Unchanged(hash string) bool {
	return e.Status == LedgerOK && e.Hash != "" && e.Hash == hash
}

// LedgerOutcome is what a ledger records of one payload's result.
type LedgerOutcome struct {
	Key     string
	Status  string // LedgerOK, LedgerFailed, LedgerParked or LedgerStaged
	Code    string
	Message string
	Token   string // with LedgerStaged: the commit that will make it visible
}

// Outcomes maps a batch's results to ledger statuses: accepted is ok, or
// staged when the Conn stages (token); a permanent failure is parked, any
// other failed, to be sent again on the next run.
func Outcomes(batch []Payload, results []Result, token string) []LedgerOutcome {
	out := make([]LedgerOutcome, len(batch))
	for i, p := range batch {
		r := results[i]
		o := LedgerOutcome{Key: p.Key, Status: LedgerOK, Code: r.Code, Message: r.Message}
		switch {
		case r.OK && token != "":
			o.Status, o.Token = LedgerStaged, token
		case r.OK:
		case r.Permanent:
			o.Status = LedgerParked
		default:
			o.Status = LedgerFailed
		}
		out[i] = o
	}
	return out
}

// EncodePayload returns the canonical JSON of a payload's values (object
// keys sorted, as encoding/json writes maps) and its hash: hex of the first
// 128 bits of the JSON's SHA-256. A ledger stores both; the hash is what
// tells an unchanged record.
func EncodePayload(values map[string]any) (payload []byte, hash string, err error) {
	payload, err = json.Marshal(values)
	if err != nil {
		return nil, "", fmt.Errorf("encode payload: %w", err)
	}
	sum := sha256.Sum256(payload)
	return payload, hex.EncodeToString(sum[:16]), nil
}

// PayloadHash identifies a payload's content: the same values give the
// same hash whatever the map order. Values that cannot be encoded hash to
// "", which never matches a recorded hash, so such a payload is always sent.
func PayloadHash(p Payload) string {
	_, h, err := EncodePayload(p.Values)
	if err != nil {
		return ""
	}
	return h
}

// markKnown turns items the ledger already has into Unchanged or Parked.
// Keys not found in scope are looked up in fallback too, when it differs:
// the scope a ledger written before scopes existed used (plan reads it; a
// run adopts it first).
func (j *Job) markKnown(ctx context.Context, l Ledger, scope, fallback string, force bool, items []Item) error {
	if l == nil {
		return nil
	}
	var keys []string
	for i := range items {
		if items[i].Status == Send {
			keys = append(keys, items[i].Payload.Key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	known, err := l.Lookup(ctx, j.Name, scope, keys)
	if err != nil {
		return err
	}
	if fallback != "" && fallback != scope && len(known) < len(keys) {
		var rest []string
		for _, k := range keys {
			if _, ok := known[k]; !ok {
				rest = append(rest, k)
			}
		}
		old, err := l.Lookup(ctx, j.Name, fallback, rest)
		if err != nil {
			return err
		}
		for k, e := range old {
			known[k] = e
		}
	}
	for i := range items {
		it := &items[i]
		if it.Status != Send {
			continue
		}
		e, ok := known[it.Payload.Key]
		it.fails = e.Fails
		if ok {
			it.entry = &e
		}
		switch {
		case !ok:
		case !force && e.Unchanged(PayloadHash(it.Payload)):
			it.Status = Unchanged
		case e.Status == LedgerResolved && e.Hash == PayloadHash(it.Payload):
			it.Status, it.Reason = Skipped, "resolved "+e.Message
		case e.Status == LedgerParked:
			it.Status = Parked
			it.Reason = e.Code
			if e.Message != "" {
				it.Reason += ": " + e.Message
			}
		}
	}
	return nil
}

// Scope is the ledger scope of the job's records: the destination's own
// (a shop, a directory) when it has one, else its type. Pointing a job at
// another shop starts from an empty memory.
func (j *Job) Scope() string {
	if s, ok := j.Dest.(Scoper); ok {
		if sc := s.Scope(); sc != "" {
			return sc
		}
	}
	return j.DestType
}

// JobLock is the name of the lock a run of job holds.
func JobLock(job string) string { return "job:" + job }

// Shares lists the names of the locks a run takes for the budgets the
// job's connectors share with other jobs: whatever else talks to the same
// shop (reconcile) takes them too.
func (j *Job) Shares() []string { return j.shares() }

// shares lists the budgets the job's connectors share with other jobs, each
// the name of a lock a run holds, sorted so that runs take them in one
// order and never deadlock.
func (j *Job) shares() []string {
	var out []string
	for _, c := range []any{j.Source, j.Dest} {
		if s, ok := c.(Sharer); ok {
			out = append(out, s.Shares()...)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}
