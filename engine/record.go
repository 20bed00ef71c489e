package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Status is what happens to one source record.
type Status int

const (
	Send      Status = iota + 1 // passes every filter; its payload goes out
	Excluded                    // a filter rejected it
	Skipped                     // the source says not to process it (superseded)
	Invalid                     // a bad source row or a mapping error
	Unchanged                   // the destination already has this exact payload
	Parked                      // failed permanently before; waits for runner retry
)

func (s Status) String() string {
	switch s {
	case Send:
		return "send"
	case Excluded:
		return "excluded"
	case Skipped:
		return "skipped"
	case Invalid:
		return "error"
	case Unchanged:
		return "unchanged"
	case Parked:
		return "parked"
	}
	return "unknown"
}

// Item is one source record's fate.
type Item struct {
	Pos    string
	Label  string // the record's label field (an order number), when known
	Status Status
	Filter string // the filter that excluded it
	// Values are the fields that filter read, as the record held them,
	// when a plan asks why (a run does not keep them).
	Values  []FieldValue
	Reason  string // why it was skipped or invalid
	Stage   string // where an invalid record failed: "source", "filter" or "map"
	Unit    string // the input it came from, for archiving (Meta.Unit)
	Payload Payload
	// Row fingerprints the source row, when a saved plan asks for it.
	Row Fingerprint
	// entry is the ledger's entry for its key, when a plan looked it up.
	entry *LedgerEntry
	// fails is how many times in a row the ledger saw its key fail.
	fails int
}

// Counts tallies records by status.
type Counts struct {
	Read      int `json:"read"`
	Send      int `json:"send"`
	Excluded  int `json:"excluded"`
	Skipped   int `json:"skipped"`
	Errors    int `json:"errors"`
	Unchanged int `json:"unchanged"`
	Parked    int `json:"parked"`
}

func (c *Counts) add(s Status) {
	c.Read++
	switch s {
	case Send:
		c.Send++
	case Excluded:
		c.Excluded++
	case Skipped:
		c.Skipped++
	case Invalid:
		c.Errors++
	case Unchanged:
		c.Unchanged++
	case Parked:
		c.Parked++
	}
}

func (c Counts) String() string {
	s := fmt.Sprintf("%d to send, %d excluded", c.Send, c.Excluded)
	if c.Unchanged > 0 {
		s += fmt.Sprintf(", %d unchanged", c.Unchanged)
	}
	if c.Parked > 0 {
		s += fmt.Sprintf(", %d parked", c.Parked)
	}
	if c.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", c.Skipped)
	}
	return s + fmt.Sprintf(", %d errors (%d records read)", c.Errors, c.Read)
}

// FieldValue is one source field's value, as a filter read it.
type FieldValue struct {
	Name  string
	Value any
}

// SideEffect is one effect of a job's actions beyond its payloads, and
// the records it touches (see SideEffecter and Caveater).
type SideEffect struct {
	Message string   `json:"message"`
	Keys    []string `json:"keys"`
}

// effects gathers side effects in the order they are first met.
type effects struct {
	list []SideEffect
	at   map[string]int
}

func (e *effects) add(msg, key string) {
	i, ok := e.at[msg]
	if !ok {
		if e.at == nil {
			e.at = map[string]int{}
		}
		i = len(e.list)
		e.at[msg] = i
		e.list = append(e.list, SideEffect{Message: msg})
	}
	e.list[i].Keys = append(e.list[i].Keys, key)
}

// Cost is what sending costs at a destination (see Coster).
type Cost struct {
	Calls map[string]int `json:"calls"` // by kind
	Total int            `json:"total"`
	// Seconds is how long the calls take at the destination's rate, at
	// the least; 0 when it sets none.
	Seconds float64  `json:"seconds,omitempty"`
	Rate    float64  `json:"rate,omitempty"` // calls a second the destination allows
	kinds   []string // Calls' keys in the order they come
}

// add adds calls to c, keeping the order kinds first come in.
func (c *Cost) add(calls ...Calls) {
	for _, k := range calls {
		if k.N == 0 {
			continue
		}
		if c.Calls == nil {
			c.Calls = map[string]int{}
		}
		if _, ok := c.Calls[k.Kind]; !ok {
			c.kinds = append(c.kinds, k.Kind)
		}
		c.Calls[k.Kind] += k.N
		c.Total += k.N
	}
}

// String reads "7 call(s) (1 token, 3 shipping, 3 complete), about 7s".
func (c Cost) String() string {
	if c.Total == 0 {
		return "no calls"
	}
	parts := make([]string, len(c.kinds))
	for i, k := range c.kinds {
		parts[i] = fmt.Sprintf("%d %s", c.Calls[k], k)
	}
	s := fmt.Sprintf("%d call(s) (%s)", c.Total, strings.Join(parts, ", "))
	if c.Seconds > 0 {
		s += fmt.Sprintf(", about %s at %s request(s)/s", time.Duration(c.Seconds*float64(time.Second)).Round(time.Second), strconv.FormatFloat(c.Rate, 'f', -1, 64))
	}
	return s
}
