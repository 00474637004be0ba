// Package reload tests SIGHUP on a real `ringside serve` process (Linux only: the tests
// carry a build tag; this file keeps the package buildable elsewhere).
package reload
