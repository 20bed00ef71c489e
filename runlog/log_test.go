package runlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/goqsync/runner/runlog"
)

// TestNew: the format and level settings, and the trace of the span in a
// line's context.
func TestNew(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	traced := trace.ContextWithSpanContext(context.Background(), sc)
	tests := []struct {
		name, format, level string
		ctx                 context.Context
		want                []string // substrings of the output; "" for none
		wantErr             string
	}{
		{name: "json with the trace", format: "json", ctx: traced,
			want: []string{`"msg":"record failed","job":"ship","record":"1/1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}`}},
		{name: "text", format: "text", ctx: traced,
			want: []string{`level=WARN msg="record failed" job=ship record=1/1 trace_id=4bf92f3577b34da6a3ce929d0e0e4736`}},
		{name: "no span, no trace", format: "JSON", ctx: context.Background(),
			want: []string{`"record":"1/1"}`}},
		{name: "the level filters", format: "text", level: "ERROR", ctx: traced, want: []string{""}},
		{name: "debug shows all", format: "text", level: "debug", ctx: traced, want: []string{"msg=detail", "msg=\"record failed\""}},
		{name: "a wrong format", format: "xml", wantErr: `"xml": want text or json`},
		{name: "a wrong level", level: "loud", wantErr: `"loud": want debug, info, warn or error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			level, err := runlog.ParseLevel(tt.level)
			var buf bytes.Buffer
			var log *slog.Logger
			if err == nil {
				log, err = runlog.New(&buf, tt.format, level)
			}
			if tt.wantErr != "" || err != nil {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			log = log.With("job", "ship")
			log.DebugContext(tt.ctx, "detail")
			log.WarnContext(tt.ctx, "record failed", "record", "1/1")
			out := buf.String()
			for _, w := range tt.want {
				if w == "" && out != "" || !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.EqualFold(tt.format, "json") {
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("not JSON: %s", line)
					}
				}
			}
		})
	}
}
