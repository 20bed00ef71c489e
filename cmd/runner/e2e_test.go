package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
)

// admitted are the sample's orders the seed rules admit at seedNow.
var admitted = []string{"100000001201", "100000001202", "100000001206", "100000001208", "100000001210",
	"100000001211", "100000001212", "100000001213", "100000001214"}

// shopEnv is the environment of a run against srv, with a ledger of its
// own in a temporary directory.
func shopEnv(t testing.TB, srv *futureshoptest.Server, extra ...string) func(string) (string, bool) {
	return env(append([]string{
		"RUNNER_DATABASE", filepath.Join(t.TempDir(), "state.db"),
		"FUTURESHOP_API_DOMAIN", srv.URL,
		"FUTURESHOP_SHOP_KEY", srv.ShopKey,
		"FUTURESHOP_CLIENT_ID", srv.ClientID,
		"FUTURESHOP_CLIENT_SECRET", srv.ClientSecret,
	}, extra...)...)
}

// TestShippingExportEndToEnd runs the example against the test server: the
// admitted orders end up shipped and 処理済み with the right values, no
// other order is touched, and it costs one token, one shipping and one
// complete call.
func TestShippingExportEndToEnd(t *testing.T) {
	fast := fastShipping(t)
	srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
	defer srv.Close()
	srv.Seed(futureshoptest.SampleOrders()...)
	before := map[string]futureshoptest.Order{}
	for _, o := range srv.Orders() {
		before[o.OrderNo] = o
	}

	out, code := invoke(t, shopEnv(t, srv), "run", "-json", "-var", "goq_export="+sample, "-now", seedNow, fast)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// The one order completed with no ship date is named as a side effect.
	if !regexp.MustCompile(`"side_effects": \[\s*\{\s*"message": "[^"]*marked 処理済み with no 出荷日[^"]*",\s*"keys": \[\s*"100000001212/1"\s*\]`).MatchString(out) {
		t.Errorf("the run's summary does not name 100000001212/1 as completed with no ship date:\n%s", out)
	}

	want := map[string][3]string{ // shipping date, invoice no, expected arrival
		"100000001201": {"2026-11-26", "123456789012", "2026-11-28"},
		"100000001202": {"2026-11-27", "3456-7890-1234", ""},
		"100000001206": {"2026-11-24", "112233445566", "2026-11-26"},
		"100000001208": {"2026-11-25", "334455667788", ""},
		"100000001210": {"2026-11-27", "", ""},
		"100000001211": {"2026-11-27", "111122223333", "2026-11-29"},
		"100000001212": {"", "555566667777", "2026-12-01"},
		"100000001213": {"2026-11-27", "123456789012", ""},
		"100000001214": {"2026-11-28", "6677889900", ""},
	}
	for _, o := range srv.Orders() {
		s := o.Shipments[0]
		w, ok := want[o.OrderNo]
		if !ok {
			if fmt.Sprint(o) != fmt.Sprint(before[o.OrderNo]) {
				t.Errorf("order %s is not admitted but was changed: %+v", o.OrderNo, o)
			}
			continue
		}
		got := [3]string{s.ShippingDate, s.InvoiceNo, s.ExpectedArrival}
		if got != w {
			t.Errorf("order %s: got %q, want %q", o.OrderNo, got, w)
		}
		if o.Status != futureshoptest.StatusCompleted {
			t.Errorf("order %s: status %s, want %s", o.OrderNo, o.Status, futureshoptest.StatusCompleted)
		}
		if w[0] != "" && s.Status != futureshoptest.ShipmentShipped {
			t.Errorf("order %s: shipment %s, want %s", o.OrderNo, s.Status, futureshoptest.ShipmentShipped)
		}
	}
	var calls []string
	for _, r := range srv.Requests() {
		calls = append(calls, r.Method+" "+r.Path)
	}
	wantCalls := []string{"POST /oauth/token", "POST /admin-api/v1/shipping/status", "POST /admin-api/v1/order/complete"}
	if strings.Join(calls, "\n") != strings.Join(wantCalls, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(wantCalls, "\n"))
	}
	if strings.Contains(out, srv.ClientSecret) {
		t.Error("the client secret appears in the output")
	}
}

