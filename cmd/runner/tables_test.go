package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestDemoShopTable: the demo's table of the shop afterwards lines up
// columns by display width, 発送済み included.
func TestDemoShopTable(t *testing.T) {
	t.Parallel()
	out, code := invoke(t, env(), "demo")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	_, shop, _ := strings.Cut(out, "== the shop afterwards\n")
	shop, _, _ = strings.Cut(shop, "\n\n")
	golden(t, "demo-shop", shop+"\n")
}

// stamp is an RFC 3339 time as history and failures print them, with the
// two spaces that end its column: every stamp of a column has the same
// width, wider than its header, so they are followed by exactly two.
var (
	stamp      = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)  `)
	timeHeader = regexp.MustCompile(`\b(started|ended|first seen|last seen) +`)
)

// timeless replaces the local times of history and failures, which differ
// with the machine's zone, with <timestamp>, as if the times were that
// wide, so that the goldens show the alignment wherever they run.
func timeless(s string) string {
	s = stamp.ReplaceAllString(s, "<timestamp>  ")
	return timeHeader.ReplaceAllStringFunc(s, func(h string) string {
		return fmt.Sprintf("%-13s", strings.TrimRight(h, " "))
	})
}

// TestJapaneseTables: history and failures of a job named in Japanese,
// with an order the shop refuses in Japanese, line up by display width.
func TestJapaneseTables(t *testing.T) {
	t.Parallel()
	srv := sampleShop(t)
	srv.FailOrder("100000001206", "CannotUpdateStorePickup", "店舗受取の発送先は更新できません")
	job := variant(t, t.TempDir(), "shipping.hcl", append(fastRate, `job "shipping-to-futureshop"`, `job "発送情報の更新"`)...)
	e := shopEnv(t, srv)
	if out, code := invoke(t, e, "run", "-var", "goq_export="+sample, "-now", seedNow, job); code != exitFailed {
		t.Fatalf("run: exit %d, want 1\n%s", code, out)
	}
	srv.ClearFaults()
	if out, code := invoke(t, e, "run", "-var", "goq_export="+sample, "-now", seedNow, job); code != exitOK {
		t.Fatalf("second run: exit %d, want 0\n%s", code, out)
	}
	for _, args := range [][]string{{"history"}, {"failures"}} {
		out, _ := invoke(t, e, args...)
		golden(t, "tables-"+args[0], timeless(out))
	}
}
