package scheduler

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goqsync/runner/ledger"
)

// JobStatus is one job as GET /jobs shows it.
type JobStatus struct {
	Name     string      `json:"name"`
	Schedule string      `json:"schedule,omitempty"`
	NextRun  time.Time   `json:"next_run,omitzero"`
	LastRun  *ledger.Run `json:"last_run,omitempty"`
}

// Handler returns the HTTP API, which openapi.json describes:
//
//	POST /jobs/{name}/runs  queue a manual run: 202 with the run's id, 404 unknown job, 409 already running
//	GET  /jobs              jobs with schedule, next run and last run
//	GET  /runs              runs, newest first: ?job=&status=&since=&limit=
//	GET  /runs/{id}         one run, with its failed and parked orders
//	GET  /orders/{no}       an order's story: what each run did with it, newest first
//	GET  /openapi.json      the OpenAPI document
//	GET  /healthz           the process is up
//	GET  /readyz            the scheduler is started and its database answers
//
// With a token configured, all but the health checks and the document
// need "Authorization: Bearer TOKEN". Times carry the job's zone offset.
func (s *Scheduler) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.routes() {
		h := r.handler
		if !r.open {
			h = s.auth(h)
		}
		mux.HandleFunc(r.pattern, h)
	}
	return mux
}

// route is one pattern the API serves; open ones need no token.
type route struct {
	pattern string
	handler http.HandlerFunc
	open    bool
}

func (s *Scheduler) routes() []route {
	return []route{
		{"POST /jobs/{name}/runs", s.postRun, false},
		{"GET /jobs", s.getJobs, false},
		{"GET /runs", s.getRuns, false},
		{"GET /runs/{id}", s.getRun, false},
		{"GET /orders/{no}", s.getOrder, false},
		{"GET /openapi.json", getOpenAPI, true},
		{"GET /healthz", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}, true},
		{"GET /readyz", s.getReady, true},
	}
}

func (s *Scheduler) auth(h http.HandlerFunc) http.HandlerFunc {
	if s.cfg.Token == "" {
		return h
	}
	want := []byte("Bearer " + s.cfg.Token)
	return func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="runner"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h(w, r)
	}
}

func (s *Scheduler) postRun(w http.ResponseWriter, r *http.Request) {
	e, err := s.RunNow(r.Context(), r.PathValue("name"))
	if e.RunID != 0 {
		w.Header().Set("Location", "/runs/"+strconv.FormatInt(e.RunID, 10))
	}
	switch {
	case errors.Is(err, ErrUnknownJob):
		writeError(w, http.StatusNotFound, "unknown job "+strconv.Quote(r.PathValue("name")))
	case errors.Is(err, ErrRunning):
		writeJSON(w, http.StatusConflict, struct {
			Error string `json:"error"`
			Enqueued
		}{"a manual run of this job is already running", e})
	case err != nil:
		s.log.Error("queue manual run", "job", r.PathValue("name"), "error", err)
		writeError(w, http.StatusInternalServerError, "cannot queue the run")
	default:
		writeJSON(w, http.StatusAccepted, e)
	}
}

