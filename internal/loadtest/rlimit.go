//go:build unix

package loadtest

import "syscall"

// raiseFileLimit lifts the open-files limit as far as allowed: every agent is a socket
// (two with an in-process server).
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return
	}
	want := uint64(1 << 20)
	if l.Max < want {
		nl := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nl) == nil { // root may raise the hard limit
			return
		}
	}
	l.Cur = l.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}
