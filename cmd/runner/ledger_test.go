package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/ledger/ledgertest"
)

// databases runs a test on SQLite and on PostgreSQL (skipped, saying why,
// when no server is reachable).
func databases(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, ledgertest.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, ledgertest.Postgres(t)) })
}

func countPath(srv *futureshoptest.Server, path string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

// TestUnchangedExportSentOnce runs the shipping example ten times over the
// same export: the shipping update goes out once; plan then shows every
// order as unchanged; a changed tracking number is sent again.
func TestUnchangedExportSentOnce(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		fast := fastShipping(t)
		srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
		defer srv.Close()
		srv.Seed(futureshoptest.SampleOrders()...)
		e := shopEnv(t, srv, "RUNNER_DATABASE", dsn)
		for i := 0; i < 10; i++ {
			if out, code := invoke(t, e, "run", "-var", "goq_export="+sample, "-now", seedNow, fast); code != 0 {
				t.Fatalf("run %d: exit %d\n%s", i+1, code, out)
			}
		}
		if n := countPath(srv, "/admin-api/v1/shipping/status"); n != 1 {
			t.Errorf("%d shipping calls over ten runs, want 1", n)
		}
		if n := countPath(srv, "/admin-api/v1/order/complete"); n != 1 {
			t.Errorf("%d complete calls over ten runs, want 1", n)
		}
		out, _ := invoke(t, e, "plan", "-var", "goq_export="+sample, "-now", seedNow, shipping)
		if !strings.Contains(out, "0 to send, 5 excluded, 9 unchanged") {
			t.Errorf("plan after the runs:\n%s", out)
		}
		out, _ = invoke(t, e, "plan", "-force", "-var", "goq_export="+sample, "-now", seedNow, shipping)
		if !strings.Contains(out, "9 to send") {
			t.Errorf("plan -force:\n%s", out)
		}

		out, code := invoke(t, e, "history", "-json", "shipping-to-futureshop")
		var runs []struct {
			Trigger string         `json:"trigger"`
			Counts  map[string]int `json:"counts"`
		}
		if code != 0 || json.Unmarshal([]byte(out[strings.Index(out, "[\n"):strings.LastIndex(out, "]")+1]), &runs) != nil {
			t.Fatalf("history: exit %d\n%s", code, out)
		}
		if len(runs) != 10 || runs[0].Counts["unchanged"] != 9 || runs[9].Counts["ok"] != 9 || runs[0].Trigger != "cli" {
			t.Errorf("history: %+v", runs)
		}
	})
}

// TestParkAndRetry parks a store-pickup order, does not retry it while it
// is parked, lists it in failures, and sends it again after retry.
func TestParkAndRetry(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		fast := fastShipping(t)
		srv := sampleShop(t, "100000001206")
		e := shopEnv(t, srv, "RUNNER_DATABASE", dsn)
		args := []string{"run", "-var", "goq_export=" + sample, "-now", seedNow, fast}
		if out, code := invoke(t, e, args...); code != 1 || !strings.Contains(out, "CannotUpdateStorePickup") {
			t.Fatalf("first run: exit %d\n%s", code, out)
		}
		out, code := invoke(t, e, args...)
		if code != 0 || !strings.Contains(out, "1 parked") {
			t.Fatalf("second run should skip the parked order: exit %d\n%s", code, out)
		}
		if n := countPath(srv, "/admin-api/v1/shipping/status"); n != 1 {
			t.Errorf("%d shipping calls, want 1: the parked order was retried", n)
		}
		out, _ = invoke(t, e, "failures")
		if !strings.Contains(out, "100000001206/1") || !strings.Contains(out, "CannotUpdateStorePickup") {
			t.Errorf("failures:\n%s", out)
		}
		// The shop fixes the shipment; someone says retry.
		o, _ := srv.Order("100000001206")
		o.Shipments[0].StorePickup = false
		srv.AddOrder(o)
		if out, code := invoke(t, e, "retry", "shipping-to-futureshop", "100000001206/1"); code != 0 || !strings.Contains(out, "1 parked") {
			t.Fatalf("retry: exit %d\n%s", code, out)
		}
		if out, code := invoke(t, e, args...); code != 0 || !strings.Contains(out, "1 ok") {
			t.Fatalf("run after retry: exit %d\n%s", code, out)
		}
		if o, _ := srv.Order("100000001206"); o.Status != futureshoptest.StatusCompleted {
			t.Errorf("order after retry: %+v", o)
		}
	})
}

