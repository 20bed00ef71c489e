package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The console's browser tests drive Debian's chromium, headless: one
// browser for the test binary (started by the first test that needs it,
// stopped by TestMain), a fresh browser context (cookies, storage) per
// test.

var consoleScreenshot = flag.Bool("console-screenshot", false, "write the README's screenshot of the console's Preview page (docs/console-preview.png)")

var browser struct {
	once sync.Once
	ctx  context.Context
	stop func()
	err  error
}

// chromiumPath finds the browser: Debian's chromium, or another build of it.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// stopBrowser ends the shared browser, if a test started one.
func stopBrowser() {
	if browser.stop != nil {
		browser.stop()
	}
}

// newTab returns a chromedp context in a browser context of its own, which
// saves a screenshot in the test's artifact directory (a temporary one,
// kept with go test -artifacts -outputdir DIR) if the test fails. Without chromium the test skips, saying how to install it; in CI
// (CI set) it fails instead, since there the browser must be there.
func newTab(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed, and CI must run the console's browser tests: apt-get install -y chromium")
		}
		t.Skip("chromium is not installed: apt-get install -y chromium (as root) runs the console's browser tests")
	}
	browser.once.Do(func() {
		dir, err := os.MkdirTemp("", "runner-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		// Flags this closed machine needs: no network side trips, no
		// sandbox (root in a container), no GPU.
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 900),
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		)
		ctx, cancel := chromedp.NewContext(alloc)
		browser.stop = func() { cancel(); cancelAlloc(); os.RemoveAll(dir) }
		browser.ctx = ctx
		browser.err = chromedp.Do(ctx) // starts the browser
	})
	if browser.err != nil {
		t.Fatalf("starting chromium: %v", browser.err)
	}
	tab, cancelTab := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	// A Japanese shop's browser: headless chromium asks for English.
	if _, err := chromedp.Call(tab, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Accept-Language": "ja,en;q=0.5"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tab, 2*time.Minute)
	// The test's artifact directory: a temporary one, kept with -artifacts.
	dir := t.ArtifactDir()
	t.Cleanup(func() {
		if t.Failed() {
			shot(t, tab, filepath.Join(dir, "failure.png"))
		}
		cancel()
		cancelTab()
	})
	return ctx
}

// shot saves a screenshot of the whole page to path.
func shot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// page is a tab's steps with the test's failure handling.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatal(err)
	}
}

// text is the visible text of the page's body.
func (p page) text() string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// has checks that the page's text holds each of want.
func (p page) has(what string, want ...string) {
	p.t.Helper()
	body := p.text()
	for _, w := range want {
		if !strings.Contains(body, w) {
			p.t.Errorf("%s: the page does not say %q:\n%s", what, w, body)
		}
	}
}

// waitText waits until the text of sel holds want.
func (p page) waitText(sel, want string, within time.Duration) {
	p.t.Helper()
	var last string
	var lastErr error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil && strings.Contains(s, want) {
			return
		}
		// A live page swaps its region in while it is read ("No node with
		// given id found"): read it again.
		last, lastErr = s, err
	}
	p.t.Fatalf("%s: %q (%v) after %v, want %q", sel, last, lastErr, within, want)
}

func (p page) eval(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](expr))
	if err != nil {
		p.t.Fatal(err)
	}
	return fmt.Sprint(v)
}
