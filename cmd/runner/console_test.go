package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"golang.org/x/text/encoding/japanese"
)

// TestConsoleInBrowser is the shop staff's day in the console, in a real
// browser: sign in with the API token, open Jobs, preview the shipping
// example against the test shop seeded with the sample, search within the
// preview, run it from there, watch the run finish on its page (which
// updates itself), see the store-pickup order parked, resolve it on 要対応,
// read its story in 注文検索, and switch to English.
func TestConsoleInBrowser(t *testing.T) {
	const token, pickup = "console-test-token-5f1c", "100000001206"
	ctx := newTab(t)
	srv := sampleShop(t, pickup)
	lookup := shopEnv(t, srv, "RUNNER_LISTEN", "127.0.0.1:0", "RUNNER_API_TOKEN", token)
	base := startServe(t, lookup, "-var", "goq_export="+sample, "-now", seedNow, manualShipping(t))
	p := page{t, ctx}

	// Signing in: the token once, then the page asked for.
	p.do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	p.has("sign-in", "サインイン", "API トークン")
	p.do(chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("section.job")))
	p.has("jobs", "shipping-to-futureshop", "発送情報の更新 (GoQ → futureshop)", "プレビュー", "今すぐ実行",
		"まだ実行されていません", "shop key test…")
	if html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html"))); html == "" ||
		strings.Contains(html, token) || strings.Contains(html, srv.ClientSecret) || strings.Contains(html, srv.ShopKey) {
		t.Errorf("a secret is in the page's source")
	}

	// Preview: the plan, summary first, then every order.
	p.do(chromedp.Click(chromedp.CSS(`form[action="/preview/shipping-to-futureshop"] button`)),
		chromedp.WaitVisible(chromedp.ID("items")))
	p.has("preview", "概要", "＋ 送信", "条件「status」: 2 件", "API の呼び出し", "この項目を空にします",
		"orders-sample.csv:2", pickup, "この内容で実行", "このプレビューの内容そのもの")
	if *consoleScreenshot {
		shot(t, ctx, filepath.Join("..", "..", "docs", "console-preview.png"))
	}
	p.do(chromedp.SendKeys(chromedp.ID("q"), "100000001201"))
	p.waitText("#shown", "1", 5*time.Second)
	p.eval(`(() => { const f = document.getElementById('item-filter'); f.elements.q.value = ''; f.elements.show.value = 'excluded';
		f.dispatchEvent(new Event('input')); return true })()`)
	p.waitText("#shown", "5", 5*time.Second)

	// この内容で実行: a run, whose page follows it to its end.
	p.do(chromedp.Click(chromedp.CSS(`form[action="/preview/shipping-to-futureshop/run"] button`)),
		chromedp.WaitVisible(chromedp.ID("run-status")))
	p.has("run page", "プレビューした内容を、そのまま送っています")
	p.waitText("#run-status", "一部失敗", 60*time.Second)
	p.has("run", "プレビューどおり", "CannotUpdateStorePickup", pickup, "保留になった注文")

	// 要対応: the parked order, resolved with a reason.
	p.do(chromedp.Navigate(base+"/attention"), chromedp.WaitVisible(chromedp.CSS(`input[name="key"]`)))
	p.has("attention", pickup+"/1", "CannotUpdateStorePickup")
	p.do(chromedp.Click(chromedp.CSS(`input[name="key"][value="`+pickup+`/1"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="reason"]`), "店頭受け取りのため手作業で対応済み"),
		chromedp.Click(chromedp.CSS(`button[value="resolve"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	p.has("resolved", "1 件を解決済みにしました", "対応が必要な注文はありません")

	// 注文検索: the order's story.
	p.do(chromedp.Navigate(base+"/order"), chromedp.SendKeys(chromedp.ID("no"), pickup),
		chromedp.Submit(chromedp.ID("no")), chromedp.WaitVisible(chromedp.CSS("main table")))
	p.has("story", "注文 "+pickup+" の記録", "✗ 失敗・保留", "CannotUpdateStorePickup", `"order_no":"`+pickup+`"`)

	// English, remembered from then on.
	p.do(chromedp.Click(chromedp.CSS(`a[hreflang="en"]`)), chromedp.WaitVisible(chromedp.CSS(`a[hreflang="ja"]`)))
	p.has("english", "Order search", "Needs attention")
	p.do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("section.job")))
	p.has("english jobs", "Run now", "Preview", "✗ some failed")
}

// TestConsoleEscapes: order numbers and values from an export that hold
// script and markup are shown as text on every page that shows them (the
// preview, a run's page, an order's story), and none runs.
func TestConsoleEscapes(t *testing.T) {
	const script, attr, store = `<script>window.__xss=1</script>`, `"><img src=x onerror="window.__xss=2">`, `<img src=x onerror="window.__xss=3">`
	ctx := newTab(t)
	srv := sampleShop(t)
	export := filepath.Join(t.TempDir(), "orders.csv")
	rows := "GoQ番号,受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,配送会社,お荷物伝票番号,お届け指定日,お届け時間帯,備考\r\n" +
		"1,\"" + strings.ReplaceAll(attr, `"`, `""`) + "\",FutureShop 1号店,2026-11-20 14:00:00,出荷済み,2026-11-27 09:00:00,2026-11-27,ヤマト運輸,123,,," + script + "\r\n" +
		"2," + script + ",\"" + strings.ReplaceAll(store, `"`, `""`) + "\",2026-11-20 14:00:00,出荷済み,2026-11-27 09:00:00,2026-11-27,ヤマト運輸,456,,,\r\n"
	enc, err := japanese.ShiftJIS.NewEncoder().String(rows)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(export, []byte(enc), 0o644); err != nil {
		t.Fatal(err)
	}
	lookup := shopEnv(t, srv, "RUNNER_LISTEN", "127.0.0.1:0")
	base := startServe(t, lookup, "-var", "goq_export="+export, "-now", seedNow, manualShipping(t))
	p := page{t, ctx}
	clean := func(where string) {
		t.Helper()
		if got := p.eval(`window.__xss === undefined && document.querySelectorAll('main img, main script').length === 0`); got != "true" {
			t.Errorf("%s: markup from the export became elements or ran", where)
		}
	}

	p.do(chromedp.Navigate(base+"/preview/shipping-to-futureshop"), chromedp.WaitVisible(chromedp.ID("items")))
	p.has("preview", script, attr, `<img src=x onerror=`)
	clean("preview")

	p.do(chromedp.Navigate(base+"/"), chromedp.Click(chromedp.CSS(`form[action="/run/shipping-to-futureshop"] button`)),
		chromedp.WaitVisible(chromedp.ID("run-status")))
	p.waitText("#run-status", "成功", 60*time.Second) // nothing sendable: one bad row, one excluded
	clean("run")

	for _, no := range []string{attr, script} {
		p.do(chromedp.Navigate(base+"/order?no="+url.QueryEscape(no)), chromedp.WaitVisible(chromedp.CSS("main table")))
		p.has("story", no)
		clean("story of " + no)
	}
}

// TestConsoleGuards, over plain HTTP: with a token, pages need a sign-in
// and a wrong token is refused; a form without its session's CSRF token
// changes nothing; every page carries a CSP without inline scripts; the
// API keeps its own routes beside the console; -console=false leaves the
// API alone.
func TestConsoleGuards(t *testing.T) {
	const token = "guard-token-77"
	srv := sampleShop(t)
	lookup := shopEnv(t, srv, "RUNNER_LISTEN", "127.0.0.1:0", "RUNNER_API_TOKEN", token)
	base := startServe(t, lookup, "-var", "goq_export="+sample, "-now", seedNow, manualShipping(t))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, cookies ...*http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := get("/history"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/signin?next=") {
		t.Errorf("GET /history without a session: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	signin := func(tok string) *http.Response {
		resp, err := noFollow.PostForm(base+"/signin", url.Values{"token": {tok}, "next": {"//evil.example/"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := signin("wrong"); r.StatusCode != http.StatusUnauthorized || len(r.Cookies()) != 0 {
		t.Errorf("a wrong token: %d, cookies %v", r.StatusCode, r.Cookies())
	}
	r := signin(token)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" || len(r.Cookies()) != 1 {
		t.Fatalf("signing in: %d %q %v", r.StatusCode, r.Header.Get("Location"), r.Cookies())
	}
	session := r.Cookies()[0]
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || strings.Contains(session.Value, token) {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, without the token", session)
	}
	page := get("/", session)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET / signed in: %d", page.StatusCode)
	}
	csp := page.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	// A run pressed without the CSRF token, or with another's, is refused.
	for _, form := range []url.Values{{}, {"csrf": {"forged"}}} {
		req, _ := http.NewRequest("POST", base+"/run/shipping-to-futureshop", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(session)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST /run with csrf %q: %d, want 403", form.Get("csrf"), resp.StatusCode)
		}
	}
	if out, _ := invoke(t, lookup, "history", "-json"); strings.Contains(stdoutOf(out), `"id"`) {
		t.Errorf("a refused form started a run:\n%s", out)
	}
	// The API beside it: JSON, behind the bearer token.
	req, _ := http.NewRequest("GET", base+"/jobs", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /jobs beside the console: %v %v", resp, err)
	}

	off := startServe(t, shopEnv(t, srv, "RUNNER_LISTEN", "127.0.0.1:0"), "-console=false", "-var", "goq_export="+sample, "-now", seedNow, manualShipping(t))
	resp, err := http.Get(off + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET / with -console=false: %d, want 404", resp.StatusCode)
	}
}

// BenchmarkConsolePreview is the server's time to answer the Preview of
// a 10,000-order export (the plan computed as runner plan -json computes
// it, read back and rendered), over loopback HTTP; bytes/page is its size.
//
//	go test ./cmd/runner -run '^$' -bench BenchmarkConsolePreview -benchtime 5x
func BenchmarkConsolePreview(b *testing.B) {
	srv := futureshoptest.NewServer()
	b.Cleanup(srv.Close)
	export, _ := thousandOrders(b, srv, 10000)
	base := startServe(b, shopEnv(b, srv, "RUNNER_LISTEN", "127.0.0.1:0"), "-var", "goq_export="+export, "-now", seedNow, manualShipping(b))
	var size int64
	for b.Loop() {
		size = fetch(b, base+"/preview/shipping-to-futureshop")
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// BenchmarkConsoleJobs is the weight of the Jobs page with the sample's
// job: its HTML, stylesheet and script, the whole of what a browser loads.
func BenchmarkConsoleJobs(b *testing.B) {
	srv := sampleShop(b)
	base := startServe(b, shopEnv(b, srv, "RUNNER_LISTEN", "127.0.0.1:0"), "-var", "goq_export="+sample, "-now", seedNow, manualShipping(b))
	var html, css, js int64
	for b.Loop() {
		html = fetch(b, base+"/")
	}
	css, js = fetch(b, base+"/assets/console.css"), fetch(b, base+"/assets/console.js")
	b.ReportMetric(float64(html), "html-bytes")
	b.ReportMetric(float64(html+css+js), "page-bytes")
}

// fetch GETs url and returns the size of its body.
func fetch(tb testing.TB, url string) int64 {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return n
}

// TestConsoleRunsThePreview: 「この内容で実行」 sends the plan the preview
// showed, exactly: an order whose export row changed after the preview is
// reported stale and not sent, the rest go out, and the same preview
// cannot be sent twice.
func TestConsoleRunsThePreview(t *testing.T) {
	p := newPlanned(t)
	base := startServe(t, shopEnv(t, p.shop, "RUNNER_LISTEN", "127.0.0.1:0", "RUNNER_DATABASE", filepath.Join(p.dir, "state.db")),
		"-var", "goq_export="+p.export, "-now", seedNow, manualShipping(t))
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/preview/shipping-to-futureshop")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	hidden := func(name string) string {
		m := regexp.MustCompile(`name="` + name + `" value="([^"]+)"`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("the preview has no %s field:\n%s", name, body)
		}
		return string(m[1])
	}
	form := url.Values{"csrf": {hidden("csrf")}, "plan": {hidden("plan")}}

	p.edit(t, "2026-11-27 17:45:00", "2026-11-28 09:30:00") // 1202 changes after the preview
	post := func() *http.Response {
		t.Helper()
		resp, err := client.PostForm(base+"/preview/shipping-to-futureshop/run", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	r := post()
	id, ok := strings.CutPrefix(r.Header.Get("Location"), "/history/")
	if r.StatusCode != http.StatusSeeOther || !ok {
		t.Fatalf("この内容で実行: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	id, _, _ = strings.Cut(id, "?")
	var run struct {
		Status, Trigger string
		Counts          struct{ OK int }
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(base + "/runs/" + id)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&run)
		resp.Body.Close()
		if run.Status != "running" && run.Status != "queued" && run.Status != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not end: %+v", id, run)
		}
	}
	if run.Trigger != "apply" || run.Status != "failed" {
		t.Errorf("run %s: %+v; want trigger apply, failed (one order stale)", id, run)
	}
	for _, no := range admitted {
		want := 1
		if no == "100000001202" {
			want = 0
		}
		if got := p.shop.Shipped(no); got != want {
			t.Errorf("order %s shipped %d times, want %d", no, got, want)
		}
	}
	if r := post(); r.StatusCode != http.StatusConflict {
		t.Errorf("the same preview sent again: %d, want 409", r.StatusCode)
	}
}