// TestFailedRecordRetried makes the shipping call fail as a whole: the run
// reports it and exits 1; the next run sends the orders again and succeeds.
func TestFailedRecordRetried(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		fast := fastShipping(t)
		srv := futureshoptest.NewServer(futureshoptest.WithRateLimit(50, 2))
		defer srv.Close()
		srv.Seed(futureshoptest.SampleOrders()...)
		srv.FailOrder("100000001211", "Busy", "the order is being edited in the admin screen")
		e := shopEnv(t, srv, "RUNNER_DATABASE", dsn)
		args := []string{"run", "-var", "goq_export=" + sample, "-now", seedNow, fast}
		if out, code := invoke(t, e, args...); code != 1 || !strings.Contains(out, "100000001211") {
			t.Fatalf("first run: exit %d\n%s", code, out)
		}
		srv.ClearFaults()
		out, code := invoke(t, e, args...)
		if code != 0 || !strings.Contains(out, "1 sent") || !strings.Contains(out, "8 unchanged") {
			t.Fatalf("second run: exit %d\n%s", code, out)
		}
		if o, _ := srv.Order("100000001211"); o.Status != futureshoptest.StatusCompleted {
			t.Errorf("order 1211 after the second run: %+v", o)
		}
	})
}

const goqHeader = "GoQ番号,受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,配送会社,お荷物伝票番号,お届け指定日,お届け時間帯,備考\r\n"

