package config

import (
	"strings"
	"testing"
)

// TestSixMistakesInOnePass: a file with six mistakes of different kinds (unknown key, a
// number that is a word, a duration without a unit, a wrong enum value, a user declared
// twice, a mapping where a list belongs) lists all six in one run, each with file, line,
// key path and plain words — no raw YAML type names.
func TestSixMistakesInOnePass(t *testing.T) {
	src := `listen: 127.0.0.1:9090
lisen: 127.0.0.1:9091
phone:
  min_suffix_digits: eight
lookup:
  timeout: 300
log_level: loud
users:
  - {name: alice, extensions: ["200"]}
  - {name: alice}
web:
  origin_patterns: {a: b}
`
	_, err := Parse("ringside.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	want := []string{
		`ringside.yaml:2: lisen: unknown key (did you mean "listen"?)`,
		`ringside.yaml:4: phone.min_suffix_digits: eight is not a number`,
		`ringside.yaml:6: lookup.timeout: 300 needs a unit, e.g. 300ms`,
		`ringside.yaml:7: log_level: "loud" is not debug, info, warn or error`,
		`ringside.yaml:10: users[1]: user "alice" is declared twice`,
		`ringside.yaml:12: web.origin_patterns: expected a list`,
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
	if n := len(strings.Split(strings.TrimSpace(msg), "\n")); n != len(want) {
		t.Errorf("%d messages, want %d:\n%s", n, len(want), msg)
	}
	for _, raw := range []string{"!!", "unmarshal", "time.Duration"} {
		if strings.Contains(msg, raw) {
			t.Errorf("raw YAML wording %q in:\n%s", raw, msg)
		}
	}
}

// TestPlainTypeMessages: each kind of wrong value is said in plain words.
func TestPlainTypeMessages(t *testing.T) {
	tests := []struct{ src, want string }{
		{"phone:\n  min_suffix_digits: 1.5\n", "phone.min_suffix_digits: 1.5 is not a whole number"},
		{"lookup:\n  pop_timeout: soon\n", "lookup.pop_timeout: soon is not a duration (e.g. 300ms, 10s, 4h)"},
		{"users:\n  - {name: a, admin: maybe}\n", "users[0].admin: maybe is not true or false"},
		{"users: alice\n", "users: expected a list"},
		{"phone: DE\n", "phone: expected a mapping of keys"},
		{"calls:\n  max_age: 4\n", "calls.max_age: 4 needs a unit, e.g. 4s"},
	}
	for _, tc := range tests {
		_, err := Parse("r.yaml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.src, err, tc.want)
		}
	}
}

// TestCheckReturnsPartialConfig: Check returns what it could read beside the errors, so
// that the connectors' sections can be checked in the same pass.
func TestCheckReturnsPartialConfig(t *testing.T) {
	c, err := ParseAll("r.yaml", []byte("log_level: loud\ntelephony:\n  - {kind: ami, secert_env: X}\n"))
	if err == nil || c == nil || len(c.Telephony) != 1 || c.Telephony[0].Kind != "ami" {
		t.Fatalf("c=%+v err=%v", c, err)
	}
}
