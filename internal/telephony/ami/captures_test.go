package ami

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCapturesUnchanged: the captures are the recorded bytes, never edited. Each file
// matches the checksum written when it was copied into the repository, and the embedded
// copy the bench replays is the same.
func TestCapturesUnchanged(t *testing.T) {
	checkSums(t, filepath.Join("testdata", "captures"))
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

// checkSums verifies dir/SHA256SUMS (sha256sum's format) against the files, and that no
// capture is missing from it.
func checkSums(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: bad line %q", sc.Text())
		}
		listed[name] = true
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s was changed (sha256 %x, recorded %s): the captures must stay byte for byte as recorded", name, got, sum)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		n := e.Name()
		if n == "SHA256SUMS" || n == "README.md" || n == ".gitattributes" {
			continue
		}
		if !listed[n] {
			t.Errorf("%s is not in SHA256SUMS", n)
		}
	}
	if len(listed) == 0 {
		t.Fatal("SHA256SUMS lists nothing")
	}
}
