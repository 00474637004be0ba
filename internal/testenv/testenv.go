// Package testenv helps tests find the shared fixtures and the real peers (Kamailio,
// Chromium, PostgreSQL, …), and decide whether a missing peer skips or fails the test.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
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

// Shared returns the path of a file or folder below the read-only shared/ folder that
// sits beside the repository (../shared). Its absence fails the test: the real captures
// are the truth the parsers must accept.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{RepoRoot(t), "..", "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testenv: shared fixture %s: %v", p, err)
	}
	return p
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
