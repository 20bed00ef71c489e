package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	// Asia/Tokyo must load in a container without a zoneinfo database.
	_ "time/tzdata"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/goqsync/runner/connectors/futureshop"
	"github.com/goqsync/runner/connectors/goq"
	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/metrics"
	"github.com/goqsync/runner/runlog"
	"github.com/goqsync/runner/version"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1 // invalid files (validate), or a record failed (run)
	exitConfig      = 2 // the job files, flags or settings are wrong
	exitStopped     = 3 // a run stopped early on a job-level error; what it could not confirm stays pending
	exitLocked      = 4 // another run holds the job's lock
	exitInterrupted = 130
	exitTerminated  = 143
)

func main() {
	// No signal cancels the context: run finishes its batch in flight on
	// SIGINT and SIGTERM alike (see interruptChannel), serve stops its own
	// way, and the other commands end as the signal says.
	os.Exit(runMain(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

// registry lists every connector a job file may name.
func registry() *engine.Registry {
	r := engine.NewRegistry()
	goq.Register(r)
	futureshop.Register(r)
	return r
}

// cli is one invocation: its streams and environment, so tests can run
// the whole command in-process.
type cli struct {
	stdin          io.Reader // os.Stdin when nil
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	// interrupt is closed on Ctrl-C; a run finishes its batch in flight.
	interrupt <-chan struct{}
	// metrics is the command's meter provider; serve also scrapes it.
	metrics *metrics.Provider
	// log gets every line about a run (-log-format, -log-level); term is
	// stderr when it is a terminal, for the live progress line.
	log     *slog.Logger
	logSet  logSettings
	jsonLog bool // -log-format json: diagnostics are log lines too
	term    *runlog.Terminal
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	c := &cli{stdout: stdout, stderr: stderr, lookupEnv: lookupEnv}
	if t := runlog.TerminalOf(stderr); t != nil {
		c.stderr, c.term = t, t
	}
	c.log, _ = runlog.New(c.stderr, runlog.FormatText, slog.LevelInfo)
	if len(args) == 0 {
		c.usage()
		return exitConfig
	}
	cmd, rest := args[0], args[1:]
	commands := map[string]func(context.Context, []string) int{
		"validate":   c.validate,
		"fmt":        c.fmt,
		"plan":       c.plan,
		"run":        c.run,
		"apply":      c.apply,
		"show":       c.show,
		"demo":       c.demo,
		"testshop":   c.testshop,
		"serve":      c.serve,
		"history":    c.history,
		"failures":   c.failures,
		"retry":      c.retry,
		"resolve":    c.resolve,
		"unlock":     c.unlock,
		"connectors": c.connectors,
		"test":       c.test,
		"reconcile":  c.reconcile,
	}
	f, ok := commands[cmd]
	switch {
	case cmd == "help" && len(rest) > 0:
		// runner help COMMAND is runner COMMAND -h.
		if g, ok := commands[rest[0]]; ok {
			return g(ctx, []string{"-h"})
		}
		fmt.Fprintf(stderr, "runner help: unknown command %q\n", rest[0])
		c.usage()
		return exitConfig
	case cmd == "help" || cmd == "-h" || cmd == "-help" || cmd == "--help":
		c.stderr = stdout
		c.usage()
		return exitOK
	case cmd == "version" || cmd == "-version" || cmd == "--version":
		fmt.Fprintln(stdout, "runner", version.Current())
		return exitOK
	case !ok:
		fmt.Fprintf(stderr, "runner: unknown command %q", cmd)
		if s := engine.Suggest(cmd, sortedKeys(commands)); s != "" {
			fmt.Fprintf(stderr, "; did you mean %q?", s)
		}
		fmt.Fprintln(stderr)
		c.usage()
		return exitConfig
	}
	shutdown, err := setupTracing(ctx, lookupEnv, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "runner: tracing: %v\n", err)
		return exitConfig
	}
	defer func() {
		if err := shutdown(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(stderr, "runner: tracing: %v\n", err)
		}
	}()
	c.metrics, err = metrics.New(ctx, metrics.Options{Prometheus: cmd == "serve", LookupEnv: lookupEnv, Stderr: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "runner: metrics: %v\n", err)
		return exitConfig
	}
	defer func() {
		if err := c.metrics.Shutdown(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(stderr, "runner: metrics: %v\n", err)
		}
	}()
	ctx = engine.WithMeterProvider(ctx, c.metrics.MeterProvider())
	if cmd == "serve" {
		// serve's spans are its runs'; one span for its whole life would
		// never end in time to be seen.
		return f(ctx, rest)
	}
	ctx, span := engine.StartTrace(ctx, cmd)
	code := f(ctx, rest)
	span.SetAttributes(attribute.Int("runner.exit_code", code))
	if code != exitOK {
		span.SetStatus(codes.Error, fmt.Sprintf("exit %d", code))
	}
	span.End()
	return code
}

func (c *cli) usage() {
	fmt.Fprint(c.stderr, `usage: runner COMMAND [flags] [PATH...]

commands:
  validate [PATH...]        check job files (default: the current directory)
  fmt [PATH...]             rewrite job files in canonical form (-check, -diff)
  plan [-job NAME] PATH     show what a run would send, record by record
  test [PATH...]            run the *.test.hcl files: what each job sends, excludes and refuses
  run [-job NAME] PATH      send it, then apply the post-export actions
  apply PLANFILE            send exactly a plan saved with plan -out, or nothing if it no longer holds
  show PLANFILE             print a saved plan as plan does
  demo                      run the shipping example against a built-in futureshop test server
  testshop                  run futureshop's test server, seeded from an export, until stopped
  serve PATH...             run jobs on their schedules, with an HTTP API for manual runs
  history [JOB]             past runs, newest first; -order NO: an order's story
  failures [JOB]            records parked after a failure that retrying cannot fix
  retry JOB [KEY...]        send parked records again on the next run
  resolve JOB KEY...        settle parked records for good (-reason TEXT)
  unlock JOB                release the lock of a job whose run died
  connectors                every source and destination: settings, fields, actions
  reconcile PATH            check that the shop still holds what runs sent
  version                   the module version, VCS revision and Go version
  help [COMMAND]            this text, or a command's flags

Flags come before paths; "runner help COMMAND" lists a command's flags.
`)
}

func (c *cli) in() io.Reader {
	if c.stdin == nil {
		return os.Stdin
	}
	return c.stdin
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
