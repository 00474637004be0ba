package ami

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of the configuration.
const (
	DefaultAddress        = "127.0.0.1:5038"
	DefaultTLSAddress     = "127.0.0.1:5039"
	DefaultEvents         = "call,agent,dialplan"
	DefaultChannelPattern = `^(?:PJSIP|SIP|IAX2|DAHDI|Local)/(?P<ext>[0-9]{2,6})(?:[-@;/]|$)`
	DefaultTrunkPattern   = `^(?:PJSIP|SIP|IAX2|DAHDI)/`
	DefaultPingInterval   = 20 * time.Second
	DefaultMaxLineBytes   = 64 << 10
	DefaultMaxFrameBytes  = 256 << 10
	DefaultOriginateChan  = "PJSIP/{extension}"
	DefaultOriginateCtx   = "from-internal"
	DefaultCallerID       = `"{number}" <{number}>`
	DefaultDialTimeout    = 30 * time.Second
)

// Config is the `telephony: [{kind: ami, ...}]` section. Every key is optional except
// username and one of the secret keys.
type Config struct {
	// Address is the manager's host:port. Default 127.0.0.1:5038, or :5039 with TLS.
	Address string `yaml:"address"`
	// Username is the manager.conf user. Required.
	Username string `yaml:"username"`
	// Secret is the password in clear text (discouraged; prefer SecretEnv or SecretFile).
	Secret string `yaml:"secret"`
	// SecretEnv names the environment variable holding the secret.
	SecretEnv string `yaml:"secret_env"`
	// SecretFile names a file holding the secret (one line).
	SecretFile string `yaml:"secret_file"`
	// Auth is "md5" (challenge-response; default) or "plain".
	Auth string `yaml:"auth"`
	// TLS is "off" (default) or "on".
	TLS string `yaml:"tls"`
	// Events is the login's Events value. Default "call,agent,dialplan".
	Events string `yaml:"events"`
	// ChannelPattern maps a phone's channel name to its extension (named group ext).
	// Default DefaultChannelPattern.
	ChannelPattern string `yaml:"channel_pattern"`
	// TrunkPattern marks the channels of the outside world among those that are not
	// phones. Default DefaultTrunkPattern.
	TrunkPattern string `yaml:"trunk_pattern"`
	// LocalExtensions, when set, is the list of extensions that are phones; a channel
	// matching ChannelPattern with another extension is a trunk. Default: every match.
	LocalExtensions []string `yaml:"local_extensions"`
	// Originate shapes click-to-dial.
	Originate Originate `yaml:"originate"`
	// PingInterval is the keepalive period. Default 20s.
	PingInterval time.Duration `yaml:"ping_interval"`
	// MaxLineBytes bounds one line. Default 64 KiB.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MaxFrameBytes bounds one message. Default 256 KiB.
	MaxFrameBytes int `yaml:"max_frame_bytes"`

	// Getenv resolves SecretEnv. Default os.Getenv.
	Getenv func(string) string `yaml:"-"`
	// Now is the clock for signals without a timestamp (resynchronisation). Default
	// time.Now.
	Now func() time.Time `yaml:"-"`
}

