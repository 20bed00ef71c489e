// Package metrics sets up OpenTelemetry metrics for one command: a meter
// provider that serve scrapes in Prometheus text format at /metrics, and
// that exports through OTLP (or to the console) when OTEL_METRICS_EXPORTER
// asks for it.
//
// The instruments live with the code they measure: package engine records
// runs, records and lock waits, and connectors/futureshop its calls; each
// takes the provider from its context (engine.WithMeterProvider). This
// package adds only the gauges read from the ledger (ObserveLedger), which
// need the ledger open for the provider's life.
//
// Attributes are bounded: job names, outcomes, endpoints as path patterns,
// status codes. Never an order number, a key or a secret.
package metrics
