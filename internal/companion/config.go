package companion

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/ringside/ringside/internal/telephony/baresip"
	"github.com/ringside/ringside/internal/telephony/tapi"
)

// DefaultTokenEnv is the environment variable the agent token is read from when the
// config names none.
const DefaultTokenEnv = "RINGSIDE_AGENT_TOKEN"

// Config is the companion's configuration: `ringside agent` flags, or its small YAML
// file (--config). Every key but server and the token is optional.
type Config struct {
	// Server is the Ringside server's base URL, e.g. https://ringside.example.com. Required.
	Server string `yaml:"server"`
	// Token is the agent token in clear text (discouraged; prefer token_env or token_file).
	Token string `yaml:"token"`
	// TokenEnv names the environment variable holding the token. Default
	// RINGSIDE_AGENT_TOKEN.
	TokenEnv string `yaml:"token_env"`
	// TokenFile names a file holding the token (one line).
	TokenFile string `yaml:"token_file"`
	// Phone is the local phone: "baresip", "baresip:HOST:PORT", "tapi" or "tapi:LINE"
	// (a device id or part of a line name). Default "baresip".
	Phone string `yaml:"phone"`
	// Notify is "on" (default: desktop notifications for pops) or "off".
	Notify string `yaml:"notify"`
	// OpenRecord is "rules" (default: open the CRM record when the server's rules say
	// open_record), "ringing" (also open the best match of every ringing call) or "off".
	OpenRecord string `yaml:"open_record"`
	// AllowHTTP is "off" (default: http:// only to a loopback server; the token travels on
	// every connection) or "on".
	AllowHTTP string `yaml:"allow_http"`
	// Baresip configures the baresip backend (address, dial_uri, …; see
	// internal/telephony/baresip). The address in Phone wins.
	Baresip baresip.Config `yaml:"baresip"`
	// TAPI configures the TAPI backend (lines, privileges, …; see
	// internal/telephony/tapi). The line in Phone wins.
	TAPI tapi.Config `yaml:"tapi"`

	// Getenv resolves TokenEnv. Default os.Getenv.
	Getenv func(string) string `yaml:"-"`
}

// settings is a validated Config.
type settings struct {
	Config
	token  string
	kind   string // baresip or tapi
	wsURL  string
	apiURL string
}

func (cfg Config) validate() (settings, error) {
	var errs []error
	s := settings{Config: cfg}
	if s.Getenv == nil {
		s.Getenv = os.Getenv
	}
	u, err := url.Parse(strings.TrimRight(cfg.Server, "/"))
	switch {
	case cfg.Server == "":
		errs = append(errs, errors.New("companion: server: required (the Ringside server's URL, e.g. https://ringside.example.com)"))
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		errs = append(errs, fmt.Errorf("companion: server: %q is not an http(s) URL", cfg.Server))
	default:
		if u.Scheme == "http" && cfg.AllowHTTP != "on" && !loopback(u.Hostname()) {
			errs = append(errs, fmt.Errorf("companion: server: %q is plain http to another machine: use https, or allow_http: on", cfg.Server))
		}
		ws := *u
		ws.Scheme = "ws"
		if u.Scheme == "https" {
			ws.Scheme = "wss"
		}
		s.wsURL = ws.String() + "/api/v1/companion"
		s.apiURL = u.String() + "/api/v1"
	}
	switch cfg.AllowHTTP {
	case "", "off", "on":
	default:
		errs = append(errs, fmt.Errorf("companion: allow_http: %q is not on or off", cfg.AllowHTTP))
	}
	s.token = strings.TrimSpace(cfg.Token)
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("companion: token_file: %w", err))
		}
		s.token = strings.TrimSpace(string(b))
	} else if s.token == "" {
		env := cfg.TokenEnv
		if env == "" {
			env = DefaultTokenEnv
		}
		s.token = strings.TrimSpace(s.Getenv(env))
		if s.token == "" {
			errs = append(errs, fmt.Errorf("companion: token: none given (--token, token_file, or the environment variable %s)", env))
		}
	}
	if strings.ContainsAny(s.token, " \t\r\n") {
		errs = append(errs, errors.New("companion: token: contains white space"))
	}
	kind, arg, _ := strings.Cut(cfg.Phone, ":")
	switch kind {
	case "", "baresip":
		s.kind = "baresip"
		if arg != "" {
			s.Baresip.Address = arg
		}
	case "tapi":
		s.kind = "tapi"
		if arg != "" {
			s.TAPI.Lines = []string{arg}
		}
	default:
		errs = append(errs, fmt.Errorf("companion: phone: %q is not baresip[:HOST:PORT] or tapi[:LINE]", cfg.Phone))
	}
	switch cfg.Notify {
	case "":
		s.Notify = "on"
	case "on", "off":
	default:
		errs = append(errs, fmt.Errorf("companion: notify: %q is not on or off", cfg.Notify))
	}
	switch cfg.OpenRecord {
	case "":
		s.OpenRecord = "rules"
	case "rules", "ringing", "off":
	default:
		errs = append(errs, fmt.Errorf("companion: open_record: %q is not rules, ringing or off", cfg.OpenRecord))
	}
	return s, errors.Join(errs...)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
