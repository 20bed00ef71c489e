package futureshop

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
)

// TestAnswersThatConfirmNothing: a 200 that does not list the orders with
// "success" confirms none of them. The batch fails with the start of the
// body, and no order is completed whose shipping update was not confirmed.
func TestAnswersThatConfirmNothing(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		want       string // in the batch error, or in each order's message
	}{
		{"null", `null`, `no per-order results, which confirms no order: "null"`},
		{"empty object", `{}`, `no per-order results, which confirms no order: "{}"`},
		{"bare success", `{"status":"success"}`, `no per-order results`},
		{"empty results", `{"status":"success","errors":[],"results":[]}`, `no per-order results`},
		{"other case", `{"status":"success","errors":[],"results":[{"status":"SUCCESS","orderNo":"100000000001"},{"status":"SUCCESS","orderNo":"100000000002"}]}`,
			`futureshop answered status "SUCCESS" for the order, not "success", and no message`},
		{"missing order", `{"status":"success","errors":[],"results":[{"status":"success","orderNo":"100000000001"}]}`, ``},
		{"not JSON", `<html>gateway</html>`, `a body that does not parse`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			nos := seed(srv, 2)
			srv.AnswerNext(tt.body)
			d := newDest(t, srv, "", true)
			failed, err := export(context.Background(), t, d, shipped(nos))
			if tt.name == "missing order" {
				// The listed order is confirmed; the other is not.
				if err != nil || len(failed) != 1 || failed[nos[1]+"/1"].Code != "NoResult" || failed[nos[1]+"/1"].Message == "" {
					t.Errorf("failed = %+v, %v", failed, err)
				}
				return
			}
			if len(failed) != 2 {
				t.Fatalf("failed = %+v (err %v); want both orders", failed, err)
			}
			for _, r := range failed {
				msg := r.Message
				if err != nil {
					msg = err.Error()
				}
				if r.OK || msg == "" || !strings.Contains(msg, tt.want) {
					t.Errorf("result %+v, err %v; want a failure saying %q", r, err, tt.want)
				}
			}
			if n := count(srv.Requests())[completePath]; n != 0 {
				t.Errorf("%d complete calls for orders whose shipping update was not confirmed", n)
			}
		})
	}
}

// TestCompleteIsNotSentTwice: the 処理済み call times out after futureshop
// applied it. The connector reads the orders back instead of sending it
// again, and reports them completed; each order was completed once.
func TestCompleteIsNotSentTwice(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t)
	nos := seed(srv, 3)
	d := newDest(t, srv, `timeout = "300ms"`, true)
	c, err := d.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if res, err := c.Write(ctx, shipped(nos)); err != nil || !res[0].OK {
		t.Fatalf("Write = %v, %v", res, err)
	}
	srv.StallNext(1, time.Second) // the complete call: applied, answered too late
	res, err := c.Apply(ctx, ActionCompleteOrder, shipped(nos))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for i, r := range res {
		if !r.OK {
			t.Errorf("order %s: %+v", nos[i], r)
		}
	}
	for _, no := range nos {
		if n := srv.Completed(no); n != 1 {
			t.Errorf("order %s completed %d times", no, n)
		}
	}
	c2 := count(srv.Requests())
	if c2[completePath] != 1 || c2[searchPath] != 1 {
		t.Errorf("calls = %v; want one complete and one read-back search", c2)
	}

	// When the read-back shows an order not completed, only that one is
	// sent again.
	more := seed(srv, 5)[3:]
	if res, err := c.Write(ctx, shipped(more)); err != nil || !res[0].OK {
		t.Fatal(err)
	}
	srv.FailNext(1, 504) // a gateway timeout: the shop may or may not have acted
	res, err = c.Apply(ctx, ActionCompleteOrder, shipped(more))
	if err != nil || !res[0].OK || !res[1].OK {
		t.Fatalf("Apply after a 504 = %+v, %v", res, err)
	}
	for _, no := range more {
		if n := srv.Completed(no); n != 1 {
			t.Errorf("order %s completed %d times", no, n)
		}
	}
}

