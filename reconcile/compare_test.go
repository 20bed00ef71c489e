package reconcile

import (
	"fmt"
	"testing"

	"github.com/goqsync/runner/engine"
)

// TestCompare: only fields the destination reads back count; a whole
// number from the ledger's JSON equals the int64 read back; an action that
// no longer holds is named; a record not found is missing.
func TestCompare(t *testing.T) {
	sent, err := decodePayload([]byte(`{"carrier":"ヤマト運輸","expected_arrival":"","invoice_no":"123","order_no":"100000001201","shipment_no":1}`))
	if err != nil {
		t.Fatal(err)
	}
	p := engine.Payload{Key: "100000001201/1", Values: sent}
	held := func(invoice, arrival string) map[string]any {
		return map[string]any{"order_no": "100000001201", "shipment_no": int64(1), "invoice_no": invoice, "expected_arrival": arrival}
	}
	actions := []string{"complete_order"}
	tests := []struct {
		name    string
		cur     map[string]any
		done    map[string]bool
		state   string
		changed string
	}{
		{"in sync", held("123", ""), map[string]bool{"complete_order": true}, InSync, "[]"},
		{"in sync, action not seen", held("123", ""), nil, InSync, "[]"},
		{"drifted", held("999", "2026-12-01"), map[string]bool{"complete_order": true}, Drifted,
			`[{expected_arrival  2026-12-01} {invoice_no 123 999}]`},
		{"drifted and not completed", held("999", ""), map[string]bool{"complete_order": false}, Drifted, `[{invoice_no 123 999}]`},
		{"not completed", held("123", ""), map[string]bool{"complete_order": false}, NotCompleted, "[]"},
		{"missing", nil, nil, Missing, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compare(p, tt.cur, tt.done, actions)
			got := fmt.Sprint(r.Fields)
			if r.Fields == nil {
				got = "[]"
			}
			if r.State != tt.state || got != tt.changed {
				t.Errorf("state %s, fields %s; want %s, %s", r.State, got, tt.state, tt.changed)
			}
		})
	}
}