// TestRunReportsFailures makes futureshop refuse one order: the run
// finishes, names the order, futureshop's code and message, exits 1, and
// completes only the orders whose shipping update succeeded.
func TestRunReportsFailures(t *testing.T) {
	fast := fastShipping(t)
	srv := sampleShop(t, "100000001206")
	out, code := invoke(t, shopEnv(t, srv), "run", "-var", "goq_export="+sample, "-now", seedNow, fast)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, "record=100000001206/1") || !strings.Contains(out, "CannotUpdateStorePickup") {
		t.Errorf("the failure is not reported with its order and code:\n%s", out)
	}
	if !strings.Contains(out, "8 ok, 1 failed") {
		t.Errorf("summary:\n%s", out)
	}
	if o, _ := srv.Order("100000001206"); o.Status == futureshoptest.StatusCompleted {
		t.Error("an order whose shipping update failed was completed")
	}
	if o, _ := srv.Order("100000001201"); o.Status != futureshoptest.StatusCompleted {
		t.Error("the other orders were not completed")
	}
}

// TestTraceTree checks the spans of a run: one for the command, one per
// job, one per batch and one per HTTP call, none per record, and no secret
// in any attribute.
func TestTraceTree(t *testing.T) {
	fast := fastShipping(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	defer otel.SetTracerProvider(prev)

	srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
	defer srv.Close()
	srv.Seed(futureshoptest.SampleOrders()...)
	if out, code := invoke(t, shopEnv(t, srv), "run", "-var", "goq_export="+sample, "-now", seedNow, fast); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	tp.ForceFlush(context.Background())

	spans := rec.Ended()
	byID := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID().String()] = s
	}
	var paths []string
	for _, s := range spans {
		path := s.Name()
		for p := s.Parent(); p.IsValid(); {
			ps, ok := byID[p.SpanID().String()]
			if !ok {
				break
			}
			path = ps.Name() + " > " + path
			p = ps.Parent()
		}
		paths = append(paths, path)
		for _, a := range s.Attributes() {
			v := a.Value.String()
			for _, secret := range []string{srv.ClientSecret, srv.ShopKey} {
				if strings.Contains(v, secret) {
					t.Errorf("span %s attribute %s holds a secret", s.Name(), a.Key)
				}
			}
		}
	}
	sort.Strings(paths)
	want := []string{
		"run",
		"run > job",
		"run > job > batch",
		"run > job > batch > futureshop POST /admin-api/v1/order/complete",
		"run > job > batch > futureshop POST /admin-api/v1/shipping/status",
		"run > job > batch > futureshop POST /oauth/token",
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("span tree:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range spans {
		if s.Name() != "job" {
			continue
		}
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.String()
		}
		b, _ := json.Marshal(attrs)
		if attrs["runner.records.read"] != "14" || attrs["runner.records.ok"] != "9" {
			t.Errorf("job span attributes: %s", b)
		}
	}
}

// TestOrderImportEndToEnd runs the import example against the test server
// and reads the CP932 file it writes: one row per product line, and unit
// prices that include option prices exactly when the job asks for it.
func TestOrderImportEndToEnd(t *testing.T) {
	for _, tt := range []struct {
		add  string
		want []string // unit prices of the two lines of order 100000002001
	}{
		{"true", []string{"3300", "1000"}},
		{"false", []string{"3000", "1000"}},
	} {
		t.Run("add_option_prices="+tt.add, func(t *testing.T) {
			srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
			defer srv.Close()
			o := futureshoptest.NewOrder("100000002001", mustTime(t, "2026-11-25T09:30:00+09:00"))
			o.Shipments[0].Products = []futureshoptest.Product{
				{ProductNo: "P-1", SkuNo: "S-1", Name: "名入れマグ ①", Price: 3000, Count: 2,
					Options: []futureshoptest.ProductOption{{Name: "名入れ", Selection: "あり", Price: 200}, {Name: "ギフト包装", Selection: "する", Price: 100}}},
				{ProductNo: "P-2", SkuNo: "S-2", Name: "コースター", Price: 1000, Count: 1},
			}
			old := futureshoptest.NewOrder("100000002002", mustTime(t, "2026-11-10T09:30:00+09:00")) // 18 days before: outside the window
			srv.Seed(o, old)
			dir := t.TempDir()
			out, code := invoke(t, shopEnv(t, srv), "run", "-var", "goq_import_dir="+dir, "-var", "add_option_prices="+tt.add,
				"-now", seedNow, fastImport(t))
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, out)
			}
			rows := readCP932CSV(t, dir)
			if len(rows) != 3 {
				t.Fatalf("want a header and 2 rows, got %d:\n%v", len(rows), rows)
			}
			col := map[string]int{}
			for i, h := range rows[0] {
				col[h] = i
			}
			for i, want := range tt.want {
				row := rows[i+1]
				if row[col["受注番号"]] != "100000002001" || row[col["単価"]] != want {
					t.Errorf("row %d: %v, want unit price %s", i+1, row, want)
				}
			}
			if got := rows[1][col["商品名"]]; got != "名入れマグ ①" {
				t.Errorf("product name %q did not survive CP932", got)
			}
			if got := rows[1][col["注文日時"]]; got != "2026-11-25 09:30:00" {
				t.Errorf("order time %q", got)
			}
		})
	}
}

