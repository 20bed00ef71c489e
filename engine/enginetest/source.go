package enginetest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/goqsync/runner/engine"
)

// Row is one scripted record.
type Row struct {
	Rec  engine.Record
	Pos  string // where it came from; "test:N" (N from 1) when empty
	Unit string // the input it came from (Meta.Unit)
	Skip string // why it is not processed (Meta.Skip)
	// Err, when set, makes the row a bad record: Next returns it as a
	// *engine.RecordError at Pos, and iteration goes on.
	Err error
}

// SourceConfig says what a Source declares and holds.
type SourceConfig struct {
	Fields []engine.Field
	Label  string // the field naming a record for people
	Rows   []Row
	// Units are what Files reports: the inputs a run may archive.
	Units []string
	// Retires turns on archiving (Archiver.Retires).
	Retires bool
	// OpenErr fails Open; EndErr ends the iteration after the rows with an
	// error that is not a record's (a lost connection).
	OpenErr, EndErr error
	// ArchiveErr fails Archive.
	ArchiveErr error
	// ShareKey, when set, lets runs at once read one pass of the source
	// (engine.Shareable).
	ShareKey string
}

// Source is an engine.Source over scripted rows. It implements
// engine.Archiver and engine.FieldUser, and its Records implement
// engine.UnitLister; with a zero SourceConfig those do nothing. It is safe
// for concurrent runs.
type Source struct {
	mu       sync.Mutex
	cfg      SourceConfig
	opens    []time.Time
	archived []string
	used     []string
	decoded  int
}

// NewSource returns a source that yields cfg.Rows on every Open.
func NewSource(cfg SourceConfig) *Source {
	return &Source{cfg: cfg}
}

// SetRows replaces the rows the next Open yields: a later run of the same
// job reading a changed export.
func (s *Source) SetRows(rows ...Row) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Rows = rows
}

func (s *Source) Fields() []engine.Field { return s.cfg.Fields }
func (s *Source) Label() string          { return s.cfg.Label }

// Open starts reading; it notes the run's clock (engine.Now(ctx)).
func (s *Source) Open(ctx context.Context) (engine.Records, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens = append(s.opens, engine.Now(ctx))
	if s.cfg.OpenErr != nil {
		return nil, s.cfg.OpenErr
	}
	return &records{s: s, rows: slices.Clone(s.cfg.Rows), units: slices.Clone(s.cfg.Units), end: s.cfg.EndErr}, nil
}

// ShareKey implements engine.Shareable with SourceConfig.ShareKey.
func (s *Source) ShareKey() string { return s.cfg.ShareKey }

// Decoded counts the rows every Open has yielded so far: what reading the
// source cost.
func (s *Source) Decoded() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.decoded
}

// Opens lists the clock each Open saw, in order.
func (s *Source) Opens() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.opens)
}

func (s *Source) Retires() bool { return s.cfg.Retires }

// Archive notes unit as retired, or fails with SourceConfig.ArchiveErr.
func (s *Source) Archive(ctx context.Context, unit string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.ArchiveErr != nil {
		return s.cfg.ArchiveErr
	}
	s.archived = append(s.archived, unit)
	return nil
}

// Archived lists the units archived so far, in order.
func (s *Source) Archived() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.archived)
}

// UseFields notes the fields the job's expressions read.
func (s *Source) UseFields(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = slices.Clone(names)
}

// Used is what UseFields was told.
func (s *Source) Used() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.used)
}

type records struct {
	s     *Source
	rows  []Row
	units []string
	end   error
	n     int
}

func (r *records) Next(ctx context.Context, rec engine.Record) (engine.Meta, error) {
	if err := ctx.Err(); err != nil {
		return engine.Meta{}, err
	}
	if r.n >= len(r.rows) {
		if r.end != nil {
			return engine.Meta{}, r.end
		}
		return engine.Meta{}, io.EOF
	}
	row := r.rows[r.n]
	r.n++
	r.s.mu.Lock()
	r.s.decoded++
	r.s.mu.Unlock()
	pos := row.Pos
	if pos == "" {
		pos = fmt.Sprintf("test:%d", r.n)
	}
	if row.Err != nil {
		return engine.Meta{Pos: pos, Unit: row.Unit}, &engine.RecordError{Pos: pos, Err: row.Err}
	}
	for k, v := range row.Rec {
		rec[k] = v
	}
	return engine.Meta{Pos: pos, Skip: row.Skip, Unit: row.Unit}, nil
}

func (r *records) Files() []string { return r.units }
func (r *records) Close() error    { return nil }
