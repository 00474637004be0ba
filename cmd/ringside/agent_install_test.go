//go:build !windows

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ringside/ringside/internal/companion"
	"github.com/ringside/ringside/internal/testenv"
)

// TestAgentInstall: --install writes the settings (0600, with the token) and an XDG
// autostart entry that runs this program's agent with them, valid for
// desktop-file-validate; the Exec line reads back as the command; --uninstall removes
// both, and says so when nothing is installed. HOME and the XDG folders are temporary.
func TestAgentInstall(t *testing.T) {
	home := t.TempDir()
	vars := map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, "cfg $x"), "XDG_STATE_HOME": ""}
	agent := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(t.Context(), env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}, append([]string{"agent"}, args...))
		return code, out.String(), errb.String()
	}
	if code, out, errOut := agent("--uninstall"); code != 0 || !strings.Contains(out, "not installed") {
		t.Fatalf("--uninstall before any install: %d %q %q", code, out, errOut)
	}
	code, out, errOut := agent("--install", "--server", "https://ringside.example.com", "--token", "tok-123", "--phone", "baresip:127.0.0.1:4444", "--notify", "off")
	if code != 0 {
		t.Fatalf("--install: exit %d\n%s%s", code, out, errOut)
	}
	cfgFile := filepath.Join(home, "cfg $x", "ringside", "agent.yaml")
	entry := filepath.Join(home, "cfg $x", "autostart", "ringside-agent.desktop")
	logFile := filepath.Join(home, ".local", "state", "ringside", "agent.log")
	for _, p := range []string{cfgFile, entry, logFile} {
		if !strings.Contains(out, p) {
			t.Errorf("--install did not name %s:\n%s", p, out)
		}
	}
	fi, err := os.Stat(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the settings file has mode %v, want 0600 (it holds the token)", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(cfgFile)
	var got companion.Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("the settings do not decode as the companion's config: %v\n%s", err, b)
	}
	if got.Server != "https://ringside.example.com" || got.Token != "tok-123" || got.Phone != "baresip:127.0.0.1:4444" || got.Notify != "off" {
		t.Errorf("settings %+v", got)
	}
	if st, err := os.Stat(filepath.Dir(logFile)); err != nil || !st.IsDir() {
		t.Errorf("the log folder was not made: %v", err)
	}

	desk, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := exec.LookPath("desktop-file-validate"); err == nil {
		if out, err := exec.Command(v, entry).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("desktop-file-validate: %v\n%s\n%s", err, out, desk)
		}
	} else {
		testenv.Peer(t, "desktop-file-validate is not installed (Debian package desktop-file-utils)")
	}
	var execLine string
	for _, l := range strings.Split(string(desk), "\n") {
		if v, ok := strings.CutPrefix(l, "Exec="); ok {
			execLine = v
		}
	}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	want := []string{exe, "agent", "--config", cfgFile, "--log-file", logFile}
	if args := unquoteExec(t, execLine); strings.Join(args, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("Exec= reads as %q, want %q", args, want)
	}

	// Installing again updates the settings in place.
	if code, _, errOut := agent("--install", "--server", "https://other.example.com", "--token", "tok-456"); code != 0 {
		t.Fatalf("second --install: %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(cfgFile); !strings.Contains(string(b), "other.example.com") || strings.Contains(string(b), "tok-123") {
		t.Errorf("the second install's settings:\n%s", b)
	}
	// A bad setting installs nothing new.
	if code, _, _ := agent("--install", "--server", "ftp://x", "--token", "t"); code == 0 {
		t.Error("--install took a bad server URL")
	}

	if code, out, errOut := agent("--uninstall"); code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("--uninstall: %d %q %q", code, out, errOut)
	}
	for _, p := range []string{cfgFile, entry} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after --uninstall (%v)", p, err)
		}
	}
}

// unquoteExec reads an Exec value back into arguments (the Desktop Entry Specification's
// quoting, after the string value's own backslash escapes).
func unquoteExec(t *testing.T, v string) []string {
	t.Helper()
	// The string value's escapes: \\ → \.
	v = strings.ReplaceAll(v, `\\`, `\`)
	var args []string
	var cur strings.Builder
	in, had := false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case in && c == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
		case c == '"':
			in, had = !in, true
		case c == '%' && i+1 < len(v) && v[i+1] == '%':
			i++
			cur.WriteByte('%')
		case c == ' ' && !in:
			if had || cur.Len() > 0 {
				args = append(args, cur.String())
			}
			cur.Reset()
			had = false
		default:
			cur.WriteByte(c)
		}
	}
	if had || cur.Len() > 0 {
		args = append(args, cur.String())
	}
	return args
}
