package enginetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goqsync/runner/engine"
)

// DestinationConfig says what a Destination declares.
type DestinationConfig struct {
	Fields []engine.Field
	// KeyFields make a payload's key: their values joined by "/". The
	// first field when empty.
	KeyFields []string
	BatchSize int // 100 when 0
	Actions   []engine.Action
	// Scope, Caveat and Shares are what the engine.Scoper, engine.Caveater
	// and engine.Sharer methods return; empty means none.
	Scope  string
	Caveat string
	Shares []string
	// StageToken, when set, makes every Conn a Stager with that token:
	// accepted records are staged until Close commits them.
	StageToken string
}

// Step scripts one call, in place of the per-key answers.
type Step struct {
	// Do runs first: a test closes RunOptions.Stop here to stop a run
	// with this batch in flight.
	Do func()
	// Delay waits before answering, or until ctx is done, when the call
	// fails with ctx's error.
	Delay time.Duration
	Err   error // the whole call fails
	Short int   // return this many fewer results than payloads
}

// Call is one call a Conn received.
type Call struct {
	Op       string // "write", an action's name, or "close"
	Payloads []engine.Payload
}

// Keys lists the keys of the call's payloads.
func (c Call) Keys() []string {
	out := make([]string, len(c.Payloads))
	for i, p := range c.Payloads {
		out[i] = p.Key
	}
	return out
}

// Destination is an engine.Destination whose Conns answer as scripted:
// every payload is accepted unless Answer says otherwise, and Script
// overrides a whole call. It implements engine.Scoper, engine.Caveater,
// engine.Sharer, engine.Comparer and engine.Resolver, and its Conns
// engine.Stager; with a zero DestinationConfig those change nothing. It is
// safe for concurrent runs, whose calls it records in one list.
type Destination struct {
	cfg DestinationConfig

	mu        sync.Mutex
	answers   map[string]map[string]engine.Result // op → key → result
	steps     map[string]map[int]Step             // op → call number → step
	n         map[string]int                      // op → calls so far
	calls     []Call
	held      map[string]map[string]any
	committed map[string]bool
	resolved  [][]string
}

// NewDestination returns a destination that accepts everything until
// scripted otherwise.
func NewDestination(cfg DestinationConfig) *Destination {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 100
	}
	if len(cfg.KeyFields) == 0 && len(cfg.Fields) > 0 {
		cfg.KeyFields = []string{cfg.Fields[0].Name}
	}
	return &Destination{cfg: cfg, answers: map[string]map[string]engine.Result{},
		steps: map[string]map[int]Step{}, n: map[string]int{}, held: map[string]map[string]any{}, committed: map[string]bool{}}
}

// Answer sets the result op ("write" or an action's name) gives key.
func (d *Destination) Answer(op, key string, r engine.Result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.answers[op] == nil {
		d.answers[op] = map[string]engine.Result{}
	}
	d.answers[op][key] = r
}

// Script sets how the nth call (from 1) of op goes: op is "open",
// "write", an action's name, "close" or "current".
func (d *Destination) Script(op string, n int, s Step) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.steps[op] == nil {
		d.steps[op] = map[int]Step{}
	}
	d.steps[op][n] = s
}

// Hold sets what Current reports the destination holds for key.
func (d *Destination) Hold(key string, values map[string]any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.held[key] = values
}

// Commit sets whether Resolve reports token's commit as made. A Conn's
// Close that succeeds commits its token.
func (d *Destination) Commit(token string, made bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.committed[token] = made
}

// Calls returns every call so far, in order.
func (d *Destination) Calls() []Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

// Ops lists the calls so far as "op key,key": a compact form to compare.
func (d *Destination) Ops() []string {
	var out []string
	for _, c := range d.Calls() {
		s := c.Op
		if len(c.Payloads) > 0 {
			s += " " + strings.Join(c.Keys(), ",")
		}
		out = append(out, s)
	}
	return out
}

// Resolved lists the tokens of each Resolve call.
func (d *Destination) Resolved() [][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.resolved)
}

func (d *Destination) Fields() []engine.Field { return d.cfg.Fields }
func (d *Destination) BatchSize() int         { return d.cfg.BatchSize }
func (d *Destination) Scope() string          { return d.cfg.Scope }
func (d *Destination) Caveat() string         { return d.cfg.Caveat }
func (d *Destination) Shares() []string       { return d.cfg.Shares }

