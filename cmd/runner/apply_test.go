package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goqsync/runner/connectors/futureshop/futureshoptest"
	"github.com/goqsync/runner/engine"
)

// planned is a saved plan of the shipping example over a copy of the
// sample, against its own test shop and ledger.
type planned struct {
	dir, export, job, plan string
	shop                   *futureshoptest.Server
	env                    func(string) (string, bool)
}

func newPlanned(t *testing.T) *planned {
	t.Helper()
	p := &planned{dir: t.TempDir(), shop: sampleShop(t)}
	src, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	p.export = filepath.Join(p.dir, "orders.csv")
	if err := os.WriteFile(p.export, src, 0o644); err != nil {
		t.Fatal(err)
	}
	p.job = variant(t, p.dir, "shipping.hcl", fastRate...)
	p.plan = filepath.Join(p.dir, "shipping.plan")
	p.env = shopEnv(t, p.shop, "RUNNER_DATABASE", filepath.Join(p.dir, "state.db"))
	return p
}

// save runs plan -out.
func (p *planned) save(t *testing.T) string {
	t.Helper()
	out, code := invoke(t, p.env, "plan", "-out", p.plan, "-var", "goq_export="+p.export, "-now", seedNow, p.job)
	if code != 0 {
		t.Fatalf("plan -out: exit %d\n%s", code, out)
	}
	return out
}

