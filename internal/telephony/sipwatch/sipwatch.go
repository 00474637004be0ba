// Package sipwatch watches the extensions of any SIP phone system through SIP dialog events
// (RFC 4235) and reports their calls as call signals.
package sipwatch

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/telephony/reconnect"
)

// SampleConfig is the documented sample configuration (also in the README).
//
//go:embed sample.yaml
var SampleConfig string

// Config configures a sipwatch source. Every field has a documented default; the config
// loader hands it over decoded, and New resolves the password from PasswordEnv or
// PasswordFile.
type Config struct {
	// Server is HOST:PORT of the SIP server that keeps the dialog state. Required.
	Server string `yaml:"server"`
	// Transport is udp, tcp or tls. Default udp.
	Transport string `yaml:"transport"`
	// Domain is the domain of the watched URIs sip:EXT@Domain. Default: the host of Server.
	Domain string `yaml:"domain"`
	// Username is the watcher's SIP user, in From and as the digest user. Default ringside.
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the digest password.
	PasswordEnv string `yaml:"password_env"`
	// PasswordFile names a file holding the digest password (trailing newline ignored).
	PasswordFile string `yaml:"password_file"`
	// Extensions to watch. Required: the config loader fills it from the users'
	// extensions when the section has none.
	Extensions []string `yaml:"extensions"`
	// Expires is the subscription lifetime asked for, in seconds. Default 600.
	Expires int `yaml:"expires"`
	// Listen is the local host:port for NOTIFYs (it goes into Contact). Default: the local
	// address that reaches Server, any free port.
	Listen string `yaml:"listen"`
	// SubscribeRate bounds SUBSCRIBEs per second, refreshes included. Default 20.
	SubscribeRate float64 `yaml:"subscribe_rate"`
	// Keepalive is the interval of the OPTIONS probe; 0 means the default, a negative
	// value turns it off. Default 30s.
	Keepalive time.Duration `yaml:"keepalive"`
	// MaxBodyBytes bounds a NOTIFY body; larger ones get 413. Default 65536.
	MaxBodyBytes int `yaml:"max_body_bytes"`

	// Getenv reads PasswordEnv. Default os.Getenv.
	Getenv func(string) string `yaml:"-"`
	// Now is the clock. Default time.Now.
	Now func() time.Time `yaml:"-"`
}

// Defaults.
const (
	defaultExpires       = 600
	defaultSubscribeRate = 20
	defaultKeepalive     = 30 * time.Second
	defaultMaxBody       = 64 << 10
	// endGrace is how long a call whose legs all ended waits before its final end, so
	// that a ring group leg reported late on another subscription is not cut off.
	endGrace = 2 * time.Second
	// maxDatagram is the largest UDP payload.
	maxDatagram = 65535
	// requestTimeout bounds one SUBSCRIBE or OPTIONS transaction.
	requestTimeout = 8 * time.Second
)

// A Source watches extensions through SIP dialog event subscriptions.
type Source struct {
	name     string
	cfg      Config
	password string
	host     string // of Server
	port     int
	log      *slog.Logger

	bmu  sync.Mutex // guards book and serialises emit, so that signals keep their order
	book *legBook

	rc *reconnect.Loop

	// Test hooks: onNotify sees every NOTIFY body before parsing, notified every NOTIFY
	// accepted (after its signals were emitted).
	onNotify func(ext string, body []byte)
	notified func(ext string)
}

