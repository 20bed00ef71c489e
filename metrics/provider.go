package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Provider is a command's meter provider and, when it serves them, its
// metrics' HTTP handler.
type Provider struct {
	mp      metric.MeterProvider
	sdk     *sdkmetric.MeterProvider // nil when metrics are off
	handler http.Handler             // nil unless Prometheus was asked for
}

// Options says which readers a command wants.
type Options struct {
	// Prometheus adds a reader that Handler serves in Prometheus text
	// format (serve's /metrics).
	Prometheus bool
	// LookupEnv reads OTEL_METRICS_EXPORTER and OTEL_SDK_DISABLED.
	LookupEnv func(string) (string, bool)
	// Stderr receives the console exporter's output.
	Stderr io.Writer
}

// New builds the provider. OTEL_METRICS_EXPORTER=otlp (with the standard
// OTEL_EXPORTER_OTLP_* variables) or any other value autoexport knows adds a
// periodic reader; console writes to Stderr, never mixing with a command's
// output. With neither that nor Prometheus, metrics cost nothing: the
// provider is a no-op.
func New(ctx context.Context, opts Options) (*Provider, error) {
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	if v, _ := lookup("OTEL_SDK_DISABLED"); strings.EqualFold(v, "true") {
		return &Provider{mp: noop.NewMeterProvider()}, nil
	}
	var readers []sdkmetric.Option
	p := &Provider{}
	if opts.Prometheus {
		// A registry of its own: the process's default one holds Go runtime
		// collectors that nobody asked to publish.
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg),
			otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
			otelprom.WithoutScopeInfo())
		if err != nil {
			return nil, fmt.Errorf("prometheus exporter: %w", err)
		}
		readers = append(readers, sdkmetric.WithReader(exp))
		p.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	switch v, _ := lookup("OTEL_METRICS_EXPORTER"); strings.ToLower(strings.TrimSpace(v)) {
	case "", "none":
	case "console":
		exp, err := stdoutmetric.New(stdoutmetric.WithWriter(stderr(opts)), stdoutmetric.WithPrettyPrint())
		if err != nil {
			return nil, fmt.Errorf("OTEL_METRICS_EXPORTER: %w", err)
		}
		readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	default:
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTEL_METRICS_EXPORTER: %w", err)
		}
		readers = append(readers, sdkmetric.WithReader(r))
	}
	if len(readers) == 0 {
		p.mp = noop.NewMeterProvider()
		return p, nil
	}
	// Later options win: the environment's names over runner's default.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName("runner")),
		resource.WithFromEnv(),
	)
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES loses its attributes, not
		// the metrics: the resource holds what could be read.
		fmt.Fprintf(stderr(opts), "runner: metrics: resource: %v\n", err)
	}
	p.sdk = sdkmetric.NewMeterProvider(append(readers, sdkmetric.WithResource(res))...)
	p.mp = p.sdk
	return p, nil
}

func stderr(opts Options) io.Writer {
	if opts.Stderr == nil {
		return io.Discard
	}
	return opts.Stderr
}

// MeterProvider is where instruments come from.
func (p *Provider) MeterProvider() metric.MeterProvider { return p.mp }

// Handler serves the metrics in Prometheus text format; nil unless
// Options.Prometheus was set.
func (p *Provider) Handler() http.Handler { return p.handler }

// Shutdown exports what periodic readers have not yet sent, and stops them.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	err := p.sdk.Shutdown(ctx)
	if errors.Is(err, sdkmetric.ErrReaderShutdown) {
		return nil
	}
	return err
}
