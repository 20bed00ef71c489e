package console

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goqsync/runner/ledger"
	"github.com/goqsync/runner/parked"
	"github.com/goqsync/runner/scheduler"
)

// view is what every page's template gets: the layout's parts and the
// page's own data in D.
type view struct {
	L        *Lang
	Title    string
	Nav      string
	Path     string
	Ledger   string
	Shops    []string
	SignedIn bool // with a token: the sign-out button shows
	CSRF     string
	Flash    string
	Error    string
	D        any
}

var funcs = template.FuncMap{
	"list": func(s ...string) []string { return s },
	"events": func(l *Lang, evs []ledger.Event, title string) eventList {
		return eventList{L: l, Events: evs, Title: title}
	},
}

func (c *Console) view(r *http.Request, titleKey, nav string) *view {
	l := newLang(langOf(r))
	v := &view{L: l, Title: l.T(titleKey), Nav: nav, Path: r.URL.Path, Ledger: c.cfg.Ledger.Where(), CSRF: c.csrf(r)}
	v.SignedIn = c.keys.token != "" && v.CSRF != ""
	seen := map[string]bool{}
	if jobs, err := c.cfg.Scheduler.Jobs(r.Context()); err == nil {
		for _, j := range jobs {
			if info, ok := c.cfg.Describe(j.Name); ok && info.Shop != "" && !seen[info.Shop] {
				seen[info.Shop] = true
				v.Shops = append(v.Shops, info.Shop)
			}
		}
	}
	return v
}

// eventList is a table of a run's failed or parked orders.
type eventList struct {
	L      *Lang
	Events []ledger.Event
	Title  string
}

type langKey struct{}

// langOf is the language pickLang chose for r, in its context.
func langOf(r *http.Request) string {
	if l, ok := r.Context().Value(langKey{}).(string); ok {
		return l
	}
	return languages[0]
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, page, titleKey, nav string, data any) {
	v := c.view(r, titleKey, nav)
	v.D = data
	c.write(w, r, code, page, v)
}

