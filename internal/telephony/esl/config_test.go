package esl

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestNewValidates(t *testing.T) {
	env := map[string]string{"ESL_PW": "s3cret"}
	getenv := func(k string) string { return env[k] }
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string // the config key named in the error; "" = valid
		wantPW  string
	}{
		{"defaults", Config{}, "", "ClueCon"},
		{"password env", Config{PasswordEnv: "ESL_PW", Getenv: getenv}, "", "s3cret"},
		{"password file", Config{PasswordFile: pwFile}, "", "from-file"},
		{"missing env", Config{PasswordEnv: "NOPE", Getenv: getenv}, "password_env", ""},
		{"missing file", Config{PasswordFile: pwFile + ".no"}, "password_file", ""},
		{"two passwords", Config{Password: "a", PasswordEnv: "ESL_PW"}, "password", ""},
		{"multi-line password", Config{Password: "a\nexit"}, "password", ""},
		{"kind", Config{Kind: "ami"}, "kind", ""},
		{"address", Config{Address: "pbx"}, "address", ""},
		{"format", Config{Format: "xml"}, "format", ""},
		{"pattern", Config{ExtensionPattern: "("}, "extension_pattern", ""},
		{"keepalive", Config{Keepalive: 1}, "keepalive", ""},
		{"max body", Config{MaxBodyBytes: 100}, "max_body_bytes", ""},
		{"endpoint", Config{Originate: Originate{Endpoint: "user/200"}}, "originate.endpoint", ""},
		{"bridge", Config{Originate: Originate{Bridge: "sofia/gateway/carrier/x"}}, "originate.bridge", ""},
		{"caller id", Config{Originate: Originate{CallerIDName: "A'}x"}}, "originate.caller_id_name", ""},
		{"context", Config{Originate: Originate{Context: "de fault"}}, "originate.context", ""},
		{"timeout", Config{Originate: Originate{Timeout: 5}}, "originate.timeout", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New("fs", tc.cfg, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.set.password != tc.wantPW {
					t.Errorf("password %q, want %q", s.set.password, tc.wantPW)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "esl: "+tc.wantErr+":") {
				t.Fatalf("New = %v, want an error about %s", err, tc.wantErr)
			}
		})
	}
}

func TestSampleConfig(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), SampleConfig()) {
		t.Error("README.md does not contain sample.yaml verbatim")
	}
	var doc struct {
		Telephony []yaml.Node `yaml:"telephony"`
	}
	if err := yaml.Unmarshal([]byte(SampleConfig()), &doc); err != nil || len(doc.Telephony) != 1 {
		t.Fatalf("sample.yaml: %v", err)
	}
	// Strictly, as the config loader does: an unknown key is an error.
	b, err := yaml.Marshal(&doc.Telephony[0])
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("sample.yaml does not decode into Config: %v", err)
	}
	cfg.Getenv = func(string) string { return "pw" }
	if _, err := New("", cfg, nil); err != nil {
		t.Fatalf("sample.yaml is not valid: %v", err)
	}
}
