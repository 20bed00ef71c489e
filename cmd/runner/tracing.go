package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// setupTracing installs the OpenTelemetry SDK when the standard OTEL_*
// variables ask for it, and returns the function that flushes it. Tracing
// is off by default: the API's no-op tracer costs nothing.
//
// OTEL_TRACES_EXPORTER=console writes spans to stderr, so they never mix
// with a command's output; any other exporter (otlp, with
// OTEL_EXPORTER_OTLP_PROTOCOL grpc or http/protobuf) is autoexport's.
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the service name
// "runner".
func setupTracing(ctx context.Context, lookupEnv func(string) (string, bool), stderr io.Writer) (func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	// W3C trace context, so serve's API and River's jobs carry a caller's trace.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if v, _ := lookupEnv("OTEL_SDK_DISABLED"); strings.EqualFold(v, "true") {
		return noop, nil
	}
	var exp sdktrace.SpanExporter
	var err error
	switch v, _ := lookupEnv("OTEL_TRACES_EXPORTER"); strings.ToLower(strings.TrimSpace(v)) {
	case "", "none":
		return noop, nil
	case "console":
		exp, err = stdouttrace.New(stdouttrace.WithWriter(stderr), stdouttrace.WithPrettyPrint())
	default:
		exp, err = autoexport.NewSpanExporter(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER: %w", err)
	}
	// Later options win: the environment's names over runner's default.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName("runner")),
		resource.WithFromEnv(),
	)
	if err != nil {
		fmt.Fprintf(stderr, "runner: tracing: resource: %v\n", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}
