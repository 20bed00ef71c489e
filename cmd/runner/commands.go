package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	udiff "github.com/aymanbagabas/go-udiff"
	"github.com/hashicorp/hcl/v2"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/runlog"
)

// varFlag is -var or -var-file: both append to one list, so they apply
// in command-line order.
type varFlag struct {
	list *[]engine.VarArg
	file bool
}

func (f varFlag) String() string { return "" }
func (f varFlag) Set(v string) error {
	*f.list = append(*f.list, engine.VarArg{File: f.file, Value: v})
	return nil
}

// jobFlags are the flags of every command that loads job files.
type jobFlags struct {
	vars []engine.VarArg
	now  string
	job  string
	json bool
}

func (c *cli) flagSet(name, args string, jf *jobFlags, withJob bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runner %s [flags] %s\n", name, args)
		fs.PrintDefaults()
	}
	c.logFlags(fs)
	if jf == nil {
		return fs
	}
	fs.Var(varFlag{list: &jf.vars}, "var", "set a variable: -var name=value (repeatable)")
	fs.Var(varFlag{list: &jf.vars, file: true}, "var-file", "read variables from an HCL file of name = value (repeatable)")
	fs.StringVar(&jf.now, "now", "", "pin the clock, RFC 3339 (2026-11-28T10:00:00+09:00)")
	fs.BoolVar(&jf.json, "json", false, "write JSON for machines")
	if withJob {
		fs.StringVar(&jf.job, "job", "", "the job to use when the files hold several")
	}
	return fs
}

// parse parses a command's flags. ok is false when the command should end
// with code: -h prints the command's help on stdout and exits 0, a
// mistake prints it on stderr and exits 2. A flag after the paths is named
// as such: the flag package would take it for a path.
func (c *cli) parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	var help bytes.Buffer
	fs.SetOutput(&help)
	err := fs.Parse(args)
	fs.SetOutput(c.stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.stdout.Write(help.Bytes())
		return exitOK, false
	case err != nil:
		c.stderr.Write(help.Bytes())
		return exitConfig, false
	}
	if !c.setupLog(fs) {
		return exitConfig, false
	}
	for _, a := range fs.Args() {
		name, isFlag := strings.CutPrefix(a, "-")
		if !isFlag || name == "" {
			continue
		}
		name, _, _ = strings.Cut(strings.TrimPrefix(name, "-"), "=")
		if name == "h" || name == "help" {
			fs.SetOutput(c.stdout)
			fs.Usage()
			fs.SetOutput(c.stderr)
			return exitOK, false
		}
		if fs.Lookup(name) != nil {
			fmt.Fprintf(c.stderr, "runner %s: flags come before paths: put %s before %s\n", fs.Name(), a, fs.Arg(0))
			return exitConfig, false
		}
	}
	return 0, true
}

// parseArgs is parse for a command that takes lo to hi arguments (hi
// -1: no bound); a wrong count prints the command's usage and exits 2.
func (c *cli) parseArgs(fs *flag.FlagSet, args []string, lo, hi int) (code int, ok bool) {
	if code, ok := c.parse(fs, args); !ok {
		return code, false
	}
	if fs.NArg() < lo || hi >= 0 && fs.NArg() > hi {
		fs.Usage()
		return exitConfig, false
	}
	return 0, true
}

// load reads job files and prints their diagnostics. ok is false when
// there were errors.
func (c *cli) load(paths []string, jf *jobFlags, quiet bool) (*engine.Config, hcl.Diagnostics, bool) {
	opts := engine.LoadOptions{Registry: registry(), Vars: jf.vars, LookupEnv: c.lookupEnv}
	if jf.now != "" {
		now, err := parseNow(jf.now)
		if err != nil {
			fmt.Fprintf(c.stderr, "runner: -now %q: %v\n", jf.now, err)
			return nil, nil, false
		}
		opts.Now = now
	}
	cfg, diags := engine.Load(paths, opts)
	if !quiet {
		c.writeDiags(cfg, diags)
	}
	return cfg, diags, !diags.HasErrors()
}

func (c *cli) writeDiags(cfg *engine.Config, diags hcl.Diagnostics) {
	if len(diags) == 0 {
		return
	}
	if c.jsonLog {
		c.logDiagLines(diags)
	} else {
		cfg.DiagWriter().WriteText(c.stderr, diags)
	}
	if v, _ := c.lookupEnv("GITHUB_ACTIONS"); v == "true" {
		engine.WriteGitHub(c.stdout, diags)
	}
}

