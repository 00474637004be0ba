package builtin

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeHasSample keeps the README's config section and sample.yaml the same.
func TestReadmeHasSample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+SampleConfig+"```") {
		t.Errorf("README.md does not contain sample.yaml verbatim")
	}
}
