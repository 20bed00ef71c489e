package futureshop

import (
	"context"
	"fmt"
	"time"

	"github.com/goqsync/runner/engine"
)

// ReadCalls says how many requests ReadBack takes for batch: a token, then
// one order search per maxOrdersPerSearch distinct order numbers (an order's
// shipments come back together), at most one every interval of the rate
// limit.
func (d *destination) ReadCalls(batch []engine.Payload) (calls int, every time.Duration) {
	n := len(orderNos(batch))
	if n == 0 {
		return 0, interval(d.cfg.rateLimit)
	}
	return 1 + (n+maxOrdersPerSearch-1)/maxOrdersPerSearch, interval(d.cfg.rateLimit)
}

// ReadBack reads, with the order search, what futureshop holds now for the
// shipments of batch: their shipping fields, and whether the order is
// 処理済み when the job completes orders. A shipment not found gives nil.
// It writes nothing. Its client is its own and closed at the end, so the
// shop's budget is free for whoever takes the shop's lock next.
func (d *destination) ReadBack(ctx context.Context, batch []engine.Payload) ([]map[string]any, []map[string]bool, error) {
	c, err := openClient(ctx, d.cfg)
	if err != nil {
		return nil, nil, err
	}
	defer c.close()
	found, status, err := readShipments(ctx, c, batch)
	if err != nil {
		return nil, nil, err
	}
	values := make([]map[string]any, len(batch))
	actions := make([]map[string]bool, len(batch))
	for i, p := range batch {
		no, _ := p.Values[fieldOrderNo].(string)
		sn := shipmentNo(p.Values)
		s, ok := found[fmt.Sprintf("%s/%d", no, sn)]
		if !ok {
			continue
		}
		values[i] = currentValues(no, sn, s)
		if d.completeOrder {
			actions[i] = map[string]bool{ActionCompleteOrder: status[no] == orderStatusCompleted}
		}
	}
	return values, actions, nil
}

// readShipments searches the orders of batch by number and returns their
// shipments by "orderNo/shipmentNo", and each order's status.
func readShipments(ctx context.Context, c *client, batch []engine.Payload) (map[string]searchShipment, map[string]string, error) {
	found := map[string]searchShipment{}
	status := map[string]string{}
	err := searchOrders(ctx, c, orderNos(batch), func(o *searchOrder) {
		status[o.OrderNo] = o.Status
		for _, s := range o.ShipmentList {
			found[fmt.Sprintf("%s/%d", o.OrderNo, s.ShipmentNo)] = s
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read current state: %w", err)
	}
	return found, status, nil
}

// orderNos lists the distinct order numbers of batch, in order.
func orderNos(batch []engine.Payload) []string {
	var nos []string
	seen := map[string]bool{}
	for _, p := range batch {
		no, _ := p.Values[fieldOrderNo].(string)
		if no != "" && !seen[no] {
			seen[no] = true
			nos = append(nos, no)
		}
	}
	return nos
}

// currentValues are the destination fields a shipment holds now.
func currentValues(no string, sn int64, s searchShipment) map[string]any {
	return map[string]any{
		fieldOrderNo:         no,
		fieldShipmentNo:      sn,
		fieldShippingDate:    s.ShippingInfo.ShippingDate,
		fieldInvoiceNo:       s.ShippingInfo.InvoiceNo,
		fieldExpectedArrival: s.ShippingInfo.ExpectedArrival,
	}
}
