package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCLI runs a command in-process and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, args)
	return code, out.String(), errb.String()
}

func TestConfigCheck(t *testing.T) {
	t.Setenv("AMI_SECRET", "s3cret")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`listen: 127.0.0.1:8080
phone: {default_region: AT}
telephony:
  - kind: webhook
  - kind: ami
    address: 127.0.0.1:5038
    username: ringside
    secret_env: AMI_SECRET
users:
  - {name: alice, extensions: ["200"]}
`), 0o600)
	if code, out, errs := runCLI(t, "", "config", "check", good); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("good config: %d %s %s", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`listen: 127.0.0.1:8080
phone:
  default_region: XX
telephony:
  - kind: ami
    adress: 127.0.0.1:5038
  - kind: carrier-pigeon
crm: {kind: builtin, colour: blue}
`), 0o600)
	code, _, errs := runCLI(t, "", "config", "check", bad)
	if code != exitBadConfig {
		t.Fatalf("bad config: exit %d\n%s", code, errs)
	}
	for _, want := range []string{"bad.yaml:3: phone.default_region", "XX"} {
		if !strings.Contains(errs, want) {
			t.Errorf("%q missing from:\n%s", want, errs)
		}
	}
	// Once the top level is right, the sections are checked by their connectors.
	os.WriteFile(bad, []byte(`telephony:
  - kind: ami
    adress: 127.0.0.1:5038
  - kind: carrier-pigeon
crm: {kind: builtin, colour: blue}
`), 0o600)
	code, _, errs = runCLI(t, "", "config", "check", bad)
	if code != exitBadConfig {
		t.Fatalf("bad sections: exit %d\n%s", code, errs)
	}
	for _, want := range []string{"bad.yaml:3: telephony[0].adress: unknown key", `bad.yaml:4: telephony: unknown kind "carrier-pigeon"`, "bad.yaml:5: crm.colour: unknown key"} {
		if !strings.Contains(errs, want) {
			t.Errorf("%q missing from:\n%s", want, errs)
		}
	}
	if code, _, _ := runCLI(t, "", "config", "check"); code != exitUsage {
		t.Errorf("no file: exit %d", code)
	}
}

func TestUsageAndTokens(t *testing.T) {
	data := t.TempDir()
	if code, _, _ := runCLI(t, ""); code != exitUsage {
		t.Errorf("no command: %d", code)
	}
	if code, _, errs := runCLI(t, "", "frobnicate"); code != exitUsage || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "", "tokens", "create", "--data", data); code != exitUsage || !strings.Contains(errs, "--user") {
		t.Errorf("token without user: %d %s", code, errs)
	}
	code, out, errs := runCLI(t, "", "tokens", "create", "--scope", "pbx", "--data", data)
	if code != 0 || !strings.HasPrefix(lastLine(out), "rs_") || strings.Contains(errs, "migration") {
		t.Fatalf("pbx token: %d %q %q", code, out, errs)
	}
	if code, out, _ := runCLI(t, "", "users", "add", "dave", "--extension", "210", "--data", data); code != 0 || !strings.Contains(out, "password (shown once):") {
		t.Fatalf("generated password: %d %s", code, out)
	}
	if code, _, errs := runCLI(t, "short\n", "users", "add", "erin", "--extension", "211", "--password-stdin", "--data", data); code != exitUsage || !strings.Contains(errs, "8 characters") {
		t.Errorf("short password: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "", "users", "add", "dave", "--extension", "212", "--data", data); code != exitFailure || !strings.Contains(errs, "exists") {
		t.Errorf("duplicate user: %d %s", code, errs)
	}
	code, out, _ = runCLI(t, "", "users", "list", "--data", data)
	if code != 0 || !strings.Contains(out, "dave") || !strings.Contains(out, "210") {
		t.Errorf("users list: %s", out)
	}
	code, out, _ = runCLI(t, "", "tokens", "create", "--user", "dave", "--data", data)
	if code != 0 || !strings.HasPrefix(lastLine(out), "rs_") {
		t.Errorf("agent token: %s", out)
	}
}

