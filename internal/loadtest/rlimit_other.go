//go:build !unix

package loadtest

func raiseFileLimit() {}
