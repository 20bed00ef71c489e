package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/goqsync/runner/engine"
)

// plan is `runner plan -json` decoded: the preview is that plan, so that
// the page and the CLI never disagree on what a run would do.
type plan struct {
	Job         string              `json:"job"`
	Source      string              `json:"source"`
	Destination string              `json:"destination"`
	Now         string              `json:"now"`
	TimeZone    string              `json:"time_zone"`
	Ledger      string              `json:"ledger"`
	LedgerScope string              `json:"ledger_scope"`
	Items       []planItem          `json:"items"`
	Summary     engine.Counts       `json:"summary"`
	AfterExport []string            `json:"after_export"`
	SideEffects []engine.SideEffect `json:"side_effects"`
	Cost        *engine.Cost        `json:"cost"`
}

type planItem struct {
	Pos     string         `json:"pos"`
	Label   string         `json:"label"`
	Status  string         `json:"status"`
	Filter  string         `json:"filter"`
	Values  map[string]any `json:"values"`
	Reason  string         `json:"reason"`
	Key     string         `json:"key"`
	Payload map[string]any `json:"payload"`
	Clears  []string       `json:"clears"`
	Effects []string       `json:"side_effects"`
}

// field is one value a send carries or an exclusion read.
type field struct {
	Name, Value string
	Clears      bool // "" over an existing value: the field is blanked
}

// previewItem is one record as the page shows it.
type previewItem struct {
	Status  string // send, excluded, unchanged, parked, skipped, error
	Label   string // the order number, or the record's key
	Key     string
	Pos     string // file:line
	Filter  string
	Reason  string
	Fields  []field
	Effects []string
}

// count is a name with how many records it holds.
type count struct {
	Name string
	N    int
}

type preview struct {
	Plan     plan
	Items    []previewItem // the records the page lists: those the filter keeps, up to maxRows
	ByFilter []count       // exclusions by filter, in the order met
	Calls    []count       // the API calls the run takes, by kind
	Show, Q  string        // the list's filter and search, without JavaScript
	Shown    int           // records the filter keeps, listed or not
	Total    int           // records in the plan
	// Truncated says the page lists only the first maxRows records the
	// filter keeps: filtering then asks the server, not the page's script.
	Truncated bool
	// PlanID names the saved plan the page shows, which 「この内容で実行」
	// applies.
	PlanID string
}

// maxRows bounds the records a preview lists, so that an export of a
// million rows costs the page, and serve's memory, no more than this; the
// summary counts them all, and the filter finds the others.
const maxRows = 2000

// errEnough ends a plan the page no longer reads.
var errEnough = errors.New("preview: stopped reading")

// loadPreview computes the job's plan now and shapes it for the page,
// reading the plan as it is written: only the records the filter (show,
// q) keeps are held, up to maxRows.
func (c *Console) loadPreview(ctx context.Context, job, show, q string) (*preview, error) {
	pr, pw := io.Pipe()
	var saved *engine.SavedPlan
	var perr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		saved, perr = c.cfg.Plan(ctx, job, pw)
		pw.CloseWithError(perr)
	}()
	pv := &preview{Show: show, Q: q}
	kept, p, derr := pv.read(pr)
	pr.CloseWithError(errEnough) // a plan cut short by a bad read stops writing
	<-done
	switch {
	case perr != nil && !errors.Is(perr, errEnough):
		return nil, perr
	case derr != nil:
		return nil, fmt.Errorf("read the plan of %s: %w", job, derr)
	}
	var order []string // the mapped fields in the job's order
	if saved != nil {
		order = saved.Fields
		pv.PlanID = c.plans.put(saved)
	}
	pv.shape(p, kept, order)
	return pv, nil
}

// read decodes `runner plan -json` from r as it comes: the records the
// filter keeps (up to maxRows) and the rest of the plan, counting
// exclusions by filter over every record.
func (pv *preview) read(r io.Reader) ([]planItem, plan, error) {
	var p plan
	var kept []planItem
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil {
		return nil, p, err
	}
	rest := map[string]json.RawMessage{}
	byFilter := map[string]int{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, p, err
		}
		key, _ := t.(string)
		if key != "items" {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, p, err
			}
			rest[key] = raw
			continue
		}
		if _, err := dec.Token(); err != nil {
			return nil, p, err
		}
		for dec.More() {
			var it planItem
			if err := dec.Decode(&it); err != nil {
				return nil, p, err
			}
			pv.Total++
			if it.Status == "excluded" {
				if _, ok := byFilter[it.Filter]; !ok {
					pv.ByFilter = append(pv.ByFilter, count{Name: it.Filter})
				}
				byFilter[it.Filter]++
			}
			if !pv.keeps(it) {
				continue
			}
			pv.Shown++
			if len(kept) < maxRows {
				kept = append(kept, it)
			} else {
				pv.Truncated = true
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, p, err
		}
	}
	for i := range pv.ByFilter {
		pv.ByFilter[i].N = byFilter[pv.ByFilter[i].Name]
	}
	b, err := json.Marshal(rest)
	if err != nil {
		return nil, p, err
	}
	return kept, p, json.Unmarshal(b, &p)
}

// keeps says whether the filter keeps a record: its kind is show ("" or
// "all": every kind) and its text holds q.
func (pv *preview) keeps(it planItem) bool {
	if pv.Show != "" && pv.Show != "all" && it.Status != pv.Show {
		return false
	}
	q := strings.ToLower(strings.TrimSpace(pv.Q))
	if q == "" {
		return true
	}
	text := []string{it.Label, it.Key, it.Pos, it.Filter, it.Reason}
	for _, m := range []map[string]any{it.Payload, it.Values} {
		for k, v := range m {
			text = append(text, k, fmt.Sprint(v))
		}
	}
	return strings.Contains(strings.ToLower(strings.Join(text, " ")), q)
}

// shape makes the page's records; a payload's fields come in order (the
// job's mappings), the rest by name.
func (pv *preview) shape(p plan, kept []planItem, order []string) {
	pv.Plan = p
	pv.Items = make([]previewItem, 0, len(kept))
	for _, it := range kept {
		v := previewItem{Status: it.Status, Label: it.Label, Key: it.Key, Pos: it.Pos, Filter: it.Filter, Reason: it.Reason, Effects: it.Effects}
		if v.Label == "" {
			v.Label = it.Key
		}
		switch {
		case it.Payload != nil:
			v.Fields = fields(it.Payload, it.Clears, order)
		case it.Values != nil:
			v.Fields = fields(it.Values, nil, nil)
		}
		pv.Items = append(pv.Items, v)
	}
	if p.Cost != nil {
		for k, n := range p.Cost.Calls {
			pv.Calls = append(pv.Calls, count{k, n})
		}
		sort.Slice(pv.Calls, func(i, j int) bool { return pv.Calls[i].Name < pv.Calls[j].Name })
	}
}

// fields lists a payload's values in order, then by name; a string is
// shown quoted, as the CLI's plan shows it, so that "" is visible.
func fields(m map[string]any, clears, order []string) []field {
	out := make([]field, 0, len(m))
	for k, v := range m {
		s, isString := v.(string)
		if isString {
			s = fmt.Sprintf("%q", engine.Clip(s))
		} else if v == nil {
			s = "unset"
		} else {
			s = fmt.Sprint(v)
		}
		out = append(out, field{Name: k, Value: s, Clears: slices.Contains(clears, k)})
	}
	rank := func(name string) int {
		if i := slices.Index(order, name); i >= 0 {
			return i
		}
		return len(order)
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i].Name), rank(out[j].Name); ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}
