package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/scheduler"
)

// JobInfo is what the loaded job files say of a job, beside what the
// scheduler knows.
type JobInfo struct {
	Description string
	// Shop names the shop the job talks to for the header: API domain and
	// the first characters of the shop key, never more.
	Shop string
	// Plannable is false for what the scheduler runs that is no job of the
	// files (a job's reconcile): it has no preview.
	Plannable bool
}

// Config is what the console is built on: serve's ledger, scheduler and
// jobs.
type Config struct {
	Ledger    *ledger.Store
	Scheduler *scheduler.Scheduler
	// Describe says what the loaded files say of job; false when they hold
	// no such job.
	Describe func(job string) (JobInfo, bool)
	// Plan writes the job's plan now, as `runner plan -json` does, to w,
	// and returns it saved (engine.SavedPlan), for Apply.
	Plan func(ctx context.Context, job string, w io.Writer) (*engine.SavedPlan, error)
	// Apply starts sending a saved plan exactly (runner apply), once its
	// premises are checked, and returns the ledger's id of the run: an
	// *engine.PlanChangedError when the plan no longer holds.
	Apply func(ctx context.Context, p *engine.SavedPlan) (runID int64, err error)
	// Progress holds runs' latest progress; serve's runs report to it.
	Progress *Progress
	// Token is RUNNER_API_TOKEN: when set, pages need a sign-in with it.
	Token  string
	Logger *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Console serves the pages.
type Console struct {
	cfg   Config
	log   *slog.Logger
	pages map[string]*template.Template
	keys  keys
	cop   *http.CrossOriginProtection
	plans *previewed // the plans previews showed, for 「この内容で実行」
}

// New prepares the console.
func New(cfg Config) (*Console, error) {
	if cfg.Ledger == nil || cfg.Scheduler == nil || cfg.Describe == nil || cfg.Plan == nil || cfg.Apply == nil {
		return nil, errors.New("new console: ledger, scheduler, Describe, Plan and Apply are required")
	}
	if cfg.Progress == nil {
		cfg.Progress = NewProgress()
	}
	c := &Console{cfg: cfg, log: cfg.Logger, pages: map[string]*template.Template{}, cop: http.NewCrossOriginProtection(),
		plans: newPreviewed()}
	if c.log == nil {
		c.log = slog.Default()
	}
	var err error
	if c.keys, err = newKeys(cfg.Token); err != nil {
		return nil, fmt.Errorf("new console: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("new console: %w", err)
	}
	for _, n := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if page == "layout" {
			continue
		}
		t, err := template.New(page).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("new console: %w", err)
		}
		c.pages[page] = t
	}
	return c, nil
}

// Mount adds the console's routes to mux, beside the API's: the API owns
// /jobs, /runs, /orders/ and the rest; the console takes / and names the
// API does not use.
func (c *Console) Mount(mux *http.ServeMux) {
	assets, _ := fs.Sub(assetFS, "assets")
	static := http.StripPrefix("/assets/", http.FileServerFS(assets))
	mux.Handle("GET /assets/", c.secure(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
	}))
	for _, rt := range []struct {
		pattern string
		h       http.HandlerFunc
		open    bool // reachable without signing in
	}{
		{"GET /{$}", c.jobsPage, false},
		{"GET /preview/{job}", c.previewPage, false},
		{"POST /preview/{job}/run", c.applyPreviewed, false},
		{"POST /run/{job}", c.runNow, false},
		{"GET /history", c.runsPage, false},
		{"GET /history/{id}", c.runPage, false},
		{"GET /attention", c.attentionPage, false},
		{"POST /attention", c.attentionAct, false},
		{"GET /order", c.orderPage, false},
		{"GET /signin", c.signinPage, true},
		{"POST /signin", c.signin, true},
		{"POST /signout", c.signout, true},
	} {
		h := rt.h
		if !rt.open {
			h = c.signedIn(h)
		}
		mux.Handle(rt.pattern, c.secure(h))
	}
}

// secure sets the headers every page carries and refuses cross-origin
// state changes (on top of each form's CSRF token).
func (c *Console) secure(h http.HandlerFunc) http.Handler {
	return c.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h(w, r.WithContext(context.WithValue(r.Context(), langKey{}, pickLang(w, r))))
	}))
}