// TestUnusedColumnsMayBeAbsent plans over an export whose template lacks
// columns the job never reads (備考, お届け時間帯, GoQ番号): the reader needs
// only what the filters and mappings name.
func TestUnusedColumnsMayBeAbsent(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "slim.csv")
	os.WriteFile(csv, []byte("受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,配送会社,お荷物伝票番号,お届け指定日\n"+
		"100000001201,FutureShop 1号店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,ヤマト運輸,123456789012,2026-11-28\n"), 0o644)
	out, code := invoke(t, env(), "plan", "-var", "goq_export="+csv, "-now", seedNow, shipping)
	if code != 0 || !strings.Contains(out, "1 to send") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// A column the job does read is still required, and named.
	os.WriteFile(csv, []byte("受注番号,販売店舗\n100000001201,FutureShop 1号店\n"), 0o644)
	out, code = invoke(t, env(), "plan", "-var", "goq_export="+csv, "-now", seedNow, shipping)
	if code != exitStopped || !strings.Contains(out, "missing column") || !strings.Contains(out, "最終更新日時") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// TestPlanCompare plans against the shop's current state: after a run,
// every field shows no change; with the export's tracking number changed,
// plan shows the value the shop holds now. Nothing is written.
func TestPlanCompare(t *testing.T) {
	fast := fastShipping(t)
	srv := sampleShop(t)
	e := shopEnv(t, srv)
	args := []string{"plan", "-compare", "-no-ledger", "-var", "goq_export=" + sample, "-now", seedNow, fast}
	out, code := invoke(t, e, args...)
	if code != 0 || !strings.Contains(out, `invoice_no       = "123456789012"  # now ""`) {
		t.Fatalf("before any run: exit %d\n%s", code, out)
	}
	if _, code := invoke(t, e, "run", "-var", "goq_export="+sample, "-now", seedNow, fast); code != 0 {
		t.Fatal("run failed")
	}
	srv.ResetRequests()
	out, _ = invoke(t, e, args...)
	if strings.Contains(out, "# now") || !strings.Contains(out, `shipping_date    = "2026-11-26"  # no change`) {
		t.Errorf("after the run:\n%s", out)
	}
	for _, r := range srv.Requests() {
		if r.Method != http.MethodGet && r.Path != "/oauth/token" {
			t.Errorf("plan -compare wrote: %s %s", r.Method, r.Path)
		}
	}
	// Without the credentials, -compare says what it needs.
	out, code = invoke(t, env(), args...)
	if code != 2 || !strings.Contains(out, "FUTURESHOP_CLIENT_SECRET is not set") {
		t.Errorf("without credentials: exit %d\n%s", code, out)
	}
}

