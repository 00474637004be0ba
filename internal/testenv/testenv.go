// Package testenv helps tests find the real captures kept in the repository and the real peers (Kamailio,
// Chromium, PostgreSQL, …), and decide whether a missing peer skips or fails the test.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// RequirePeers reports whether missing peers must fail tests (RINGSIDE_REQUIRE_PEERS=1, as
// in CI) rather than skip them.
func RequirePeers() bool { return os.Getenv("RINGSIDE_REQUIRE_PEERS") == "1" }

// Peer fails the test (in CI) or skips it (locally) when a peer is missing: why says what
// is missing and how to get it.
func Peer(t testing.TB, why string) {
	t.Helper()
	if RequirePeers() {
		t.Fatalf("peer missing and RINGSIDE_REQUIRE_PEERS=1: %s", why)
	}
	t.Skipf("peer missing (set RINGSIDE_REQUIRE_PEERS=1 to fail instead): %s", why)
}

// LookPath returns the path of program, or marks the test as needing it (see Peer).
func LookPath(t testing.TB, program, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		Peer(t, program+" not found (Debian package "+pkg+")")
	}
	return p
}

// RepoRoot returns the module root (the folder holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Capture returns the path of a real phone-system capture kept in the repository:
// set is "asterisk-ami" or "freeswitch-esl" (the folder names of the capture sets), elem
// a file below it (none: the folder). The captures live in testdata/captures beside the
// parser that owns them (internal/telephony/ami, internal/telephony/esl); their README
// says where they were recorded. A missing file fails the test: the captures are the
// truth the parsers must accept.
func Capture(t testing.TB, set string, elem ...string) string {
	t.Helper()
	pkg, ok := captureSets[set]
	if !ok {
		t.Fatalf("testenv: unknown capture set %q (asterisk-ami or freeswitch-esl)", set)
	}
	p := filepath.Join(append([]string{RepoRoot(t), "internal", "telephony", pkg, "testdata", "captures"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testenv: capture %s: %v", p, err)
	}
	return p
}

var captureSets = map[string]string{"asterisk-ami": "ami", "freeswitch-esl": "esl"}

// Shared is the old name of Capture, kept so tests written against it still compile:
// Shared(t, "fixtures", set, file...) is Capture(t, set, file...). It reads nothing
// outside the repository.
//
// Deprecated: use Capture.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	if len(elem) < 2 || elem[0] != "fixtures" {
		t.Fatalf("testenv: Shared(%q): only captures are kept in the repository; use Capture", elem)
	}
	return Capture(t, elem[1], elem[2:]...)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago (for peers that
// must be told their port, such as Kamailio). Prefer listening on :0 where possible.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeUDPPort is FreePort for UDP.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary builds cmd/ringside once per test binary and returns its path (process tests
// run the real `ringside serve`).
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ringside-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "ringside")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/ringside")
		cmd.Dir = RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}
