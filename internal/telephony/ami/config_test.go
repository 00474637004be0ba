package ami

import (
	_ "embed"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

//go:embed sample.yaml
var sampleYAML string

//go:embed README.md
var readme string

func TestReadmeHasSample(t *testing.T) {
	if !strings.Contains(readme, sampleYAML) {
		t.Error("README.md does not contain sample.yaml verbatim")
	}
}

func TestSampleDecodes(t *testing.T) {
	var doc struct {
		Telephony []yaml.Node `yaml:"telephony"`
	}
	if err := yaml.Unmarshal([]byte(sampleYAML), &doc); err != nil {
		t.Fatal(err)
	}
	var sec map[string]any
	if err := doc.Telephony[0].Decode(&sec); err != nil {
		t.Fatal(err)
	}
	delete(sec, "kind")
	b, _ := yaml.Marshal(sec)
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Getenv = func(string) string { return "s3cret" }
	if _, err := New("pbx", cfg, nil); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "AMI_SECRET" {
			return "s3cret"
		}
		return ""
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"minimal", Config{Username: "u", Secret: "s"}, ""},
		{"env", Config{Username: "u", SecretEnv: "AMI_SECRET"}, ""},
		{"file", Config{Username: "u", SecretFile: secretFile}, ""},
		{"no user", Config{Secret: "s"}, "ami: username:"},
		{"no secret", Config{Username: "u"}, "ami: secret_env:"},
		{"empty env", Config{Username: "u", SecretEnv: "NOPE"}, "ami: secret_env: environment variable NOPE"},
		{"two secrets", Config{Username: "u", Secret: "s", SecretEnv: "AMI_SECRET"}, "ami: secret:"},
		{"missing file", Config{Username: "u", SecretFile: filepath.Join(dir, "nope")}, "ami: secret_file:"},
		{"bad tls", Config{Username: "u", Secret: "s", TLS: "yes"}, "ami: tls:"},
		{"bad auth", Config{Username: "u", Secret: "s", Auth: "sha"}, "ami: auth:"},
		{"bad address", Config{Username: "u", Secret: "s", Address: "pbx"}, "ami: address:"},
		{"bad pattern", Config{Username: "u", Secret: "s", ChannelPattern: "("}, "ami: channel_pattern:"},
		{"no ext group", Config{Username: "u", Secret: "s", ChannelPattern: "^PJSIP/"}, "ami: channel_pattern: needs"},
		{"bad trunk", Config{Username: "u", Secret: "s", TrunkPattern: "["}, "ami: trunk_pattern:"},
		{"originate", Config{Username: "u", Secret: "s", Originate: Originate{Channel: "PJSIP/200"}}, "ami: originate.channel:"},
		{"line", Config{Username: "u", Secret: "s", MaxLineBytes: 10}, "ami: max_line_bytes:"},
		{"frame", Config{Username: "u", Secret: "s", MaxFrameBytes: 300}, "ami: max_frame_bytes:"},
		{"injection", Config{Username: "u", Secret: "s\r\nAction: Originate"}, "ami: secret:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Getenv = env
			_, err := New("pbx", tc.cfg, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New = %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("New = %v, want %s...", err, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	s := testSettings(t, nil)
	for _, tc := range []struct {
		name string
		kind chanKind
		ext  string
	}{
		{"PJSIP/200-00000001", kindPhone, "200"},
		{"SIP/200-0000abcd", kindPhone, "200"},
		{"IAX2/200-1234", kindPhone, "200"},
		{"PJSIP/204", kindPhone, "204"},
		{"Local/201@queue-members-00000000;1", kindLocal, "201"},
		{"Local/0049301112233@from-internal-0001;2", kindOther, ""},
		{"PJSIP/carrier-0000000a", kindTrunk, ""},
		{"SIP/telekom-000001", kindTrunk, ""},
		{"Message/ast_msg_queue", kindOther, ""},
	} {
		if k, e := s.classify([]byte(tc.name)); k != tc.kind || e != tc.ext {
			t.Errorf("classify(%q) = %d %q, want %d %q", tc.name, k, e, tc.kind, tc.ext)
		}
	}
	only := testSettings(t, func(c *Config) { c.LocalExtensions = []string{"200"} })
	if k, _ := only.classify([]byte("PJSIP/201-00000001")); k != kindTrunk {
		t.Errorf("with local_extensions [200], PJSIP/201 is %d, want a trunk", k)
	}
}
