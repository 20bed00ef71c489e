package engine

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const meterName = "github.com/goqsync/runner/engine"

type meterKey struct{}

// WithMeterProvider gives a run, and the connectors it opens, the meter
// provider to record into. Without one they use the global provider.
func WithMeterProvider(ctx context.Context, mp metric.MeterProvider) context.Context {
	return context.WithValue(ctx, meterKey{}, mp)
}

// MeterProvider returns ctx's meter provider (WithMeterProvider), or the
// global one.
func MeterProvider(ctx context.Context) metric.MeterProvider {
	if mp, ok := ctx.Value(meterKey{}).(metric.MeterProvider); ok && mp != nil {
		return mp
	}
	return otel.GetMeterProvider()
}

// runMetrics are the engine's instruments. Their attributes are the job's
// name and an outcome: never a record's key.
type runMetrics struct {
	runs     metric.Int64Counter
	records  metric.Int64Counter
	duration metric.Float64Histogram
	lockWait metric.Float64Histogram
}

func newRunMetrics(mp metric.MeterProvider) *runMetrics {
	m := mp.Meter(meterName)
	var rm runMetrics
	var errs [4]error
	rm.runs, errs[0] = m.Int64Counter("runner.runs",
		metric.WithDescription("Runs by job and outcome: ok, failed (some record failed or was parked), error (stopped on a job-level error), interrupted."),
		metric.WithUnit("{run}"))
	rm.records, errs[1] = m.Int64Counter("runner.records",
		metric.WithDescription("Records by job and outcome: sent, ok, failed, parked, excluded, unchanged, error (a bad row or mapping)."),
		metric.WithUnit("{record}"))
	rm.duration, errs[2] = m.Float64Histogram("runner.run.duration",
		metric.WithDescription("How long runs took, by job and outcome."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600))
	rm.lockWait, errs[3] = m.Float64Histogram("runner.lock.wait.duration",
		metric.WithDescription("Waits for a lock another run held, by job and lock (job, or shared: a shop's request budget)."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800))
	for _, err := range errs {
		if err != nil {
			// The instrument is a no-op then; a run must not fail for it.
			otel.Handle(err)
		}
	}
	return &rm
}

// runOutcome sums a run up as the history does (ledger Run.Status): error
// when it stopped on a job-level error, interrupted, failed when a record
// failed or was parked, else ok.
func runOutcome(sum RunSummary, err error) string {
	switch {
	case err != nil:
		return "error"
	case sum.Interrupted:
		return "interrupted"
	case sum.Failed > 0:
		return "failed"
	}
	return "ok"
}

// record counts a finished run and its records from its summary.
func (m *runMetrics) record(ctx context.Context, sum RunSummary, err error) {
	outcome := runOutcome(sum, err)
	job := attribute.String("job", sum.Job)
	m.runs.Add(ctx, 1, metric.WithAttributes(job, attribute.String("outcome", outcome)))
	m.duration.Record(ctx, sum.Duration.Seconds(), metric.WithAttributes(job, attribute.String("outcome", outcome)))
	for _, r := range []struct {
		outcome string
		n       int
	}{
		{"sent", sum.Counts.Send},
		{"ok", sum.OK},
		{"failed", sum.Failed - sum.NewlyParked},
		{"parked", sum.NewlyParked},
		{"excluded", sum.Counts.Excluded},
		{"unchanged", sum.Counts.Unchanged},
		{"error", sum.Counts.Errors},
	} {
		// Adding 0 still makes the series exist, so rates start at the
		// first run rather than at the first failure.
		m.records.Add(ctx, int64(r.n), metric.WithAttributes(job, attribute.String("outcome", r.outcome)))
	}
}

// waited records a wait for a lock; kind is "job" or "shared".
func (m *runMetrics) waited(ctx context.Context, job, kind string, d time.Duration) {
	m.lockWait.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("job", job), attribute.String("lock", kind)))
}
