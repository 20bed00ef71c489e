package runlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Formats are the values -log-format takes.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// ParseLevel reads a level as -log-level takes it: debug, info, warn or
// error, in any case ("" is info).
func ParseLevel(s string) (slog.Level, error) {
	var level slog.Level
	if s == "" {
		return level, nil
	}
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
	}
	return level, nil
}

// New returns the logger writing lines of format (FormatText, FormatJSON;
// "" is text) at level and above to w.
func New(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	ho := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "", FormatText:
		h = slog.NewTextHandler(w, ho)
	case FormatJSON:
		h = slog.NewJSONHandler(w, ho)
	default:
		return nil, fmt.Errorf("%q: want text or json", format)
	}
	return slog.New(traceHandler{h}), nil
}

// traceHandler adds the trace and span ids of the span in a line's context,
// so that a line shipped to a log store leads to its trace.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
