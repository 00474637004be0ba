package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestAgentFlagsAndConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("server: https://ringside.example.com\nphone: baresip\nnotfy: off\n"), 0o600)
	good := filepath.Join(dir, "agent.yaml")
	os.WriteFile(good, []byte("server: https://ringside.example.com\nphone: baresip:127.0.0.1:1\nbaresip: {dial_uri: \"sip:{number}@pbx\"}\n"), 0o600)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"unknown key", []string{"agent", "--config", bad}, nil, exitBadConfig, "notfy"},
		{"no token", []string{"agent", "--config", good}, nil, exitBadConfig, "RINGSIDE_AGENT_TOKEN"},
		{"bad phone", []string{"agent", "--server", "https://x.example", "--token", "t", "--phone", "skype"}, nil, exitBadConfig, "phone"},
		{"plain http", []string{"agent", "--server", "http://10.1.2.3", "--token", "t"}, nil, exitBadConfig, "allow_http"},
		{"stray argument", []string{"agent", "now"}, nil, exitUsage, "unexpected argument"},
		{"bad log level", []string{"agent", "--config", good, "--log-level", "loud"}, map[string]string{"RINGSIDE_AGENT_TOKEN": "t"}, exitUsage, "log-level"},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, struct {
			name string
			args []string
			env  map[string]string
			code int
			want string
		}{"list lines off Windows", []string{"agent", "--list-lines"}, nil, exitFailure, "only available on Windows"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(t.Context(), env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return tt.env[k] }}, tt.args)
			if code != tt.code || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, tt.code, errb.String(), tt.want)
			}
		})
	}
}