// TestInboxArchive reads two overlapping exports from an inbox: the older
// row of an order in both is superseded (and plan says so), the file whose
// orders all went through is archived, and the one holding a failed order
// stays in the inbox until a later run settles it.
func TestInboxArchive(t *testing.T) {
	srv := sampleShop(t, "100000001206")
	dir := t.TempDir()
	inbox, archive := filepath.Join(dir, "inbox"), filepath.Join(dir, "archive")
	os.MkdirAll(inbox, 0o755)
	write := func(name, rows string) {
		if err := os.WriteFile(filepath.Join(inbox, name), []byte(goqHeader+rows), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.csv", "183401,100000001201,FutureShop 1号店,2026-11-20 14:03:11,出荷済み,2026-11-26 09:12:40,2026-11-26,ヤマト運輸,123456789012,,,\r\n"+
		"183406,100000001206,FutureShop 1号店,2026-11-19 12:00:00,出荷済み,2026-11-24 00:00:01,2026-11-24,日本郵便,112233445566,,,\r\n")
	write("b.csv", "183401,100000001201,FutureShop 1号店,2026-11-20 14:03:11,出荷済み,2026-11-25 09:00:00,2026-11-25,ヤマト運輸,999999999999,,,\r\n"+
		"183402,100000001202,FutureShop 1号店,2026-11-21 08:00:00,出荷済み,2026-11-27 17:45:00,2026-11-27,佐川急便,3456-7890-1234,,,\r\n")

	job := variant(t, dir, "inbox.hcl", append([]string{"path = var.goq_export", "inbox   = var.inbox\n    archive = var.archive",
		`variable "goq_export" {`, "variable \"inbox\" {\n  type = string\n}\n\nvariable \"archive\" {"}, fastRate...)...)
	e := shopEnv(t, srv)
	args := func(cmd string) []string {
		return []string{cmd, "-var", "inbox=" + inbox, "-var", "archive=" + archive, "-now", seedNow, job}
	}
	out, _ := invoke(t, e, args("plan")...)
	if !strings.Contains(out, "~ 100000001201  b.csv:2  skipped: superseded by a.csv:2") {
		t.Errorf("plan does not say which row wins:\n%s", out)
	}
	out, code := invoke(t, e, args("run")...)
	if code != 1 {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(archive, "b.csv")); err != nil {
		t.Errorf("b.csv, all settled, was not archived:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(inbox, "a.csv")); err != nil {
		t.Errorf("a.csv holds a failed order but left the inbox:\n%s", out)
	}
	if o, _ := srv.Order("100000001201"); o.Shipments[0].InvoiceNo != "123456789012" {
		t.Errorf("the superseded row was sent: %+v", o.Shipments[0])
	}

	o, _ := srv.Order("100000001206")
	o.Shipments[0].StorePickup = false
	srv.AddOrder(o)
	invoke(t, e, "retry", "shipping-to-futureshop")
	if out, code := invoke(t, e, args("run")...); code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(archive, "a.csv")); err != nil {
		t.Error("a.csv was not archived once settled")
	}
	if left, _ := filepath.Glob(filepath.Join(inbox, "*")); len(left) != 0 {
		t.Errorf("inbox not empty: %v", left)
	}
}

// TestResolveAndRetryChecks: retry and resolve refuse an unknown job or a
// key that is not parked, with the nearest name, and change nothing; a
// resolved record is skipped while its payload stays the same, and sent
// when it changes.
func TestResolveAndRetryChecks(t *testing.T) {
	fast := fastShipping(t)
	srv := sampleShop(t, "100000001206")
	dir := t.TempDir()
	export := func(tracking string) string {
		return repeatedExport(t, dir, sampleRow("100000001206", "出荷済み", "2026-11-26 09:12:40", tracking))
	}
	e := shopEnv(t, srv, "USER", "hanako")
	run := func(tracking string) (string, int) {
		return invoke(t, e, "run", "-var", "goq_export="+export(tracking), "-now", seedNow, fast)
	}
	if out, code := run("123456789012"); code != exitFailed || !strings.Contains(out, "CannotUpdateStorePickup") {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	job := "shipping-to-futureshop"
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"retry", "shiping-to-futureshop"}, exitConfig, `the ledger knows no job "shiping-to-futureshop"; did you mean "shipping-to-futureshop"?`},
		{[]string{"retry", job, "100000001206/2"}, exitConfig, `has no parked record "100000001206/2"; did you mean "100000001206/1"?`},
		{[]string{"resolve", job, "100000001206/1"}, exitConfig, "-reason is required"},
		{[]string{"resolve", "-reason", "x", "nojob", "100000001206/1"}, exitConfig, `the ledger knows no job "nojob"`},
		{[]string{"resolve", "-reason", "x", job, "T99"}, exitConfig, `has no parked record "T99"`},
		{[]string{"failures", job}, exitOK, "100000001206/1"},
		{[]string{"resolve", "-reason", "handed over in store", job, "100000001206/1"}, exitOK, "1 parked record(s) of shipping-to-futureshop resolved"},
		{[]string{"failures", job}, exitOK, "no parked records"},
	}
	for _, tt := range tests {
		out, code := invoke(t, e, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("exit %d, want %d and %q\n%s", code, tt.code, tt.want, out)
		}
	}
	calls := countPath(srv, "/admin-api/v1/shipping/status")
	if out, code := run("123456789012"); code != exitOK || !strings.Contains(out, "resolved by hanako") && !strings.Contains(out, "0 sent") {
		t.Errorf("run after resolve: exit %d\n%s", code, out)
	}
	if n := countPath(srv, "/admin-api/v1/shipping/status"); n != calls {
		t.Errorf("a resolved record was sent again (%d shipping calls, had %d)", n, calls)
	}
	out, _ := invoke(t, e, "plan", "-var", "goq_export="+export("123456789012"), "-now", seedNow, fast)
	if !strings.Contains(out, "resolved by hanako at ") || !strings.Contains(out, ": handed over in store") {
		t.Errorf("plan does not say the record was resolved, by whom and why:\n%s", out)
	}
	// New values: the shop gets them (and refuses again, as the order is still a pickup).
	if out, code := run("999999999999"); code != exitFailed || countPath(srv, "/admin-api/v1/shipping/status") != calls+1 {
		t.Errorf("a resolved record with new values was not sent: exit %d\n%s", code, out)
	}
}

// TestNotFoundParked: an order futureshop does not know fails the first
// two runs and is parked by the third (park_not_found_after, default 3);
// the fourth run skips it and exits 0.
func TestNotFoundParked(t *testing.T) {
	fast := fastShipping(t)
	srv := sampleShop(t)
	path := repeatedExport(t, t.TempDir(), sampleRow("100000009999", "出荷済み", "2026-11-26 09:12:40", "123456789012"))
	e := shopEnv(t, srv)
	for i, want := range []struct {
		code int
		out  string
	}{
		{exitFailed, "NotFound"},
		{exitFailed, "NotFound"},
		{exitFailed, "(3 times in a row: parked)"},
		{exitOK, "1 parked"},
	} {
		out, code := invoke(t, e, "run", "-var", "goq_export="+path, "-now", seedNow, fast)
		if code != want.code || !strings.Contains(out, want.out) {
			t.Errorf("run %d: exit %d, want %d and %q\n%s", i+1, code, want.code, want.out, out)
		}
	}
	if n := countPath(srv, "/admin-api/v1/shipping/status"); n != 3 {
		t.Errorf("%d shipping calls, want 3", n)
	}
}
