//go:build !unix

package server

// openFilesLimit is unknown here: the default cap is defaultMaxConnections.
func openFilesLimit() int { return 0 }
