package engine

import (
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Settings is what a connector's factory gets besides its own body.
type Settings struct {
	Eval     *hcl.EvalContext
	Location *time.Location
	JobName  string
	// Actions are the post-export actions the job turns on, in the order
	// the destination declares them (destinations only).
	Actions []string
}

// Setting documents one attribute of a connector's block.
type Setting struct {
	Name     string
	Required bool
	Doc      string
}

// Action documents a post-export action: an after_export attribute that
// turns it on (complete_order = true).
type Action struct {
	Name string
	Doc  string
	// Needs names destination fields the action assumes are set (moving
	// an order to 処理済み assumes it has shipped). validate warns when a
	// job turns the action on and no filter keeps out records whose
	// mapping of such a field reads nothing.
	Needs []string
}

// SourceInfo describes a source connector: what `source "NAME"` means.
type SourceInfo struct {
	Name     string
	Doc      string // one line
	Settings []Setting
	// Fields are the record's fields. A source whose fields depend on its
	// settings lists the ones it always has.
	Fields []Field
	New    func(body hcl.Body, s *Settings) (Source, hcl.Diagnostics)
}

// DestinationInfo describes a destination connector.
type DestinationInfo struct {
	Name     string
	Doc      string // one line
	Settings []Setting
	// Fields a job may map; empty when the settings declare them.
	Fields  []Field
	Actions []Action
	New     func(body hcl.Body, s *Settings) (Destination, hcl.Diagnostics)
}

// Registry holds the connectors job files may name. main fills it, once,
// before loading; registering is not safe for concurrent use.
type Registry struct {
	sources map[string]SourceInfo
	dests   map[string]DestinationInfo
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{sources: map[string]SourceInfo{}, dests: map[string]DestinationInfo{}}
}

// RegisterSource adds a source. Like database/sql's Register, it panics on
// a name already taken, an empty name or a nil factory: those are
// programming errors that no job file could fix.
func (r *Registry) RegisterSource(info SourceInfo) {
	if info.Name == "" || info.New == nil {
		panic(fmt.Sprintf("engine: RegisterSource %q: name and New are required", info.Name))
	}
	if _, dup := r.sources[info.Name]; dup {
		panic(fmt.Sprintf("engine: RegisterSource called twice for source %q", info.Name))
	}
	r.sources[info.Name] = info
}

// RegisterDestination adds a destination; it panics as RegisterSource does,
// and on an action declared twice.
func (r *Registry) RegisterDestination(info DestinationInfo) {
	if info.Name == "" || info.New == nil {
		panic(fmt.Sprintf("engine: RegisterDestination %q: name and New are required", info.Name))
	}
	if _, dup := r.dests[info.Name]; dup {
		panic(fmt.Sprintf("engine: RegisterDestination called twice for destination %q", info.Name))
	}
	seen := map[string]bool{}
	for _, a := range info.Actions {
		if a.Name == "" || seen[a.Name] {
			panic(fmt.Sprintf("engine: RegisterDestination %q: action %q empty or declared twice", info.Name, a.Name))
		}
		seen[a.Name] = true
	}
	r.dests[info.Name] = info
}

// Source returns the source registered as name.
func (r *Registry) Source(name string) (SourceInfo, bool) {
	info, ok := r.sources[name]
	return info, ok
}

// Destination returns the destination registered as name.
func (r *Registry) Destination(name string) (DestinationInfo, bool) {
	info, ok := r.dests[name]
	return info, ok
}

// Sources lists the sources by name.
func (r *Registry) Sources() []SourceInfo {
	out := make([]SourceInfo, 0, len(r.sources))
	for _, info := range r.sources {
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Destinations lists the destinations by name.
func (r *Registry) Destinations() []DestinationInfo {
	out := make([]DestinationInfo, 0, len(r.dests))
	for _, info := range r.dests {
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
