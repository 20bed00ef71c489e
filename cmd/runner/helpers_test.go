package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// readCP932CSV reads the one CSV file in dir, decoding CP932.
func readCP932CSV(t *testing.T, dir string) [][]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	if len(files) != 1 {
		t.Fatalf("want one CSV file in %s, got %v", dir, files)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(japanese.ShiftJIS.NewDecoder().Reader(f)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// variant writes a copy of the shipping example with each old string
// replaced by its new one into dir, and returns its path. Tests that need
// the example on another schedule or input derive it, so they follow the
// example as it changes.
func variant(t testing.TB, dir, name string, oldNew ...string) string {
	t.Helper()
	return rewrite(t, shipping, dir, name, oldNew...)
}

// rewrite is variant for any example.
func rewrite(t testing.TB, example, dir, name string, oldNew ...string) string {
	t.Helper()
	src, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("%s no longer holds %q", example, oldNew[i])
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sampleShop starts a test server seeded with the sample's orders, the
// given ones as store-pickup shipments, which futureshop refuses to update.
func sampleShop(t testing.TB, storePickup ...string) *futureshoptest.Server {
	t.Helper()
	srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
	t.Cleanup(srv.Close)
	orders := futureshoptest.SampleOrders()
	for i := range orders {
		if slices.Contains(storePickup, orders[i].OrderNo) {
			orders[i].Shipments[0].StorePickup = true
		}
	}
	srv.Seed(orders...)
	return srv
}

const importExample = "../../examples/futureshop-to-goq.hcl"

// fastRate turns an example's futureshop block to 50 requests a second,
// which the test shops allow: at the default of one a second every run
// would wait seconds for nothing. Tests of the rate limit keep the default.
var fastRate = []string{`client_secret = env("FUTURESHOP_CLIENT_SECRET")`,
	"client_secret = env(\"FUTURESHOP_CLIENT_SECRET\")\n    rate_limit    = 50"}

// fastShipping is the shipping example at fastRate.
func fastShipping(t *testing.T) string {
	t.Helper()
	return variant(t, t.TempDir(), "shipping.hcl", fastRate...)
}

// fastImport is the order import example at fastRate.
func fastImport(t *testing.T) string {
	t.Helper()
	return rewrite(t, importExample, t.TempDir(), "import.hcl", fastRate...)
}

// manualShipping is fastShipping scheduled once a year (1 January,
// midnight), for serve tests that count runs: at "every 10m" a test that
// starts within a minute of the ten-minute mark gets a catch-up run.
func manualShipping(t testing.TB) string {
	t.Helper()
	return variant(t, t.TempDir(), "shipping.hcl", append(fastRate, `schedule    = "every 10m"`, `schedule    = "0 0 1 1 *"`)...)
}

// stdoutOf is the standard output of invoke's transcript.
func stdoutOf(transcript string) string {
	_, s, _ := strings.Cut(transcript, "\n--- stdout\n")
	s, _, _ = strings.Cut(s, "--- stderr\n")
	return s
}