// TestInterruptFinishesBatch presses Ctrl-C while the first of several
// batches is in flight: that batch completes (shipping and 処理済み), no
// other batch starts, the summary says so, and the exit status is 130.
func TestInterruptFinishesBatch(t *testing.T) {
	srv := sampleShop(t)
	srv.SlowNext(2, time.Second) // the token, then the first shipping call
	job := variant(t, t.TempDir(), "small-batches.hcl", `points_activation = "注文完了時に有効"`, "points_activation = \"注文完了時に有効\"\n    batch_size = 3")
	stop := make(chan struct{})
	var out, errb syncBuffer
	c := &cli{stdout: &out, stderr: &errb, lookupEnv: shopEnv(t, srv), interrupt: stop}
	done := make(chan int, 1)
	go func() {
		done <- c.run(context.Background(), []string{"run", "-var", "goq_export=" + sample, "-now", seedNow, job}[1:])
	}()
	for deadline := time.Now().Add(20 * time.Second); countPath(srv, "/admin-api/v1/shipping/status") == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	code := <-done
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitInterrupted, out.String(), errb.String())
	}
	if n := countPath(srv, "/admin-api/v1/shipping/status"); n != 1 {
		t.Errorf("%d shipping calls after the interrupt, want the one in flight", n)
	}
	if n := countPath(srv, "/admin-api/v1/order/complete"); n != 1 {
		t.Errorf("the batch in flight was not completed (%d complete calls)", n)
	}
	if !strings.Contains(out.String(), "3 ok") || !strings.Contains(out.String(), "interrupted") {
		t.Errorf("summary:\n%s", out.String())
	}
}

// TestImportOfCapturedShapes runs the import example against bodies in
// the shapes captured from the real futureshop API (served as they are):
// every product line is imported, none is lost to a field the real
// search does not return.
func TestImportOfCapturedShapes(t *testing.T) {
	page, err := os.ReadFile("../../connectors/futureshop/testdata/search-page.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/oauth/token":
			w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":3600}`))
		case "/admin-api/v1/shipping":
			w.Write(page)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	e := env("RUNNER_DATABASE", filepath.Join(t.TempDir(), "state.db"), "FUTURESHOP_API_DOMAIN", srv.URL,
		"FUTURESHOP_SHOP_KEY", "k", "FUTURESHOP_CLIENT_ID", "c", "FUTURESHOP_CLIENT_SECRET", "s")
	out, code := invoke(t, e, "run", "-var", "goq_import_dir="+dir, "-now", seedNow, fastImport(t))
	if code != 0 || !strings.Contains(out, "3 read, 3 sent in 1 batch(es): 3 ok") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	rows := readCP932CSV(t, dir)
	if len(rows) != 4 || rows[3][0] != "100000003002" || rows[3][col(rows[0], "SKU番号")] != "wreath-lv" ||
		rows[3][col(rows[0], "購入者住所")] != "東京都渋谷区渋谷2丁目1-1" {
		t.Errorf("import file: %v", rows)
	}
}

func col(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	return -1
}

// TestBadRowNamesOrderAndHeader: a row whose cell cannot be read is
// reported with the file's own header for the column and with the order
// number, which the row did hold.
func TestBadRowNamesOrderAndHeader(t *testing.T) {
	dir := t.TempDir()
	job := variant(t, dir, "renamed.hcl", "path = var.goq_export", "path = var.goq_export\n    columns {\n      updated_at = \"更新日時\"\n    }")
	csv := filepath.Join(dir, "renamed.csv")
	header := strings.Replace(goqHeader, "最終更新日時", "更新日時", 1)
	row := "183401,100000001201,FutureShop 1号店,2026-11-20 14:03:11,出荷済み,昨日,2026-11-26,ヤマト運輸,123456789012,,,\r\n"
	if err := os.WriteFile(csv, []byte(header+row), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := invoke(t, env(), "plan", "-var", "goq_export="+csv, "-now", seedNow, job)
	want := `! 100000001201  renamed.csv:2  error: 更新日時 (updated_at): cannot read "昨日" as a time`
	if code == exitOK || !strings.Contains(out, want) {
		t.Errorf("exit %d, want a line %q\n%s", code, want, out)
	}
	out, _ = invoke(t, env(), "plan", "-summary", "-var", "goq_export="+csv, "-now", seedNow, job)
	if want := "Errors, by kind:\n  source: 更新日時 (updated_at) (1): 100000001201\n"; !strings.Contains(out, want) {
		t.Errorf("plan -summary does not count the error by kind (%q):\n%s", want, out)
	}
}

// TestCostEstimate: what plan says a run will cost at the shop is what the
// run then spends, call for call, from no order to several batches.
func TestCostEstimate(t *testing.T) {
	fast := fastShipping(t)
	for _, n := range []int{0, 1, 100, 101, 250} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
			defer srv.Close()
			export, _ := thousandOrders(t, srv, n)
			e := shopEnv(t, srv)
			args := []string{"-json", "-var", "goq_export=" + export, "-now", seedNow, fast}
			out, code := invoke(t, e, append([]string{"plan"}, args...)...)
			var plan struct {
				Cost engine.Cost `json:"cost"`
			}
			if err := json.Unmarshal([]byte(stdoutOf(out)), &plan); err != nil || code != 0 {
				t.Fatalf("plan: exit %d, %v\n%s", code, err, out)
			}
			out, code = invoke(t, e, append([]string{"run"}, args...)...)
			var runs []engine.RunSummary
			if err := json.Unmarshal([]byte(stdoutOf(out)), &runs); err != nil || code != 0 || len(runs) != 1 {
				t.Fatalf("run: exit %d, %v\n%s", code, err, out)
			}
			got := map[string]int{}
			for _, r := range srv.Requests() {
				got[map[string]string{"/oauth/token": "token", "/admin-api/v1/shipping/status": "shipping", "/admin-api/v1/order/complete": "complete"}[r.Path]]++
			}
			want := map[string]int{}
			if n > 0 {
				batches := (n + 99) / 100
				want = map[string]int{"token": 1, "shipping": batches, "complete": batches}
			}
			if !maps.Equal(plan.Cost.Calls, want) && !(n == 0 && len(plan.Cost.Calls) == 0) {
				t.Errorf("plan's estimate %v, want %v", plan.Cost.Calls, want)
			}
			if !maps.Equal(got, want) {
				t.Errorf("the shop saw %v, want %v", got, want)
			}
			if r := runs[0]; n > 0 && (r.Estimated == nil || r.Calls == nil || !maps.Equal(r.Estimated.Calls, want) || !maps.Equal(r.Calls.Calls, want)) {
				t.Errorf("run's summary: estimated %+v, calls %+v; want %v", r.Estimated, r.Calls, want)
			}
		})
	}
}

