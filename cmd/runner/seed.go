package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	runner "github.com/goqsync/runner"
	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
)

// exportVar is the variable through which -seed-from and demo -export hand
// a job its export, as the examples and the README name it.
const exportVar = "goq_export"

// loadWithExport loads a job file with its export variable set to export,
// below any -var of the user's. A job that reads its export some other
// way would silently read another file, so it is refused with the fix.
func (c *cli) loadWithExport(jobFile, export string, jf *jobFlags, name string) (*engine.Config, bool) {
	jf.vars = append([]engine.VarArg{{Value: exportVar + "=" + export}}, jf.vars...)
	cfg, diags, ok := c.load([]string{jobFile}, jf, false)
	if !ok {
		for _, d := range diags {
			if d.Summary == "Value for undeclared variable" && strings.Contains(d.Detail, " "+exportVar+",") {
				fmt.Fprintf(c.stderr, "runner %s: %s hands the export to the job as var.%s: declare variable %q in %s and set the source's path = var.%s\n",
					name, exportFlag(name), exportVar, exportVar, jobFile, exportVar)
				break
			}
		}
	}
	return cfg, ok
}

func exportFlag(name string) string {
	if name == "demo" {
		return "-export"
	}
	return "-seed-from"
}

// shopOrders returns the futureshop orders a run of cfg's jobs would
// update, as a fresh shop holds them: one per order number the plan would
// send, with a shipment per shipment number it names, not yet shipped, so
// that the shipping update and 処理済み succeed. Only what the job would
// send counts: the plan's filters and mappings decide, exactly as for a run.
func (c *cli) shopOrders(ctx context.Context, cfg *engine.Config) ([]futureshoptest.Order, error) {
	var orders []futureshoptest.Order
	at := map[string]int{}
	n := 0
	for _, j := range cfg.Jobs {
		if j.DestType != "futureshop" {
			continue
		}
		n++
		if diags := cfg.CheckRunnable(j, false); diags.HasErrors() {
			c.writeDiags(cfg, diags)
			return nil, fmt.Errorf("job %q cannot be planned", j.Name)
		}
		var buf bytes.Buffer
		if _, err := j.Plan(ctx, &buf, engine.PlanOptions{JSON: true}); err != nil {
			return nil, fmt.Errorf("job %q: %w", j.Name, err)
		}
		var plan struct {
			Now   time.Time `json:"now"`
			Items []struct {
				Status  string         `json:"status"`
				Payload map[string]any `json:"payload"`
			} `json:"items"`
		}
		if err := json.Unmarshal(buf.Bytes(), &plan); err != nil {
			return nil, fmt.Errorf("job %q: reading its plan: %w", j.Name, err)
		}
		for _, it := range plan.Items {
			no, _ := it.Payload["order_no"].(string)
			if it.Status != "send" || no == "" {
				continue
			}
			shipment := 1
			if v, ok := it.Payload["shipment_no"].(float64); ok {
				shipment = int(v)
			}
			i, ok := at[no]
			if !ok {
				// The order's date is the plan's clock: the export's 注文日
				// is not in the payload, and only the shipping update and
				// 処理済み, which ignore it, are rehearsed here.
				o := futureshoptest.NewOrder(no, plan.Now)
				o.Shipments[0].ShipmentNo = shipment
				at[no] = len(orders)
				orders = append(orders, o)
				continue
			}
			if !hasShipment(orders[i], shipment) {
				// Another shipment of the order: as fresh as its first.
				sh := futureshoptest.NewOrder(no, plan.Now).Shipments[0]
				sh.ShipmentNo = shipment
				orders[i].Shipments = append(orders[i].Shipments, sh)
			}
		}
	}
	if n == 0 {
		return nil, errors.New("no job in the file sends to futureshop")
	}
	return orders, nil
}

func hasShipment(o futureshoptest.Order, no int) bool {
	for _, s := range o.Shipments {
		if s.ShipmentNo == no {
			return true
		}
	}
	return false
}

// builtIn writes the embedded file name into dir, under its base name, and
// returns its path: the engine loads files from disk, by path.
func builtIn(dir, name string) (string, error) {
	b, err := fs.ReadFile(runner.Files, name)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, filepath.Base(name))
	return path, os.WriteFile(path, b, 0o600)
}
