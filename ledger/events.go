package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Event kinds besides the entry statuses a send goes through (pending, ok,
// failed, parked, staged): what a run made of a record it did not send.
const (
	EventUnchanged = "unchanged" // the destination already has this payload
	EventExcluded  = "excluded"  // a filter (Message) kept it out
	EventSkipped   = "skipped"   // parked or resolved before (Message says which)
	EventError     = "error"     // a data error (Message)
)

// sendEvents are the kinds a send's event goes through; a note's repeats
// are counted from the latest of them.
var sendEvents = `'pending', 'ok', 'failed', 'parked', 'staged'`

// Event is one thing that happened to one record in one run.
type Event struct {
	ID      int64           `json:"id"`
	RunID   int64           `json:"run_id"`
	Job     string          `json:"job"`
	Dest    string          `json:"dest"`
	Key     string          `json:"key,omitempty"`
	Label   string          `json:"label"`
	Event   string          `json:"event"`
	Code    string          `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	At      time.Time       `json:"at"`
}

// Note is a record a run read and did not send.
type Note struct {
	Label  string
	Key    string // "" when the record never got one (excluded, a bad row)
	Event  string // EventUnchanged, EventExcluded, EventSkipped or EventError
	Reason string // the filter, or why
}

// beginEvents adds a pending event per send, in Begin's transaction.
func (s *Store) beginEvents(ctx context.Context, tx *sql.Tx, runID int64, job, dest string, sends []Send, now time.Time) error {
	for rest := sends; len(rest) > 0; {
		n := min(len(rest), chunk)
		var q strings.Builder
		q.WriteString(`INSERT INTO ledger_events (run_id, job, dest, key, label, event, payload, at) VALUES `)
		args := make([]any, 0, n*7)
		for i, sd := range rest[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(`(?, ?, ?, ?, ?, 'pending', ?, ?)`)
			label := sd.Label
			if label == "" {
				label = sd.Key
			}
			args = append(args, runID, job, dest, sd.Key, label, string(sd.Payload), now)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(q.String()), args...); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

// recordEvents turns the run's pending events of outcomes' keys into their
// outcomes, in Record's transaction. Outcomes alike share one statement.
func (s *Store) recordEvents(ctx context.Context, tx *sql.Tx, runID int64, job, dest string, outcomes []Outcome, now time.Time) error {
	type kind struct{ status, code, message string }
	var order []kind
	keys := map[kind][]string{}
	for _, o := range outcomes {
		k := kind{o.Status, o.Code, o.Message}
		if _, ok := keys[k]; !ok {
			order = append(order, k)
		}
		keys[k] = append(keys[k], o.Key)
	}
	for _, k := range order {
		for rest := keys[k]; len(rest) > 0; {
			n := min(len(rest), chunk)
			args := []any{k.status, k.code, k.message, now, runID, job, dest}
			for _, key := range rest[:n] {
				args = append(args, key)
			}
			if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE ledger_events SET event = ?, code = ?, message = ?, at = ?
				WHERE run_id = ? AND job = ? AND dest = ? AND event = 'pending' AND key IN (`+placeholders(n)+`)`), args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
	}
	return nil
}

// settleEvents gives the staged events of token's entries their outcome,
// in Settle's transaction, before the entries forget their token.
func (s *Store) settleEvents(ctx context.Context, tx *sql.Tx, job, dest, token, status, message string, now time.Time) error {
	_, err := tx.ExecContext(ctx, s.rebind(`UPDATE ledger_events SET event = ?, message = ?, at = ?
		WHERE event = 'staged' AND job = ? AND dest = ? AND EXISTS (SELECT 1 FROM ledger_entries e
			WHERE e.job = ledger_events.job AND e.dest = ledger_events.dest AND e.key = ledger_events.key
			AND e.run_id = ledger_events.run_id AND e.token = ? AND e.status = 'staged')`),
		status, message, now, job, dest, token)
	return err
}

// Note records what a run made of records it read and did not send, once
// per change: a note is written unless the same one (key, kind, reason) is
// already in its label's story since the label's latest send. A run reading
// the same thousands of unchanged or excluded orders every ten minutes thus
// writes nothing after the first time; the run's counts say it read them.
// An unchanged record needs no note after the send it repeats.
func (s *Store) Note(ctx context.Context, runID int64, job, dest string, notes []Note) error {
	byLabel := map[string][]Note{}
	var labels []string
	for _, n := range notes {
		if n.Label == "" {
			n.Label = n.Key
		}
		if n.Label == "" {
			continue // nobody can ask for it
		}
		if _, ok := byLabel[n.Label]; !ok {
			labels = append(labels, n.Label)
		}
		byLabel[n.Label] = append(byLabel[n.Label], n)
	}
	now := s.now().UTC()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for rest := labels; len(rest) > 0; {
			n := min(len(rest), chunk)
			seen, err := s.recentNotes(ctx, tx, job, dest, rest[:n])
			if err != nil {
				return err
			}
			var q strings.Builder
			var args []any
			for _, label := range rest[:n] {
				for _, nt := range byLabel[label] {
					id := noteID(nt.Key, nt.Event, nt.Reason)
					if seen[label][id] {
						continue
					}
					if seen[label] == nil {
						seen[label] = map[string]bool{}
					}
					seen[label][id] = true
					if len(args) > 0 {
						q.WriteString(", ")
					}
					q.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?)`)
					args = append(args, runID, job, dest, nt.Key, label, nt.Event, nt.Reason, now)
				}
			}
			if len(args) > 0 {
				if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO ledger_events (run_id, job, dest, key, label, event, message, at) VALUES `+q.String()), args...); err != nil {
					return err
				}
			}
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("note records of %s → %s: %w", job, dest, err)
	}
	return nil
}

