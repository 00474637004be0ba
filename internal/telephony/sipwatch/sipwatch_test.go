package sipwatch

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestReadmeHasSample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte(SampleConfig)) {
		t.Error("README.md does not contain sample.yaml verbatim")
	}
}

// TestSampleConfig decodes sample.yaml strictly, as the config loader does, and builds a
// Source from it.
func TestSampleConfig(t *testing.T) {
	var doc struct {
		Telephony []yaml.Node `yaml:"telephony"`
	}
	if err := yaml.Unmarshal([]byte(SampleConfig), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Telephony) != 1 {
		t.Fatalf("%d sections, want 1", len(doc.Telephony))
	}
	var sec struct {
		Kind   string `yaml:"kind"`
		Config `yaml:",inline"`
	}
	var b bytes.Buffer
	if err := yaml.NewEncoder(&b).Encode(&doc.Telephony[0]); err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(&b)
	dec.KnownFields(true)
	if err := dec.Decode(&sec); err != nil {
		t.Fatalf("sample.yaml: %v", err)
	}
	if sec.Kind != "sipwatch" {
		t.Errorf("kind %q", sec.Kind)
	}
	cfg := sec.Config
	cfg.Getenv = func(k string) string {
		if k == "RINGSIDE_SIP_PASSWORD" {
			return "pw"
		}
		return ""
	}
	s, err := New("sipwatch", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.password != "pw" || s.cfg.Keepalive != 30*time.Second || s.cfg.Expires != 600 || len(s.cfg.Extensions) != 2 {
		t.Errorf("decoded %+v", s.cfg)
	}
	if st, _ := s.State(); st != "down" {
		t.Errorf("state before Run: %s", st)
	}
}

func TestNew(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func() Config { return Config{Server: "pbx.example.org:5060", Extensions: []string{"200"}} }
	for _, tc := range []struct {
		name    string
		mod     func(*Config)
		wantErr string // the config key the error names; "" = valid
		check   func(*testing.T, *Source)
	}{
		{name: "defaults", check: func(t *testing.T, s *Source) {
			c := s.cfg
			if c.Transport != "udp" || c.Domain != "pbx.example.org" || c.Username != "ringside" || c.Expires != 600 ||
				c.SubscribeRate != 20 || c.Keepalive != 30*time.Second || c.MaxBodyBytes != 65536 || s.password != "" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "no server", mod: func(c *Config) { c.Server = "" }, wantErr: "server:"},
		{name: "server without port", mod: func(c *Config) { c.Server = "pbx.example.org" }, wantErr: "server:"},
		{name: "server bad port", mod: func(c *Config) { c.Server = "pbx:99999" }, wantErr: "server:"},
		{name: "transport", mod: func(c *Config) { c.Transport = "sctp" }, wantErr: "transport:"},
		{name: "transport upper case", mod: func(c *Config) { c.Transport = "TCP" }, check: func(t *testing.T, s *Source) {
			if s.cfg.Transport != "tcp" {
				t.Errorf("transport %q", s.cfg.Transport)
			}
		}},
		{name: "domain", mod: func(c *Config) { c.Domain = "a b" }, wantErr: "domain:"},
		{name: "username", mod: func(c *Config) { c.Username = "bad user" }, wantErr: "username:"},
		{name: "no extensions", mod: func(c *Config) { c.Extensions = nil }, wantErr: "extensions:"},
		{name: "bad extension", mod: func(c *Config) { c.Extensions = []string{"20 0"} }, wantErr: "extensions:"},
		{name: "duplicate extensions", mod: func(c *Config) { c.Extensions = []string{"200", "201", "200"} }, check: func(t *testing.T, s *Source) {
			if strings.Join(s.cfg.Extensions, ",") != "200,201" {
				t.Errorf("extensions %v", s.cfg.Extensions)
			}
		}},
		{name: "expires too small", mod: func(c *Config) { c.Expires = 5 }, wantErr: "expires:"},
		{name: "listen", mod: func(c *Config) { c.Listen = "nonsense" }, wantErr: "listen:"},
		{name: "rate", mod: func(c *Config) { c.SubscribeRate = -1 }, wantErr: "subscribe_rate:"},
		{name: "max body", mod: func(c *Config) { c.MaxBodyBytes = 10 }, wantErr: "max_body_bytes:"},
		{name: "password env", mod: func(c *Config) {
			c.PasswordEnv = "PW"
			c.Getenv = func(string) string { return "x" }
		}, check: func(t *testing.T, s *Source) {
			if s.password != "x" {
				t.Errorf("password not resolved")
			}
		}},
		{name: "password env unset", mod: func(c *Config) {
			c.PasswordEnv = "PW"
			c.Getenv = func(string) string { return "" }
		}, wantErr: "password_env:"},
		{name: "password file", mod: func(c *Config) { c.PasswordFile = pwFile }, check: func(t *testing.T, s *Source) {
			if s.password != "secret" {
				t.Errorf("password %q", s.password)
			}
		}},
		{name: "password file missing", mod: func(c *Config) { c.PasswordFile = pwFile + ".nope" }, wantErr: "password_file:"},
		{name: "both passwords", mod: func(c *Config) { c.PasswordFile, c.PasswordEnv = pwFile, "PW" }, wantErr: "password_env and password_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			s, err := New("", cfg, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "sipwatch: ") {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.name != "sipwatch" {
				t.Errorf("name %q", s.name)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}
