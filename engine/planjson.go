package engine

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// appendItem appends an item as plan -json writes it: the object
// encoding/json writes for this struct, field by field and with its
// omitempty rules, built by hand because a plan of a million records
// otherwise spends half its time in encoding/json's reflection and the
// maps it needs:
//
//	struct {
//		Pos     string         `json:"pos"`
//		Label   string         `json:"label,omitempty"`
//		Status  string         `json:"status"`
//		Filter  string         `json:"filter,omitempty"`
//		Values  map[string]any `json:"values,omitempty"` // the fields the excluding filter read, times as RFC 3339 in the job's zone
//		Reason  string         `json:"reason,omitempty"` // clipped
//		Key     string         `json:"key,omitempty"`
//		Payload map[string]any `json:"payload,omitempty"`
//		Clears  []string       `json:"clears,omitempty"`
//		Current map[string]any `json:"current,omitempty"` // with -compare
//		Changes []string       `json:"changes,omitzero"`  // with -compare: fields whose value differs; empty, not absent, when none does
//		Effects []string       `json:"side_effects,omitempty"`
//	}
//
// Key, Payload and Clears are a record's to send or unchanged; Current and
// Changes are there when -compare read it. TestAppendItem holds the two
// forms to the same bytes.
func (p *planWriter) appendItem(b []byte, it *Item, effects []string) ([]byte, error) {
	var err error
	b = append(b, `{"pos":`...)
	b = appendJSONString(b, it.Pos)
	if it.Label != "" {
		b = append(b, `,"label":`...)
		b = appendJSONString(b, it.Label)
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, it.Status.String())
	if it.Filter != "" {
		b = append(b, `,"filter":`...)
		b = appendJSONString(b, it.Filter)
	}
	if len(it.Values) > 0 {
		// encoding/json writes a map's keys sorted.
		fvs := append(p.fvs[:0], it.Values...)
		slices.SortStableFunc(fvs, func(a, b FieldValue) int { return strings.Compare(a.Name, b.Name) })
		b = append(b, `,"values":`...)
		for i, fv := range fvs {
			if i+1 < len(fvs) && fvs[i+1].Name == fv.Name {
				continue // a map holds a name once, with its last value
			}
			if b[len(b)-1] == ':' {
				b = append(b, '{')
			} else {
				b = append(b, ',')
			}
			b = appendJSONString(b, fv.Name)
			b = append(b, ':')
			if t, ok := fv.Value.(time.Time); ok {
				b = append(b, '"')
				b = t.In(p.j.Location).AppendFormat(b, time.RFC3339)
				b = append(b, '"')
			} else if b, err = appendJSONValue(b, fv.Value); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
		p.fvs = fvs[:0]
	}
	if r := Clip(it.Reason); r != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, r)
	}
	if it.Status == Send || it.Status == Unchanged {
		if it.Payload.Key != "" {
			b = append(b, `,"key":`...)
			b = appendJSONString(b, it.Payload.Key)
		}
		if len(it.Payload.Values) > 0 {
			b = append(b, `,"payload":`...)
			if b, err = p.appendMap(b, it.Payload.Values); err != nil {
				return b, err
			}
		}
		if cl := clears(it.Payload); len(cl) > 0 {
			b = append(b, `,"clears":`...)
			b = appendJSONStrings(b, cl)
		}
		if cur, ok := p.held[it]; ok {
			if len(cur) > 0 {
				b = append(b, `,"current":`...)
				if b, err = p.appendMap(b, cur); err != nil {
					return b, err
				}
			}
			b = append(b, `,"changes":`...)
			b = appendJSONStrings(b, changes(it.Payload, cur))
		}
	}
	if len(effects) > 0 {
		b = append(b, `,"side_effects":`...)
		b = appendJSONStrings(b, effects)
	}
	return append(b, '}'), nil
}

// appendMap appends m as encoding/json does: keys sorted.
func (p *planWriter) appendMap(b []byte, m map[string]any) ([]byte, error) {
	keys := p.keys[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	p.keys = keys[:0]
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendJSONValue(b, m[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendJSONValue appends v as encoding/json does. The kinds a payload
// holds most (strings, whole numbers, booleans) are written here; the rest
// go through encoding/json.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// appendJSONStrings appends a list of strings; nil is [], as plan -json
// writes changes when none.
func appendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s quoted as encoding/json.Marshal quotes it:
// <, > and & escaped for HTML, U+2028 and U+2029 escaped, invalid UTF-8
// as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
