package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	runner "github.com/goqsync/runner"
	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/table"
)

// demoNow is the moment the sample export was taken, so the demo admits
// the same orders whatever today is.
const demoNow = "2026-11-28T10:00:00+09:00"

// demo runs the shipping example end to end against futureshop's test
// server on loopback: no credentials, no network. The example job and the
// sample export are built in, so it runs from any directory; -file and
// -export replace them, and the shop then holds the orders that export
// would update, as runner testshop -seed-from seeds it.
func (c *cli) demo(ctx context.Context, args []string) int {
	var jf jobFlags
	fs := c.flagSet("demo", "", &jf, false)
	jobFile := fs.String("file", "", "the job file to run (default: the built-in "+runner.ShippingExample+")")
	export := fs.String("export", "", "the GoQ export to read, at the wall clock unless -now (default: the built-in "+runner.SampleExport+", at "+demoNow+")")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if *jobFile == "" || *export == "" {
		dir, err := os.MkdirTemp("", "runner-demo-")
		if err != nil {
			fmt.Fprintf(c.stderr, "runner demo: %v\n", err)
			return exitFailed
		}
		defer os.RemoveAll(dir)
		if *jobFile == "" {
			*jobFile, err = builtIn(dir, runner.ShippingExample)
		}
		if *export == "" && err == nil {
			*export, err = builtIn(dir, runner.SampleExport)
			if jf.now == "" {
				jf.now = demoNow
			}
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "runner demo: %v\n", err)
			return exitFailed
		}
	}

	srv := futureshoptest.NewServer()
	defer srv.Close()

	// The job reads its credentials from the environment, as in production;
	// here they are the test server's.
	outer := c.lookupEnv
	sandbox := *c
	sandbox.lookupEnv = func(k string) (string, bool) {
		switch k {
		case "FUTURESHOP_API_DOMAIN":
			return srv.URL, true
		case "FUTURESHOP_SHOP_KEY":
			return srv.ShopKey, true
		case "FUTURESHOP_CLIENT_ID":
			return srv.ClientID, true
		case "FUTURESHOP_CLIENT_SECRET":
			return srv.ClientSecret, true
		}
		return outer(k)
	}
	cfg, ok := sandbox.loadWithExport(*jobFile, *export, &jf, "demo")
	if !ok {
		return exitConfig
	}
	orders, err := sandbox.shopOrders(ctx, cfg)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner demo: %s: %v\n", *jobFile, err)
		return exitConfig
	}
	srv.Seed(orders...)
	fmt.Fprintf(c.stdout, "futureshop test server on %s, seeded with the %d orders the job would update from %s\n\n", srv.URL, len(orders), filepath.Base(*export))
	code := exitOK
	for _, j := range cfg.Jobs {
		if diags := cfg.CheckRunnable(j, true); diags.HasErrors() {
			c.writeDiags(cfg, diags)
			return exitConfig
		}
		fmt.Fprintln(c.stdout, "== plan")
		if _, err := j.Plan(ctx, c.stdout, engine.PlanOptions{}); err != nil {
			fmt.Fprintf(c.stderr, "runner demo: %v\n", err)
			return exitFailed
		}
		fmt.Fprintln(c.stdout, "\n== run")
		sum, err := j.Run(ctx, engine.RunOptions{Trigger: "cli", Log: c.log})
		printSummary(c.stdout, sum)
		if err != nil {
			fmt.Fprintf(c.stderr, "runner demo: %v\n", err)
			return exitFailed
		}
		if !sum.Succeeded() {
			code = exitFailed
		}
	}

	fmt.Fprintln(c.stdout, "\n== the shop afterwards")
	tw := table.NewWriter(c.stdout)
	fmt.Fprintln(tw, "order\tshipment\tshipping date\tinvoice no\texpected arrival\tshipment status\torder status")
	for _, o := range srv.Orders() {
		for _, s := range o.Shipments {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", o.OrderNo, s.ShipmentNo,
				dash(s.ShippingDate), dash(s.InvoiceNo), dash(s.ExpectedArrival), s.Status, o.Status)
		}
	}
	tw.Flush()
	reqs := srv.Requests()
	fmt.Fprintf(c.stdout, "\n%d requests to futureshop:\n", len(reqs))
	for _, r := range reqs {
		fmt.Fprintf(c.stdout, "  %s %s %s → %d (%d orders)\n", r.Time.Format(time.TimeOnly), r.Method, r.Path, r.Status, r.Orders)
	}
	return code
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
