package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// refItem is plan -json's item as encoding/json writes it: the
// specification appendItem is held to.
type refItem struct {
	Pos     string         `json:"pos"`
	Label   string         `json:"label,omitempty"`
	Status  string         `json:"status"`
	Filter  string         `json:"filter,omitempty"`
	Values  map[string]any `json:"values,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	Key     string         `json:"key,omitempty"`
	Payload map[string]any `json:"payload,omitempty"`
	Clears  []string       `json:"clears,omitempty"`
	Current map[string]any `json:"current,omitempty"`
	Changes []string       `json:"changes,omitzero"`
	Effects []string       `json:"side_effects,omitempty"`
}

// refJSON marshals it the way plan -json did before appendItem.
func refJSON(p *planWriter, it *Item, effects []string) ([]byte, error) {
	ji := refItem{Pos: it.Pos, Label: it.Label, Status: it.Status.String(), Filter: it.Filter, Reason: Clip(it.Reason)}
	if len(it.Values) > 0 {
		ji.Values = make(map[string]any, len(it.Values))
		for _, fv := range it.Values {
			v := fv.Value
			if t, ok := v.(time.Time); ok {
				v = t.In(p.j.Location).Format(time.RFC3339)
			}
			ji.Values[fv.Name] = v
		}
	}
	ji.Effects = effects
	if it.Status == Send || it.Status == Unchanged {
		ji.Key, ji.Payload = it.Payload.Key, it.Payload.Values
		ji.Clears = clears(it.Payload)
		if cur, ok := p.held[it]; ok {
			ji.Current, ji.Changes = cur, changes(it.Payload, cur)
			if ji.Changes == nil {
				ji.Changes = []string{}
			}
		}
	}
	return json.Marshal(ji)
}

func TestAppendItem(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 19, 1, 0, 0, 0, time.UTC)
	odd := "a<b>&\"q\"\\ \x00\x01\x1f\x7f\b\f\n\r\t \u2028\u2029 \xff\xfe 楽天市場店 ﾃｽﾄ 😀"
	long := strings.Repeat("長い備考", 100)
	items := []*Item{
		{Pos: "x.csv:2", Label: "1001", Status: Excluded, Filter: "store", Values: []FieldValue{{"store", "楽天市場店"}}},
		{Pos: "x.csv:3", Status: Excluded, Filter: "updated-4d", Values: []FieldValue{{"updated_at", at}}},
		{Pos: "x.csv:4", Label: odd, Status: Excluded, Filter: odd, Values: []FieldValue{
			{"z", nil}, {"a", int64(-3)}, {"m", 1.5}, {"b", true}, {"c", odd}, {"a", "last wins"}, {"t", at}}},
		{Pos: "x.csv:5", Label: "1002", Status: Excluded, Filter: "none"},
		{Pos: "x.csv:6", Label: "1003", Status: Skipped, Reason: "superseded by x.csv:9 (updated 2026-11-20 10:00:00)"},
		{Pos: "x.csv:7", Status: Invalid, Reason: long, Stage: "source"},
		{Pos: "x.csv:8", Label: "1004", Status: Send, Payload: Payload{Key: "1004/1", Values: map[string]any{
			"order_no": "1004", "shipping_date": "2026-11-27", "invoice_no": odd, "expected_arrival": "",
			"n": int64(7), "f": 2.5e-7, "big": 1e21, "ok": false, "at": at, "i": 3}}},
		{Pos: "x.csv:9", Label: "1005", Status: Unchanged, Payload: Payload{Key: "1005/1", Values: map[string]any{"order_no": "1005"}}},
		{Pos: "x.csv:10", Label: "1006", Status: Send, Payload: Payload{Key: "1006/1"}},
		{Pos: "x.csv:11", Label: "1007", Status: Parked, Reason: "not found 3 times", Payload: Payload{Key: "1007/1"}},
	}
	compared := &Item{Pos: "x.csv:12", Label: "1008", Status: Send, Payload: Payload{Key: "1008/1", Values: map[string]any{"order_no": "1008", "invoice_no": "A1"}}}
	same := &Item{Pos: "x.csv:13", Label: "1009", Status: Send, Payload: Payload{Key: "1009/1", Values: map[string]any{"order_no": "1009"}}}
	missing := &Item{Pos: "x.csv:14", Label: "1010", Status: Send, Payload: Payload{Key: "1010/1", Values: map[string]any{"order_no": "1010"}}}
	items = append(items, compared, same, missing)
	p := &planWriter{j: &Job{Location: tokyo}, held: map[*Item]map[string]any{
		compared: {"order_no": "1008", "invoice_no": "B2", "carrier": odd},
		same:     {"order_no": "1009"},
		missing:  {},
	}}
	for _, effects := range [][]string{nil, {"出荷日なしで処理済みになります", odd}} {
		for _, it := range items {
			want, err := refJSON(p, it, effects)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.appendItem([]byte("prefix"), it, effects)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix"+string(want) {
				t.Errorf("%s:\n got %s\nwant prefix%s", it.Pos, got, want)
			}
		}
	}
	// A value encoding/json refuses is an error, as it was.
	bad := &Item{Pos: "x.csv:15", Status: Send, Payload: Payload{Key: "k", Values: map[string]any{"c": make(chan int)}}}
	if _, err := p.appendItem(nil, bad, nil); err == nil {
		t.Error("a channel in a payload: no error")
	}
}
