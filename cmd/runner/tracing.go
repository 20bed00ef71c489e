package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// setupTracing installs the OpenTelemetry SDK when the standard OTEL_*
// variables ask for it, and returns the function that flushes it. Tracing
// is off by default: the API's no-op tracer costs nothing.
func setupTracing(ctx context.Context, lookupEnv func(string) (string, bool), stderr io.Writer) (func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	if v, _ := lookupEnv("OTEL_SDK_DISABLED"); strings.EqualFold(v, "true") {
		return noop, nil
	}
	var exp sdktrace.SpanExporter
	var err error
	switch v, _ := lookupEnv("OTEL_TRACES_EXPORTER"); strings.ToLower(strings.TrimSpace(v)) {
	case "", "none":
		return noop, nil
	case "otlp":
		// The exporter reads OTEL_EXPORTER_OTLP_* itself.
		exp, err = otlptracehttp.New(ctx)
	case "console":
		exp, err = stdouttrace.New(stdouttrace.WithWriter(stderr), stdouttrace.WithPrettyPrint())
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: want otlp, console or none", v)
	}
	if err != nil {
		return nil, err
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName("runner")))
	if err != nil {
		res = resource.Default()
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}
