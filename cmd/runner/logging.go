package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/runlog"
)

// logSettings are -log-format and -log-level, which every command takes.
type logSettings struct {
	format, level string
}

// logFlags adds -log-format and -log-level to fs, their defaults from
// RUNNER_LOG_FORMAT and RUNNER_LOG_LEVEL.
func (c *cli) logFlags(fs *flag.FlagSet) {
	format, _ := c.lookupEnv("RUNNER_LOG_FORMAT")
	if format == "" {
		format = runlog.FormatText
	}
	level, _ := c.lookupEnv("RUNNER_LOG_LEVEL")
	if level == "" {
		level = "info"
	}
	fs.StringVar(&c.logSet.format, "log-format", format, "log lines on standard error as text or json (RUNNER_LOG_FORMAT)")
	fs.StringVar(&c.logSet.level, "log-level", level, "log debug, info, warn or error and above (RUNNER_LOG_LEVEL)")
}

// setupLog makes the logger the parsed flags ask for; false when a setting
// is wrong, which it names.
func (c *cli) setupLog(fs *flag.FlagSet) bool {
	if fs.Lookup("log-format") == nil {
		return true
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	where := func(flag, env string) string {
		if set[flag] {
			return "-" + flag
		}
		return env
	}
	level, err := runlog.ParseLevel(c.logSet.level)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner %s: %s %v\n", fs.Name(), where("log-level", "RUNNER_LOG_LEVEL"), err)
		return false
	}
	log, err := runlog.New(c.stderr, c.logSet.format, level)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner %s: %s %v\n", fs.Name(), where("log-format", "RUNNER_LOG_FORMAT"), err)
		return false
	}
	c.log, c.jsonLog = log, strings.EqualFold(c.logSet.format, runlog.FormatJSON)
	return true
}

// logDiags logs a problem with job files, then their diagnostics.
func (c *cli) logDiags(ctx context.Context, msg string, cfg *engine.Config, diags hcl.Diagnostics) {
	c.log.ErrorContext(ctx, msg)
	c.writeDiags(cfg, diags)
}

// logDiagLines logs each diagnostic as a line of its own, for -log-format
// json: the text form's snippets span lines, which a log shipper would
// tear apart.
func (c *cli) logDiagLines(diags hcl.Diagnostics) {
	for _, d := range diags {
		level := slog.LevelError
		if d.Severity == hcl.DiagWarning {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("detail", d.Detail)}
		if d.Subject != nil {
			attrs = append(attrs, slog.String("pos", fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)))
		}
		c.log.LogAttrs(context.Background(), level, d.Summary, attrs...)
	}
}

// progressFlag is -progress: unset, the command decides (autoProgress).
type progressFlag struct {
	on, set bool
}

func (f *progressFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.FormatBool(f.on)
}

func (f *progressFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	f.on, f.set = v, true
	return nil
}

func (f *progressFlag) IsBoolFlag() bool { return true }

// or is the flag's value, or auto when it was not given.
func (f *progressFlag) or(auto bool) bool {
	if f.set {
		return f.on
	}
	return auto
}

// startProgress reports a run's progress when on: a live line when standard
// error is a terminal (live), else a log line every runlog.LogEvery. It
// returns the run's engine.RunOptions.Progress (nil when off) and the
// function that ends the reports.
func (c *cli) startProgress(ctx context.Context, on, live bool) (func(engine.Progress), func()) {
	if !on {
		return nil, func() {}
	}
	opts := runlog.ProgressOptions{Log: c.log}
	if live {
		opts.Term = c.term
	}
	r := runlog.StartProgress(ctx, opts)
	return r.Update, r.Stop
}

// runLog is the logger for lines about a run the CLI prints itself.
func (c *cli) runLog(sum engine.RunSummary) *slog.Logger {
	log := c.log.With("job", sum.Job)
	if sum.RunID != 0 {
		log = log.With("run_id", sum.RunID)
	}
	return log
}
