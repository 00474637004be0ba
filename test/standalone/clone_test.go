// Package standalone checks that the repository stands alone: a fresh clone, with nothing
// beside it, passes the tests that read the real captures and runs the bench from the
// binary alone.
package standalone

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/testenv"
)

// capturePackages are the packages whose tests read the captures.
var capturePackages = []string{
	"./internal/telephony/ami/",
	"./internal/telephony/esl/",
	"./internal/phone/",
	"./internal/loadtest/",
}

// TestFreshClone clones the repository's HEAD into an empty temporary folder (so no
// "shared" folder or anything else sits beside it), checks that no tracked file names a
// folder outside the repository, runs the README's test command there for the packages
// that read captures, and runs `ringside bench --source ami` from a folder that holds
// nothing but the binary.
func TestFreshClone(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no fresh clone")
	}
	git := testenv.LookPath(t, "git", "git")
	root := testenv.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skipf("not a git checkout (%v)", err)
	}
	base := t.TempDir()
	clone := filepath.Join(base, "ringside")
	run(t, base, git, "clone", "--quiet", "--no-hardlinks", root, clone)
	if entries, _ := os.ReadDir(base); len(entries) != 1 {
		t.Fatalf("the clone's parent folder holds %d entries, want only the clone", len(entries))
	}

	// Nothing in the repository names the shared folder it used to read.
	out, err := exec.Command(git, "-C", clone, "grep", "-n", "-F", "../shared").CombinedOutput()
	if err == nil {
		t.Errorf("tracked files still name ../shared:\n%s", out)
	}

	// The README's test command, for the packages that read captures.
	readme, err := os.ReadFile(filepath.Join(clone, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const cmd = "go test -race -count=1 ./..."
	if !bytes.Contains(readme, []byte("`"+cmd+"`")) {
		t.Fatalf("README no longer gives the test command %q; update this test", cmd)
	}
	args := append(strings.Fields(cmd)[1:len(strings.Fields(cmd))-1], capturePackages...)
	t.Logf("in the clone: go %s", strings.Join(args, " "))
	out = run(t, clone, "go", args...)
	for _, p := range capturePackages {
		pkg := "github.com/ringside/ringside/" + strings.Trim(strings.TrimPrefix(p, "./"), "/")
		if !bytes.Contains(out, []byte("ok  \t"+pkg)) {
			t.Errorf("%s did not pass in the clone:\n%s", pkg, out)
		}
	}

	// The bench replays the embedded captures: no folder of captures anywhere near.
	bin := filepath.Join(base, "bin", "ringside")
	run(t, clone, "go", "build", "-o", bin, "./cmd/ringside")
	if err := os.RemoveAll(clone); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	out = run(t, empty, bin, "bench", "--source", "ami", "--agents", "2", "--rate", "2", "--duration", "2s", "--directory-size", "100", "--quiet", "--json")
	var res struct {
		Source string `json:"source"`
		Calls  int64  `json:"calls"`
		Pops   int64  `json:"pops"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Source != "ami" || res.Calls == 0 || res.Pops == 0 {
		t.Fatalf("bench --source ami from the binary alone (%v): %+v\n%s", err, res, out)
	}
}

func run(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return out
}