// New validates cfg and returns a Source; it does no network I/O.
func New(name string, cfg Config, log *slog.Logger) (*Source, error) {
	if name == "" {
		name = "sipwatch"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Server == "" {
		return nil, errors.New("sipwatch: server: required (host:port of the SIP server)")
	}
	host, portStr, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("sipwatch: server: %q is not host:port: %w", cfg.Server, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 || host == "" {
		return nil, fmt.Errorf("sipwatch: server: %q is not host:port", cfg.Server)
	}
	switch cfg.Transport = strings.ToLower(cfg.Transport); cfg.Transport {
	case "":
		cfg.Transport = "udp"
	case "udp", "tcp", "tls":
	default:
		return nil, fmt.Errorf("sipwatch: transport: %q is not udp, tcp or tls", cfg.Transport)
	}
	if cfg.Domain == "" {
		cfg.Domain = host
	}
	if strings.ContainsAny(cfg.Domain, " <>@;:\"") {
		return nil, fmt.Errorf("sipwatch: domain: %q is not a host name", cfg.Domain)
	}
	if cfg.Username == "" {
		cfg.Username = "ringside"
	}
	if !validUser(cfg.Username) {
		return nil, fmt.Errorf("sipwatch: username: %q has characters a SIP user cannot hold", cfg.Username)
	}
	var password string
	switch {
	case cfg.PasswordEnv != "" && cfg.PasswordFile != "":
		return nil, errors.New("sipwatch: password_env and password_file: give one of them")
	case cfg.PasswordEnv != "":
		if password = cfg.Getenv(cfg.PasswordEnv); password == "" {
			return nil, fmt.Errorf("sipwatch: password_env: environment variable %s is empty or not set", cfg.PasswordEnv)
		}
	case cfg.PasswordFile != "":
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("sipwatch: password_file: %w", err)
		}
		if password = strings.TrimRight(string(b), "\r\n"); password == "" {
			return nil, fmt.Errorf("sipwatch: password_file: %s is empty", cfg.PasswordFile)
		}
	}
	if len(cfg.Extensions) == 0 {
		return nil, errors.New("sipwatch: extensions: no extension to watch (list them, or give users extensions)")
	}
	seen := map[string]bool{}
	exts := make([]string, 0, len(cfg.Extensions))
	for _, e := range cfg.Extensions {
		e = strings.TrimSpace(e)
		if e == "" || !validUser(e) {
			return nil, fmt.Errorf("sipwatch: extensions: %q is not a SIP user name", e)
		}
		if !seen[e] {
			seen[e] = true
			exts = append(exts, e)
		}
	}
	cfg.Extensions = exts
	switch {
	case cfg.Expires == 0:
		cfg.Expires = defaultExpires
	case cfg.Expires < 10 || cfg.Expires > 86400:
		return nil, fmt.Errorf("sipwatch: expires: %d is not between 10 and 86400 seconds", cfg.Expires)
	}
	if cfg.Listen != "" {
		if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
			return nil, fmt.Errorf("sipwatch: listen: %q is not host:port: %w", cfg.Listen, err)
		}
	}
	switch {
	case cfg.SubscribeRate == 0:
		cfg.SubscribeRate = defaultSubscribeRate
	case cfg.SubscribeRate < 0:
		return nil, fmt.Errorf("sipwatch: subscribe_rate: %g must be positive", cfg.SubscribeRate)
	}
	if cfg.Keepalive == 0 {
		cfg.Keepalive = defaultKeepalive
	}
	switch {
	case cfg.MaxBodyBytes == 0:
		cfg.MaxBodyBytes = defaultMaxBody
	case cfg.MaxBodyBytes < 1024:
		return nil, fmt.Errorf("sipwatch: max_body_bytes: %d is too small (at least 1024)", cfg.MaxBodyBytes)
	}
	// sipgo reads UDP into a buffer of this package-wide size (32 KiB by default) and drops
	// longer datagrams unanswered; Kamailio's NOTIFYs grow past that when an extension has
	// many recent dialogs. Raise it to the largest datagram, once, here (New runs before
	// any Run; a later New only reads it).
	if sip.TransportBufferReadSize < maxDatagram {
		sip.TransportBufferReadSize = maxDatagram
	}
	return &Source{
		name:     name,
		cfg:      cfg,
		password: password,
		host:     host,
		port:     port,
		log:      log,
		book:     newLegBook(name, exts, endGrace),
		rc:       reconnect.New(reconnect.Policy{}, reconnect.Options{Log: log, Now: cfg.Now}),
	}, nil
}

// validUser reports whether s can be the user part of a SIP URI without escaping.
func validUser(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_.!~*'()&=+$,?/", r):
		default:
			return false
		}
	}
	return true
}

// State reports the state of the subscriptions in the words every source uses
// (telephony.Stater).
func (s *Source) State() (string, string) { return s.rc.State() }

// Extensions returns the extensions the source watches, in order.
func (s *Source) Extensions() []string { return slices.Clone(s.cfg.Extensions) }

// Run subscribes to every extension and passes the signals to emit until ctx ends. It
// reconnects with exponential backoff and jitter (package reconnect), returns nil when
// ctx ends, and an error when the server refuses the credentials.
func (s *Source) Run(ctx context.Context, emit func(call.Signal)) error {
	return s.rc.Run(ctx, func(ctx context.Context) error { return s.session(ctx, emit) })
}

// subPolicy spaces the retries of one extension's subscription.
var subPolicy = reconnect.Policy{Max: 60 * time.Second, Jitter: 0.5}

// backoff is the wait before retry n (0-based) of a subscription: exponential from
// 500ms to 60s, with jitter.
func backoff(n int) time.Duration { return subPolicy.Delay(n, rand.Float64()) }

// sleepCtx waits d, or until ctx ends (false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Interface guards.
var (
	_ telephony.Source = (*Source)(nil)
	_ telephony.Stater = (*Source)(nil)
)
