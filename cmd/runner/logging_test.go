package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/ledger"
)

// TestRunLog: every line a run prints on stderr goes through one logger:
// with -log-format json each is a JSON object naming the job, the run and
// the record, with the trace of the command's span; the text form is
// slog's key=value lines; the level filters. The summary stays on stdout.
func TestRunLog(t *testing.T) {
	// The caller's trace, as serve's API or River hands it to a run.
	traceID := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled}))
	tests := []struct {
		name    string
		env     []string
		flags   []string
		waits   bool     // another run holds the job's lock for a moment
		want    []string // substrings of stderr
		wantNot []string
		json    bool
	}{
		{name: "json", flags: []string{"-log-format", "json", "-lock-timeout", "30s"}, waits: true, json: true},
		{name: "json from the environment", env: []string{"RUNNER_LOG_FORMAT", "json"}, json: true},
		{name: "text", flags: []string{"-log-format", "text"},
			// Diagnostics stay as validate prints them, for people.
			want: []string{`warning: Points need manual activation`,
				`level=WARN msg="record failed" job=shipping-to-futureshop run_id=1 record=100000001206/1 pos=orders-sample.csv:`,
				`stage=write code=CannotUpdateStorePickup`, `trace_id=` + traceID.String()},
			wantNot: []string{"\n{", "batch sent"}},
		{name: "the level filters", flags: []string{"-log-level", "error"}, wantNot: []string{"record failed"}},
		{name: "debug from the environment", env: []string{"RUNNER_LOG_LEVEL", "DEBUG"},
			want: []string{`level=DEBUG msg="batch sent" job=shipping-to-futureshop run_id=1 batch=1 records=9 ok=8 failed=1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := variant(t, t.TempDir(), "points.hcl", append(fastRate[:2:2],
				`points_activation = "注文完了時に有効"`, `points_activation = "処理済み時に有効"`)...)
			srv := sampleShop(t, "100000001206")
			db := filepath.Join(t.TempDir(), "state.db")
			if tt.waits {
				st, err := ledger.Open(ctx, db)
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				lk, err := st.TryLock(ctx, engine.JobLock("shipping-to-futureshop"), ledger.Owner{Command: "test"})
				if err != nil {
					t.Fatal(err)
				}
				time.AfterFunc(time.Second, func() { lk.Unlock() })
			}
			args := append(append([]string{"run"}, tt.flags...), "-var", "goq_export="+sample, "-now", seedNow, job)
			var out, errb bytes.Buffer
			code := runMain(ctx, args, &out, &errb, shopEnv(t, srv, append([]string{"RUNNER_DATABASE", db}, tt.env...)...))
			if code != exitFailed {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, out.String(), errb.String())
			}
			if !strings.HasPrefix(out.String(), `Job "shipping-to-futureshop"`) || !strings.Contains(out.String(), "8 ok, 1 failed") {
				t.Errorf("the summary is not on stdout:\n%s", out.String())
			}
			stderr := errb.String()
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(stderr, w) {
					t.Errorf("stderr holds %q:\n%s", w, stderr)
				}
			}
			if tt.json {
				checkJSONLog(t, stderr, traceID.String(), tt.waits)
			}
		})
	}
}

// checkJSONLog checks every line is a JSON object with a level and a
// message, and finds the record's failure with its job, run, key and trace,
// the points warning and, when the run waited, the wait.
func checkJSONLog(t *testing.T, stderr, traceID string, waited bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Errorf("stderr line is not JSON (%v): %s", err, line)
			continue
		}
		msg, _ := l["msg"].(string)
		if l["level"] == nil || l["time"] == nil || msg == "" {
			t.Errorf("line without time, level or msg: %s", line)
		}
		seen[msg] = true
		switch msg {
		case "record failed":
			if l["job"] != "shipping-to-futureshop" || l["run_id"] != 1.0 || l["record"] != "100000001206/1" ||
				l["code"] != "CannotUpdateStorePickup" || l["trace_id"] != traceID || l["level"] != "WARN" {
				t.Errorf("failure line: %s", line)
			}
		case "waiting for a lock another run holds":
			if l["job"] != "shipping-to-futureshop" || l["trace_id"] != traceID || l["lock"] != "job:shipping-to-futureshop" {
				t.Errorf("wait line: %s", line)
			}
		case "Points need manual activation":
			if l["level"] != "WARN" || !strings.Contains(l["pos"].(string), "points.hcl:") {
				t.Errorf("warning line: %s", line)
			}
		}
	}
	for _, m := range []string{"record failed", "Points need manual activation"} {
		if !seen[m] {
			t.Errorf("no %q line:\n%s", m, stderr)
		}
	}
	if seen["waiting for a lock another run holds"] != waited {
		t.Errorf("waited %v, want %v:\n%s", !waited, waited, stderr)
	}
}

// TestLogSettings: a wrong -log-format or -log-level, or their variables,
// is refused before anything runs, naming where it came from.
func TestLogSettings(t *testing.T) {
	tests := []struct {
		name string
		env  func(string) (string, bool)
		args []string
	}{
		{"log-bad-level", env(), []string{"validate", "-log-level", "loud", "../../examples"}},
		{"log-bad-format-env", env("RUNNER_LOG_FORMAT", "xml"), []string{"history"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, code := invoke(t, tt.env, tt.args...)
			if code != exitConfig {
				t.Errorf("exit %d, want %d\n%s", code, exitConfig, got)
			}
			golden(t, tt.name, got)
		})
	}
}
