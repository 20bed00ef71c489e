package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
		"orders-sample.csv:2", pickup, "この内容で実行", "ジョブをもう一度読み込んで実行します")
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
	p.has("run page", "プレビューした内容そのものではなく")
	p.waitText("#run-status", "一部失敗", 60*time.Second)
	p.has("run", "ボタン", "CannotUpdateStorePickup", pickup, "保留になった注文")

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

