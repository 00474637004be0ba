package ami

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ringside/ringside/internal/testenv"
)

// TestCapturesUnchanged: the captures are the recorded bytes, never edited. Each file
// matches the checksum written when it was copied into the repository, and the embedded
// copy the bench replays is the same.
func TestCapturesUnchanged(t *testing.T) {
	testenv.CheckSums(t, filepath.Join("testdata", "captures"), 10)
	embedded := Captures()
	names, err := fs.Glob(embedded, "*.ami")
	if err != nil || len(names) < 10 {
		t.Fatalf("embedded captures: %d files, %v", len(names), err)
	}
	for _, n := range names {
		a, err := fs.ReadFile(embedded, n)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join("testdata", "captures", n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("embedded %s differs from testdata/captures/%s", n, n)
		}
	}
}