// write renders a page whole before answering, so that a template error is
// a 500 and never half a page.
func (c *Console) write(w http.ResponseWriter, r *http.Request, code int, page string, v *view) {
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("console: render", "page", page, "error", err)
		http.Error(w, "cannot render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// fail shows an error page; the cause goes to the log only, as it may
// name what a page must not (a database's address).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	c.log.Error("console: "+what, "error", err)
	v := c.view(r, "error.title", "")
	v.Error = v.L.T("error.internal")
	c.write(w, r, http.StatusInternalServerError, "message", v)
}

// jobRow is one job on the jobs page.
type jobRow struct {
	scheduler.JobStatus
	Info   JobInfo
	Parked int
}

func (c *Console) jobsPage(w http.ResponseWriter, r *http.Request) {
	jobs, err := c.cfg.Scheduler.Jobs(r.Context())
	if err != nil {
		c.fail(w, r, "jobs", err)
		return
	}
	parkedBy, err := c.cfg.Ledger.ParkedByJob(r.Context())
	if err != nil {
		c.fail(w, r, "parked counts", err)
		return
	}
	rows := make([]jobRow, 0, len(jobs))
	for _, j := range jobs {
		info, _ := c.cfg.Describe(j.Name)
		rows = append(rows, jobRow{JobStatus: j, Info: info, Parked: parkedBy[j.Name]})
	}
	c.render(w, r, http.StatusOK, "jobs", "jobs.title", "jobs", rows)
}

func (c *Console) previewPage(w http.ResponseWriter, r *http.Request) {
	job := r.PathValue("job")
	if info, ok := c.cfg.Describe(job); !ok || !info.Plannable {
		c.notFound(w, r, "preview.nojob", job)
		return
	}
	start := time.Now()
	pv, err := c.loadPreview(r.Context(), job, r.URL.Query().Get("show"), r.URL.Query().Get("q"))
	if err != nil {
		c.log.Warn("console: preview", "job", job, "error", err)
		v := c.view(r, "preview.title", "jobs")
		v.Error = v.L.T("preview.failed", err.Error())
		v.D = &preview{Plan: plan{Job: job}}
		c.write(w, r, http.StatusOK, "preview", v)
		return
	}
	c.log.Debug("console: preview", "job", job, "records", len(pv.Items), "took", time.Since(start))
	c.render(w, r, http.StatusOK, "preview", "preview.title", "jobs", pv)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request, key string, args ...any) {
	v := c.view(r, "error.title", "")
	v.Error = v.L.T(key, args...)
	c.write(w, r, http.StatusNotFound, "message", v)
}

// runNow is 今すぐ実行: the run the API's POST /jobs/{name}/runs queues.
func (c *Console) runNow(w http.ResponseWriter, r *http.Request) {
	c.queue(w, r, r.PathValue("job"), "")
}

// queue queues a manual run of job and goes to its page; note is a
// catalogue key the run page says first.
func (c *Console) queue(w http.ResponseWriter, r *http.Request, job, note string) {
	e, err := c.cfg.Scheduler.RunNow(r.Context(), job)
	switch {
	case errors.Is(err, scheduler.ErrUnknownJob):
		c.notFound(w, r, "preview.nojob", job)
		return
	case errors.Is(err, scheduler.ErrRunning) && e.RunID != 0:
		note = "run.already"
	case err != nil:
		c.fail(w, r, "queue a run", err)
		return
	}
	if e.RunID == 0 {
		http.Redirect(w, r, "/history", http.StatusSeeOther)
		return
	}
	to := "/history/" + strconv.FormatInt(e.RunID, 10)
	if note != "" {
		to += "?note=" + url.QueryEscape(note)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// runsData is the runs page: the filter and what it selects.
type runsData struct {
	Jobs     []string
	Statuses []string
	Job      string
	Status   string
	Date     string // yyyy-mm-dd: runs started on or after it
	Runs     []ledger.Run
	Live     bool
}

const listRuns = 100

func (c *Console) runsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := runsData{Statuses: ledger.RunStatuses(), Job: q.Get("job"), Status: q.Get("status"), Date: q.Get("date")}
	jobs, err := c.cfg.Ledger.Jobs(r.Context())
	if err != nil {
		c.fail(w, r, "jobs", err)
		return
	}
	d.Jobs = jobs
	f := ledger.RunFilter{Job: d.Job, Limit: listRuns}
	v := c.view(r, "runs.title", "runs")
	if slices.Contains(d.Statuses, d.Status) {
		f.Status = d.Status
	} else {
		d.Status = ""
	}
	if d.Date != "" {
		t, err := time.ParseInLocation("2006-01-02", d.Date, time.Local)
		if err != nil {
			v.Error, d.Date = v.L.T("runs.baddate"), ""
		}
		f.Since = t
	}
	runs, err := c.cfg.Ledger.Runs(r.Context(), f)
	if err != nil {
		c.fail(w, r, "runs", err)
		return
	}
	for _, run := range runs {
		d.Runs = append(d.Runs, run.In(c.zone(run.Job)))
		d.Live = d.Live || run.Status == "queued" || run.Status == "running"
	}
	v.D = d
	c.write(w, r, http.StatusOK, "runs", v)
}

// runData is one run's page.
type runData struct {
	Run      ledger.Run
	Duration time.Duration
	Failed   []ledger.Event
	Parked   []ledger.Event
	Live     bool
	Progress progressView
	HasProg  bool
	Note     string
}

func (c *Console) runPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.notFound(w, r, "run.none", r.PathValue("id"))
		return
	}
	run, err := c.cfg.Ledger.Run(r.Context(), id)
	if errors.Is(err, ledger.ErrNotFound) {
		c.notFound(w, r, "run.none", r.PathValue("id"))
		return
	}
	if err != nil {
		c.fail(w, r, "run", err)
		return
	}
	v := c.view(r, "run.title", "runs")
	v.Title = v.L.T("run.title", id)
	d := runData{Run: run.In(c.zone(run.Job)), Live: run.Status == "queued" || run.Status == "running"}
	if n := r.URL.Query().Get("note"); n == "run.already" || n == "apply.note" {
		d.Note = v.L.T(n)
	}
	if !run.EndedAt.IsZero() {
		d.Duration = run.EndedAt.Sub(run.StartedAt)
		c.cfg.Progress.Done(id)
	} else if run.Status == "running" {
		d.Duration = time.Since(run.StartedAt)
		d.Progress, d.HasProg = c.cfg.Progress.view(v.L, id)
	}
	for _, k := range []struct {
		kind string
		into *[]ledger.Event
	}{{ledger.StatusFailed, &d.Failed}, {ledger.StatusParked, &d.Parked}} {
		evs, err := c.cfg.Ledger.RunEvents(r.Context(), id, 1000, k.kind)
		if err != nil {
			c.fail(w, r, "run's orders", err)
			return
		}
		for _, e := range evs {
			*k.into = append(*k.into, e.In(c.zone(e.Job)))
		}
	}
	v.D = d
	c.write(w, r, http.StatusOK, "run", v)
}

