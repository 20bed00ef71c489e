package engine

import (
	"context"
	"errors"
	"time"
)

// Kind is the type of a record or destination field.
type Kind int

const (
	String Kind = iota + 1
	Int
	Float
	Bool
	Time // an instant; a time.Time in the job's zone
	Date // a calendar date; a time.Time at midnight in the job's zone. In payloads: "yyyy-mm-dd".
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Int:
		return "int"
	case Float:
		return "float"
	case Bool:
		return "bool"
	case Time:
		return "time"
	case Date:
		return "date"
	}
	return "unknown"
}

// Field describes one field of a source record or of a destination payload.
type Field struct {
	Name string
	Kind Kind
	Doc  string

	// Destination fields only.
	Required bool // a job must map it
	MaxBytes int  // limit on the UTF-8 length of the value; 0 means none
	// Unsent, when not empty, says why the field is accepted but not sent
	// (validate shows it as a warning).
	Unsent string

	// Source fields only. Personal marks a person's data (a buyer's name,
	// address, phone): a payload value computed from it is sent, but the
	// ledger keeps only its hash, never the value.
	Personal bool
}

// Record is one source record: field name to value. A value is a string,
// int64, float64, bool or time.Time as its Field's Kind says; an absent key
// or nil is unset. Sources must not keep a Record after Next returns the next.
type Record map[string]any

// Meta describes where a record came from.
type Meta struct {
	Pos string // "orders.csv:14", for messages and plans
	// Skip, when not empty, says why the record is not processed at all
	// (for example "superseded by orders-2.csv:3"); plan shows it.
	Skip string
	// Unit names the input the record came from (a file) for sources that
	// retire inputs once every record in them is settled (see Archiver).
	Unit string
}

// RecordError is a bad source record. Iteration continues after it.
type RecordError struct {
	Pos string
	Err error
}

