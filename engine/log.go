package engine

import (
	"context"
	"log/slog"
)

// runLog is the run's logger: nil discards.
func runLog(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// logFailure logs a record that did not make it, with its key.
func logFailure(ctx context.Context, log *slog.Logger, f Failure) {
	attrs := []slog.Attr{slog.String("record", f.Key), slog.String("pos", f.Pos), slog.String("stage", f.Stage)}
	if f.Code != "" {
		attrs = append(attrs, slog.String("code", f.Code))
	}
	attrs = append(attrs, slog.String("error", Clip(f.Message)))
	log.LogAttrs(ctx, slog.LevelWarn, "record failed", attrs...)
}
