package esl

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"
)

const defaultExtensionPattern = `^[0-9]{2,6}$`

// Config configures one FreeSWITCH Event Socket source. Every field is optional; the
// defaults are in the comments and in README.md.
type Config struct {
	// Kind must be "esl" (or empty).
	Kind string `yaml:"kind"`
	// Name names the source in logs and signals. Default: the name passed to New, else "esl".
	Name string `yaml:"name"`
	// Address is HOST:PORT of the event socket. Default 127.0.0.1:8021.
	Address string `yaml:"address"`
	// Password is the socket password, literally. Default "ClueCon" when none of Password,
	// PasswordEnv and PasswordFile is set.
	Password string `yaml:"password"`
	// PasswordEnv names an environment variable holding the password.
	PasswordEnv string `yaml:"password_env"`
	// PasswordFile names a file holding the password (a trailing newline is trimmed).
	PasswordFile string `yaml:"password_file"`
	// Format is the event format to subscribe with: "plain" or "json". Default plain.
	Format string `yaml:"format"`
	// ExtensionPattern is a regular expression that a local phone's SIP user matches.
	// Default ^[0-9]{2,6}$.
	ExtensionPattern string `yaml:"extension_pattern"`
	// TrunkProfiles are the sofia profiles whose channels are the outside world. Gateway
	// channels are always trunks. Default [external].
	TrunkProfiles []string `yaml:"trunk_profiles"`
	// Keepalive is the silence after which the socket is probed with "api status"; a probe
	// unanswered for as long again drops the connection. Default 20s, minimum 1s.
	Keepalive time.Duration `yaml:"keepalive"`
	// MaxBodyBytes is the largest accepted frame body. Default 1 MiB, minimum 64 KiB.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// Originate configures click-to-dial.
	Originate Originate `yaml:"originate"`

	// Getenv resolves PasswordEnv. Default os.Getenv.
	Getenv func(string) string `yaml:"-"`
	// DialContext opens the connection. Default a net.Dialer with a 10s timeout.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error) `yaml:"-"`
}

