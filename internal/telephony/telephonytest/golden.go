package telephonytest

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Golden compares got, one line each, with the golden file at path; with update it
// rewrites the file instead (a connector's -update flag). Blank lines are not compared.
func Golden(t testing.TB, path string, got []string, update bool) {
	t.Helper()
	if update {
		text := ""
		if len(got) > 0 {
			text = strings.Join(got, "\n") + "\n"
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(GoldenLines(t, path), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// GoldenLines reads a golden file's non-blank lines.
func GoldenLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestCases -update to create it)", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
