package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goqsync/runner/scheduler"
)

// TestOrderStory: an order sent, read again unchanged, changed (a new
// tracking number in the export), sent again, then cancelled in GoQ:
// history -order tells it newest first, with each payload, and the runs
// that read it unchanged add nothing to it.
func TestOrderStory(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		fast := fastShipping(t)
		srv := sampleShop(t)
		dir := t.TempDir()
		e := shopEnv(t, srv, "RUNNER_DATABASE", dsn)
		const no = "100000001206"
		run := func(status, tracking string) {
			t.Helper()
			export := repeatedExport(t, dir, sampleRow(no, status, "2026-11-26 09:12:40", tracking))
			if out, code := invoke(t, e, "run", "-var", "goq_export="+export, "-now", seedNow, fast); code != exitOK {
				t.Fatalf("run: exit %d\n%s", code, out)
			}
		}
		run("出荷済み", "111111111111")
		run("出荷済み", "111111111111")
		run("出荷済み", "222222222222")
		run("出荷済み", "222222222222")
		run("キャンセル", "222222222222")
		run("キャンセル", "222222222222")

		out, code := invoke(t, e, "history", "-order", no, "-json")
		var story scheduler.OrderStory
		if code != exitOK || json.Unmarshal([]byte(stdoutOf(out)), &story) != nil {
			t.Fatalf("history -order: exit %d\n%s", code, out)
		}
		type ev struct {
			run           int64
			event, detail string
			invoice       string
		}
		var got []ev
		for _, x := range story.Events {
			var p struct {
				Invoice string `json:"invoice_no"`
			}
			json.Unmarshal(x.Payload, &p)
			got = append(got, ev{x.RunID, x.Event, x.Message, p.Invoice})
		}
		want := []ev{
			{5, "excluded", "status", ""},
			{3, "ok", "", "222222222222"},
			{1, "ok", "", "111111111111"},
		}
		if len(got) != len(want) {
			t.Fatalf("story:\n got %+v\nwant %+v\n%s", got, want, out)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("event %d: got %+v, want %+v", i, got[i], want[i])
			}
		}

		out, _ = invoke(t, e, "history", "-order", no)
		lines := strings.Split(strings.TrimSpace(stdoutOf(out)), "\n")
		if len(lines) != 4 || !strings.Contains(lines[1], "excluded") || !strings.Contains(lines[1], "by filter status") ||
			!strings.Contains(lines[2], "sent ok") || !strings.Contains(lines[2], `"invoice_no":"222222222222"`) ||
			!strings.Contains(lines[3], `"invoice_no":"111111111111"`) {
			t.Errorf("history -order:\n%s", out)
		}
		if out, _ := invoke(t, e, "history", "-order", "999"); !strings.Contains(out, "no run has read order 999") {
			t.Errorf("unknown order:\n%s", out)
		}
	})
}
