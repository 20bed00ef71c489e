package engine

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// A saved plan is what `runner plan -out FILE` writes and `runner apply
// FILE` sends: JSON, one document, its "format" PlanFormat and its
// "format_version" PlanFormatVersion. Orders come one a line, so that a
// plan of 100,000 orders reads in a pager and diffs line by line.
const (
	PlanFormat        = "runner-plan"
	PlanFormatVersion = 1
)

// SavedPlan is a plan kept for applying later: what was planned, exactly,
// and what it was planned from, so that apply can refuse a plan whose
// premises changed.
type SavedPlan struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	Job           string `json:"job"`
	Source        string `json:"source"`
	Destination   string `json:"destination"`
	// Now is the plan's clock: the time its filters were evaluated at, and
	// what apply measures the plan's age from.
	Now      time.Time `json:"now"`
	TimeZone string    `json:"time_zone"`
	// Created is the wall clock when the plan was written.
	Created time.Time `json:"created"`
	// Dir is the working directory the plan was made in: relative paths
	// in the job (an export) mean the same at apply.
	Dir string `json:"dir"`
	// Inputs are the job and variable files loaded, with their hashes.
	Inputs []PlanInput `json:"inputs"`
	// Variables are every declared variable's value, except a sensitive
	// one's, which is marked and left out (apply reads it again).
	Variables []PlanVariable `json:"variables,omitempty"`
	// Args are the -var and -var-file arguments apply repeats, without
	// those that set a sensitive variable.
	Args []VarArg `json:"var_args,omitempty"`
	// Identity is the destination's identity, the ledger scope: for
	// futureshop the API host and a hash of the shop key, never the key.
	Identity string `json:"destination_identity"`
	Ledger   string `json:"ledger,omitempty"` // which ledger the plan read, when it read one
	Force    bool   `json:"force,omitempty"`  // planned with -force: the ledger's "unchanged" ignored
	// Fields are the mapped destination fields, in the job's order.
	Fields []string `json:"fields"`
	// Actions run after export on each order whose export succeeds.
	Actions     []string       `json:"after_export,omitempty"`
	Counts      Counts         `json:"summary"`
	SideEffects []SideEffect   `json:"side_effects,omitempty"`
	Cost        *PlanCost      `json:"cost,omitempty"`
	Orders      []PlannedOrder `json:"-"` // written and read as "orders", one a line
}

// PlanInput is one file a plan was made from.
type PlanInput struct {
	Path   string `json:"path"` // absolute
	Kind   string `json:"kind"` // "job" or "variables"
	SHA256 string `json:"sha256"`
}

// PlanVariable is one variable's value at plan time.
type PlanVariable struct {
	Name      string          `json:"name"`
	Value     json.RawMessage `json:"value,omitempty"` // the value as HCL's JSON; absent when sensitive
	Type      json.RawMessage `json:"type,omitempty"`
	Sensitive bool            `json:"sensitive,omitempty"`
}

// PlannedOrder is one order a saved plan sends.
type PlannedOrder struct {
	Key   string `json:"key"`
	Label string `json:"label,omitempty"`
	Pos   string `json:"pos"`
	// Row fingerprints the source row the payload was computed from.
	Row Fingerprint `json:"row"`
	// Hash is the payload's hash (EncodePayload), as the ledger keeps it.
	Hash    string         `json:"hash"`
	Payload map[string]any `json:"payload"`
	// Ledger is the ledger's entry for the key at plan time; nil: none.
	Ledger *PlanLedger `json:"ledger,omitempty"`
}

// PlanLedger is what a ledger held for an order when it was planned.
type PlanLedger struct {
	Status string `json:"status"`
	Hash   string `json:"hash,omitempty"`
	Code   string `json:"code,omitempty"`
	Fails  int    `json:"fails,omitempty"`
}

func planLedger(e LedgerEntry) *PlanLedger {
	return &PlanLedger{Status: e.Status, Hash: e.Hash, Code: e.Code, Fails: e.Fails}
}

