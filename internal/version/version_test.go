package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want Info
	}{
		{"no build info", nil, false, Info{Version: "dev", Commit: "unknown", Date: "unknown", Go: "unknown"}},
		{"from a checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "8c9014e0"}, {Key: "vcs.time", Value: "2026-12-05T10:19:00Z"}, {Key: "vcs.modified", Value: "true"}}}, true,
			Info{Version: "dev", Commit: "8c9014e0", Modified: true, Date: "2026-12-05T10:19:00Z", Go: "go1.26.8"}},
		{"without vcs", &debug.BuildInfo{GoVersion: "go1.26.8"}, true, Info{Version: "dev", Commit: "unknown", Date: "unknown", Go: "go1.26.8"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fromBuildInfo(tc.bi, tc.ok); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	s := Info{Version: "v1.0.0", Commit: "abc", Modified: true, Date: "d", Go: "go1.26"}.String()
	for _, w := range []string{"v1.0.0", "abc+modified", "go1.26"} {
		if !strings.Contains(s, w) {
			t.Errorf("%q lacks %q", s, w)
		}
	}
}

func TestWithLinkTime(t *testing.T) {
	fromVCS := Info{Version: "dev", Commit: "aaa", Date: "2026-01-01T00:00:00Z", Go: "go1.26.8"}
	tests := []struct {
		name                   string
		in                     Info
		commit, date, modified string
		want                   Info
	}{
		{"nothing set keeps the build info", fromVCS, "", "", "", fromVCS},
		{"release stamp without vcs", Info{Version: "v1", Commit: "unknown", Date: "unknown", Go: "go1.26.8"},
			"bbb", "2026-12-05T12:08:47Z", "", Info{Version: "v1", Commit: "bbb", Date: "2026-12-05T12:08:47Z", Go: "go1.26.8"}},
		{"release stamp wins, modified", fromVCS, "ccc", "2026-12-05T12:08:47Z", "true",
			Info{Version: "dev", Commit: "ccc", Modified: true, Date: "2026-12-05T12:08:47Z", Go: "go1.26.8"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := withLinkTime(tc.in, tc.commit, tc.date, tc.modified); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
