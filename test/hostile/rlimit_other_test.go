//go:build !unix

package hostile

import "testing"

// raiseFileLimit: no file limit to raise here (Windows counts handles otherwise).
func raiseFileLimit(t *testing.T, want uint64) { t.Helper() }