// edit changes the export's bytes in place.
func (p *planned) edit(t *testing.T, old, new string) {
	t.Helper()
	src, err := os.ReadFile(p.export)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		t.Fatalf("the export holds no %q", old)
	}
	if err := os.WriteFile(p.export, []byte(strings.Replace(string(src), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// scrub takes the test's temporary paths and the shop's port out of a
// transcript, for a golden file.
func (p *planned) scrub(s string) string {
	s = strings.ReplaceAll(s, p.dir, "$DIR")
	s = strings.ReplaceAll(s, strings.TrimPrefix(p.shop.URL, "http://"), "$SHOP")
	return regexp.MustCompile(`shop [0-9a-f]{12}`).ReplaceAllString(s, "shop $$KEYHASH")
}

// TestApplySavedPlan: plan -out, then one order's row changes in the
// export and another order goes out through another run; apply reports
// both stale and sends neither, sends every other order exactly as
// planned, and makes the calls it estimated for what remained.
func TestApplySavedPlan(t *testing.T) {
	p := newPlanned(t)
	golden(t, "plan-out", p.scrub(p.save(t)))

	show, code := invoke(t, p.env, "show", p.plan)
	if code != 0 {
		t.Fatalf("show: exit %d\n%s", code, show)
	}
	golden(t, "show", p.scrub(show))
	showJSON, _ := invoke(t, p.env, "show", "-json", p.plan)
	golden(t, "show-json", p.scrub(showJSON))
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdoutOf(showJSON)), &doc); err != nil || doc["format_version"] != engine.PlanJSONVersion {
		t.Errorf("show -json: %v, format_version %v", err, doc["format_version"])
	}

	// 1202's row changes: a new tracking number, a new 最終更新日時.
	p.edit(t, "2026-11-27 17:45:00", "2026-11-28 09:30:00")
	p.edit(t, "3456-7890-1234", "3456-7890-9999")
	// 1206 goes out through a run of its own.
	one := filepath.Join(p.dir, "one.csv")
	if err := os.WriteFile(one, []byte(goqHeader+"183406,100000001206,FutureShop 1号店,2026-11-19 12:00:00,出荷済み,2026-11-24 00:00:01,2026-11-24,日本郵便,112233445566,2026-11-26,午前中,\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := invoke(t, p.env, "run", "-var", "goq_export="+one, "-now", seedNow, p.job); code != 0 || !strings.Contains(out, "1 ok") {
		t.Fatalf("the other run: exit %d\n%s", code, out)
	}
	p.shop.ResetRequests()

	out, code := invoke(t, p.env, "apply", "-now", "2026-11-28T10:05:00+09:00", p.plan)
	golden(t, "apply-stale", p.scrub(stdoutOf(out)))
	if code != exitFailed {
		t.Errorf("apply with stale orders: exit %d, want %d", code, exitFailed)
	}
	for _, no := range admitted {
		want := 1
		if no == "100000001202" {
			want = 0 // stale: its row changed
		}
		if got := p.shop.Shipped(no); got != want {
			t.Errorf("order %s shipped %d times, want %d", no, got, want)
		}
	}
	// The calls made are what apply estimated for the seven orders left.
	if m := regexp.MustCompile(`calls: (.*); estimated (.*), about`).FindStringSubmatch(out); m == nil || m[1] != m[2] {
		t.Errorf("calls made and estimated differ: %q", m)
	}
	if n := len(p.shop.Requests()); n != 3 {
		t.Errorf("apply made %d requests, want 3 (a token, a shipping update, a completion)", n)
	}
	out, _ = invoke(t, p.env, "history", "-json", "shipping-to-futureshop")
	if !strings.Contains(out, `"trigger": "apply"`) && !strings.Contains(out, `"trigger":"apply"`) {
		t.Errorf("history does not show the apply:\n%s", out)
	}
}

// TestApplyRefuses: a plan whose premises changed sends nothing.
func TestApplyRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, p *planned) (env func(string) (string, bool), now string)
		want   string
	}{
		{"the job file changed", func(t *testing.T, p *planned) (func(string) (string, bool), string) {
			f, err := os.OpenFile(p.job, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("\n# a comment is a change too\n")
			f.Close()
			return p.env, "2026-11-28T10:05:00+09:00"
		}, "job file $DIR/shipping.hcl changed since the plan"},
		{"too old", func(t *testing.T, p *planned) (func(string) (string, bool), string) {
			return p.env, "2026-11-28T11:00:01+09:00"
		}, "the plan is 1h0m1s old, older than -max-age 1h0m0s"},
		{"another shop", func(t *testing.T, p *planned) (func(string) (string, bool), string) {
			other := sampleShop(t)
			return shopEnv(t, other, "RUNNER_DATABASE", filepath.Join(p.dir, "state.db")), "2026-11-28T10:05:00+09:00"
		}, "the destination is \"futureshop 127.0.0.1:"},
		{"a payload edited by hand", func(t *testing.T, p *planned) (func(string) (string, bool), string) {
			src, err := os.ReadFile(p.plan)
			if err != nil {
				t.Fatal(err)
			}
			src = []byte(strings.Replace(string(src), `"invoice_no":"123456789012"`, `"invoice_no":"999999999999"`, 1))
			if err := os.WriteFile(p.plan, src, 0o600); err != nil {
				t.Fatal(err)
			}
			return p.env, "2026-11-28T10:05:00+09:00"
		}, "its payload does not match its hash"},
		{"not a plan", func(t *testing.T, p *planned) (func(string) (string, bool), string) {
			if err := os.WriteFile(p.plan, []byte(`{"format":"terraform"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			return p.env, "2026-11-28T10:05:00+09:00"
		}, `not a saved plan (format "terraform", want "runner-plan")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPlanned(t)
			p.save(t)
			env, now := tt.change(t, p)
			p.shop.ResetRequests()
			out, code := invoke(t, env, "apply", "-now", now, p.plan)
			if code != exitConfig || !strings.Contains(p.scrub(out), tt.want) {
				t.Errorf("exit %d, want %d and %q in:\n%s", code, exitConfig, tt.want, p.scrub(out))
			}
			if n := len(p.shop.Requests()); n != 0 {
				t.Errorf("a refused apply made %d requests", n)
			}
		})
	}
}

// TestApplyInstance: a saved plan of one instance of a for_each job is
// applied to that instance's shop only.
func TestApplyInstance(t *testing.T) {
	f := newShopsFixture(t, 3, 50, "rate_limit = 50")
	plan := filepath.Join(filepath.Dir(f.job), "b.plan")
	out, code := invoke(t, f.lookup, "plan", "-out", plan, "-job", `shipping["b"]`, "-var-file", f.vars,
		"-var", "goq_export_all="+f.export, "-now", seedNow, f.job)
	if code != 0 || !strings.Contains(out, `Job shipping["b"]`) {
		t.Fatalf("plan -out of shipping[\"b\"]: exit %d\n%s", code, out)
	}
	out, code = invoke(t, f.lookup, "apply", "-now", seedNow, plan)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	for _, key := range f.keys {
		want := 0
		if key == "b" {
			want = 3
		}
		got := sentTo(f.srvs[key])
		slices.Sort(got)
		if got = slices.Compact(got); len(got) != want {
			t.Errorf("shop %s received orders %v, want %d", key, got, want)
		}
	}
}
