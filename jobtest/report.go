package jobtest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Reporter receives a suite's progress.
type Reporter interface {
	StartFile(file string)
	StartRun(file, run string)
	EndRun(Result)
	EndFile(file string, pass bool, ran int, elapsed time.Duration)
}

// Text reports as go test does: a line per run, its failures indented
// under it, and a line per file. Verbose adds "=== RUN" and what the job
// did with each record.
type Text struct {
	W       io.Writer
	Verbose bool
}

func (t *Text) StartFile(string) {}

func (t *Text) StartRun(_, run string) {
	if t.Verbose {
		fmt.Fprintf(t.W, "=== RUN   %s\n", run)
	}
}

func (t *Text) EndRun(r Result) {
	for _, line := range runLines(r, t.Verbose) {
		fmt.Fprint(t.W, line)
	}
}

func (t *Text) EndFile(file string, pass bool, ran int, elapsed time.Duration) {
	fmt.Fprint(t.W, fileLine(file, pass, ran, elapsed))
}

// runLines are a run's lines after its "=== RUN": its verdict, then why.
func runLines(r Result, verbose bool) []string {
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	out := []string{fmt.Sprintf("--- %s: %s (%.2fs)\n", verdict, r.Run, r.Elapsed.Seconds())}
	if verbose {
		for _, l := range r.Log {
			out = append(out, "    "+l+"\n")
		}
	}
	for _, l := range r.Failures {
		out = append(out, "    "+strings.ReplaceAll(l, "\n", "\n        ")+"\n")
	}
	return out
}

func fileLine(file string, pass bool, ran int, elapsed time.Duration) string {
	switch {
	case ran == 0:
		return fmt.Sprintf("ok  \t%s\t%.3fs [no tests to run]\n", file, elapsed.Seconds())
	case pass:
		return fmt.Sprintf("ok  \t%s\t%.3fs\n", file, elapsed.Seconds())
	}
	return fmt.Sprintf("FAIL\t%s\t%.3fs\n", file, elapsed.Seconds())
}

// JSON reports one event a line in the shape of go test -json
// (cmd/test2json): the file is the Package, the run the Test.
type JSON struct {
	W       io.Writer
	Verbose bool
	// Now is the clock of the events' Time; time.Now when nil.
	Now func() time.Time
}

type event struct {
	Time    time.Time `json:"Time"`
	Action  string    `json:"Action"`
	Package string    `json:"Package"`
	Test    string    `json:"Test,omitempty"`
	Elapsed *float64  `json:"Elapsed,omitempty"`
	Output  *string   `json:"Output,omitempty"`
}

func (j *JSON) emit(e event) {
	if j.Now != nil {
		e.Time = j.Now()
	} else {
		e.Time = time.Now()
	}
	b, _ := json.Marshal(e)
	fmt.Fprintf(j.W, "%s\n", b)
}

func (j *JSON) output(file, run, line string) {
	j.emit(event{Action: "output", Package: file, Test: run, Output: &line})
}

func (j *JSON) StartFile(file string) { j.emit(event{Action: "start", Package: file}) }

func (j *JSON) StartRun(file, run string) {
	j.emit(event{Action: "run", Package: file, Test: run})
	j.output(file, run, fmt.Sprintf("=== RUN   %s\n", run))
}

func (j *JSON) EndRun(r Result) {
	for _, line := range runLines(r, j.Verbose) {
		j.output(r.File, r.Run, line)
	}
	action, secs := "pass", round(r.Elapsed)
	if !r.Pass {
		action = "fail"
	}
	j.emit(event{Action: action, Package: r.File, Test: r.Run, Elapsed: &secs})
}

func (j *JSON) EndFile(file string, pass bool, ran int, elapsed time.Duration) {
	action, secs := "pass", round(elapsed)
	if !pass {
		action = "fail"
		j.output(file, "", "FAIL\n")
	} else {
		j.output(file, "", "PASS\n")
	}
	j.output(file, "", fileLine(file, pass, ran, elapsed))
	j.emit(event{Action: action, Package: file, Elapsed: &secs})
}

func round(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }
