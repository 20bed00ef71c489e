package scheduler_test

import (
	"flag"
	"os"
	"runtime"
	"testing"
)

// TestMain lets the parallel tests overlap on a one-core machine too: they
// wait on child processes, schedules and rate limits rather than compute,
// and go test would run them one at a time there (-parallel defaults to
// GOMAXPROCS). Four at once on one core, as they wait; an explicit
// -parallel stands.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && runtime.GOMAXPROCS(0) < 2 {
		flag.Set("test.parallel", "4")
	}
	os.Exit(m.Run())
}
