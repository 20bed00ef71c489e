package version

import (
	"runtime/debug"
	"testing"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		name    string
		bi      debug.BuildInfo
		str, ua string
	}{
		{"work tree", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"(devel) go1.26.8", "runner/(devel) (go1.26.8)"},
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd4567890fedcba"}, {Key: "vcs.modified", Value: "false"}}},
			"v1.2.3 (rev 0123abcd4567) go1.26.8", "runner/v1.2.3 (rev 0123abcd4567; go1.26.8)"},
		{"modified", debug.BuildInfo{GoVersion: "go1.26.8",
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd4567890fedcba"}, {Key: "vcs.modified", Value: "true"}}},
			"(devel) (rev 0123abcd4567, modified) go1.26.8", "runner/(devel) (rev 0123abcd4567, modified; go1.26.8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := describe(&tt.bi)
			if got := b.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := b.UserAgent(); got != tt.ua {
				t.Errorf("UserAgent() = %q, want %q", got, tt.ua)
			}
		})
	}
}
