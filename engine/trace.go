package engine

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

const tracerName = "github.com/goqsync/runner/engine"

// StartTrace starts the span that parents every job of one command.
func StartTrace(ctx context.Context, command string) (context.Context, trace.Span) {
	return otel.Tracer(tracerName).Start(ctx, command)
}
