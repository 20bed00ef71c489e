package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestConnectorsCommand(t *testing.T) {
	got, code := invoke(t, env(), "connectors")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, got)
	}
	golden(t, "connectors", got)

	got, code = invoke(t, env(), "connectors", "-json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, got)
	}
	js := stdoutOf(got)
	var list []connectorJSON
	if err := json.Unmarshal([]byte(js), &list); err != nil {
		t.Fatalf("-json: %v\n%s", err, js)
	}
	if len(list) != 4 {
		t.Errorf("-json lists %d connectors, want 4", len(list))
	}
}

// TestREADMEConnectors keeps the README's paragraph on each connector true
// to the code: every setting, field and action is named there, the goq_csv
// source's table has the fields' types, and the destination fields the
// README calls required or limited are exactly the ones that are.
func TestREADMEConnectors(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	tick := regexp.MustCompile("`([^`]*)`")
	ident := regexp.MustCompile(`[a-z][a-z0-9_]*`)
	for _, k := range connectorList(registry()) {
		t.Run(k.Kind+" "+k.Name, func(t *testing.T) {
			head := fmt.Sprintf("**`%s` %s**", k.Name, k.Kind)
			i := strings.Index(readme, head)
			if i < 0 {
				t.Fatalf("README has no paragraph %s", head)
			}
			para := readme[i+len(head):]
			if end := regexp.MustCompile(`\n(\*\*|#)`).FindStringIndex(para); end != nil {
				para = para[:end[0]]
			}
			named := map[string]bool{}
			for _, m := range tick.FindAllStringSubmatch(para, -1) {
				for _, id := range ident.FindAllString(m[1], -1) {
					named[id] = true
				}
			}
			for _, s := range k.Settings {
				if !named[s.Name] {
					t.Errorf("setting %s is not in the README", s.Name)
				}
			}
			for _, a := range k.Actions {
				if !named[a.Name] {
					t.Errorf("action %s is not in the README", a.Name)
				}
			}
			fields := map[string]fieldJSON{}
			for _, f := range k.Fields {
				fields[f.Name] = f
				if !named[f.Name] {
					t.Errorf("field %s is not in the README", f.Name)
				}
			}
			// A table of fields: | `name` | header | type |.
			for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_0-9]+)` \\| [^|]+ \\| ([a-z]+) \\|$").FindAllStringSubmatch(para, -1) {
				f, ok := fields[m[1]]
				if !ok {
					t.Errorf("README's table lists %s, which the connector does not have", m[1])
				} else if f.Type != m[2] {
					t.Errorf("README's table types %s as %s; it is %s", m[1], m[2], f.Type)
				}
			}
			// A sentence of fields: "Fields: `a` (required, ≤ 12 bytes), `b`, …."
			if j := strings.Index(para, "Fields: `"); j >= 0 {
				sentence := strings.Join(strings.Fields(para[j:]), " ")
				if e := regexp.MustCompile(`\.( |$)`).FindStringIndex(sentence); e != nil {
					sentence = sentence[:e[0]]
				}
				seen := map[string]bool{}
				for _, m := range regexp.MustCompile("`([a-z_0-9]+)`([^`]*)").FindAllStringSubmatch(sentence, -1) {
					f, ok := fields[m[1]]
					if !ok {
						t.Errorf("README lists field %s, which the connector does not have", m[1])
						continue
					}
					seen[f.Name] = true
					note := m[2]
					if f.Required != strings.Contains(note, "required") {
						t.Errorf("README on %s: %q; required is %v", f.Name, note, f.Required)
					}
					if want := fmt.Sprintf("≤ %d bytes", f.MaxBytes); (f.MaxBytes > 0) != strings.Contains(note, want) {
						t.Errorf("README on %s: %q; the limit is %d bytes", f.Name, note, f.MaxBytes)
					}
				}
				for name := range fields {
					if !seen[name] {
						t.Errorf("README's Fields sentence leaves out %s", name)
					}
				}
			}
		})
	}
}
