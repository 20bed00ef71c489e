package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/engine/enginetest"
)

// kindFields has a source field of every kind; kindDest a destination
// field of every kind.
var (
	kindFields = []engine.Field{
		{Name: "no", Kind: engine.String},
		{Name: "s", Kind: engine.String},
		{Name: "i", Kind: engine.Int},
		{Name: "f", Kind: engine.Float},
		{Name: "b", Kind: engine.Bool},
		{Name: "t", Kind: engine.Time},
		{Name: "d", Kind: engine.Date},
	}
	kindDest = []engine.Field{
		{Name: "no", Kind: engine.String, Required: true},
		{Name: "s", Kind: engine.String, MaxBytes: 8},
		{Name: "i", Kind: engine.Int},
		{Name: "f", Kind: engine.Float},
		{Name: "b", Kind: engine.Bool},
		{Name: "t", Kind: engine.Time},
		{Name: "d", Kind: engine.Date},
	}
)

// planItem is one item of a JSON plan.
type planItem struct {
	Pos     string         `json:"pos"`
	Label   string         `json:"label"`
	Status  string         `json:"status"`
	Filter  string         `json:"filter"`
	Reason  string         `json:"reason"`
	Key     string         `json:"key"`
	Payload map[string]any `json:"payload"`
	Clears  []string       `json:"clears"`
	Current map[string]any `json:"current"`
	Changes []string       `json:"changes"`
}

type planJSON struct {
	Job     string        `json:"job"`
	Now     string        `json:"now"`
	Items   []planItem    `json:"items"`
	Summary engine.Counts `json:"summary"`
}

