package baresip

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Defaults of the configuration.
const (
	DefaultAddress      = "127.0.0.1:4444"
	DefaultDialURI      = "{number}"
	DefaultReplyTimeout = 5 * time.Second
)

// Config is the `telephony: [{kind: baresip, ...}]` section (and the companion's
// `--phone baresip[:HOST:PORT]`). Every key is optional. ctrl_tcp has no authentication,
// so there is no secret: keep it on 127.0.0.1.
type Config struct {
	// Address is baresip's ctrl_tcp_listen (host:port). Default 127.0.0.1:4444.
	Address string `yaml:"address"`
	// Extension is the agent's extension that signals name. Default: the user part of the
	// baresip account that the event names (sip:200@pbx → 200).
	Extension string `yaml:"extension"`
	// Incoming is what a call to this softphone is: "inbound" (default) or "internal".
	Incoming string `yaml:"incoming"`
	// InternalMaxDigits makes incoming calls from numbers of at most this many digits
	// internal (phone to phone). Default 0: off.
	InternalMaxDigits int `yaml:"internal_max_digits"`
	// DialURI is the target of click-to-dial; {number} is replaced by the number. Default
	// "{number}": baresip completes it with the account's domain.
	DialURI string `yaml:"dial_uri"`
	// ReplyTimeout bounds the wait for baresip's reply to a command. Default 5s.
	ReplyTimeout time.Duration `yaml:"reply_timeout"`
	// MaxMessageBytes bounds one netstring from baresip. Default 262144.
	MaxMessageBytes int `yaml:"max_message_bytes"`

	// Now is the clock of signals (baresip's events carry no timestamp). Default time.Now.
	Now func() time.Time `yaml:"-"`
}

// validate checks cfg and fills in the defaults; errors name the key.
func (cfg Config) validate() (Config, error) {
	var errs []error
	if cfg.Address == "" {
		cfg.Address = DefaultAddress
	}
	if _, port, err := net.SplitHostPort(cfg.Address); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("baresip: address: %q is not host:port", cfg.Address))
	}
	switch cfg.Incoming {
	case "":
		cfg.Incoming = "inbound"
	case "inbound", "internal":
	default:
		errs = append(errs, fmt.Errorf("baresip: incoming: %q is not inbound or internal", cfg.Incoming))
	}
	if cfg.InternalMaxDigits < 0 || cfg.InternalMaxDigits > 15 {
		errs = append(errs, fmt.Errorf("baresip: internal_max_digits: %d is not between 0 and 15", cfg.InternalMaxDigits))
	}
	if cfg.DialURI == "" {
		cfg.DialURI = DefaultDialURI
	}
	if !strings.Contains(cfg.DialURI, "{number}") {
		errs = append(errs, fmt.Errorf("baresip: dial_uri: %q lacks {number}", cfg.DialURI))
	}
	if strings.ContainsAny(cfg.DialURI, " \t\r\n") {
		errs = append(errs, fmt.Errorf("baresip: dial_uri: %q contains white space", cfg.DialURI))
	}
	if cfg.ReplyTimeout == 0 {
		cfg.ReplyTimeout = DefaultReplyTimeout
	} else if cfg.ReplyTimeout < 0 {
		errs = append(errs, fmt.Errorf("baresip: reply_timeout: %s is negative", cfg.ReplyTimeout))
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	} else if cfg.MaxMessageBytes < 1024 {
		errs = append(errs, fmt.Errorf("baresip: max_message_bytes: %d is below 1024", cfg.MaxMessageBytes))
	}
	if strings.ContainsAny(cfg.Extension, " \t\r\n") || len(cfg.Extension) > 64 {
		errs = append(errs, fmt.Errorf("baresip: extension: %q is not an extension", cfg.Extension))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, errors.Join(errs...)
}
