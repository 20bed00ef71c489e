// Package scheduler is the inside of `runner serve`: it runs each job on its
// schedule and on request, never two runs of one job at once, and serves
// the HTTP API (manual runs, jobs, runs, orders' stories, health), which
// openapi.json describes. A manual run is queued in the ledger when it is
// requested, so that the API answers the run's own id.
//
// It is built on River (github.com/riverqueue/river). Each run is a River
// job; River's periodic jobs enqueue scheduled occurrences on the elected
// leader only, and a unique key of job name and occurrence time keeps each
// occurrence to one run even when leadership moves between processes. The
// RunFunc keeps runs of one job apart with the job's lock in the ledger,
// the same lock runner run takes, so that no two runs overlap in any
// process. Each process takes at most Config.Workers runs at once, so that
// with several processes a busy one leaves due runs in the queue for one
// with a worker free. With SQLite (the default) River keeps its tables in a file
// beside the ledger's, and one process serves; with PostgreSQL several
// serve processes share one database, and the one in charge of scheduling
// changes hands when a process stops.
//
// A run that finds another of its job in flight waits for it (the
// RunRequest's WaitUntil); a scheduled occurrence stops waiting when the
// next one falls due, since that one covers it. A manual request while a
// manual run is in flight is refused, unless River only thinks so because
// the process running it died (Config.Running says nobody runs the job). A process that becomes the leader runs the latest occurrence
// of the last minute if nobody did (the previous leader died or stopped
// before enqueuing it); older missed occurrences are not replayed.
//
// Runs are not retried by River: a run records its own outcome in the
// ledger, and the next occurrence picks up whatever it left undone (a
// killed run's batch in flight stays "pending" there and is sent again).
// Stop waits for runs in flight.
//
// It is not the engine: it neither loads job files nor knows what a run
// does; the caller passes a RunFunc and a list of Jobs, and Reload to swap
// them after validating new files.
//
// scheduler.go holds the Scheduler and its API; store.go opens River on
// PostgreSQL or SQLite; periodic.go turns schedules into River's periodic
// jobs; work.go runs one occurrence; http.go serves the HTTP API, and
// openapi.go the document that describes it.
package scheduler
