package baresip

import (
	_ "embed"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed sample.yaml
var sampleYAML string

func TestREADMEContainsSample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), sampleYAML) {
		t.Error("README.md does not contain sample.yaml verbatim")
	}
}

func TestSampleDecodes(t *testing.T) {
	var doc struct {
		Telephony []struct {
			Kind   string `yaml:"kind"`
			Config `yaml:",inline"`
		} `yaml:"telephony"`
	}
	dec := yaml.NewDecoder(strings.NewReader(sampleYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if _, err := New("baresip", doc.Telephony[0].Config, nil); err != nil {
		t.Fatal(err)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"defaults", Config{}, ""},
		{"bad address", Config{Address: "localhost"}, "address"},
		{"bad incoming", Config{Incoming: "outside"}, "incoming"},
		{"digits", Config{InternalMaxDigits: -1}, "internal_max_digits"},
		{"dial uri", Config{DialURI: "sip:x@y"}, "dial_uri"},
		{"dial uri space", Config{DialURI: "sip:{number} @y"}, "dial_uri"},
		{"reply timeout", Config{ReplyTimeout: -time.Second}, "reply_timeout"},
		{"max", Config{MaxMessageBytes: 10}, "max_message_bytes"},
		{"extension", Config{Extension: "2 00"}, "extension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New("b", tt.cfg, nil)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "baresip: "+tt.want+":") {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestUserOfAndCause(t *testing.T) {
	for in, want := range map[string]string{
		"sip:+49309876543@127.0.0.1:15061":    "+49309876543",
		"<sip:200@pbx;transport=udp>":         "200",
		"sips:alice@example.com":              "alice",
		"tel:+1-202-555-0143;phone-context=x": "+1-202-555-0143",
		"sip:anonymous@anonymous.invalid":     "anonymous",
		"sip:%2B4930@x":                       "+4930",
		"sip:127.0.0.1:5060":                  "",
		"":                                    "",
	} {
		if got := UserOf(in); got != want {
			t.Errorf("UserOf(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tt := range []struct {
		param       string
		out, talked bool
		want        string
	}{
		{"Connection reset by user", false, true, "normal"},
		{"486 Busy Here", true, false, "busy"},
		{"603 Decline", true, false, "rejected"},
		{"480 Temporarily Unavailable", true, false, "no_answer"},
		{"Connection timed out", true, false, "no_answer"},
		{"404 Not Found", true, false, "failed"},
		{"487 Request Terminated", false, false, "cancelled"},
		{"Connection reset by user", false, false, "rejected"},
		{"Connection reset by user", true, false, "cancelled"},
		{"Connection reset by peer", false, false, "cancelled"},
		{"", true, false, "failed"},
	} {
		if got := Cause(tt.param, tt.out, tt.talked); got != tt.want {
			t.Errorf("Cause(%q, out=%v, talked=%v) = %q, want %q", tt.param, tt.out, tt.talked, got, tt.want)
		}
	}
}
