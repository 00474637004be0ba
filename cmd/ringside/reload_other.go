//go:build !unix

package main

import "os"

// reloadSignals: there is no SIGHUP here (Windows); restart the service to reload.
func reloadSignals() (<-chan os.Signal, func()) { return nil, func() {} }
