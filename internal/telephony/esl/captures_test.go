package esl

import (
	"path/filepath"
	"testing"

	"github.com/ringside/ringside/internal/testenv"
)

// TestCapturesUnchanged: the captures are the recorded bytes, never edited; each file
// matches the checksum written when it was copied into the repository.
func TestCapturesUnchanged(t *testing.T) {
	testenv.CheckSums(t, filepath.Join("testdata", "captures"), 30)
}