func (l *PlanLedger) String() string {
	if l == nil {
		return "none"
	}
	s := l.Status
	if l.Code != "" {
		s += " " + l.Code
	}
	if l.Fails > 0 {
		s += fmt.Sprintf(" after %d failure(s)", l.Fails)
	}
	if l.Hash != "" {
		s += " with payload " + l.Hash[:min(8, len(l.Hash))]
	}
	return s
}

// PlanCost is Cost in a saved plan: the kinds in the order they come.
type PlanCost struct {
	Calls   []Calls `json:"calls"`
	Total   int     `json:"total"`
	Seconds float64 `json:"seconds,omitempty"`
	Rate    float64 `json:"rate,omitempty"`
}

func planCost(c Cost) *PlanCost {
	pc := &PlanCost{Total: c.Total, Seconds: c.Seconds, Rate: c.Rate}
	for _, k := range c.kinds {
		pc.Calls = append(pc.Calls, Calls{Kind: k, N: c.Calls[k]})
	}
	return pc
}

func (pc *PlanCost) cost() Cost {
	var c Cost
	for _, k := range pc.Calls {
		c.add(k)
	}
	c.Seconds, c.Rate = pc.Seconds, pc.Rate
	return c
}

// MarshalJSON writes Calls as {"kind":…,"n":…}.
func (k Calls) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Kind string `json:"kind"`
		N    int    `json:"n"`
	}{k.Kind, k.N})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (k *Calls) UnmarshalJSON(b []byte) error {
	var v struct {
		Kind string `json:"kind"`
		N    int    `json:"n"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	k.Kind, k.N = v.Kind, v.N
	return nil
}

// NewSavedPlan starts a saved plan of cfg: the files it was loaded from,
// with their hashes, and its variables. Plan (PlanOptions.Save) adds the
// rest.
func NewSavedPlan(cfg *Config) (*SavedPlan, error) {
	p := &SavedPlan{Format: PlanFormat, FormatVersion: PlanFormatVersion, Created: time.Now().UTC()}
	var err error
	if p.Dir, err = os.Getwd(); err != nil {
		return nil, fmt.Errorf("save plan: %w", err)
	}
	in, err := cfg.inputs()
	if err != nil {
		return nil, fmt.Errorf("save plan: %w", err)
	}
	p.Inputs = in
	if p.Variables, err = cfg.planVariables(); err != nil {
		return nil, fmt.Errorf("save plan: %w", err)
	}
	sensitive := map[string]bool{}
	for _, v := range p.Variables {
		sensitive[v.Name] = v.Sensitive
	}
	for _, a := range cfg.varArgs {
		if a.File {
			abs, err := filepath.Abs(a.Value)
			if err != nil {
				return nil, fmt.Errorf("save plan: %w", err)
			}
			a.Value = abs
		} else if name, _, _ := strings.Cut(a.Value, "="); sensitive[strings.TrimSpace(name)] {
			continue
		}
		p.Args = append(p.Args, a)
	}
	return p, nil
}

// planVariables are cfg's variables as a saved plan keeps them, by name: a
// sensitive one marked, without its value.
func (c *Config) planVariables() ([]PlanVariable, error) {
	out := make([]PlanVariable, 0, len(c.vars))
	for _, v := range c.vars {
		pv := PlanVariable{Name: v.name, Sensitive: v.sensitive}
		if !v.sensitive {
			var err error
			if pv.Value, pv.Type, err = ctyJSON(c.values[v.name]); err != nil {
				return nil, fmt.Errorf("variable %s: %w", v.name, err)
			}
		}
		out = append(out, pv)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out, nil
}

// inputs lists the job and variable files cfg was loaded from, hashed as
// they were read.
func (c *Config) inputs() ([]PlanInput, error) {
	var out []PlanInput
	add := func(path, kind string) error {
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		var src []byte
		if f, ok := c.Files[path]; ok {
			src = f.Bytes
		} else if src, err = os.ReadFile(path); err != nil {
			return err
		}
		sum := sha256.Sum256(src)
		out = append(out, PlanInput{Path: abs, Kind: kind, SHA256: hex.EncodeToString(sum[:])})
		return nil
	}
	for _, f := range c.jobFiles {
		if err := add(f, "job"); err != nil {
			return nil, err
		}
	}
	for _, a := range c.varArgs {
		if a.File {
			if err := add(a.Value, "variables"); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func ctyJSON(v cty.Value) (value, typ json.RawMessage, err error) {
	value, err = ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, nil, err
	}
	typ, err = ctyjson.MarshalType(v.Type())
	return value, typ, err
}

// JobPaths are the job files of the plan, and Vars the -var and -var-file
// arguments to load them with again.
func (p *SavedPlan) JobPaths() []string {
	var out []string
	for _, in := range p.Inputs {
		if in.Kind == "job" {
			out = append(out, in.Path)
		}
	}
	return out
}

// Write writes the plan in its file format.
func (p *SavedPlan) Write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	orders := p.Orders
	head := *p
	head.Orders = nil
	b, err := json.Marshal(head)
	if err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	bw.Write(b[:len(b)-1])
	bw.WriteString(`,"orders":[`)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i, o := range orders {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		buf.Reset()
		if err := enc.Encode(o); err != nil {
			return fmt.Errorf("write plan: order %s: %w", o.Key, err)
		}
		bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// WriteFile writes the plan to path, readable by its owner only (payloads
// may hold a buyer's data), through a temporary file renamed into place so
// that an interrupted write leaves no half plan to apply.
func (p *SavedPlan) WriteFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := p.Write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write plan: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// ReadPlan reads a saved plan. It refuses a file of another format or of
// a version it does not know.
func ReadPlan(r io.Reader) (*SavedPlan, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	dec.UseNumber() // payload numbers stay exact until the job's types say what they are
	var p SavedPlan
	doc := struct {
		*SavedPlan
		Orders *[]PlannedOrder `json:"orders"`
	}{&p, &p.Orders}
	if err := dec.Decode(&doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("not a saved plan: invalid JSON at byte %d: %v", se.Offset, err)
		}
		return nil, fmt.Errorf("not a saved plan: %w", err)
	}
	switch {
	case p.Format != PlanFormat:
		return nil, fmt.Errorf("not a saved plan (format %q, want %q)", p.Format, PlanFormat)
	case p.FormatVersion != PlanFormatVersion:
		return nil, fmt.Errorf("saved plan format version %d; this runner reads version %d", p.FormatVersion, PlanFormatVersion)
	}
	return &p, nil
}

// ReadPlanFile reads the saved plan at path.
func ReadPlanFile(path string) (*SavedPlan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := ReadPlan(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// PlanChangedError is apply's refusal of a plan whose premises changed;
// nothing was sent.
type PlanChangedError struct{ Reasons []string }

func (e *PlanChangedError) Error() string {
	return "the plan no longer holds, nothing was sent: " + strings.Join(e.Reasons, "; ")
}

// Check compares the plan with what cfg and j, loaded again from the
// plan's files and arguments, are now: the files' hashes, the variables'
// values, the destination's identity, the plan's age at now (maxAge; 0: no
// limit), and each payload against its hash. It returns a *PlanChangedError naming every difference.
func (p *SavedPlan) Check(cfg *Config, j *Job, now time.Time, maxAge time.Duration) error {
	var why []string
	if j.Name != p.Job {
		why = append(why, fmt.Sprintf("the plan is of job %q, not %q", p.Job, j.Name))
	}
	cur, err := cfg.inputs()
	if err != nil {
		why = append(why, err.Error())
	}
	was := map[string]PlanInput{}
	for _, in := range p.Inputs {
		was[in.Path] = in
	}
	for _, in := range cur {
		old, ok := was[in.Path]
		switch {
		case !ok:
			why = append(why, fmt.Sprintf("%s file %s was not part of the plan", in.Kind, in.Path))
		case old.SHA256 != in.SHA256:
			why = append(why, fmt.Sprintf("%s file %s changed since the plan", in.Kind, in.Path))
		}
		delete(was, in.Path)
	}
	for _, in := range p.Inputs {
		if _, gone := was[in.Path]; gone {
			why = append(why, fmt.Sprintf("%s file %s is no longer loaded", in.Kind, in.Path))
		}
	}
	vars, err := cfg.planVariables()
	if err != nil {
		why = append(why, err.Error())
	}
	now2 := map[string]PlanVariable{}
	for _, v := range vars {
		now2[v.Name] = v
	}
	for _, v := range p.Variables {
		c, ok := now2[v.Name]
		switch {
		case !ok:
			why = append(why, fmt.Sprintf("variable %s is no longer declared", v.Name))
		case c.Sensitive != v.Sensitive:
			why = append(why, fmt.Sprintf("variable %s changed its sensitivity", v.Name))
		case !v.Sensitive && !bytes.Equal(c.Value, v.Value):
			why = append(why, fmt.Sprintf("variable %s is %s now, %s in the plan", v.Name, Clip(string(c.Value)), Clip(string(v.Value))))
		}
		delete(now2, v.Name)
	}
	for n := range now2 {
		why = append(why, fmt.Sprintf("variable %s was not part of the plan", n))
	}
	if id := j.Scope(); id != p.Identity {
		why = append(why, fmt.Sprintf("the destination is %q now, %q in the plan", id, p.Identity))
	}
	if age := now.Sub(p.Now); maxAge > 0 && age > maxAge {
		why = append(why, fmt.Sprintf("the plan is %s old, older than -max-age %s (its date windows have moved: plan again)", age.Round(time.Second), maxAge))
	} else if age < -time.Minute {
		why = append(why, fmt.Sprintf("the plan's clock %s is ahead of now %s", p.Now.Format(time.RFC3339), now.Format(time.RFC3339)))
	}
	if _, err := j.plannedPayloads(p); err != nil {
		why = append(why, err.Error())
	}
	if len(why) > 0 {
		slices.Sort(why)
		return &PlanChangedError{Reasons: why}
	}
	return nil
}

// Show writes the saved plan as Plan wrote it (JSON with asJSON): each
// order to send with its payload, then the plan's summary. The records it
// did not send are counted in the summary, not listed: a saved plan keeps
// only what apply sends.
func (p *SavedPlan) Show(w io.Writer, asJSON bool) error {
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		loc = p.Now.Location()
	}
	j := &Job{Name: p.Job, SourceType: p.Source, DestType: p.Destination, Location: loc, Actions: p.Actions}
	for _, f := range p.Fields {
		j.Mappings = append(j.Mappings, &Mapping{Field: Field{Name: f}})
	}
	byKey := map[string][]string{}
	for _, fx := range p.SideEffects {
		for _, k := range fx.Keys {
			byKey[k] = append(byKey[k], fx.Message)
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	pw := &planWriter{w: bw, j: j, json: asJSON, now: p.Now}
	if p.Ledger != "" {
		pw.ledger, pw.scope = p.Ledger, p.Identity
	}
	for _, o := range p.Orders {
		it := Item{Pos: o.Pos, Label: o.Label, Status: Send, Payload: Payload{Key: o.Key, Pos: o.Pos, Values: o.Payload}}
		pw.item(&it, byKey[o.Key])
	}
	var cost *Cost
	if p.Cost != nil {
		c := p.Cost.cost()
		cost = &c
	}
	pw.end(p.Counts, p.SideEffects, cost)
	if err := bw.Flush(); err != nil && pw.err == nil {
		pw.err = err
	}
	return pw.err
}
