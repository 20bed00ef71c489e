package futureshop

import (
	"context"
	"fmt"
	"net/url"
	"strings"
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
	for len(nos) > 0 {
		n := min(len(nos), maxOrdersPerUpdate) // a batch's worth of numbers per search
		if err := d.search(ctx, nos[:n], found); err != nil {
			return nil, err
		}
		nos = nos[n:]
	}
	out := make([]map[string]any, len(batch))
	for i, p := range batch {
		no, _ := p.Values[fieldOrderNo].(string)
		sn, _ := shipmentNo(p.Values)
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

// search looks orders up by number, following nextUrl.
func (d *destination) search(ctx context.Context, nos []string, found map[string]searchShipment) error {
	r := &records{c: d.cmp.c, next: d.cmp.c.endpoint(searchPath, url.Values{"orderNo": {strings.Join(nos, ",")}})}
	for r.next != nil {
		if err := r.fetch(ctx); err != nil {
			return fmt.Errorf("read current state: %w", err)
		}
		for _, o := range r.orders {
			for _, s := range o.ShipmentList {
				found[fmt.Sprintf("%s/%d", o.OrderNo, s.ShipmentNo)] = s
			}
		}
	}
	return nil
}
