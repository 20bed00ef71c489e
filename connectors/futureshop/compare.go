package futureshop

import (
	"context"
	"fmt"
	"sync"

	"github.com/goqsync/runner/engine"
)

// compareClient is the client plan -compare reads with, made on first use
// and shared by the plan's batches.
type compareClient struct {
	once sync.Once
	c    *client
	err  error
}

// Current reads, with the order search, what futureshop holds now for the
// shipments of batch, so plan -compare can show what each would change.
// It implements engine.Comparer. A shipment not found gives nil.
func (d *destination) Current(ctx context.Context, batch []engine.Payload) ([]map[string]any, error) {
	d.cmp.once.Do(func() { d.cmp.c, d.cmp.err = newClient(d.cfg) })
	if d.cmp.err != nil {
		return nil, d.cmp.err
	}
	var nos []string
	seen := map[string]bool{}
	for _, p := range batch {
		no, _ := p.Values[fieldOrderNo].(string)
		if no != "" && !seen[no] {
			seen[no] = true
			nos = append(nos, no)
		}
	}
	found := map[string]searchShipment{} // by "orderNo/shipmentNo"
	err := searchOrders(ctx, d.cmp.c, nos, func(o *searchOrder) {
		for _, s := range o.ShipmentList {
			found[fmt.Sprintf("%s/%d", o.OrderNo, s.ShipmentNo)] = s
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read current state: %w", err)
	}
	out := make([]map[string]any, len(batch))
	for i, p := range batch {
		no, _ := p.Values[fieldOrderNo].(string)
		sn := shipmentNo(p.Values)
		s, ok := found[fmt.Sprintf("%s/%d", no, sn)]
		if !ok {
			continue
		}
		out[i] = map[string]any{
			fieldOrderNo:         no,
			fieldShipmentNo:      sn,
			fieldShippingDate:    s.ShippingInfo.ShippingDate,
			fieldInvoiceNo:       s.ShippingInfo.InvoiceNo,
			fieldExpectedArrival: s.ShippingInfo.ExpectedArrival,
		}
	}
	return out, nil
}