func noteID(key, event, reason string) string {
	if event == StatusOK {
		event = EventUnchanged // an accepted send is what unchanged repeats
	}
	return key + "\x00" + event + "\x00" + reason
}

// recentNotes returns, per label, the events since the label's latest send
// (that send included), as noteIDs.
func (s *Store) recentNotes(ctx context.Context, tx *sql.Tx, job, dest string, labels []string) (map[string]map[string]bool, error) {
	args := []any{job, dest}
	for _, l := range labels {
		args = append(args, l)
	}
	rows, err := tx.QueryContext(ctx, s.rebind(`SELECT label, key, event, message FROM ledger_events e
		WHERE job = ? AND dest = ? AND label IN (`+placeholders(len(labels))+`)
		AND id >= COALESCE((SELECT max(id) FROM ledger_events l WHERE l.label = e.label AND l.job = e.job
			AND l.dest = e.dest AND l.event IN (`+sendEvents+`)), 0)`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]bool{}
	for rows.Next() {
		var label, key, event, msg string
		if err := rows.Scan(&label, &key, &event, &msg); err != nil {
			return nil, err
		}
		if event != StatusOK && !isNote(event) {
			continue
		}
		if event == StatusOK {
			msg = ""
		}
		if out[label] == nil {
			out[label] = map[string]bool{}
		}
		out[label][noteID(key, event, msg)] = true
	}
	return out, rows.Err()
}

func isNote(event string) bool {
	switch event {
	case EventUnchanged, EventExcluded, EventSkipped, EventError:
		return true
	}
	return false
}

const eventColumns = `id, run_id, job, dest, key, label, event, code, message, payload, at`

// Story returns the events of the records labelled label (an order
// number), of every job, newest first; at most limit when limit > 0.
func (s *Store) Story(ctx context.Context, label string, limit int) ([]Event, error) {
	q := `SELECT ` + eventColumns + ` FROM ledger_events WHERE label = ? ORDER BY id DESC`
	args := []any{label}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	out, err := s.queryEvents(ctx, q, args)
	if err != nil {
		return nil, fmt.Errorf("story of %s: %w", label, err)
	}
	return out, nil
}

// RunEvents returns the events of run id of the given kinds (all when
// none), oldest first; at most limit when limit > 0.
func (s *Store) RunEvents(ctx context.Context, id int64, limit int, kinds ...string) ([]Event, error) {
	q := `SELECT ` + eventColumns + ` FROM ledger_events WHERE run_id = ?`
	args := []any{id}
	if len(kinds) > 0 {
		q += ` AND event IN (` + placeholders(len(kinds)) + `)`
		for _, k := range kinds {
			args = append(args, k)
		}
	}
	q += ` ORDER BY id`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	out, err := s.queryEvents(ctx, q, args)
	if err != nil {
		return nil, fmt.Errorf("events of run %d: %w", id, err)
	}
	return out, nil
}

func (s *Store) queryEvents(ctx context.Context, q string, args []any) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var (
			e       Event
			payload string
		)
		if err := rows.Scan(&e.ID, &e.RunID, &e.Job, &e.Dest, &e.Key, &e.Label, &e.Event, &e.Code,
			&e.Message, &payload, &e.At); err != nil {
			return nil, err
		}
		if payload != "" {
			e.Payload = json.RawMessage(payload)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// pruneChunk bounds the rows one statement of Prune deletes, so that a
// first prune of a long history does not hold the database for long.
const pruneChunk = 5000

// KeepEvents makes every finished run prune the events older than d.
func (s *Store) KeepEvents(d time.Duration) { s.keep = d }

// Prune deletes the events older than before and returns how many.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		res, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM ledger_events WHERE id IN
			(SELECT id FROM ledger_events WHERE at < ? LIMIT ?)`), before.UTC(), pruneChunk)
		if err != nil {
			return total, fmt.Errorf("prune events: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("prune events: %w", err)
		}
		total += int(n)
		if n < pruneChunk {
			return total, nil
		}
	}
}

// In gives the event's time in loc, its job's zone.
func (e Event) In(loc *time.Location) Event {
	e.At = e.At.In(loc)
	return e
}
