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
	d.cmp.once.Do(func() { d.cmp.c, d.cmp.err = openClient(ctx, d.cfg) })
	if d.cmp.err != nil {
		return nil, d.cmp.err
	}
	found, _, err := readShipments(ctx, d.cmp.c, batch)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(batch))
	for i, p := range batch {
		no, _ := p.Values[fieldOrderNo].(string)
		sn := shipmentNo(p.Values)
		if s, ok := found[fmt.Sprintf("%s/%d", no, sn)]; ok {
			out[i] = currentValues(no, sn, s)
		}
	}
	return out, nil
}