func (c *cli) validate(ctx context.Context, args []string) int {
	var jf jobFlags
	fs := c.flagSet("validate", "[PATH...]", &jf, false)
	strict := fs.Bool("strict", false, "treat warnings as errors")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	paths, tests := splitTests(paths)
	cfg, diags, ok := c.load(paths, &jf, true)
	if cfg != nil {
		ok = c.validateTests(cfg, tests, &diags) && ok
		if !jf.json {
			c.writeDiags(cfg, diags)
		}
	}
	warnings := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			warnings++
		}
	}
	if *strict && warnings > 0 {
		ok = false
	}
	if cfg == nil {
		return exitFailed
	}
	if jf.json {
		type jobInfo struct {
			Name        string   `json:"name"`
			Source      string   `json:"source"`
			Destination string   `json:"destination"`
			Schedule    string   `json:"schedule,omitempty"`
			TimeZone    string   `json:"time_zone"`
			Filters     []string `json:"filters"`
			Mappings    []string `json:"mappings"`
			Actions     []string `json:"after_export"`
		}
		// Terraform's validate -json shape, so that tools built for it read
		// this; jobs is runner's own.
		out := struct {
			FormatVersion string            `json:"format_version"`
			Valid         bool              `json:"valid"`
			Errors        int               `json:"error_count"`
			Warnings      int               `json:"warning_count"`
			Diagnostics   []engine.JSONDiag `json:"diagnostics"`
			Jobs          []jobInfo         `json:"jobs"`
		}{FormatVersion: "1.0", Valid: ok, Errors: len(diags.Errs()), Warnings: warnings, Diagnostics: cfg.DiagWriter().JSON(diags), Jobs: []jobInfo{}}
		for _, j := range cfg.Jobs {
			info := jobInfo{Name: j.Name, Source: j.SourceType, Destination: j.DestType, Schedule: j.ScheduleText, TimeZone: j.Location.String(), Filters: []string{}, Mappings: []string{}, Actions: []string{}}
			for _, f := range j.Filters {
				info.Filters = append(info.Filters, f.Name)
			}
			for _, m := range j.Mappings {
				info.Mappings = append(info.Mappings, m.Field.Name)
			}
			if j.Dest != nil {
				info.Actions = append(info.Actions, j.Actions...)
			}
			out.Jobs = append(out.Jobs, info)
		}
		engine.WriteJSON(c.stdout, out)
		if v, _ := c.lookupEnv("GITHUB_ACTIONS"); v == "true" {
			engine.WriteGitHub(c.stderr, diags)
		}
	} else if ok {
		fmt.Fprintf(c.stdout, "valid: %d job(s) in %s", len(cfg.Jobs), strings.Join(paths, " "))
		if len(tests) > 0 {
			fmt.Fprintf(c.stdout, ", %d test file(s)", len(tests))
		}
		if warnings > 0 {
			fmt.Fprintf(c.stdout, ", %d warning(s)", warnings)
		}
		fmt.Fprintln(c.stdout)
	}
	if !ok {
		return exitFailed
	}
	return exitOK
}

func (c *cli) fmt(ctx context.Context, args []string) int {
	fs := c.flagSet("fmt", "[PATH...]", nil, false)
	check := fs.Bool("check", false, "only report files that are not formatted; exit 1 if any")
	diff := fs.Bool("diff", false, "print the changes as a unified diff")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	files, err := fmtFiles(paths)
	if err != nil {
		fmt.Fprintf(c.stderr, "runner fmt: %v\n", err)
		return exitConfig
	}
	code := exitOK
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(c.stderr, "runner fmt: %v\n", err)
			code = exitFailed
			continue
		}
		out, diags := engine.Format(src, name)
		if diags.HasErrors() {
			(&engine.DiagWriter{Files: map[string]*hcl.File{name: {Bytes: src}}}).WriteText(c.stderr, diags)
			fmt.Fprintf(c.stderr, "runner fmt: %s does not parse; not formatted\n", name)
			code = exitFailed
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		if *diff {
			fmt.Fprint(c.stdout, udiff.Unified(name, name+" (formatted)", string(src), string(out)))
		}
		if *check {
			fmt.Fprintln(c.stdout, name)
			code = exitFailed
			continue
		}
		if !*diff {
			if err := writeFileAtomic(name, out); err != nil {
				fmt.Fprintf(c.stderr, "runner fmt: %v\n", err)
				code = exitFailed
				continue
			}
			fmt.Fprintln(c.stdout, name)
		}
	}
	return code
}

// fmtFiles is like engine.ExpandPaths but keeps variable files, which are
// HCL too.
func fmtFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") {
				out = append(out, p+string(os.PathSeparator)+e.Name())
			}
		}
	}
	return out, nil
}

