package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aymanbagabas/go-udiff"

	"github.com/goqsync/runner/connectors/goq/goqtest"
)

// handLoop is the yardstick of plan's speed: a plain Go loop that writes
// what runner plan writes for the shipping example.
const handLoop = "../../connectors/goq/testdata/handloop"

// buildBin builds the command in dir into a temporary directory.
func buildBin(tb testing.TB, dir, name string) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), name)
	out, err := exec.Command("go", "build", "-o", bin, dir).CombinedOutput()
	if err != nil {
		tb.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// writeExport writes an n-row CP932 export (goqtest.WriteExport) to path.
func writeExport(tb testing.TB, path string, n int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := goqtest.WriteExport(f, n); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// planArgs are runner plan's arguments for the export, as the hand loop
// assumes them.
func planArgs(export string, asJSON bool) []string {
	args := []string{"plan"}
	if asJSON {
		args = append(args, "-json")
	}
	return append(args, "-var", "goq_export="+export, "-now", seedNow, shipping)
}

// TestHandLoopMatchesPlan keeps the yardstick honest: on a generated export
// the hand loop writes exactly what runner plan writes, text and -json, so
// that BenchmarkPlanVsHand compares the same decisions and the same output.
func TestHandLoopMatchesPlan(t *testing.T) {
	hand := buildBin(t, handLoop, "handloop")
	export := filepath.Join(t.TempDir(), "orders.csv")
	writeExport(t, export, 5000)
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			var plan, errb bytes.Buffer
			if code := runMain(context.Background(), planArgs(export, asJSON), &plan, &errb, env()); code != 0 {
				t.Fatalf("runner plan: exit %d\n%s", code, errb.String())
			}
			args := []string{export}
			if asJSON {
				args = []string{"-json", export}
			}
			got, err := exec.Command(hand, args...).Output()
			if err != nil {
				t.Fatalf("handloop: %v", err)
			}
			if !bytes.Equal(got, plan.Bytes()) {
				t.Errorf("the hand loop's output differs from runner plan's (- plan, + hand loop):\n%s",
					udiff.Unified("plan", "handloop", plan.String(), string(got)))
			}
			if n := bytes.Count(got, []byte("excluded by filter")) + bytes.Count(got, []byte(`"excluded"`)); n == 0 {
				t.Errorf("no exclusions in the plan of %d rows: the export does not exercise the filters", 5000)
			}
		})
	}
}

// TestREADMEPerformance keeps the README's benchmark command this file's:
// its benchmark, package, variable and yardstick.
func TestREADMEPerformance(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, want := range []string{
		"PLAN_EXPORT=/tmp/big1m.csv go test -run '^$' -bench PlanVsHand -benchtime 7x ./cmd/runner",
		"`" + strings.TrimPrefix(handLoop, "../../") + "`",
		"`TestHandLoopMatchesPlan`",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README's Performance section does not say %s", want)
		}
	}
}

// BenchmarkPlanVsHand runs runner plan and the hand loop as processes, one
// after the other b.N times, on the same export, with their output to
// /dev/null, and reports each one's wall time per op and the median ratio
// of the pairs' wall and CPU times (a shared machine's load drifts; pairs
// see the same load). PLAN_EXPORT names the export; unset, a 1,000,000-row
// one is generated.
//
//	go test -run '^$' -bench PlanVsHand -benchtime 7x ./cmd/runner
func BenchmarkPlanVsHand(b *testing.B) {
	runner := buildBin(b, ".", "runner")
	hand := buildBin(b, handLoop, "handloop")
	export := os.Getenv("PLAN_EXPORT")
	if export == "" {
		export = filepath.Join(b.TempDir(), "orders.csv")
		writeExport(b, export, 1_000_000)
	}
	rows := countRows(b, export)
	noLedger := filepath.Join(b.TempDir(), "no-such-dir", "state.db")
	for _, asJSON := range []bool{false, true} {
		name := "text"
		if asJSON {
			name = "json"
		}
		b.Run(name, func(b *testing.B) {
			var plan, handRun []procTime
			for b.Loop() {
				plan = append(plan, runProc(b, noLedger, runner, planArgs(export, asJSON)...))
				if asJSON {
					handRun = append(handRun, runProc(b, noLedger, hand, "-json", export))
				} else {
					handRun = append(handRun, runProc(b, noLedger, hand, export))
				}
			}
			var wall, cpu []float64
			var planWall, handWall time.Duration
			var rss int64
			for i := range plan {
				planWall += plan[i].wall
				handWall += handRun[i].wall
				wall = append(wall, float64(plan[i].wall)/float64(handRun[i].wall))
				cpu = append(cpu, float64(plan[i].cpu)/float64(handRun[i].cpu))
				rss = max(rss, plan[i].maxRSS)
			}
			n := float64(len(plan))
			b.ReportMetric(float64(planWall)/n, "plan-ns/op")
			b.ReportMetric(float64(handWall)/n, "hand-ns/op")
			b.ReportMetric(float64(planWall)/n/float64(rows), "plan-ns/row")
			b.ReportMetric(median(wall), "ratio")
			b.ReportMetric(median(cpu), "cpu-ratio")
			if rss > 0 {
				b.ReportMetric(float64(rss)/(1<<20), "plan-maxRSS-MB")
			}
		})
	}
}

// procTime is what one process cost.
type procTime struct {
	wall, cpu time.Duration
	maxRSS    int64 // bytes; 0 where the system does not say
}

// runProc runs a command with its output to /dev/null and the ledger at
// db, a path that does not exist: plan then reads none.
func runProc(b *testing.B, db, bin string, args ...string) procTime {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"RUNNER_DATABASE="+db,
		"FUTURESHOP_API_DOMAIN=", "FUTURESHOP_SHOP_KEY=", "FUTURESHOP_CLIENT_ID=", "FUTURESHOP_CLIENT_SECRET=")
	var errb bytes.Buffer
	cmd.Stderr = &errb // stdout nil: /dev/null
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, errb.String())
	}
	ps := cmd.ProcessState
	return procTime{wall: time.Since(start), cpu: ps.UserTime() + ps.SystemTime(), maxRSS: maxRSS(ps)}
}

// countRows counts an export's records (a note spans lines, so lines do
// not tell). encoding/csv reads CP932 bytes as they are: no trail byte is
// a comma, a quote or a line end.
func countRows(b *testing.B, path string) int {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.ReuseRecord = true
	n := -1 // the header
	for {
		_, err := r.Read()
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