// attentionData is 要対応: the parked records, by job.
type attentionData struct {
	Jobs []parkedJob
	Job  string // ?job=: only this one
}

type parkedJob struct {
	Job     string
	Entries []ledger.Entry
}

func (c *Console) attentionPage(w http.ResponseWriter, r *http.Request) {
	c.attention(w, r, http.StatusOK, "", "")
}

func (c *Console) attention(w http.ResponseWriter, r *http.Request, code int, flash, problem string) {
	job := r.URL.Query().Get("job")
	all, err := c.cfg.Ledger.Parked(r.Context(), job)
	if err != nil {
		c.fail(w, r, "parked", err)
		return
	}
	d := attentionData{Job: job}
	for _, e := range all {
		if n := len(d.Jobs); n == 0 || d.Jobs[n-1].Job != e.Job {
			d.Jobs = append(d.Jobs, parkedJob{Job: e.Job})
		}
		e.FirstAt, e.LastAt = e.FirstAt.In(c.zone(e.Job)), e.LastAt.In(c.zone(e.Job))
		d.Jobs[len(d.Jobs)-1].Entries = append(d.Jobs[len(d.Jobs)-1].Entries, e)
	}
	v := c.view(r, "attention.title", "attention")
	v.Flash, v.Error, v.D = flash, problem, d
	if f := r.URL.Query().Get("done"); f != "" && flash == "" {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		switch f {
		case "retry":
			v.Flash = v.L.T("attention.retried", n)
		case "resolve":
			v.Flash = v.L.T("attention.resolved", n)
		}
	}
	c.write(w, r, code, "attention", v)
}

func (c *Console) zone(job string) *time.Location { return c.cfg.Scheduler.Zone(job) }

// attentionAct retries or resolves the parked records selected, under the
// job's lock, as runner retry and resolve do.
func (c *Console) attentionAct(w http.ResponseWriter, r *http.Request) {
	l := newLang(langOf(r))
	job, keys, action := r.PostFormValue("job"), r.PostForm["key"], r.PostFormValue("action")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if len(keys) == 0 {
		c.attention(w, r, http.StatusBadRequest, "", l.T("attention.nokeys"))
		return
	}
	opts := parked.Options{Wait: 5 * time.Second, Command: "console"}
	var n int
	var err error
	switch action {
	case "retry":
		n, err = parked.Retry(r.Context(), c.cfg.Ledger, job, keys, opts)
	case "resolve":
		if reason == "" {
			c.attention(w, r, http.StatusBadRequest, "", l.T("attention.noreason"))
			return
		}
		n, err = parked.Resolve(r.Context(), c.cfg.Ledger, job, keys, "console", reason, time.Now(), opts)
	default:
		c.attention(w, r, http.StatusBadRequest, "", l.T("attention.noaction"))
		return
	}
	var mistake *parked.MistakeError
	var held *ledger.LockedError
	switch {
	case errors.As(err, &mistake):
		c.attention(w, r, http.StatusConflict, "", strings.Join(mistake.Problems, "; "))
		return
	case errors.As(err, &held):
		c.attention(w, r, http.StatusConflict, "", l.T("attention.locked", job))
		return
	case err != nil:
		c.fail(w, r, action, err)
		return
	}
	c.log.Info("console: "+action, "job", job, "records", n)
	http.Redirect(w, r, "/attention?done="+action+"&n="+strconv.Itoa(n), http.StatusSeeOther)
}

// orderData is an order's story.
type orderData struct {
	No     string
	Events []ledger.Event
	Asked  bool
}

func (c *Console) orderPage(w http.ResponseWriter, r *http.Request) {
	no := strings.TrimSpace(r.URL.Query().Get("no"))
	d := orderData{No: no, Asked: no != ""}
	if no != "" {
		evs, err := c.cfg.Ledger.Story(r.Context(), no, 1000)
		if err != nil {
			c.fail(w, r, "story", err)
			return
		}
		for _, e := range evs {
			d.Events = append(d.Events, e.In(c.zone(e.Job)))
		}
	}
	c.render(w, r, http.StatusOK, "order", "order.title", "order", d)
}
