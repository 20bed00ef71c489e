package scheduler

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
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

// Handler returns the HTTP API:
//
//	POST /jobs/{name}/runs  queue a manual run: 202, 404 unknown job, 409 already running
//	GET  /jobs              jobs with schedule, next run and last run
//	GET  /runs/{id}         one run from the ledger
//	GET  /healthz           the process is up
//	GET  /readyz            the scheduler is started and its database answers
//
// With a token configured, all but the health checks need
// "Authorization: Bearer TOKEN".
func (s *Scheduler) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /jobs/{name}/runs", s.auth(s.postRun))
	mux.HandleFunc("GET /jobs", s.auth(s.getJobs))
	mux.HandleFunc("GET /runs/{id}", s.auth(s.getRun))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.getReady)
	return mux
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
	now := time.Now()
	jobs := s.jobList()
	out := make([]JobStatus, 0, len(jobs))
	for _, j := range jobs {
		st := JobStatus{Name: j.Name, Schedule: j.Spec}
		if j.Schedule != nil {
			st.NextRun = align(j.Schedule).Next(now)
		}
		if s.cfg.Ledger != nil {
			runs, err := s.cfg.Ledger.History(r.Context(), j.Name, 1)
			if err != nil {
				s.log.Error("read history", "job", j.Name, "error", err)
				writeError(w, http.StatusInternalServerError, "cannot read run history")
				return
			}
			if len(runs) > 0 {
				st.LastRun = &runs[0]
			}
		}
		out = append(out, st)
	}
	writeJSON(w, http.StatusOK, out)
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
	case err != nil:
		s.log.Error("read run", "run_id", id, "error", err)
		writeError(w, http.StatusInternalServerError, "cannot read the run")
	default:
		writeJSON(w, http.StatusOK, run)
	}
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
