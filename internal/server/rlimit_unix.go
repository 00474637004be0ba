//go:build unix

package server

import "syscall"

// openFilesLimit returns the process's open-files limit (0 if unknown). Go raises the
// soft limit to the hard one at start.
func openFilesLimit() int {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil || l.Cur > 1<<30 {
		return 0
	}
	return int(l.Cur)
}
