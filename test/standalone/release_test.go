//go:build !windows

package standalone

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/testenv"
)

// TestReleaseStampsCommit runs scripts/release.sh for linux/amd64 and checks that the
// archived binary's `version --json` names this checkout's commit, the commit's time and
// whether the checkout has changes, whatever GOFLAGS says (the machine may set
// -buildvcs=false, and a git worktree gets no VCS stamp from the toolchain) — a release
// binary used to say "commit unknown". SHA256SUMS must match the files.
func TestReleaseStampsCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no release build")
	}
	git := testenv.LookPath(t, "git", "git")
	testenv.LookPath(t, "tar", "tar")
	testenv.LookPath(t, "sha256sum", "coreutils")
	root := testenv.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skipf("not a git checkout (%v)", err)
	}
	head := strings.TrimSpace(string(run(t, root, git, "rev-parse", "HEAD")))
	epoch := strings.TrimSpace(string(run(t, root, git, "log", "-1", "--format=%cI")))
	when, err := time.Parse(time.RFC3339, epoch)
	if err != nil {
		t.Fatal(err)
	}
	dirty := len(bytes.TrimSpace(run(t, root, git, "status", "--porcelain", "--untracked-files=no"))) > 0

	out := t.TempDir()
	c := exec.CommandContext(t.Context(), filepath.Join(root, "scripts", "release.sh"), "v0.0.0-test", out)
	c.Dir = root
	c.Env = append(os.Environ(), "RINGSIDE_RELEASE_TARGETS=linux/amd64", "GOFLAGS=-buildvcs=false")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, b)
	}
	run(t, out, "sha256sum", "--check", "--quiet", "SHA256SUMS")
	run(t, out, "tar", "-xzf", "ringside_v0.0.0-test_linux_amd64.tar.gz")
	b := run(t, out, filepath.Join(out, "ringside_v0.0.0-test_linux_amd64", "ringside"), "version", "--json")
	var got struct {
		Version, Commit, Date, Go string
		Modified                  bool
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("version --json: %v\n%s", err, b)
	}
	want := when.UTC().Format(time.RFC3339)
	if got.Version != "v0.0.0-test" || got.Commit != head || got.Date != want || got.Modified != dirty {
		t.Errorf("version --json of the release binary = %+v, want version v0.0.0-test, commit %s, date %s, modified %v", got, head, want, dirty)
	}
}