func (e *RecordError) Error() string { return e.Pos + ": " + e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

// Source produces records.
type Source interface {
	// Fields declares the record schema that filters and mappings compile against.
	Fields() []Field
	// Label names the field that identifies a record to a person (an order number).
	Label() string
	Open(ctx context.Context) (Records, error)
}

// Records iterates over a source's records, streaming.
type Records interface {
	// Next fills rec (which the caller has cleared) with the next record.
	// It returns io.EOF after the last one, and a *RecordError for a bad
	// record, after which Next may be called again. Any other error ends
	// the iteration.
	Next(ctx context.Context, rec Record) (Meta, error)
	Close() error
}

// Payload is what one record sends to a destination: only the fields the
// job maps and that did not evaluate to nil. Values are canonical: string
// for String and Date ("yyyy-mm-dd") fields, int64, float64, bool, and
// time.Time for Time fields. An empty string is sent as empty (it clears
// the field at the destination).
type Payload struct {
	Key    string // the destination's record key, from Destination.Key
	Pos    string // the source position it came from
	Values map[string]any
}

// Result is the outcome of one payload or action.
type Result struct {
	OK      bool
	Code    string // the destination's own error code, if any
	Message string
	// Permanent marks a failure that will not go away by retrying
	// (store pickup, a value over its byte limit).
	Permanent bool
	// ParkAfter, when positive, makes a failure permanent once the record
	// has failed this many times in a row (an order the shop does not
	// know may yet appear; after a few runs it will not).
	ParkAfter int
}

// Destination receives payloads.
type Destination interface {
	// Fields declares the fields a job may map.
	Fields() []Field
	// Key builds a payload's record key from its values (e.g. "100000001201/1").
	Key(values map[string]any) string
	// BatchSize is the most payloads one Write takes.
	BatchSize() int
	// Open connects; credentials are needed from here on, not before.
	Open(ctx context.Context) (Conn, error)
}

// Conn is an open destination.
type Conn interface {
	// Write sends a batch. It returns one Result per payload, in order.
	// An error means the whole batch failed and nothing is known to be written.
	Write(ctx context.Context, batch []Payload) ([]Result, error)
	// Apply runs a post-export action on payloads whose Write succeeded.
	// At most BatchSize payloads; one Result per payload, in order.
	Apply(ctx context.Context, action string, batch []Payload) ([]Result, error)
	// Close finishes the run (for a file, commits it).
	Close(ctx context.Context) error
}

// Archiver is implemented by sources that retire an input (an inbox file)
// once every record in it has a final outcome. A run calls Archive only
// after the ledger holds those outcomes, and never after an interruption,
// so a crash at any point leaves the input to be read again.
type Archiver interface {
	// Retires reports whether this source's configuration retires inputs
	// at all (an inbox does; a plain path does not).
	Retires() bool
	Archive(ctx context.Context, unit string) error
}

// UnitLister is implemented by Records that read from units (files); a
// run archives the units with nothing left to do, empty ones included.
type UnitLister interface {
	Files() []string
}

// FieldUser is implemented by sources that can skip fields no filter or
// mapping reads. The engine calls UseFields once, after compiling, with
// every field the job's expressions name, and the source's label.
type FieldUser interface {
	UseFields(names []string)
}

// Comparer is implemented by destinations that can read what they hold
// now for the records a plan would send, so plan -compare can show what
// each would change. It needs the destination's credentials. The result
// has one map per payload, in order, holding the current value of each
// field the destination can read; nil when the record is not found.
type Comparer interface {
	Current(ctx context.Context, batch []Payload) ([]map[string]any, error)
}

// SideEffecter is implemented by destinations whose actions do, for some
// records, more than the payload shows (an order moved to 処理済み with no
// ship date). Plans and runs list those records under each effect, with
// the Caveater's caveat, so that nobody learns of them afterwards.
type SideEffecter interface {
	// SideEffects describes what the job's actions will do to p beyond
	// its values, one short sentence an effect; nil for none.
	SideEffects(p Payload) []string
}

// Coster is implemented by destinations whose calls are a budget (a shop's
// requests per second): a plan says what sending will cost before anything
// is sent, and a run's summary puts that beside the calls it made.
type Coster interface {
	// Cost returns the calls, by kind ("shipping", "complete") in the
	// order they are made, that writing one batch and running the job's
	// actions on it cost when every record succeeds.
	Cost(batch []Payload) []Calls
	// Overhead returns the calls any run that sends anything costs once
	// (a token).
	Overhead() []Calls
	// Rate is the calls a second the destination allows; 0 means no limit.
	Rate() float64
}

// Calls are n calls of one kind.
type Calls struct {
	Kind string
	N    int
}

// CallCounter is implemented by Conns that count the calls they made, by
// the kinds their destination's Cost uses.
type CallCounter interface {
	Calls() map[string]int
}

// Caveater is implemented by destinations whose configured actions need a
// person's attention for every record they touch (the futureshop points
// caveat). Plans and runs list the records under the caveat.
type Caveater interface {
	Caveat() string
}

// Scoper is implemented by destinations whose records belong to one place:
// a shop, a directory. The ledger keeps what was sent per job and scope, so
// a job pointed at another shop does not inherit the first shop's "already
// sent". A scope names its place for people and holds no secret; "" means
// the place is not known (its settings are unset).
type Scoper interface {
	Scope() string
}

// Sharer is implemented by sources and destinations that draw on a budget
// every job using the same account shares (futureshop's requests per second
// per shop). A run holds a lock named for each share while it runs, so that
// runs in other processes take turns instead of exceeding it together.
// Names hold no secret.
type Sharer interface {
	Shares() []string
}

// Stager is implemented by Conns whose Write stages records that become
// visible to their consumer all at once, when Close commits them (an import
// file that gets its final name). The ledger keeps staged records with the
// token until the commit is known to have happened, so that a crash between
// the commit and the ledger's record neither loses them nor sends them twice.
type Stager interface {
	// StageToken names the commit Close will make.
	StageToken() string
}

// Resolver is implemented by destinations whose Conns are Stagers. A run
// that holds the job's lock calls it before anything else, with the tokens
// of the commits the ledger still waits on (a run crashed between staging
// and settling): it reports which commits happened, and discards anything
// staged and never committed, whose records are then sent again.
type Resolver interface {
	Resolve(ctx context.Context, tokens []string) (committed map[string]bool, err error)
}

// StopsRun reports whether err ends the whole run rather than failing one
// batch: credentials refused, the service unreachable. A connector marks
// such errors with a StopsRun() bool method. The engine then sends nothing
// more and leaves every record it could not confirm pending for the next run.
func StopsRun(err error) bool {
	var s interface{ StopsRun() bool }
	return errors.As(err, &s) && s.StopsRun()
}

type nowKey struct{}

// WithNow returns ctx carrying the clock of a run. The engine opens
// sources and destinations with it, so a connector that needs "now" (a
// search window, a file's timestamp) agrees with the job's expressions.
func WithNow(ctx context.Context, now time.Time) context.Context {
	return context.WithValue(ctx, nowKey{}, now)
}

// Now is the run's clock carried by ctx, or the wall clock.
func Now(ctx context.Context) time.Time {
	if t, ok := ctx.Value(nowKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}

// Fingerprint identifies the exact source row a record came from, so that
// a saved plan can tell, when it is applied, whether the row changed since.
type Fingerprint struct {
	// Updated is when the row last changed at its source (GoQ's
	// 最終更新日時); zero when the source does not say.
	Updated time.Time `json:"updated,omitzero"`
	// Hash is hex of the SHA-256 of the row's raw content.
	Hash string `json:"hash"`
}

// Fingerprinter is implemented by Records that fingerprint the record Next
// returned last from its raw bytes, every column included. For other
// sources the engine hashes the fields the record holds.
type Fingerprinter interface {
	Fingerprint() Fingerprint
}
