package tapi

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultAppName is the name Ringside gives itself to TAPI (shown by some providers).
const DefaultAppName = "Ringside"

// Config is the `telephony: [{kind: tapi, ...}]` section (and the companion's
// `--phone tapi[:LINE]`). Every key is optional. TAPI needs no credentials: the
// provider was set up in Windows.
type Config struct {
	// Lines selects the line devices to follow: device ids ("0") or names (a
	// case-insensitive part of the name `ringside agent --list-lines` shows). Default:
	// every line that supports interactive voice.
	Lines []string `yaml:"lines"`
	// Extension is the agent's extension that signals name. Default "": the server uses
	// the agent's first extension.
	Extension string `yaml:"extension"`
	// Privileges is "owner" (default: monitor and owner, needed to dial, answer and hang
	// up) or "monitor" (follow only; for providers that refuse owners).
	Privileges string `yaml:"privileges"`
	// AppName is the friendly name given to lineInitializeEx. Default "Ringside".
	AppName string `yaml:"app_name"`
	// DialTimeout bounds the wait for the provider's answer to lineMakeCall. Default 30s.
	DialTimeout time.Duration `yaml:"dial_timeout"`

	// Now is the clock of signals (TAPI messages carry no time). Default time.Now.
	Now func() time.Time `yaml:"-"`
}

func (cfg Config) validate() (Config, error) {
	var errs []error
	for i, l := range cfg.Lines {
		if strings.TrimSpace(l) == "" {
			errs = append(errs, fmt.Errorf("tapi: lines[%d]: empty", i))
		}
	}
	switch cfg.Privileges {
	case "":
		cfg.Privileges = "owner"
	case "owner", "monitor":
	default:
		errs = append(errs, fmt.Errorf("tapi: privileges: %q is not owner or monitor", cfg.Privileges))
	}
	if cfg.AppName == "" {
		cfg.AppName = DefaultAppName
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 30 * time.Second
	} else if cfg.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("tapi: dial_timeout: %s is negative", cfg.DialTimeout))
	}
	if strings.ContainsAny(cfg.Extension, " \t\r\n") || len(cfg.Extension) > 64 {
		errs = append(errs, fmt.Errorf("tapi: extension: %q is not an extension", cfg.Extension))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, errors.Join(errs...)
}

// Line is one TAPI line device, as `ringside agent --list-lines` shows it.
type Line struct {
	ID          uint32 // device id (changes when devices are added or removed)
	PermanentID uint32
	Name        string
	Provider    string
	Addresses   uint32
	Voice       bool // supports interactive voice
	Err         string
}

// Selects reports whether the configured selection takes line l.
func Selects(sel []string, l Line) bool {
	if len(sel) == 0 {
		return l.Voice
	}
	for _, s := range sel {
		s = strings.TrimSpace(s)
		if s == fmt.Sprint(l.ID) || l.Name != "" && strings.Contains(strings.ToLower(l.Name), strings.ToLower(s)) {
			return true
		}
	}
	return false
}