// TestEval runs filters and mappings over one record each, as a run and a
// plan do, with the errors only a run can meet: values of the wrong kind,
// division by zero, an index out of range, a nil where a value is needed.
func TestEval(t *testing.T) {
	jst := testNow.Location()
	rec := func(kv ...any) engine.Record {
		r := engine.Record{"no": "1"}
		for i := 0; i < len(kv); i += 2 {
			r[kv[i].(string)] = kv[i+1]
		}
		return r
	}
	tests := []struct {
		name    string
		filters []string // "name: expression"
		maps    string   // the map block's lines, after no = "no"
		rec     engine.Record
		status  string
		reason  string // for errors and skips; the filter for excluded
		payload string // JSON, for sent records
	}{
		{name: "copied values", maps: `s = "s"
i = "i"
f = "f"
b = "b"
t = "t"
d = "d"`,
			rec:    rec("s", "abc", "i", int64(3), "f", 1.5, "b", true, "t", time.Date(2026, 11, 1, 1, 2, 3, 0, time.UTC), "d", time.Date(2026, 11, 2, 0, 0, 0, 0, jst)),
			status: "send", payload: `{"b":true,"d":"2026-11-02","f":1.5,"i":3,"no":"1","s":"abc","t":"2026-11-01T10:02:03+09:00"}`},
		{name: "unset values are not sent", maps: `s = "s"
d = "d"
i = "i"`, rec: rec(), status: "send", payload: `{"no":"1"}`},
		{name: "an empty string is sent, and clears", maps: `s = "coalesce(s, '')"`, rec: rec(), status: "send", payload: `{"no":"1","s":""}`},
		{name: "values computed at run time take the field's kind", maps: `i = "coalesce(i, 4.0)"
f = "coalesce(f, i, 2)"
d = "coalesce(s, '2026/1/5')"
t = "now()"`, rec: rec(), status: "send", payload: `{"d":"2026-01-05","f":2,"i":4,"no":"1","t":"2026-11-28T10:00:00+09:00"}`},
		{name: "an int from a float with a fraction", maps: `i = "coalesce(i, 4.5)"`, rec: rec(), status: "error", reason: "i: want a whole number, got 4.5 (float64)"},
		{name: "a float from a string", maps: `f = "coalesce(f, 'x')"`, rec: rec(), status: "error", reason: "f: want a number, got x (string)"},
		{name: "a bool from a string", maps: `b = "coalesce(b, 'yes')"`, rec: rec(), status: "error", reason: "b: want true or false, got yes (string)"},
		{name: "a time from a string", maps: `t = "coalesce(t, 'x')"`, rec: rec(), status: "error", reason: "t: want a time, got x (string)"},
		{name: "a string from an int", maps: `s = "coalesce(s, 1)"`, rec: rec(), status: "error", reason: "s: want a string, got 1 (int)"},
		{name: "a date from an int", maps: `d = "coalesce(d, 1)"`, rec: rec(), status: "error", reason: "d: want a date, got 1 (int)"},
		{name: "a date that is not one", maps: `d = "coalesce(s, 'soon')"`, rec: rec(), status: "error", reason: `d: "soon" is not a date (want yyyy-mm-dd or yyyy/mm/dd, with an optional hh:mm[:ss])`},
		{name: "an empty date string clears", maps: `d = "coalesce(s, '')"`, rec: rec(), status: "send", payload: `{"d":"","no":"1"}`},
		{name: "a string over its limit", maps: `s = "s"`, rec: rec("s", "123456789"), status: "error", reason: `s: "123456789" is 9 bytes, over the limit of 8`},
		{name: "a required field with no value", maps: `s = "s"`, rec: engine.Record{"s": "x"}, status: "error", reason: `no: "no" gave no value, and test requires one`},
		{name: "division by zero in a mapping", maps: `i = "100 % i"`, rec: rec("i", int64(0)), status: "error", reason: "i: runtime error: integer divide by zero (1:5)"},
		{name: "an index out of range", maps: `s = "split(s, ',')[3]"`, rec: rec("s", "a,b"), status: "error", reason: "s: index out of range: 3 (array length is 2) (1:14)"},
		{name: "nil where a string is needed", maps: `s = "upper(s)"`, rec: rec(), status: "error", reason: "s: interface conversion: interface {} is nil, not string (1:1)"},
		{name: "a filter that excludes", filters: []string{"odd: i % 2 == 1"}, rec: rec("i", int64(2)), status: "excluded", reason: "odd"},
		{name: "a filter that passes", filters: []string{"odd: i % 2 == 1"}, rec: rec("i", int64(3)), status: "send", payload: `{"no":"1"}`},
		{name: "division by zero in the only filter", filters: []string{"ratio: 10 % i > 1"}, rec: rec("i", int64(0)), status: "error",
			reason: `filter "ratio": runtime error: integer divide by zero (1:4)`},
		{name: "filters combined: the first that excludes is named", filters: []string{"a: i > 0", "b: i > 5", "c: i > 10"},
			rec: rec("i", int64(3)), status: "excluded", reason: "b"},
		{name: "filters combined: all pass", filters: []string{"a: i > 0", "b: i > 5"}, rec: rec("i", int64(7)), status: "send", payload: `{"no":"1"}`},
		{name: "filters combined: the one that breaks is named", filters: []string{"a: i > 0", "b: 10 % (i - 3) > 1", "c: i > 10"},
			rec: rec("i", int64(3)), status: "error", reason: `filter "b": runtime error: integer divide by zero (1:4)`},
		{name: "filters combined: nil is named", filters: []string{"a: no != ''", "b: len(s) > 1"},
			rec: rec(), status: "error", reason: `filter "b": invalid argument for len (type <nil>) (1:1)`},
		{name: "the clock is the run's", filters: []string{"recent: within_days(d, 1) && days_since(d) == 1"},
			maps: `t = "now()"
d = "today()"`, rec: rec("d", time.Date(2026, 11, 27, 0, 0, 0, 0, jst)), status: "send",
			payload: `{"d":"2026-11-28","no":"1","t":"2026-11-28T10:00:00+09:00"}`},
		{name: "an unset time is never within", filters: []string{"recent: within_days(d, 1)"}, rec: rec(), status: "excluded", reason: "recent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("job \"eval\" {\n  source \"test\" {}\n  destination \"test\" {}\n")
			for _, f := range tt.filters {
				name, when, _ := strings.Cut(f, ": ")
				fmt.Fprintf(&b, "  filter %q {\n    when = %q\n  }\n", name, when)
			}
			fmt.Fprintf(&b, "  map {\n    no = \"no\"\n%s\n  }\n}\n", tt.maps)
			src := enginetest.NewSource(enginetest.SourceConfig{Fields: kindFields, Label: "no", Rows: []enginetest.Row{{Rec: tt.rec}}})
			dst := enginetest.NewDestination(enginetest.DestinationConfig{Fields: kindDest})
			job := enginetest.Load(t, src, dst, b.String(), engine.LoadOptions{Now: testNow})

			var out bytes.Buffer
			if _, err := job.Plan(context.Background(), &out, engine.PlanOptions{JSON: true}); err != nil {
				t.Fatal(err)
			}
			var plan planJSON
			if err := json.Unmarshal(out.Bytes(), &plan); err != nil {
				t.Fatalf("plan is not JSON: %v\n%s", err, out.Bytes())
			}
			it := plan.Items[0]
			reason := it.Reason
			if it.Status == "excluded" {
				reason = it.Filter
			}
			payload := ""
			if it.Payload != nil {
				p, _ := json.Marshal(it.Payload)
				payload = string(p)
			}
			if it.Status != tt.status || reason != tt.reason || payload != tt.payload {
				t.Errorf("plan: %s %q %s\n     want %s %q %s", it.Status, reason, payload, tt.status, tt.reason, tt.payload)
			}

			// A run decides the same, and its log says so on one line.
			var log bytes.Buffer
			sum, err := job.Run(context.Background(), engine.RunOptions{Log: jsonLog(&log)})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Counts != plan.Summary {
				t.Errorf("run counts %+v, plan's %+v", sum.Counts, plan.Summary)
			}
			if tt.status == "error" && (len(sum.Failures) != 1 || sum.Failures[0].Message != tt.reason) {
				t.Errorf("run failures = %+v, want %q", sum.Failures, tt.reason)
			}
			checkLog(t, log.String(), sum)
		})
	}
}