// parseNow reads -now. A time the runner cannot honour is refused rather
// than ignored: the zero time means "not pinned" inside, and dates outside
// 1970–9999 are not a moment any export or shop has.
func parseNow(s string) (time.Time, error) {
	now, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("want RFC 3339, such as 2026-11-28T10:00:00+09:00")
	}
	if y := now.UTC().Year(); y < 1970 || y > 9999 {
		return time.Time{}, errors.New("want a time between 1970 and 9999")
	}
	return now, nil
}

// writeFileAtomic replaces name without a moment where it is half written.
// The new content goes to a temporary file that this process creates
// (O_EXCL, in the same directory, so a planted file or symlink is never
// followed), made durable and then renamed over name.
func writeFileAtomic(name string, data []byte) error {
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".fmt-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(fi.Mode().Perm())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// runnableJobs parses a command's flags, loads the files its arguments
// name, and returns the jobs it acts on (-job, or all), once everything
// they need to plan (*needDest false) or run (true) is there. The caller
// has parsed fs, so a flag can set needDest.
func (c *cli) runnableJobs(fs *flag.FlagSet, jf *jobFlags, needDest *bool) (*engine.Config, []*engine.Job, bool) {
	if fs.NArg() == 0 {
		fs.Usage()
		return nil, nil, false
	}
	cfg, _, ok := c.load(fs.Args(), jf, false)
	if !ok {
		return nil, nil, false
	}
	jobs, ok := c.pickJobs(cfg, jf.job)
	if !ok {
		return nil, nil, false
	}
	// Jobs share variables: report a missing one once.
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	for _, j := range jobs {
		for _, d := range cfg.CheckRunnable(j, *needDest) {
			// The detail too: instances of one for_each job share the
			// place of an env() call, and each names its own variable.
			key := d.Summary + d.Detail
			if d.Subject != nil {
				key += d.Subject.String()
			}
			if !seen[key] {
				seen[key] = true
				diags = append(diags, d)
			}
		}
	}
	if diags.HasErrors() {
		c.writeDiags(cfg, diags)
		return nil, nil, false
	}
	return cfg, jobs, true
}

// pickJobs returns the job named by -job, or every job.
func (c *cli) pickJobs(cfg *engine.Config, name string) ([]*engine.Job, bool) {
	if name == "" {
		return cfg.Jobs, true
	}
	if j, ok := cfg.Job(name); ok {
		return []*engine.Job{j}, true
	}
	// A for_each block's name picks all its instances, as Terraform's
	// -target does.
	var all []*engine.Job
	for _, j := range cfg.Jobs {
		if j.Key != "" && j.Block == name {
			all = append(all, j)
		}
	}
	if len(all) > 0 {
		return all, true
	}
	var names []string
	for _, j := range cfg.Jobs {
		names = append(names, j.Name)
	}
	msg := fmt.Sprintf("runner: no job %s in these files (jobs: %s)", engine.QuoteJob(name), strings.Join(names, ", "))
	if s := engine.Suggest(name, names); s != "" {
		msg += fmt.Sprintf("; did you mean %s?", engine.QuoteJob(s))
	}
	fmt.Fprintln(c.stderr, msg)
	return nil, false
}

func (c *cli) plan(ctx context.Context, args []string) int {
	var jf jobFlags
	fs := c.flagSet("plan", "PATH...", &jf, true)
	force := fs.Bool("force", false, "show records the last export already sent as to send")
	noLedger := fs.Bool("no-ledger", false, "ignore what earlier runs recorded")
	compare := fs.Bool("compare", false, "read the destination's current values and mark what each record would change (needs its credentials)")
	summary := fs.Bool("summary", false, "print only the summary: counts per filter, side effect and error kind, with the first 10 of each")
	only := fs.String("only", "", "print only the records that would be: send, excluded, errors or unchanged")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when nothing would be sent, 2 when something would, 1 on an error or a bad row (Terraform's meaning)")
	out := fs.String("out", "", "save the plan to `FILE` for runner apply: the exact payloads, and what they were planned from")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	switch *only {
	case "", "send", "excluded", "errors", "unchanged":
	default:
		fmt.Fprintf(c.stderr, "runner plan: -only %q: want send, excluded, errors or unchanged\n", *only)
		return exitConfig
	}
	cfg, jobs, ok := c.runnableJobs(fs, &jf, compare)
	if !ok {
		return exitConfig
	}
	opts := engine.PlanOptions{JSON: jf.json, Force: *force, Compare: *compare, Summary: *summary, Only: *only}
	if *out != "" {
		if len(jobs) != 1 {
			fmt.Fprintf(c.stderr, "runner plan: -out saves one job's plan; these files hold %d: name one with -job\n", len(jobs))
			return exitConfig
		}
		if s, ok := jobs[0].Dest.(engine.Scoper); ok && s.Scope() == "" {
			fmt.Fprintf(c.stderr, "runner plan: -out records which %s the plan is for, and its settings do not say (set them as for run)\n", jobs[0].DestType)
			return exitConfig
		}
		saved, err := engine.NewSavedPlan(cfg)
		if err != nil {
			fmt.Fprintf(c.stderr, "runner plan: %v\n", err)
			return exitConfig
		}
		opts.Save = saved
	}
	if !*noLedger {
		st, ok := c.existingLedger(ctx)
		if !ok {
			return exitConfig
		}
		if st != nil {
			defer st.Close()
			opts.Ledger, opts.LedgerName = engineLedger{s: st}, st.Where()
		} else if opts.Save != nil {
			// No ledger yet: no order has an entry, which apply checks.
			opts.Save.Ledger = "none yet"
		}
	}
	code, send := exitOK, false
	for _, j := range jobs {
		counts, err := j.Plan(ctx, c.stdout, opts)
		send = send || counts.Send > 0
		switch {
		case err != nil:
			fmt.Fprintf(c.stderr, "runner plan: job %s: %v\n", engine.QuoteJob(j.Name), engine.Clip(err.Error()))
			code = exitStopped
		case counts.Errors > 0 && code == exitOK:
			// Bad rows are what CI running plan over a fresh export must see.
			code = exitFailed
		}
	}
	if opts.Save != nil && code != exitStopped {
		if err := opts.Save.WriteFile(*out); err != nil {
			fmt.Fprintf(c.stderr, "runner plan: %v\n", err)
			return exitStopped
		}
		if !jf.json {
			fmt.Fprintf(c.stdout, "Saved the plan to %s: send exactly this with: runner apply %s\n", *out, *out)
		}
	}
	if *detailed {
		switch {
		case code != exitOK:
			return 1
		case send:
			return 2
		}
	}
	return code
}

func (c *cli) run(ctx context.Context, args []string) int {
	var jf jobFlags
	fs := c.flagSet("run", "PATH...", &jf, true)
	force := fs.Bool("force", false, "send records even when the last export already sent the same values")
	noLedger := fs.Bool("no-ledger", false, "keep no record of this run and take no lock: send everything that qualifies, remember nothing")
	lockWait := fs.Duration("lock-timeout", 0, "how long to wait for another run of the job to finish (0: do not wait)")
	timeout := fs.Duration("timeout", 0, "the run's deadline: past it, stop after the batch in flight (0: none)")
	parallelism := fs.Int("parallelism", 0, "how many jobs run at once (0: all of them); jobs reading the same export read it once")
	var progress progressFlag
	fs.Var(&progress, "progress", "show the run's progress: a line rewritten in place when standard error is a terminal, else a log line every 10s (default: on a terminal, without -json)")
	needDest := true
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	_, jobs, ok := c.runnableJobs(fs, &jf, &needDest)
	if !ok {
		return exitConfig
	}
	var led engine.Ledger
	if !*noLedger {
		st, ok := c.openLedger(ctx)
		if !ok {
			return exitConfig
		}
		defer st.Close()
		led = engineLedger{s: st, command: "run"}
	}
	stop, stopCode := c.interrupt, func() int { return exitInterrupted }
	if stop == nil {
		stop, stopCode = interruptChannel(c.log)
	}
	n := *parallelism
	if n <= 0 {
		n = len(jobs)
	}
	// Jobs that read the same export read it in one pass, each record
	// offered to every one of them; a pass's jobs start together.
	passes := engine.SharePasses(jobs, n)
	slots := newSlots(n)
	code := exitOK
	sums := make([]engine.RunSummary, len(jobs))
	var mu sync.Mutex // guards code, interrupted and standard output
	interrupted := false
	var wg sync.WaitGroup
	for _, g := range passes.Groups {
		slots.take(len(g))
		mu.Lock()
		stopped := interrupted
		mu.Unlock()
		if stopped {
			slots.give(len(g))
			break
		}
		for _, i := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer slots.give(1)
				j := passes.Jobs[i]
				var report func(engine.Progress)
				var endReport func()
				if on := progress.or(c.term != nil && !jf.json); on && len(jobs) > 1 && n > 1 {
					// Runs side by side: a log line each, naming its job,
					// since one terminal line cannot show several.
					r := runlog.StartProgress(ctx, runlog.ProgressOptions{Log: c.log.With("job", j.Name)})
					report, endReport = r.Update, r.Stop
				} else {
					report, endReport = c.startProgress(ctx, on, c.term != nil)
				}
				sum, err := j.Run(ctx, engine.RunOptions{Trigger: "cli", Force: *force, Ledger: led, Stop: stop, Log: c.log,
					Progress: report, LockWait: *lockWait, Timeout: *timeout})
				passes.Done(i)
				endReport()
				mu.Lock()
				defer mu.Unlock()
				sums[i] = sum
				if !jf.json {
					printSummary(c.stdout, sum)
				}
				var locked *engine.LockedError
				switch {
				case errors.As(err, &locked):
					c.runLog(sum).ErrorContext(ctx, "another run holds the job's lock; nothing ran", "error", err.Error(),
						"hint", "wait for it with -lock-timeout DURATION; if that process is gone for good, release its lock with: runner unlock "+j.Name)
					code = max(code, exitLocked)
				case err != nil:
					// What the run could not confirm stays pending; the next run sends it.
					c.runLog(sum).ErrorContext(ctx, "the run stopped", "error", engine.Clip(err.Error()),
						"pending", sum.Pending, "not_sent", sum.NotSent)
					code = max(code, exitStopped)
				case sum.Interrupted:
					code = stopCode()
				case !sum.Succeeded() && code == exitOK:
					code = exitFailed
				}
				if sum.Interrupted {
					interrupted = true
				}
			}()
		}
	}
	wg.Wait()
	if interrupted {
		// Jobs that never started have no summary.
		started := sums[:0]
		for _, s := range sums {
			if s.Job != "" {
				started = append(started, s)
			}
		}
		sums = started
	}
	if jf.json {
		engine.WriteJSON(c.stdout, sums)
	}
	return code
}

