package console

import (
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"testing"
)

// TestCatalogues: every language has the same keys, and every key a page
// or the code names is in them, so no page shows «key».
func TestCatalogues(t *testing.T) {
	want := slices.Sorted(maps.Keys(catalogues[languages[0]]))
	for _, l := range languages[1:] {
		if got := slices.Sorted(maps.Keys(catalogues[l])); !slices.Equal(got, want) {
			for _, k := range want {
				if _, ok := catalogues[l][k]; !ok {
					t.Errorf("i18n/%s.json lacks %q", l, k)
				}
			}
			for _, k := range got {
				if _, ok := catalogues[languages[0]][k]; !ok {
					t.Errorf("i18n/%s.json has %q, which i18n/%s.json lacks", l, k, languages[0])
				}
			}
		}
	}
	used := regexp.MustCompile(`\.T "([a-z0-9.]+)"|\bT\("([a-z0-9.]+)"|view\(r, "([a-z0-9.]+)"|render\([^)]*"([a-z]+\.title)"|notFound\(w, r, "([a-z0-9.]+)"|"((?:run|apply)\.(?:already|note))"`)
	files, _ := fs.Glob(templateFS, "templates/*.html")
	srcs, _ := fs.Glob(osFS, "*.go")
	for _, f := range append(files, srcs...) {
		var b []byte
		if slices.Contains(files, f) {
			b, _ = templateFS.ReadFile(f)
		} else {
			b, _ = fs.ReadFile(osFS, f)
		}
		for _, m := range used.FindAllSubmatch(b, -1) {
			for _, k := range m[1:] {
				if len(k) > 0 && catalogues["ja"][string(k)] == "" {
					t.Errorf("%s names %q, which the catalogues lack", f, k)
				}
			}
		}
	}
}

func TestScheduleWords(t *testing.T) {
	for _, tt := range []struct{ spec, ja, en string }{
		{"every 10m", "10分ごと", "every 10 minutes"},
		{"every 1h", "1時間ごと", "every hour"},
		{"every 2h", "2時間ごと", "every 2 hours"},
		{"every 1m", "1分ごと", "every minute"},
		{"every 30s", "30秒ごと", "every 30 seconds"},
		{"daily 06:00", "毎日 06:00", "daily at 06:00"},
		{"@hourly", "1時間ごと", "every hour"},
		{"*/5 * * * *", "5分ごと", "every 5 minutes"},
		{"30 7 * * *", "毎日 07:30", "daily at 07:30"},
		{"0 0 1 1 *", "cron: 0 0 1 1 *", "cron: 0 0 1 1 *"},
		{"", "手動のみ", "on request only"},
	} {
		if got := newLang("ja").Schedule(tt.spec); got != tt.ja {
			t.Errorf("ja %q: %q, want %q", tt.spec, got, tt.ja)
		}
		if got := newLang("en").Schedule(tt.spec); got != tt.en {
			t.Errorf("en %q: %q, want %q", tt.spec, got, tt.en)
		}
	}
}
