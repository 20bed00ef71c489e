package engine

import (
	"testing"
	"time"

	"github.com/expr-lang/expr"
)

func tokyo(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestHelpers pins now at the design's example, 2026-11-28 10:00 JST.
func TestHelpers(t *testing.T) {
	loc := tokyo(t)
	c := newClock(time.Date(2026, 11, 28, 10, 0, 0, 0, loc), loc)
	at := func(s string) time.Time {
		v, err := ParseTime(s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	env := map[string]any{"t": time.Time{}, "s": "", "n": int64(0)}
	tests := []struct {
		expr string
		vars map[string]any
		want any
	}{
		{"within_days(t, 4)", map[string]any{"t": at("2026-11-24 00:00:00")}, true},
		{"within_days(t, 4)", map[string]any{"t": at("2026-11-23 23:59:59")}, false},
		{"within_days(t, 170)", map[string]any{"t": at("2026-06-11")}, true},
		{"within_days(t, 170)", map[string]any{"t": at("2026-06-10 23:59:59")}, false},
		// The same instant in UTC is still judged by its Tokyo date.
		{"within_days(t, 4)", map[string]any{"t": time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)}, true},
		{"within_days(t, 4)", map[string]any{"t": time.Date(2026, 11, 23, 14, 59, 59, 0, time.UTC)}, false},
		{"within_days(t, 4)", map[string]any{"t": nil}, false},
		{"days_since(t)", map[string]any{"t": at("2026-11-24 23:00")}, 4},
		{"days_since(t)", map[string]any{"t": at("2026-11-28 23:59")}, 0},
		{"ymd(t)", map[string]any{"t": time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC)}, "2026-11-28"},
		{"ymd(t)", map[string]any{"t": nil}, nil},
		{"ymdhms(t)", map[string]any{"t": time.Date(2026, 11, 27, 16, 4, 5, 0, time.UTC)}, "2026-11-28 01:04:05"},
		{"ymd(date(s))", map[string]any{"s": "2026/11/21"}, "2026-11-21"},
		{"date(s)", map[string]any{"s": ""}, nil},
		{"hankaku(s)", map[string]any{"s": "１２３４－ＡＢ"}, "1234-AB"},
		// Letters, digits and symbols only: katakana and kanji stay full-width.
		{"hankaku(s)", map[string]any{"s": "ヤマト運輸　ＡＢ－１２３！～"}, "ヤマト運輸 AB-123!~"},
		{"hankaku(s)", map[string]any{"s": "ﾔﾏﾄ（ｶﾞ）"}, "ﾔﾏﾄ(ｶﾞ)"},
		{"hankaku(s)", map[string]any{"s": "ａｚＡＺ０９＃＄％＆＠［＼］＾＿｀｛｜｝"}, "azAZ09#$%&@[\\]^_`{|}"},
		{"hankaku(s)", map[string]any{"s": "plain"}, "plain"},
		{"first(s)", map[string]any{"s": " 111122223333 ,444455556666"}, "111122223333"},
		{"first(s)", map[string]any{"s": ""}, nil},
		{"first(s)", map[string]any{"s": "１２３、456"}, "１２３"},
		{"first(s)", map[string]any{"s": "AB，CD"}, "AB"},
		{"first(s)", map[string]any{"s": "単一"}, "単一"},
		{"coalesce(s, 'x')", map[string]any{"s": ""}, "x"},
		{"coalesce(t, '')", map[string]any{"t": nil}, ""},
		{"coalesce(s, t)", map[string]any{"s": "a", "t": nil}, "a"},
		{"ymd(now())", nil, "2026-11-28"},
		{"today() == date('2026-11-28')", nil, true},
	}
	for _, tt := range tests {
		prog, err := expr.Compile(tt.expr, append([]expr.Option{expr.Env(env)}, exprOptions(c)...)...)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		got, err := expr.Run(prog, tt.vars)
		if err != nil {
			t.Fatalf("%s %v: %v", tt.expr, tt.vars, err)
		}
		if got != tt.want {
			t.Errorf("%s with %v = %#v, want %#v", tt.expr, tt.vars, got, tt.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	loc := tokyo(t)
	for _, s := range []string{"2026-11-21", "2026/11/21", "2026-11-21 14:03:11", "2026/11/21 14:03", "2026-11-21T14:03:11", "2026-11-21T14:03:11+09:00"} {
		got, err := ParseTime(s, loc)
		if err != nil || got.Format("2006-01-02") != "2026-11-21" {
			t.Errorf("ParseTime(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "2026-13-01", "21/11/2026", "tomorrow"} {
		if _, err := ParseTime(s, loc); err == nil {
			t.Errorf("ParseTime(%q) succeeded", s)
		}
	}
}

func TestSchedule(t *testing.T) {
	loc := tokyo(t)
	from := time.Date(2026, 11, 28, 10, 3, 0, 0, loc)
	tests := []struct {
		spec string
		want time.Time
	}{
		{"every 10m", from.Add(10 * time.Minute)},
		{"*/10 * * * *", time.Date(2026, 11, 28, 10, 10, 0, 0, loc)},
		{"0 9 * * *", time.Date(2026, 11, 29, 9, 0, 0, 0, loc)},
		{"@hourly", time.Date(2026, 11, 28, 11, 0, 0, 0, loc)},
		{"daily 06:00", time.Date(2026, 11, 29, 6, 0, 0, 0, loc)},
		{"daily 10:30", time.Date(2026, 11, 28, 10, 30, 0, 0, loc)},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.spec, loc)
		if err != nil {
			t.Fatalf("%s: %v", tt.spec, err)
		}
		if got := s.Next(from); !got.Equal(tt.want) {
			t.Errorf("%s: next %v, want %v", tt.spec, got, tt.want)
		}
	}
	for _, bad := range []string{"every", "every 0s", "every ten", "* * *", "61 * * * *", "daily", "daily 6am", "daily 24:00"} {
		if _, err := ParseSchedule(bad, loc); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestPayloadHash(t *testing.T) {
	h := func(v map[string]any) string { return PayloadHash(Payload{Values: v}) }
	a := h(map[string]any{"a": "1", "b": int64(2), "c": ""})
	b := h(map[string]any{"c": "", "b": int64(2), "a": "1"})
	if a != b || a == "" {
		t.Errorf("hash depends on map order: %q, %q", a, b)
	}
	for _, other := range []map[string]any{
		{"a": "1", "b": int64(2)},           // a key left out is not a blank one
		{"a": "1", "b": int64(2), "c": " "}, // one byte differs
		{"a": "1", "b": "2", "c": ""},       // type differs
	} {
		if h(other) == a {
			t.Errorf("hash of %v collides with %v", other, a)
		}
	}
	if h(map[string]any{"f": func() {}}) != "" {
		t.Error("unencodable values should hash to \"\"")
	}
}
