package console

import (
	"slices"
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
