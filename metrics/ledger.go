package metrics

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const meterName = "github.com/goqsync/runner/metrics"

// LedgerStats is what the gauges read from the ledger.
type LedgerStats interface {
	ParkedByJob(ctx context.Context) (map[string]int, error)
	LastSuccess(ctx context.Context) (map[string]time.Time, error)
}

// observeTimeout bounds a collection's ledger queries: a scrape must not
// hang on a busy database.
const observeTimeout = 5 * time.Second

// ObserveLedger registers two gauges read from the ledger at each
// collection, so they hold across restarts and count what was parked by
// any process: runner.parked.records (parked records per job) and
// runner.last_success.timestamp (when each job's last ok run ended, unix
// seconds). jobs lists the loaded jobs, which report 0 parked rather than
// nothing. The returned function unregisters them.
func ObserveLedger(mp metric.MeterProvider, l LedgerStats, jobs func() []string) (func() error, error) {
	m := mp.Meter(meterName)
	parked, err := m.Int64ObservableGauge("runner.parked.records",
		metric.WithDescription("Records parked after a failure that retrying cannot fix, per job: they wait for runner retry or resolve."),
		metric.WithUnit("{record}"))
	if err != nil {
		return nil, err
	}
	last, err := m.Float64ObservableGauge("runner.last_success.timestamp",
		metric.WithDescription("When the job's last run with status ok ended, in unix seconds."),
		metric.WithUnit("s"))
	if err != nil {
		return nil, err
	}
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, observeTimeout)
		defer cancel()
		counts, err := l.ParkedByJob(ctx)
		if err != nil {
			otel.Handle(err)
		} else {
			for _, j := range jobs() {
				if _, ok := counts[j]; !ok {
					counts[j] = 0
				}
			}
			for j, n := range counts {
				o.ObserveInt64(parked, int64(n), metric.WithAttributes(attribute.String("job", j)))
			}
		}
		ends, err := l.LastSuccess(ctx)
		if err != nil {
			otel.Handle(err)
			return nil
		}
		for j, t := range ends {
			o.ObserveFloat64(last, float64(t.UnixNano())/1e9, metric.WithAttributes(attribute.String("job", j)))
		}
		return nil
	}, parked, last)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}