func printSummary(w interface{ Write([]byte) (int, error) }, s engine.RunSummary) {
	fmt.Fprintf(w, "Job %s (now %s): %d read, %d sent in %d batch(es): %d ok, %d failed; %d excluded",
		engine.QuoteJob(s.Job), s.Now.Format(time.RFC3339), s.Counts.Read, s.Counts.Send, s.Batches, s.OK, s.Failed, s.Counts.Excluded)
	if s.Counts.Unchanged > 0 {
		fmt.Fprintf(w, ", %d unchanged", s.Counts.Unchanged)
	}
	if s.Counts.Parked > 0 {
		fmt.Fprintf(w, ", %d parked", s.Counts.Parked)
	}
	if s.Counts.Skipped > 0 {
		fmt.Fprintf(w, ", %d skipped", s.Counts.Skipped)
	}
	fmt.Fprintf(w, ", %d bad record(s).\n", s.Counts.Errors)
	for _, a := range sortedKeys(s.Actions) {
		fmt.Fprintf(w, "  after export: %s done for %d record(s)\n", a, s.Actions[a])
	}
	if s.Calls != nil && s.Estimated != nil {
		fmt.Fprintf(w, "  calls: %s; estimated %s\n", s.Calls, s.Estimated)
	}
	for _, e := range s.SideEffects {
		fmt.Fprintf(w, "  side effect: %s (%d):\n    %s\n", e.Message, len(e.Keys), strings.Join(e.Keys, " "))
	}
	if len(s.Archived) > 0 {
		fmt.Fprintf(w, "  archived: %s\n", strings.Join(s.Archived, " "))
	}
	if len(s.Kept) > 0 {
		fmt.Fprintf(w, "  kept in the inbox for the next run: %s\n", strings.Join(s.Kept, " "))
	}
	if s.Stale > 0 {
		fmt.Fprintf(w, "  stale, not sent (%d):\n", s.Stale)
		for _, f := range s.Failures {
			if f.Stage == "stale" {
				fmt.Fprintf(w, "    %s  %s  %s\n", f.Key, f.Pos, f.Message)
			}
		}
	}
	if s.Interrupted {
		fmt.Fprintf(w, "  interrupted: the batch in flight finished; %d record(s) read but not sent\n", s.NotSent)
	}
}

// slots bounds how many runs go at once (-parallelism). A pass's jobs take
// their slots together, so that all its readers start.
type slots struct {
	mu   sync.Mutex
	cond *sync.Cond
	free int
	size int
}

func newSlots(n int) *slots {
	s := &slots{free: n, size: n}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// take waits for n free slots (at most all of them).
func (s *slots) take(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = min(n, s.size)
	for s.free < n {
		s.cond.Wait()
	}
	s.free -= n
}

func (s *slots) give(n int) {
	s.mu.Lock()
	s.free += n
	s.mu.Unlock()
	s.cond.Broadcast()
}