func TestImportBadRows(t *testing.T) {
	data := t.TempDir()
	csv := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(csv, []byte("type,first_name,last_name,company,email,phone,mobile,other_phone,country\n"+
		"contact,Jane,Doe,ACME,,030 1234567,,,DE\n"+
		"person,Max,Muster,,,030 7654321,,,DE\n"+
		"lead,Ann,Lee,,,+1 212 555 0147,,,ZZ\n"), 0o600)
	code, _, errs := runCLI(t, "", "import", csv, "--data", data)
	if code != exitFailure || !strings.Contains(errs, "3") || !strings.Contains(errs, "4") {
		t.Fatalf("bad import: %d %s", code, errs)
	}
	// Nothing of the file was imported, not even the good row.
	code, out, _ := runCLI(t, "", "lookup", "030 1234567", "--data", data)
	if code != 0 || !strings.Contains(out, "no record") {
		t.Fatalf("after a rejected import: %d %s", code, out)
	}
	if code, _, errs := runCLI(t, "", "lookup", "anonymous", "--data", data); code != exitFailure || !strings.Contains(errs, "withheld") {
		t.Errorf("withheld lookup: %d %s", code, errs)
	}
}

// TestVersionCommand: version prints the tag and the Go version from the build info, as
// text and as JSON.
func TestVersionCommand(t *testing.T) {
	code, out, errOut := runCLI(t, "", "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var in struct{ Version, Commit, Date, Go string }
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if in.Version == "" || !strings.HasPrefix(in.Go, "go1.") || in.Commit == "" {
		t.Fatalf("version --json = %+v", in)
	}
	code, out, _ = runCLI(t, "", "version")
	if code != 0 || !strings.Contains(out, in.Go) || !strings.HasPrefix(out, "ringside "+in.Version) {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

// TestAccessCommands: tokens revoke/--expires, users disable/enable/remove, and users add
// refusing another user's extension unless --shared.
func TestAccessCommands(t *testing.T) {
	data := t.TempDir()
	if code, _, _ := runCLI(t, "", "users", "add", "dave", "--extension", "210", "--data", data); code != 0 {
		t.Fatal("add dave")
	}
	if code, _, errs := runCLI(t, "", "users", "add", "erin", "--extension", "210", "--data", data); code != exitFailure || !strings.Contains(errs, "belongs to dave") || !strings.Contains(errs, "--shared") {
		t.Errorf("a taken extension: %d %s", code, errs)
	}
	if code, out, errs := runCLI(t, "", "users", "add", "erin", "--extension", "210", "--shared", "--data", data); code != 0 {
		t.Errorf("--shared: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "", "users", "add", "mal\nlory", "--extension", "213", "--data", data); code != exitUsage || !strings.Contains(errs, "control characters") {
		t.Errorf("a name with a newline: %d %s", code, errs)
	}
	code, out, errs := runCLI(t, "", "tokens", "create", "--user", "dave", "--expires", "90d", "--data", data)
	if code != 0 || !strings.Contains(errs, "working until") {
		t.Fatalf("--expires 90d: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "", "tokens", "create", "--user", "dave", "--expires", "soon", "--data", data); code != exitUsage {
		t.Errorf("--expires soon: %d %s", code, errs)
	}
	runCLI(t, "", "tokens", "create", "--user", "dave", "--data", data)
	if _, out, _ := runCLI(t, "", "tokens", "list", "--data", data); !strings.Contains(out, "EXPIRES") || !strings.Contains(out, "never") {
		t.Errorf("tokens list: %s", out)
	}
	if code, out, errs := runCLI(t, "", "tokens", "revoke", "1", "--data", data); code != 0 || !strings.Contains(out, "revoked token 1") {
		t.Errorf("revoke 1: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "", "tokens", "revoke", "1", "--data", data); code != exitFailure || !strings.Contains(errs, "no token 1") {
		t.Errorf("revoke 1 again: %d %s", code, errs)
	}
	if code, out, _ := runCLI(t, "", "tokens", "revoke", "--user", "dave", "--data", data); code != 0 || !strings.Contains(out, "revoked 1 tokens of dave") {
		t.Errorf("revoke --user: %d %s", code, out)
	}
	for _, cmd := range []string{"disable", "enable", "remove"} {
		if code, out, errs := runCLI(t, "", "users", cmd, "erin", "--data", data); code != 0 {
			t.Errorf("users %s: %d %s %s", cmd, code, out, errs)
		}
	}
	if _, out, _ := runCLI(t, "", "users", "list", "--data", data); strings.Contains(out, "erin") {
		t.Errorf("erin still listed after remove: %s", out)
	}
	if code, _, errs := runCLI(t, "", "users", "disable", "nobody", "--data", data); code != exitFailure || !strings.Contains(errs, "no user") {
		t.Errorf("disable nobody: %d %s", code, errs)
	}
}

func FuzzParseLifetime(f *testing.F) {
	for _, s := range []string{"90d", "12h", "0d", "-1d", "3651d", "soon", "1h30m", "d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseLifetime(s)
		if err == nil && (d <= 0 || d > 3650*24*time.Hour && strings.HasSuffix(s, "d")) {
			t.Fatalf("parseLifetime(%q) = %s", s, d)
		}
	})
}