// TestSilentShopStopsTheRun: a shop that never answers opens the circuit
// after three attempts, and the error stops the run rather than one batch.
func TestSilentShopStopsTheRun(t *testing.T) {
	srv := newServer(t)
	nos := seed(srv, 2)
	srv.SlowNext(100, time.Hour)
	d := newDest(t, srv, `timeout = "100ms"`, true)
	start := time.Now()
	_, err := export(context.Background(), t, d, shipped(nos))
	if !errors.Is(err, ErrUnreachable) || !engine.StopsRun(err) {
		t.Fatalf("err = %v; want ErrUnreachable, which stops the run", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s to give up", took)
	}
	srv2 := newServer(t, futureshoptest.WithCredentials("k", "c", "right"))
	seed(srv2, 1)
	d2 := newDest(t, srv2, "", false)
	d2.cfg.clientSecret = "wrong"
	if _, err := export(context.Background(), t, d2, shipped([]string{"100000000001"})); !errors.Is(err, ErrCredentials) || !engine.StopsRun(err) {
		t.Errorf("refused credentials: %v; want ErrCredentials, which stops the run", err)
	}
}

// TestPagingLoopsAndShifts: a nextUrl back to a page already read is an
// error, not an endless loop; an order listed on two pages (the list
// shifted while paging) comes out once, its second listing skipped.
func TestPagingLoopsAndShifts(t *testing.T) {
	read := func(t *testing.T, srv *futureshoptest.Server) (orders []string, skipped int, err error) {
		src, diags := NewSource(parseBody(t, credBody(srv, "")), settings())
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		recs, err := src.Open(engine.WithNow(context.Background(), testNow))
		if err != nil {
			return nil, 0, err
		}
		defer recs.Close()
		for {
			rec := engine.Record{}
			meta, err := recs.Next(context.Background(), rec)
			if err == io.EOF {
				return orders, skipped, nil
			}
			if err != nil {
				return orders, skipped, err
			}
			if meta.Skip != "" {
				skipped++
				continue
			}
			orders = append(orders, rec["order_no"].(string))
		}
	}
	t.Run("loop", func(t *testing.T) {
		srv := newServer(t, futureshoptest.WithPageSize(2))
		seed(srv, 5)
		srv.LoopNextPage()
		done := make(chan error, 1)
		go func() { _, _, err := read(t, srv); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "leads back to a page already read") {
				t.Errorf("err = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the search loops")
		}
	})
	t.Run("shift", func(t *testing.T) {
		srv := newServer(t, futureshoptest.WithPageSize(2), futureshoptest.WithShiftingPages())
		seed(srv, 5)
		orders, skipped, err := read(t, srv)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, o := range orders {
			if seen[o] {
				t.Errorf("order %s read twice", o)
			}
			seen[o] = true
		}
		if len(orders) != 5 || skipped != 2 {
			t.Errorf("orders %v, %d skipped; want 5 and the 2 repeats skipped", orders, skipped)
		}
	})
}

// TestScopeAndShares: the ledger scope and the shared budget name the
// shop by host and a hash of its key, never the key.
func TestScopeAndShares(t *testing.T) {
	srv := newServer(t, futureshoptest.WithCredentials("s3cret-shop-key", "c", "s3cret-secret"))
	d := newDest(t, srv, "", false)
	scope := d.Scope()
	if !strings.HasPrefix(scope, "futureshop 127.0.0.1:") || strings.Contains(scope, "s3cret") {
		t.Errorf("scope %q", scope)
	}
	if sh := d.Shares(); len(sh) != 1 || sh[0] != scope {
		t.Errorf("shares %v", sh)
	}
	other := newDest(t, srv, "", false)
	other.cfg.shopKey = "another-shop"
	if other.Scope() == scope {
		t.Error("another shop key has the same scope")
	}
	other.cfg.shopKey = ""
	if other.Scope() != "" {
		t.Error("a scope without a shop key")
	}
}
