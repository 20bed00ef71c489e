package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Ledger remembers, per job, destination and record key, what was last
// sent and how it went, and keeps the history of runs. With one, a run
// sends only what changed and retries only what can succeed.
type Ledger interface {
	// Lookup returns the entries it has for keys.
	Lookup(ctx context.Context, job, dest string, keys []string) (map[string]LedgerEntry, error)
	// Begin records that batch is about to be sent, before it is.
	Begin(ctx context.Context, run int64, job, dest string, batch []Payload) error
	// Record stores a batch's results, with the run's progress, at once.
	Record(ctx context.Context, run int64, job, dest string, batch []Payload, results []Result) error
	StartRun(ctx context.Context, job, trigger string, at time.Time) (int64, error)
	FinishRun(ctx context.Context, run int64, at time.Time, s RunSummary, runErr error) error
}

// Ledger entry statuses.
const (
	LedgerOK      = "ok"      // accepted with this hash
	LedgerPending = "pending" // sent, or about to be; the outcome is not known
	LedgerFailed  = "failed"  // retried on the next run
	LedgerParked  = "parked"  // failed for good; waits for runner retry
)

// LedgerEntry is what a ledger knows of one record key.
type LedgerEntry struct {
	Hash    string
	Status  string
	Code    string
	Message string
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
func (j *Job) markKnown(ctx context.Context, l Ledger, force bool, items []Item) error {
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
	known, err := l.Lookup(ctx, j.Name, j.DestType, keys)
	if err != nil {
		return err
	}
	for i := range items {
		it := &items[i]
		if it.Status != Send {
			continue
		}
		e, ok := known[it.Payload.Key]
		switch {
		case !ok:
		case !force && e.Status == LedgerOK && e.Hash != "" && e.Hash == PayloadHash(it.Payload):
			it.Status = Unchanged
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
