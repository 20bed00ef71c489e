package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqsync/runner/connectors/futureshop"
	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/connectors/goq"
	"github.com/goqsync/runner/engine"
)

// repeatedPlace returns the first ": "-separated part of msg that names a
// place an earlier part already named: the same part ("futureshop POST
// /x: giving up …: futureshop POST /x: …") or its last words ("source
// goq_csv: goq_csv: …"); "" when there is none.
func repeatedPlace(msg string) string {
	parts := strings.Split(msg, ": ")
	for i, p := range parts {
		for _, q := range parts[:i] {
			if p == q || strings.HasSuffix(q, " "+p) {
				return p
			}
		}
	}
	return ""
}

// TestErrorsNameThePlaceOnce runs jobs that fail where the engine and a
// connector both add context, and checks that every error the run reports
// names each place once. (futureshop's TestCallErrorsNameTheCallOnce does
// the same for its retry loop and its HTTP calls.)
func TestErrorsNameThePlaceOnce(t *testing.T) {
	for _, bad := range []string{
		"source goq_csv: goq_csv: stat a.csv: no such file or directory",
		"futureshop POST /x: giving up after 5 tries: futureshop POST /x: 429 Too Many Requests",
	} {
		if repeatedPlace(bad) == "" {
			t.Errorf("repeatedPlace misses the stutter in %q", bad)
		}
	}

	dir := t.TempDir()
	srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
	t.Cleanup(srv.Close)
	closed := futureshoptest.NewServer()
	closed.Close()
	creds := func(s *futureshoptest.Server, secret string) string {
		return fmt.Sprintf("api_domain = %q\n    shop_key = %q\n    client_id = %q\n    client_secret = %q\n    rate_limit = 50",
			s.URL, s.ShopKey, s.ClientID, secret)
	}
	goqDest := fmt.Sprintf("destination \"goq_csv\" {\n    dir = %q\n    columns = [\"order_no\"]\n  }", dir)
	sample, _ := filepath.Abs("../testdata/orders-sample.csv")
	tests := []struct {
		name   string
		source string
		dest   string
		want   string // a part the error must hold
	}{
		{"goq_csv source, no file", `source "goq_csv" { path = "nope.csv" }`, goqDest,
			"source goq_csv: stat nope.csv"},
		{"goq_csv destination, no directory", `source "goq_csv" { path = "nope.csv" }`,
			"destination \"goq_csv\" {\n    dir = \"no/such/dir\"\n    columns = [\"order_no\"]\n  }",
			"destination goq_csv: output directory"},
		{"futureshop destination, secret unset", fmt.Sprintf("source \"goq_csv\" { path = %q }", sample),
			"destination \"futureshop\" {\n    " + creds(srv, "") + "\n  }",
			"destination futureshop: client_secret is empty"},
		{"futureshop source, shop gone", "source \"futureshop\" {\n    " + creds(closed, closed.ClientSecret) + "\n  }", goqDest,
			"source futureshop: futureshop cannot be reached"},
	}
	reg := engine.NewRegistry()
	goq.Register(reg)
	futureshop.Register(reg)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, fmt.Sprintf("job%d.hcl", i))
			src := fmt.Sprintf("job \"x\" {\n  %s\n  %s\n  map {\n    order_no = \"order_no\"\n  }\n}\n", tt.source, tt.dest)
			if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, diags := engine.Load([]string{file}, engine.LoadOptions{Registry: reg, LookupEnv: func(string) (string, bool) { return "", false }})
			if diags.HasErrors() {
				t.Fatalf("load: %s", diags)
			}
			// A job-level error stops the run; a batch's error is each
			// record's failure message. Both are rendered to people.
			sum, err := cfg.Jobs[0].Run(context.Background(), engine.RunOptions{})
			var msgs []string
			if err != nil {
				msgs = append(msgs, err.Error())
			}
			for _, f := range sum.Failures {
				msgs = append(msgs, f.Message)
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tt.want) {
				t.Errorf("no error holds %q:\n%s", tt.want, strings.Join(msgs, "\n"))
			}
			for _, msg := range msgs {
				if p := repeatedPlace(msg); p != "" {
					t.Errorf("error names %q twice: %s", p, msg)
				}
			}
		})
	}
}
