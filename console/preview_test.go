package console

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestFieldsInJobOrder: a payload's fields come in the job's mapping order,
// as the CLI's plan prints them; fields the order does not name follow by
// name (an exclusion's values).
func TestFieldsInJobOrder(t *testing.T) {
	tests := []struct {
		order []string
		want  []string
	}{
		{[]string{"order_no", "shipping_date", "invoice_no", "expected_arrival"}, []string{"order_no", "shipping_date", "invoice_no", "expected_arrival"}},
		{[]string{"order_no"}, []string{"order_no", "expected_arrival", "invoice_no", "shipping_date"}},
		{nil, []string{"expected_arrival", "invoice_no", "order_no", "shipping_date"}},
	}
	payload := map[string]any{"order_no": "1", "shipping_date": "2026-11-27", "invoice_no": "T", "expected_arrival": ""}
	for _, tt := range tests {
		var got []string
		for _, f := range fields(payload, nil, tt.order) {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("order %v: %v, want %v", tt.order, got, tt.want)
		}
	}
}

// TestPreviewBounded: a plan of any size is read as it comes and the page
// holds at most maxRows records, those the filter keeps; the counts cover
// every record.
func TestPreviewBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"job":"ship","now":"2026-11-28T10:00:00+09:00","items":[`)
	const n = maxRows + 500
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		if i%2 == 0 {
			fmt.Fprintf(&b, `{"pos":"f:%d","label":"%d","status":"send","key":"%d/1","payload":{"order_no":"%d"}}`, i, i, i, i)
		} else {
			fmt.Fprintf(&b, `{"pos":"f:%d","label":"%d","status":"excluded","filter":"store","values":{"store":"x"}}`, i, i)
		}
	}
	b.WriteString(`],"after_export":["complete"],"summary":{"read":2500,"send":1250,"excluded":1250}}`)
	tests := []struct {
		show, q     string
		kept, shown int
		truncated   bool
		firstStatus string
	}{
		{"", "", maxRows, n, true, "send"},
		{"send", "", n / 2, n / 2, false, "send"},
		{"excluded", "", n / 2, n / 2, false, "excluded"},
		{"", "f:2499", 1, 1, false, "excluded"},
	}
	for _, tt := range tests {
		pv := &preview{Show: tt.show, Q: tt.q}
		kept, p, err := pv.read(strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if len(kept) != tt.kept || pv.Shown != tt.shown || pv.Total != n || pv.Truncated != tt.truncated || kept[0].Status != tt.firstStatus {
			t.Errorf("show %q q %q: kept %d, shown %d, total %d, truncated %v; want %d, %d, %d, %v",
				tt.show, tt.q, len(kept), pv.Shown, pv.Total, pv.Truncated, tt.kept, tt.shown, n, tt.truncated)
		}
		if len(pv.ByFilter) != 1 || pv.ByFilter[0].N != n/2 || p.Job != "ship" || p.Summary.Send != 1250 || len(p.AfterExport) != 1 {
			t.Errorf("show %q q %q: by filter %v, plan %+v", tt.show, tt.q, pv.ByFilter, p.Summary)
		}
	}
}
