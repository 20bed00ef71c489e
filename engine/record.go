package engine

import "fmt"

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
