package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/goqsync/runner/engine"
	"github.com/goqsync/runner/table"
)

// connectorJSON is one connector in `runner connectors -json`.
type connectorJSON struct {
	Kind     string        `json:"kind"` // "source" or "destination"
	Name     string        `json:"name"`
	Doc      string        `json:"doc"`
	Settings []settingJSON `json:"settings"`
	Fields   []fieldJSON   `json:"fields"`
	Actions  []actionJSON  `json:"after_export,omitempty"`
}

type settingJSON struct {
	Name     string `json:"name"`
	Required bool   `json:"required,omitempty"`
	Doc      string `json:"doc"`
}

type fieldJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required,omitempty"`
	MaxBytes int    `json:"max_bytes,omitempty"`
	Personal bool   `json:"personal,omitempty"`
	Unsent   string `json:"unsent,omitempty"`
	Doc      string `json:"doc,omitempty"`
}

type actionJSON struct {
	Name string `json:"name"`
	Doc  string `json:"doc"`
}

// connectorList describes every registered connector, sources first.
func connectorList(r *engine.Registry) []connectorJSON {
	var out []connectorJSON
	for _, s := range r.Sources() {
		out = append(out, connectorJSON{Kind: "source", Name: s.Name, Doc: s.Doc, Settings: settingsJSON(s.Settings), Fields: fieldsJSON(s.Fields)})
	}
	for _, d := range r.Destinations() {
		c := connectorJSON{Kind: "destination", Name: d.Name, Doc: d.Doc, Settings: settingsJSON(d.Settings), Fields: fieldsJSON(d.Fields)}
		for _, a := range d.Actions {
			c.Actions = append(c.Actions, actionJSON{Name: a.Name, Doc: a.Doc})
		}
		out = append(out, c)
	}
	return out
}

func settingsJSON(ss []engine.Setting) []settingJSON {
	out := []settingJSON{}
	for _, s := range ss {
		out = append(out, settingJSON{Name: s.Name, Required: s.Required, Doc: s.Doc})
	}
	return out
}

func fieldsJSON(fs []engine.Field) []fieldJSON {
	out := []fieldJSON{}
	for _, f := range fs {
		out = append(out, fieldJSON{Name: f.Name, Type: f.Kind.String(), Required: f.Required, MaxBytes: f.MaxBytes,
			Personal: f.Personal, Unsent: f.Unsent, Doc: f.Doc})
	}
	return out
}

func (c *cli) connectors(ctx context.Context, args []string) int {
	fs := c.flagSet("connectors", "", nil, false)
	asJSON := fs.Bool("json", false, "write JSON for machines")
	if code, ok := c.parseArgs(fs, args, 0, 0); !ok {
		return code
	}
	list := connectorList(registry())
	if *asJSON {
		engine.WriteJSON(c.stdout, list)
		return exitOK
	}
	for i, k := range list {
		if i > 0 {
			fmt.Fprintln(c.stdout)
		}
		writeConnector(c.stdout, k)
	}
	return exitOK
}

func writeConnector(w io.Writer, k connectorJSON) {
	fmt.Fprintf(w, "%s %q: %s\n", k.Kind, k.Name, k.Doc)
	tw := table.NewWriter(w)
	fmt.Fprintln(tw, "  settings:")
	for _, s := range k.Settings {
		req := ""
		if s.Required {
			req = "required"
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", s.Name, req, s.Doc)
	}
	if len(k.Fields) == 0 {
		fmt.Fprintln(tw, "  fields: as the settings declare them")
	} else {
		fmt.Fprintln(tw, "  fields:")
	}
	for _, f := range k.Fields {
		var notes []string
		if f.Required {
			notes = append(notes, "required")
		}
		if f.MaxBytes > 0 {
			notes = append(notes, fmt.Sprintf("≤ %d bytes", f.MaxBytes))
		}
		if f.Personal {
			notes = append(notes, "personal")
		}
		if f.Unsent != "" {
			notes = append(notes, "not sent")
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", f.Name, f.Type, strings.Join(notes, ", "), f.Doc)
	}
	if k.Kind == "destination" {
		if len(k.Actions) == 0 {
			fmt.Fprintln(tw, "  after_export: no actions")
		} else {
			fmt.Fprintln(tw, "  after_export:")
		}
		for _, a := range k.Actions {
			fmt.Fprintf(tw, "    %s = true\t\t%s\n", a.Name, a.Doc)
		}
	}
	tw.Flush()
}
