package futureshop

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// testRate is the budget tests run at, high enough to keep the suite fast.
const testRate = 50

var testNow = time.Date(2026, 11, 28, 10, 0, 0, 0, jst)

func settings() *engine.Settings {
	return &engine.Settings{Location: jst, JobName: "test"}
}

func parseBody(t testing.TB, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags)
	}
	return f.Body
}

func credBody(srv *futureshoptest.Server, extra string) string {
	return credBodyAt(srv, testRate, extra)
}

// credBodyAt is credBody at rps requests a second.
func credBodyAt(srv *futureshoptest.Server, rps int, extra string) string {
	return fmt.Sprintf(`
api_domain    = %q
shop_key      = %q
client_id     = %q
client_secret = %q
rate_limit    = %d
%s`, srv.URL, srv.ShopKey, srv.ClientID, srv.ClientSecret, rps, extra)
}

// newServer starts a test server at the test budget.
func newServer(t testing.TB, opts ...futureshoptest.Option) *futureshoptest.Server {
	t.Helper()
	srv := futureshoptest.NewServer(append([]futureshoptest.Option{futureshoptest.WithRateLimit(testRate, 2)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// newDest decodes a destination against srv with fast backoff.
func newDest(t testing.TB, srv *futureshoptest.Server, extra string, complete bool) *destination {
	t.Helper()
	return newDestAt(t, srv, testRate, extra, complete)
}

// newDestAt is newDest at rps requests a second.
func newDestAt(t testing.TB, srv *futureshoptest.Server, rps int, extra string, complete bool) *destination {
	t.Helper()
	s := settings()
	if complete {
		s.Actions = []string{ActionCompleteOrder}
	}
	d, diags := NewDestination(parseBody(t, credBodyAt(srv, rps, extra)), s)
	if diags.HasErrors() {
		t.Fatalf("NewDestination: %s", diags)
	}
	dd := d.(*destination)
	dd.cfg.minBackoff, dd.cfg.maxBackoff = 5*time.Millisecond, 50*time.Millisecond
	return dd
}

func seed(srv *futureshoptest.Server, n int) []string {
	var nos []string
	for i := range n {
		no := fmt.Sprintf("1000%08d", i+1)
		srv.AddOrder(futureshoptest.NewOrder(no, testNow.Add(-time.Duration(i)*time.Minute)))
		nos = append(nos, no)
	}
	return nos
}

func shipPayload(orderNo string, kv ...any) engine.Payload {
	v := map[string]any{fieldOrderNo: orderNo}
	for i := 0; i+1 < len(kv); i += 2 {
		v[kv[i].(string)] = kv[i+1]
	}
	return engine.Payload{Key: orderNo + "/1", Pos: "test", Values: v}
}

func shipped(nos []string) []engine.Payload {
	var ps []engine.Payload
	for _, no := range nos {
		ps = append(ps, shipPayload(no, fieldShippingDate, "2026-11-27", fieldInvoiceNo, "INV-"+no))
	}
	return ps
}

// export does what the engine does with a destination: batches of
// BatchSize, then every action on the payloads whose write succeeded. It
// returns the failures by payload key; err is the first whole-batch error
// (the remaining batches still run, as a run would report and go on).
func export(ctx context.Context, t testing.TB, d engine.Destination, payloads []engine.Payload) (map[string]engine.Result, error) {
	t.Helper()
	c, err := d.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	failed := map[string]engine.Result{}
	var first error
	n := d.BatchSize()
	for i := 0; i < len(payloads); i += n {
		batch := payloads[i:min(i+n, len(payloads))]
		res, err := c.Write(ctx, batch)
		if err != nil {
			if first == nil {
				first = err
			}
			for _, p := range batch {
				failed[p.Key] = engine.Result{Message: err.Error()}
			}
			continue
		}
		if len(res) != len(batch) {
			t.Fatalf("Write returned %d results for %d payloads", len(res), len(batch))
		}
		var ok []engine.Payload
		for j, r := range res {
			if r.OK {
				ok = append(ok, batch[j])
			} else {
				failed[batch[j].Key] = r
			}
		}
		for _, a := range actions(d.(*destination)) {
			if len(ok) == 0 {
				break
			}
			res, err := c.Apply(ctx, a, ok)
			if err != nil {
				if first == nil {
					first = err
				}
				for _, p := range ok {
					failed[p.Key] = engine.Result{Message: err.Error()}
				}
				break
			}
			var next []engine.Payload
			for j, r := range res {
				if r.OK {
					next = append(next, ok[j])
				} else {
					failed[ok[j].Key] = r
				}
			}
			ok = next
		}
	}
	return failed, first
}

// count counts logged requests by path.
func count(reqs []futureshoptest.Request) map[string]int {
	m := map[string]int{}
	for _, r := range reqs {
		m[r.Path]++
	}
	return m
}

// checkRate asserts the log never exceeds rps with a burst of 2, the
// server's tolerance for arrival jitter: for every pair of requests i<j,
// j−i ≤ rps·(tj−ti) + 2.
func checkRate(t testing.TB, reqs []futureshoptest.Request, rps float64) {
	t.Helper()
	for i := range reqs {
		for j := i + 1; j < len(reqs); j++ {
			allowed := rps*reqs[j].Time.Sub(reqs[i].Time).Seconds() + 2
			if float64(j-i) > allowed {
				t.Fatalf("requests %d..%d: %d requests in %s exceed %.0f/s", i, j, j-i+1, reqs[j].Time.Sub(reqs[i].Time), rps)
			}
		}
		if reqs[i].Status == 429 {
			t.Errorf("request %d (%s) was refused with 429", i, reqs[i].Path)
		}
	}
}

// actions is what the engine would run after the write: the destination's
// post-export actions the job turned on.
func actions(d *destination) []string {
	if d.completeOrder {
		return []string{ActionCompleteOrder}
	}
	return nil
}