// Key joins the values of the key fields with "/"; an unset one is "".
func (d *Destination) Key(values map[string]any) string {
	parts := make([]string, len(d.cfg.KeyFields))
	for i, f := range d.cfg.KeyFields {
		if v, ok := values[f]; ok {
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, "/")
}

// Open connects, unless the "open" script says otherwise.
func (d *Destination) Open(ctx context.Context) (engine.Conn, error) {
	step, err := d.begin(ctx, "open", nil)
	if err == nil {
		err = step.Err
	}
	if err != nil {
		return nil, err
	}
	return &conn{d: d, token: d.cfg.StageToken}, nil
}

// Current reports what Hold set, nil for keys it did not.
func (d *Destination) Current(ctx context.Context, batch []engine.Payload) ([]map[string]any, error) {
	step, err := d.begin(ctx, "current", nil)
	if err == nil {
		err = step.Err
	}
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]map[string]any, len(batch)-min(step.Short, len(batch)))
	for i := range out {
		out[i] = maps.Clone(d.held[batch[i].Key])
	}
	return out, nil
}

// Resolve reports which tokens were committed.
func (d *Destination) Resolve(ctx context.Context, tokens []string) (map[string]bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.resolved = append(d.resolved, slices.Clone(tokens))
	out := map[string]bool{}
	for _, t := range tokens {
		out[t] = d.committed[t]
	}
	return out, nil
}

// begin counts and records a call of op, runs its step's Do and waits its
// Delay; the error is ctx's, when it ends first.
func (d *Destination) begin(ctx context.Context, op string, batch []engine.Payload) (Step, error) {
	d.mu.Lock()
	d.n[op]++
	step := d.steps[op][d.n[op]]
	if op != "open" && op != "current" {
		c := Call{Op: op, Payloads: make([]engine.Payload, len(batch))}
		for i, p := range batch {
			c.Payloads[i] = engine.Payload{Key: p.Key, Pos: p.Pos, Values: maps.Clone(p.Values)}
		}
		d.calls = append(d.calls, c)
	}
	d.mu.Unlock()
	if step.Do != nil {
		step.Do()
	}
	if step.Delay > 0 {
		t := time.NewTimer(step.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return step, ctx.Err()
		}
	}
	return step, nil
}

// answer runs a Write or Apply.
func (d *Destination) answer(ctx context.Context, op string, batch []engine.Payload) ([]engine.Result, error) {
	step, err := d.begin(ctx, op, batch)
	if err == nil {
		err = step.Err
	}
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]engine.Result, len(batch)-min(step.Short, len(batch)))
	for i := range out {
		r, ok := d.answers[op][batch[i].Key]
		if !ok {
			r = engine.Result{OK: true}
		}
		out[i] = r
	}
	return out, nil
}

type conn struct {
	d     *Destination
	token string
}

func (c *conn) Write(ctx context.Context, batch []engine.Payload) ([]engine.Result, error) {
	return c.d.answer(ctx, "write", batch)
}

func (c *conn) Apply(ctx context.Context, action string, batch []engine.Payload) ([]engine.Result, error) {
	if !slices.ContainsFunc(c.d.cfg.Actions, func(a engine.Action) bool { return a.Name == action }) {
		return nil, fmt.Errorf("apply %q: not a declared action", action)
	}
	return c.d.answer(ctx, action, batch)
}

// Close commits the Conn's token unless the "close" script fails it.
func (c *conn) Close(ctx context.Context) error {
	step, err := c.d.begin(ctx, "close", nil)
	if err == nil {
		err = step.Err
	}
	if err != nil {
		return err
	}
	if c.token != "" {
		c.d.Commit(c.token, true)
	}
	return nil
}

func (c *conn) StageToken() string { return c.token }

// StopRun marks err as ending the whole run (engine.StopsRun).
func StopRun(err error) error { return stopRun{err} }

type stopRun struct{ err error }

func (s stopRun) Error() string  { return s.err.Error() }
func (s stopRun) Unwrap() error  { return s.err }
func (s stopRun) StopsRun() bool { return true }

var _ interface {
	engine.Destination
	engine.Scoper
	engine.Caveater
	engine.Sharer
	engine.Comparer
	engine.Resolver
} = (*Destination)(nil)

var _ interface {
	engine.Conn
	engine.Stager
} = (*conn)(nil)