// Originate configures how Dial places a call: it rings the agent's phone (Endpoint) and,
// once that phone answers, sends the call to the number through the dialplan (Context,
// Dialplan) or straight to Bridge.
type Originate struct {
	// Endpoint is the dial string of the agent's phone; {extension} is replaced.
	// Default user/{extension}.
	Endpoint string `yaml:"endpoint"`
	// Context is the dialplan context the number is dialled in. Default default.
	Context string `yaml:"context"`
	// Dialplan is the dialplan type. Default XML.
	Dialplan string `yaml:"dialplan"`
	// Bridge, when set, is the dial string of the number ({number} is replaced), used
	// instead of the dialplan, e.g. sofia/gateway/carrier/{number}.
	Bridge string `yaml:"bridge"`
	// CallerIDName and CallerIDNumber are presented to the remote party. Default: whatever
	// the dialplan sets.
	CallerIDName   string `yaml:"caller_id_name"`
	CallerIDNumber string `yaml:"caller_id_number"`
	// Timeout is how long the agent's phone rings. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// safeArg is what may go into an originate variable or dial string without breaking its
// syntax ({, }, comma, quotes, whitespace controls).
var safeArg = regexp.MustCompile(`^[^{},'"\x00-\x1f\x7f]*$`)

// settings is a validated Config.
type settings struct {
	name      string
	address   string
	password  string
	format    string
	ext       *regexp.Regexp
	trunks    []string
	keepalive time.Duration
	maxBody   int
	orig      Originate
	dial      func(ctx context.Context, network, address string) (net.Conn, error)
}

func (cfg Config) settings(name string) (settings, error) {
	s := settings{name: name, address: cfg.Address, format: cfg.Format, keepalive: cfg.Keepalive, maxBody: cfg.MaxBodyBytes, orig: cfg.Originate, trunks: cfg.TrunkProfiles, dial: cfg.DialContext}
	if cfg.Kind != "" && cfg.Kind != "esl" {
		return s, fmt.Errorf("esl: kind: %q is not esl", cfg.Kind)
	}
	if cfg.Name != "" {
		s.name = cfg.Name
	}
	if s.name == "" {
		s.name = "esl"
	}
	if s.address == "" {
		s.address = "127.0.0.1:8021"
	}
	if _, port, err := net.SplitHostPort(s.address); err != nil || port == "" {
		return s, fmt.Errorf("esl: address: %q is not HOST:PORT", s.address)
	}
	n := 0
	for _, v := range []string{cfg.Password, cfg.PasswordEnv, cfg.PasswordFile} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return s, fmt.Errorf("esl: password: set only one of password, password_env and password_file")
	}
	switch {
	case cfg.PasswordEnv != "":
		getenv := cfg.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		s.password = getenv(cfg.PasswordEnv)
		if s.password == "" {
			return s, fmt.Errorf("esl: password_env: environment variable %s is empty or not set", cfg.PasswordEnv)
		}
	case cfg.PasswordFile != "":
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return s, fmt.Errorf("esl: password_file: %w", err)
		}
		s.password = strings.TrimRight(string(b), "\r\n")
		if s.password == "" {
			return s, fmt.Errorf("esl: password_file: %s is empty", cfg.PasswordFile)
		}
	case cfg.Password != "":
		s.password = cfg.Password
	default:
		s.password = "ClueCon"
	}
	if strings.ContainsAny(s.password, "\r\n") {
		return s, fmt.Errorf("esl: password: must be one line")
	}
	switch s.format {
	case "":
		s.format = "plain"
	case "plain", "json":
	default:
		return s, fmt.Errorf("esl: format: %q is neither plain nor json", s.format)
	}
	pat := cfg.ExtensionPattern
	if pat == "" {
		pat = defaultExtensionPattern
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return s, fmt.Errorf("esl: extension_pattern: %w", err)
	}
	s.ext = re
	if s.trunks == nil {
		s.trunks = []string{"external"}
	}
	switch {
	case s.keepalive == 0:
		s.keepalive = 20 * time.Second
	case s.keepalive < time.Second:
		return s, fmt.Errorf("esl: keepalive: %s is below the minimum of 1s", s.keepalive)
	}
	switch {
	case s.maxBody == 0:
		s.maxBody = 1 << 20
	case s.maxBody < 64<<10:
		return s, fmt.Errorf("esl: max_body_bytes: %d is below the minimum of 65536 (FreeSWITCH events reach 10 KB)", s.maxBody)
	}
	o := &s.orig
	if o.Endpoint == "" {
		o.Endpoint = "user/{extension}"
	}
	if !strings.Contains(o.Endpoint, "{extension}") {
		return s, fmt.Errorf("esl: originate.endpoint: %q does not contain {extension}", o.Endpoint)
	}
	if o.Context == "" {
		o.Context = "default"
	}
	if o.Dialplan == "" {
		o.Dialplan = "XML"
	}
	if o.Bridge != "" && !strings.Contains(o.Bridge, "{number}") {
		return s, fmt.Errorf("esl: originate.bridge: %q does not contain {number}", o.Bridge)
	}
	// Endpoint and bridge are the operator's own dial strings ({sip_auto_answer=true}user/…
	// is common); they must stay on one line. The other values go inside an originate
	// variable block, where braces, commas and quotes would end it.
	for key, v := range map[string]string{"originate.endpoint": o.Endpoint, "originate.bridge": o.Bridge} {
		if strings.ContainsAny(v, " \r\n\x00") {
			return s, fmt.Errorf("esl: %s: %q must not contain spaces or line breaks", key, v)
		}
	}
	for key, v := range map[string]string{"originate.context": o.Context, "originate.dialplan": o.Dialplan,
		"originate.caller_id_name": o.CallerIDName, "originate.caller_id_number": o.CallerIDNumber} {
		if !safeArg.MatchString(v) || (key != "originate.caller_id_name" && strings.Contains(v, " ")) {
			return s, fmt.Errorf("esl: %s: %q contains characters that would break the originate command", key, v)
		}
	}
	switch {
	case o.Timeout == 0:
		o.Timeout = 30 * time.Second
	case o.Timeout < time.Second:
		return s, fmt.Errorf("esl: originate.timeout: %s is below the minimum of 1s", o.Timeout)
	}
	if s.dial == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		s.dial = d.DialContext
	}
	return s, nil
}
