package console

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/text/language"
)

// The catalogues: every string a page shows, one file per language.
//
//go:embed i18n/*.json
var catalogueFS embed.FS

// Languages the console speaks; the first is the default.
var languages = []string{"ja", "en"}

var (
	catalogues = map[string]map[string]string{}
	matcher    = language.NewMatcher([]language.Tag{language.Japanese, language.English})
)

func init() {
	for _, l := range languages {
		b, err := catalogueFS.ReadFile("i18n/" + l + ".json")
		if err != nil {
			panic(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("i18n/%s.json: %v", l, err))
		}
		catalogues[l] = m
	}
}

const langCookie = "runner_lang"

// pickLang chooses the page's language: ?lang= (remembered in a cookie),
// then the cookie, then the browser's Accept-Language; Japanese otherwise.
func pickLang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); catalogues[l] != nil {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		return l
	}
	if ck, err := r.Cookie(langCookie); err == nil && catalogues[ck.Value] != nil {
		return ck.Value
	}
	if a := r.Header.Get("Accept-Language"); a != "" {
		_, i, conf := matcher.Match(parseAccept(a)...)
		if conf != language.No {
			return languages[i]
		}
	}
	return languages[0]
}

func parseAccept(a string) []language.Tag {
	tags, _, err := language.ParseAcceptLanguage(a)
	if err != nil {
		return nil
	}
	return tags
}

// Lang is a page's language: its strings, numbers, times and durations.
type Lang struct {
	Code string
	m    map[string]string
}

func newLang(code string) *Lang { return &Lang{Code: code, m: catalogues[code]} }

// T is the catalogue's string for key, formatted with args as fmt does. A
// key missing from the catalogue shows as itself, which a test forbids.
func (l *Lang) T(key string, args ...any) string {
	s, ok := l.m[key]
	if !ok {
		return "«" + key + "»"
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// Time is a time with its zone, or a dash.
func (l *Lang) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Format("2006-01-02 15:04:05 MST")
}

// Dur says a duration in words, to the second.
func (l *Lang) Dur(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return l.T("dur.hms", h, m, s)
	case m > 0:
		return l.T("dur.ms", m, s)
	}
	return l.T("dur.s", s)
}

// W says a value of a closed set (a status, a trigger, an event) in
// words: the catalogue's prefix.value, or the value itself when the
// catalogue has none (a kind added later still shows).
func (l *Lang) W(prefix, value string) string {
	if s, ok := l.m[prefix+"."+value]; ok {
		return s
	}
	return value
}

// Seconds says a number of seconds as Dur does.
func (l *Lang) Seconds(s float64) string { return l.Dur(time.Duration(s * float64(time.Second))) }
