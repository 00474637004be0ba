package esl

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCapturesUnchanged: the captures are the recorded bytes, never edited; each file
// matches the checksum written when it was copied into the repository.
func TestCapturesUnchanged(t *testing.T) {
	dir := filepath.Join("testdata", "captures")
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
		if n := e.Name(); n != "SHA256SUMS" && n != "README.md" && n != ".gitattributes" && !listed[n] {
			t.Errorf("%s is not in SHA256SUMS", n)
		}
	}
	if len(listed) < 30 {
		t.Fatalf("SHA256SUMS lists %d files", len(listed))
	}
}
