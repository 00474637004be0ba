// Package version says which build of Ringside is running: the release tag (set at link
// time) and the commit it was built from. The commit and its time come from the link-time
// values the release script sets (scripts/stamp.sh), else from what the Go toolchain
// recorded in the binary (a build inside a git clone with -buildvcs=auto or true).
package version

import (
	"fmt"
	"runtime/debug"
)

// Version is the release tag. Release builds set it with
// -ldflags "-X github.com/ringside/ringside/internal/version.Version=v1.2.3"; everything
// else comes from the build info.
var Version = "dev"

// Link-time values of the release script: the commit (git rev-parse HEAD), its time
// (RFC 3339, UTC) and "true" when the checkout had changes. The release builds with
// -buildvcs=false and sets these, so a build does not depend on how the checkout was
// made (a clone, a worktree, an exported tree with the commit named) and is reproducible.
var (
	commit   = ""
	date     = ""
	modified = ""
)

// Info describes a build.
type Info struct {
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from ("unknown" when built outside
	// a checkout, e.g. with go run from a module zip); Modified: the checkout had changes.
	Commit   string `json:"commit"`
	Modified bool   `json:"modified"`
	// Date is the commit's time (RFC 3339, UTC): a build of the same commit gets the same
	// date, so release builds are reproducible.
	Date string `json:"date"`
	Go   string `json:"go"`
}

// Get reads the build info of the running binary.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	return withLinkTime(fromBuildInfo(bi, ok), commit, date, modified)
}

// withLinkTime lets the link-time values, when set, name the commit.
func withLinkTime(in Info, commit, date, modified string) Info {
	if commit == "" {
		return in
	}
	in.Commit = commit
	in.Modified = modified == "true"
	if date != "" {
		in.Date = date
	}
	return in
}

func fromBuildInfo(bi *debug.BuildInfo, ok bool) Info {
	in := Info{Version: Version, Commit: "unknown", Date: "unknown", Go: "unknown"}
	if !ok || bi == nil {
		return in
	}
	in.Go = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.time":
			in.Date = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one line `ringside version` prints.
func (in Info) String() string {
	commit := in.Commit
	if in.Modified {
		commit += "+modified"
	}
	return fmt.Sprintf("ringside %s (commit %s, built from a commit of %s, %s)", in.Version, commit, in.Date, in.Go)
}