// TestPlanSummaryAndOnly: -summary prints counts per filter, side effect
// and error kind with the first of each, and no records; -only prints one
// kind of record; a bad -only is refused.
func TestPlanSummaryAndOnly(t *testing.T) {
	base := []string{"plan", "-no-ledger", "-var", "goq_export=" + sample, "-now", seedNow, shipping}
	with := func(flags ...string) []string { return append(append([]string{"plan"}, flags...), base[1:]...) }
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"plan-summary", with("-summary"), exitOK},
		{"plan-summary-json", with("-summary", "-json"), exitOK},
		{"plan-only-excluded", with("-only", "excluded"), exitOK},
		{"plan-only-bad", with("-only", "sent"), exitConfig},
		{"plan-detailed-exitcode", with("-summary", "-detailed-exitcode"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := invoke(t, env(), tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			golden(t, tt.name, out)
		})
	}
}

// TestPlanDetailedExitcode: 0 when nothing would be sent, 2 when something
// would, 1 on a bad row.
func TestPlanDetailedExitcode(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		row  string
		code int
	}{
		{"nothing to send", sampleRow("100000001201", "キャンセル", "2026-11-26 09:12:40", "123456789012"), 0},
		{"something to send", sampleRow("100000001201", "出荷済み", "2026-11-26 09:12:40", "123456789012"), 2},
		{"a bad row", sampleRow("100000001201", "出荷済み", "昨日", "123456789012"), 1},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".csv")
		if err := os.WriteFile(path, []byte(goqHeader+tt.row+"\r\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := invoke(t, env(), "plan", "-detailed-exitcode", "-no-ledger", "-var", "goq_export="+path, "-now", seedNow, shipping); code != tt.code {
			t.Errorf("%s: exit %d, want %d\n%s", tt.name, code, tt.code, out)
		}
	}
}