// Originate shapes the Originate action of click-to-dial.
type Originate struct {
	// Channel is the dial string of the agent's phone; {extension} is replaced. Default
	// "PJSIP/{extension}".
	Channel string `yaml:"channel"`
	// Context is the dialplan context that dials the number. Default "from-internal".
	Context string `yaml:"context"`
	// CallerID is what the agent's phone shows while it rings; {number} and {extension}
	// are replaced. Default `"{number}" <{number}>`.
	CallerID string `yaml:"caller_id"`
	// Timeout is how long the agent's phone rings. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// settings is a validated Config.
type settings struct {
	Config
	secret  string
	chanRE  *regexp.Regexp
	extIdx  int
	trunkRE *regexp.Regexp
}

func (c Config) validate() (settings, error) {
	s := settings{Config: c}
	if s.Getenv == nil {
		s.Getenv = os.Getenv
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	switch s.TLS {
	case "", "off":
		s.TLS = "off"
	case "on":
	default:
		return s, fmt.Errorf("ami: tls: %q is not off or on", c.TLS)
	}
	if s.Address == "" {
		s.Address = DefaultAddress
		if s.TLS == "on" {
			s.Address = DefaultTLSAddress
		}
	}
	if _, _, err := net.SplitHostPort(s.Address); err != nil {
		return s, fmt.Errorf("ami: address: %q is not host:port: %w", c.Address, err)
	}
	if s.Username == "" {
		return s, errors.New("ami: username: missing (the user of manager.conf)")
	}
	if strings.ContainsAny(s.Username, "\r\n") {
		return s, errors.New("ami: username: must be one line")
	}
	n := 0
	for _, v := range []string{c.Secret, c.SecretEnv, c.SecretFile} {
		if v != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return s, errors.New("ami: secret_env: missing (set secret_env, secret_file or secret)")
	case n > 1:
		return s, errors.New("ami: secret: set only one of secret, secret_env and secret_file")
	case c.SecretEnv != "":
		s.secret = s.Getenv(c.SecretEnv)
		if s.secret == "" {
			return s, fmt.Errorf("ami: secret_env: environment variable %s is empty or not set", c.SecretEnv)
		}
	case c.SecretFile != "":
		b, err := os.ReadFile(c.SecretFile)
		if err != nil {
			return s, fmt.Errorf("ami: secret_file: %w", err)
		}
		s.secret = strings.TrimRight(string(b), "\r\n")
		if s.secret == "" {
			return s, fmt.Errorf("ami: secret_file: %s is empty", c.SecretFile)
		}
	default:
		s.secret = c.Secret
	}
	if strings.ContainsAny(s.secret, "\r\n") {
		return s, errors.New("ami: secret: must be one line")
	}
	switch s.Auth {
	case "":
		s.Auth = "md5"
	case "md5", "plain":
	default:
		return s, fmt.Errorf("ami: auth: %q is not md5 or plain", c.Auth)
	}
	if s.Events == "" {
		s.Events = DefaultEvents
	}
	if strings.ContainsAny(s.Events, "\r\n") {
		return s, errors.New("ami: events: must be one line")
	}
	if s.ChannelPattern == "" {
		s.ChannelPattern = DefaultChannelPattern
	}
	re, err := regexp.Compile(s.ChannelPattern)
	if err != nil {
		return s, fmt.Errorf("ami: channel_pattern: %w", err)
	}
	if s.extIdx = re.SubexpIndex("ext"); s.extIdx < 0 {
		return s, errors.New("ami: channel_pattern: needs a named group (?P<ext>...)")
	}
	s.chanRE = re
	if s.TrunkPattern == "" {
		s.TrunkPattern = DefaultTrunkPattern
	}
	if s.trunkRE, err = regexp.Compile(s.TrunkPattern); err != nil {
		return s, fmt.Errorf("ami: trunk_pattern: %w", err)
	}
	for i, e := range s.LocalExtensions {
		if e == "" || strings.ContainsAny(e, " \r\n") {
			return s, fmt.Errorf("ami: local_extensions[%d]: %q is not an extension", i, e)
		}
	}
	s.LocalExtensions = slices.Clone(s.LocalExtensions)
	o := &s.Originate
	if o.Channel == "" {
		o.Channel = DefaultOriginateChan
	}
	if !strings.Contains(o.Channel, "{extension}") {
		return s, fmt.Errorf("ami: originate.channel: %q has no {extension}", o.Channel)
	}
	if o.Context == "" {
		o.Context = DefaultOriginateCtx
	}
	if o.CallerID == "" {
		o.CallerID = DefaultCallerID
	}
	for k, v := range map[string]string{"originate.channel": o.Channel, "originate.context": o.Context, "originate.caller_id": o.CallerID} {
		if strings.ContainsAny(v, "\r\n") {
			return s, fmt.Errorf("ami: %s: must be one line", k)
		}
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultDialTimeout
	}
	if o.Timeout < time.Second {
		return s, fmt.Errorf("ami: originate.timeout: %s is shorter than 1s", o.Timeout)
	}
	if s.PingInterval == 0 {
		s.PingInterval = DefaultPingInterval
	}
	if s.PingInterval < 100*time.Millisecond {
		return s, fmt.Errorf("ami: ping_interval: %s is too short", s.PingInterval)
	}
	if s.MaxLineBytes == 0 {
		s.MaxLineBytes = DefaultMaxLineBytes
	}
	if s.MaxLineBytes < 256 {
		return s, fmt.Errorf("ami: max_line_bytes: %d is below 256", s.MaxLineBytes)
	}
	if s.MaxFrameBytes == 0 {
		s.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if s.MaxFrameBytes < s.MaxLineBytes {
		return s, fmt.Errorf("ami: max_frame_bytes: %d is below max_line_bytes (%d)", s.MaxFrameBytes, s.MaxLineBytes)
	}
	return s, nil
}

// classify says what a channel (or a dial string such as "PJSIP/204") is.
func (s *settings) classify(name []byte) (kind chanKind, ext string) {
	if m := s.chanRE.FindSubmatchIndex(name); m != nil && m[2*s.extIdx] >= 0 {
		ext = string(name[m[2*s.extIdx]:m[2*s.extIdx+1]])
		if len(s.LocalExtensions) == 0 || slices.Contains(s.LocalExtensions, ext) {
			if strings.HasPrefix(string(name), "Local/") {
				return kindLocal, ext
			}
			return kindPhone, ext
		}
	}
	if strings.HasPrefix(string(name), "Local/") {
		return kindOther, ""
	}
	if s.trunkRE.Match(name) {
		return kindTrunk, ""
	}
	return kindOther, ""
}

// isLocalExtension reports whether ext (a dialplan extension, as in BlindTransfer's
// Extension) is one of our phones.
func (s *settings) isLocalExtension(ext string) bool {
	if ext == "" {
		return false
	}
	if len(s.LocalExtensions) > 0 {
		return slices.Contains(s.LocalExtensions, ext)
	}
	k, e := s.classify([]byte("PJSIP/" + ext))
	if k == kindPhone && e == ext {
		return true
	}
	k, e = s.classify([]byte("SIP/" + ext))
	return k == kindPhone && e == ext
}
