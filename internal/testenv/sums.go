package testenv

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CheckSums verifies dir/SHA256SUMS (sha256sum's format) against the files beside it, that
// no file there is missing from it (SHA256SUMS, README.md and .gitattributes aside), and
// that it lists at least min files. The captures the tests replay must stay byte for byte
// as recorded.
func CheckSums(t testing.TB, dir string, min int) {
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
	if err := sc.Err(); err != nil {
		t.Fatal(err)
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
	if len(listed) < max(min, 1) {
		t.Fatalf("SHA256SUMS lists %d files, want at least %d", len(listed), max(min, 1))
	}
}
