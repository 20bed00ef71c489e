package version

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Build describes one binary.
type Build struct {
	Version  string // the main module's version; "(devel)" from a work tree
	Revision string // the VCS revision, 12 hex digits; "" when not built from one
	Modified bool   // the work tree had uncommitted changes
	Go       string // the Go version
}

// Current is this binary's build.
var Current = sync.OnceValue(func() Build {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Build{Version: "(unknown)", Go: runtime.Version()}
	}
	return describe(bi)
})

func describe(bi *debug.BuildInfo) Build {
	b := Build{Version: bi.Main.Version, Go: bi.GoVersion}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	if len(b.Revision) > 12 {
		b.Revision = b.Revision[:12]
	}
	return b
}

// String is "v1.2.3 (rev 0123abcd4567, modified) go1.26.8".
func (b Build) String() string {
	s := b.Version
	if b.Revision != "" {
		s += " (rev " + b.Revision
		if b.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + b.Go
}

// UserAgent is the same build as a User-Agent header value:
// "runner/v1.2.3 (rev 0123abcd4567, modified; go1.26.8)".
func (b Build) UserAgent() string {
	s := "runner/" + b.Version + " ("
	if b.Revision != "" {
		s += "rev " + b.Revision
		if b.Modified {
			s += ", modified"
		}
		s += "; "
	}
	return s + b.Go + ")"
}
