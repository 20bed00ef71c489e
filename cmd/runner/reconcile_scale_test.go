package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
)

// thousandOrders writes a CP932 export of n orders the shipping example
// admits at seedNow, seeds shop with them, and returns the export's path
// and the order numbers.
func thousandOrders(t testing.TB, srv *futureshoptest.Server, n int) (string, []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("GoQ番号,受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,配送会社,お荷物伝票番号,お届け指定日,お届け時間帯,備考\r\n")
	ordered := time.Date(2026, 11, 20, 14, 0, 0, 0, time.FixedZone("JST", 9*3600))
	var nos []string
	for i := range n {
		no := fmt.Sprintf("2%011d", i)
		nos = append(nos, no)
		arrival := ""
		if i%2 == 0 {
			arrival = "2026-11-29"
		}
		fmt.Fprintf(&b, "%d,%s,FutureShop 1号店,2026-11-20 14:00:00,出荷済み,2026-11-27 09:00:00,2026-11-27,ヤマト運輸,%012d,%s,,\r\n", 500000+i, no, 7919*int64(i+1), arrival)
		srv.AddOrder(futureshoptest.NewOrder(no, ordered))
	}
	enc, err := japanese.ShiftJIS.NewEncoder().String(b.String())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "orders.csv")
	if err := os.WriteFile(path, []byte(enc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, nos
}

// perEndpoint counts the shop's requests by method and path.
func perEndpoint(srv *futureshoptest.Server) string {
	n := map[string]int{}
	for _, r := range srv.Requests() {
		n[r.Method+" "+r.Path]++
	}
	var out []string
	for k, v := range n {
		out = append(out, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// TestReconcileThousand measures what reconcile costs for 1,000 orders: a
// token and one search per 100 order numbers, 11 requests in all, against
// the 21 of the run that sent them; three edited orders are found among
// the thousand at the same cost.
func TestReconcileThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds and sends 1,000 orders")
	}
	fast := fastShipping(t)
	srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
	defer srv.Close()
	export, nos := thousandOrders(t, srv, 1000)
	e := shopEnv(t, srv)
	vars := []string{"-var", "goq_export=" + export, "-now", seedNow}
	if out, code := invoke(t, e, append(append([]string{"run"}, vars...), fast)...); code != 0 || !strings.Contains(out, "1000 sent in 10 batch(es): 1000 ok") {
		t.Fatalf("run: exit %d\n%s", code, engineClip(out))
	}
	t.Logf("run: %s", perEndpoint(srv))

	srv.ResetRequests()
	start := time.Now()
	code, rep, out := reconcileJSON(t, e, append(vars, fast)...)
	took := time.Since(start)
	if code != 0 || rep.Counts["in_sync"] != 1000 || rep.Calls != 11 {
		t.Fatalf("reconcile: exit %d, %v, %d calls\n%s", code, rep.Counts, rep.Calls, engineClip(out))
	}
	got := perEndpoint(srv)
	t.Logf("reconcile: %s in %s at 50 requests a second", got, took.Round(time.Millisecond))
	if want := "GET /admin-api/v1/shipping 10, POST /oauth/token 1"; got != want {
		t.Errorf("reconcile's requests: %s, want %s", got, want)
	}
	seen := map[string]bool{}
	for _, r := range srv.Requests() {
		if r.Path != searchPath {
			continue
		}
		q, _ := url.ParseQuery(r.Query)
		list := strings.Split(q.Get("orderNo"), ",")
		if len(list) != 100 {
			t.Errorf("a search for %d order numbers, want 100", len(list))
		}
		for _, no := range list {
			seen[no] = true
		}
	}
	if len(seen) != len(nos) {
		t.Errorf("the searches asked for %d distinct orders, want %d", len(seen), len(nos))
	}

	for _, no := range []string{nos[7], nos[500], nos[999]} {
		edit(t, srv, no, func(o *futureshoptest.Order) { o.Shipments[0].InvoiceNo = "EDITED" })
	}
	srv.ResetRequests()
	code, rep, _ = reconcileJSON(t, e, append(vars, fast)...)
	if d := drift(rep); code != exitFailed || len(d) != 3 || !strings.HasPrefix(d[0], nos[7]+"/1 drifted invoice_no") || perEndpoint(srv) != got {
		t.Errorf("after three edits: exit %d, %q, %s", code, d, perEndpoint(srv))
	}
}
