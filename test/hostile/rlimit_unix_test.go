//go:build unix

package hostile

import (
	"syscall"
	"testing"
)

// raiseFileLimit lets the test process hold many sockets.
func raiseFileLimit(t *testing.T, want uint64) {
	t.Helper()
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if l.Cur >= want {
		return
	}
	l.Cur = min(want, l.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur < want {
		t.Fatalf("need %d open files, may have %d: %v", want, l.Cur, err)
	}
}
