package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheckOnePass: six mistakes, at the top level and inside the connectors'
// sections, are all listed by one `config check` run.
func TestConfigCheckOnePass(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "six.yaml")
	os.WriteFile(bad, []byte(`phone:
  min_suffix_digits: eight
lookup:
  timeout: 300
log_level: loud
telephony:
  - kind: ami
    adress: 127.0.0.1:5038
  - kind: carrier-pigeon
crm: {kind: builtin, colour: blue}
`), 0o600)
	code, _, errs := runCLI(t, "", "config", "check", bad)
	if code != exitBadConfig {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	for _, want := range []string{
		"six.yaml:2: phone.min_suffix_digits: eight is not a number",
		"six.yaml:4: lookup.timeout: 300 needs a unit, e.g. 300ms",
		`six.yaml:5: log_level: "loud" is not debug, info, warn or error`,
		"six.yaml:8: telephony[0].adress: unknown key",
		`six.yaml:9: telephony: unknown kind "carrier-pigeon"`,
		"six.yaml:10: crm.colour: unknown key",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("%q missing from:\n%s", want, errs)
		}
	}
}
