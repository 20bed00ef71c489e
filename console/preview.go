package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	Items    []previewItem
	ByFilter []count // exclusions by filter, in the order met
	Calls    []count // the API calls the run takes, by kind
	Show, Q  string  // the list's filter and search, without JavaScript
	Shown    int
	// PlanID names the saved plan the page shows, which 「この内容で実行」
	// applies.
	PlanID string
}

// loadPreview computes the job's plan now and shapes it for the page.
func (c *Console) loadPreview(ctx context.Context, job string) (*preview, error) {
	var buf bytes.Buffer
	saved, err := c.cfg.Plan(ctx, job, &buf)
	if err != nil {
		return nil, err
	}
	var p plan
	if err := json.Unmarshal(buf.Bytes(), &p); err != nil {
		return nil, fmt.Errorf("read the plan of %s: %w", job, err)
	}
	var order []string // the mapped fields in the job's order
	if saved != nil {
		order = saved.Fields
	}
	pv := shape(p, order)
	if saved != nil {
		pv.PlanID = c.plans.put(saved)
	}
	return pv, nil
}

// shape makes the page of a plan; a payload's fields come in order (the
// job's mappings), the rest by name.
func shape(p plan, order []string) *preview {
	pv := &preview{Plan: p, Items: make([]previewItem, 0, len(p.Items))}
	byFilter := map[string]int{}
	for _, it := range p.Items {
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
		if it.Status == "excluded" {
			if _, ok := byFilter[it.Filter]; !ok {
				pv.ByFilter = append(pv.ByFilter, count{Name: it.Filter})
			}
			byFilter[it.Filter]++
		}
		pv.Items = append(pv.Items, v)
	}
	for i := range pv.ByFilter {
		pv.ByFilter[i].N = byFilter[pv.ByFilter[i].Name]
	}
	if p.Cost != nil {
		for k, n := range p.Cost.Calls {
			pv.Calls = append(pv.Calls, count{k, n})
		}
		sort.Slice(pv.Calls, func(i, j int) bool { return pv.Calls[i].Name < pv.Calls[j].Name })
	}
	return pv
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

// filter keeps the items of status show ("" or "all": every one) whose
// text holds q: the list's filter when JavaScript is off.
func (pv *preview) filter(show, q string) {
	pv.Show, pv.Q = show, q
	for _, it := range pv.Items {
		if pv.Visible(it) {
			pv.Shown++
		}
	}
}

func (it previewItem) text() string {
	var b strings.Builder
	b.WriteString(it.Label + " " + it.Key + " " + it.Pos + " " + it.Filter + " " + it.Reason)
	for _, f := range it.Fields {
		b.WriteString(" " + f.Name + " " + f.Value)
	}
	return b.String()
}

// Visible says whether the page lists the item, by the server-side filter.
func (pv *preview) Visible(it previewItem) bool {
	q := strings.ToLower(strings.TrimSpace(pv.Q))
	return (pv.Show == "" || pv.Show == "all" || it.Status == pv.Show) && (q == "" || strings.Contains(strings.ToLower(it.text()), q))
}
