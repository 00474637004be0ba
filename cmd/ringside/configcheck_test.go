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

// TestImportDryRunAndReimport: --dry-run lists the problems and stores nothing; a second
// import of the same file updates instead of adding twins.
func TestImportDryRunAndReimport(t *testing.T) {
	data := t.TempDir()
	csv := filepath.Join(t.TempDir(), "people.csv")
	os.WriteFile(csv, []byte("type;first_name;last_name;email;phone\n"+
		"contact;Jana;Schulz;jana@example.com;030 5550101\n"+
		"contact;Ole;Berg;;\n"), 0o600)
	code, out, errs := runCLI(t, "", "import", "--dry-run", csv, "--data", data)
	if code != 0 || !strings.Contains(out, "people.csv:3: warning: no phone") || !strings.Contains(out, "nothing stored") {
		t.Fatalf("dry run: %d %s %s", code, out, errs)
	}
	if code, out, _ := runCLI(t, "", "lookup", "030 5550101", "--data", data); code != 0 || !strings.Contains(out, "no record") {
		t.Fatalf("dry run stored: %s", out)
	}
	for i, want := range []string{"2 contacts, 0 leads, 0 updated", "0 contacts, 0 leads, 2 updated"} {
		code, out, errs := runCLI(t, "", "import", csv, "--data", data)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("import %d: %d %s %s", i+1, code, out, errs)
		}
	}
	if code, out, _ := runCLI(t, "", "lookup", "030 5550101", "--data", data); code != 0 || strings.Count(out, "Jana Schulz") != 1 {
		t.Fatalf("twins: %s", out)
	}
}