func (s *Scheduler) getJobs(w http.ResponseWriter, r *http.Request) {
	out, err := s.Jobs(r.Context())
	if err != nil {
		s.log.Error("read history", "error", err)
		writeError(w, http.StatusInternalServerError, "cannot read run history")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// Jobs returns every job as GET /jobs shows it, by name: its schedule,
// next run and last run, times in the job's zone.
func (s *Scheduler) Jobs(ctx context.Context) ([]JobStatus, error) {
	now := time.Now()
	jobs := s.jobList()
	out := make([]JobStatus, 0, len(jobs))
	for _, j := range jobs {
		st := JobStatus{Name: j.Name, Schedule: j.Spec}
		if j.Schedule != nil {
			st.NextRun = align(j.Schedule).Next(now).In(s.zone(j.Name))
		}
		if s.cfg.Ledger != nil {
			runs, err := s.cfg.Ledger.History(ctx, j.Name, 1)
			if err != nil {
				return nil, fmt.Errorf("jobs: %s: %w", j.Name, err)
			}
			if len(runs) > 0 {
				last := runs[0].In(s.zone(runs[0].Job))
				st.LastRun = &last
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// Limits of GET /runs and of the orders GET /runs/{id} and GET /orders/{no} list.
const (
	defaultRuns = 50
	maxList     = 1000
)

func (s *Scheduler) getRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := ledger.RunFilter{Job: q.Get("job"), Status: q.Get("status"), Limit: defaultRuns}
	if f.Status != "" && !slices.Contains(ledger.RunStatuses(), f.Status) {
		writeError(w, http.StatusBadRequest, "status must be one of "+strings.Join(ledger.RunStatuses(), ", "))
		return
	}
	if v := q.Get("since"); v != "" {
		// An offset's "+" written unencoded in a query reads as a space,
		// which RFC 3339 never holds.
		t, err := time.Parse(time.RFC3339, strings.Replace(v, " ", "+", 1))
		if err != nil {
			writeError(w, http.StatusBadRequest, "since must be an RFC 3339 time, such as 2026-11-28T10:00:00+09:00")
			return
		}
		f.Since = t
	}
	limit, ok := limitParam(w, r, defaultRuns)
	if !ok {
		return
	}
	f.Limit = limit
	if s.cfg.Ledger == nil {
		writeJSON(w, http.StatusOK, []ledger.Run{})
		return
	}
	runs, err := s.cfg.Ledger.Runs(r.Context(), f)
	if err != nil {
		s.log.Error("read runs", "error", err)
		writeError(w, http.StatusInternalServerError, "cannot read run history")
		return
	}
	out := make([]ledger.Run, 0, len(runs))
	for _, run := range runs {
		out = append(out, run.In(s.zone(run.Job)))
	}
	writeJSON(w, http.StatusOK, out)
}

// limitParam reads ?limit=, 1 to maxList; def when absent.
func limitParam(w http.ResponseWriter, r *http.Request, def int) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxList {
		writeError(w, http.StatusBadRequest, "limit must be an integer from 1 to "+strconv.Itoa(maxList))
		return 0, false
	}
	return n, true
}

// RunDetail is one run as GET /runs/{id} shows it: the run and the orders
// it failed or parked (at most 1000 of each; its counts say how many).
type RunDetail struct {
	ledger.Run
	FailedOrders []ledger.Event `json:"failed_orders"`
	ParkedOrders []ledger.Event `json:"parked_orders"`
}

func (s *Scheduler) getRun(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "run id must be a positive integer")
		return
	}
	if s.cfg.Ledger == nil {
		writeError(w, http.StatusNotFound, "no run history")
		return
	}
	run, err := s.cfg.Ledger.Run(r.Context(), id)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		writeError(w, http.StatusNotFound, "no run "+r.PathValue("id"))
		return
	case err != nil:
		s.log.Error("read run", "run_id", id, "error", err)
		writeError(w, http.StatusInternalServerError, "cannot read the run")
		return
	}
	d := RunDetail{Run: run.In(s.zone(run.Job)), FailedOrders: []ledger.Event{}, ParkedOrders: []ledger.Event{}}
	for _, k := range []struct {
		kind string
		into *[]ledger.Event
	}{{ledger.StatusFailed, &d.FailedOrders}, {ledger.StatusParked, &d.ParkedOrders}} {
		evs, err := s.cfg.Ledger.RunEvents(r.Context(), id, maxList, k.kind)
		if err != nil {
			s.log.Error("read run's orders", "run_id", id, "error", err)
			writeError(w, http.StatusInternalServerError, "cannot read the run")
			return
		}
		for _, e := range evs {
			*k.into = append(*k.into, e.In(s.zone(e.Job)))
		}
	}
	writeJSON(w, http.StatusOK, d)
}

// OrderStory is what GET /orders/{no} answers: what each run did with the
// order, newest first.
type OrderStory struct {
	Order  string         `json:"order"`
	Events []ledger.Event `json:"events"`
}

func (s *Scheduler) getOrder(w http.ResponseWriter, r *http.Request) {
	no := r.PathValue("no")
	limit, ok := limitParam(w, r, maxList)
	if !ok {
		return
	}
	if s.cfg.Ledger == nil {
		writeError(w, http.StatusNotFound, "no run history")
		return
	}
	evs, err := s.cfg.Ledger.Story(r.Context(), no, limit)
	if err != nil {
		s.log.Error("read an order's story", "order", no, "error", err)
		writeError(w, http.StatusInternalServerError, "cannot read the order's story")
		return
	}
	if len(evs) == 0 {
		writeError(w, http.StatusNotFound, "no run has read order "+strconv.Quote(no))
		return
	}
	out := OrderStory{Order: no, Events: make([]ledger.Event, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, e.In(s.zone(e.Job)))
	}
	writeJSON(w, http.StatusOK, out)
}

// Zone is the time zone of job, in which the API gives its times; a job no
// longer loaded gets the process's.
func (s *Scheduler) Zone(job string) *time.Location { return s.zone(job) }

func (s *Scheduler) zone(job string) *time.Location {
	if j, ok := s.job(job); ok && j.Location != nil {
		return j.Location
	}
	return time.Local
}

func (s *Scheduler) getReady(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writeError(w, http.StatusServiceUnavailable, "not started, or stopping")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "database unreachable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
