// Package tapi follows a desk phone or softphone through Windows' telephony API (TAPI
// 2.x, tapi32.dll): the line's call states become call signals, and lineMakeCall dials.
// The Windows calls sit in a thin layer (tapi_windows.go); decoding TAPI's structures and
// mapping call states to signals are platform-independent and tested everywhere.
package tapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/telephony/reconnect"
)

// ErrUnsupported says that TAPI exists only on Windows.
var ErrUnsupported = errors.New("tapi: TAPI is only available on Windows")

// ErrNotConnected says that no line is open right now.
var ErrNotConnected = errors.New("tapi: no TAPI line is open")

// Source follows the configured TAPI lines. Build it with New; Run it once.
type Source struct {
	name string
	cfg  Config
	log  *slog.Logger

	rc *reconnect.Loop

	mu   sync.Mutex
	sess *session // the open TAPI session, nil between sessions
}

// New validates cfg. It does no I/O (it does not load tapi32.dll).
func New(name string, cfg Config, log *slog.Logger) (*Source, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = "tapi"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{name: name, cfg: cfg, log: log, rc: reconnect.New(reconnect.Policy{}, reconnect.Options{Log: log})}, nil
}

// State reports whether the lines are open, in the words every source uses
// (telephony.Stater).
func (s *Source) State() (string, string) { return s.rc.State() }

// Run opens the lines and passes their call signals to emit until ctx ends. When TAPI
// closes a line or asks for re-initialisation it starts again, with backoff (package
// reconnect). It returns an error when it cannot go on: not on Windows, or no line
// matches the configuration.
func (s *Source) Run(ctx context.Context, emit func(call.Signal)) error {
	return s.rc.Run(ctx, func(ctx context.Context) error {
		err := s.session(ctx, emit)
		var fatal *fatalError
		if errors.As(err, &fatal) || errors.Is(err, ErrUnsupported) {
			return reconnect.Fatal(err)
		}
		return err
	})
}

// fatalError is a configuration problem that retrying does not fix.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// Dial makes the line call number with lineMakeCall (telephony.Dialer); extension is
// ignored (the first open line dials).
func (s *Source) Dial(ctx context.Context, extension, number string) error {
	if number == "" || len(number) > 128 {
		return errors.New("tapi: no number to dial")
	}
	sess := s.current()
	if sess == nil {
		return ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	return sess.makeCall(ctx, number)
}

// Answer answers the ringing call callID ("" for the newest call) with lineAnswer.
func (s *Source) Answer(ctx context.Context, callID string) error {
	sess := s.current()
	if sess == nil {
		return ErrNotConnected
	}
	return sess.answer(ctx, callID)
}

// Hangup drops the call callID ("" for the newest call) with lineDrop.
func (s *Source) Hangup(ctx context.Context, callID string) error {
	sess := s.current()
	if sess == nil {
		return ErrNotConnected
	}
	return sess.drop(ctx, callID)
}

func (s *Source) current() *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess
}

func (s *Source) setSession(sess *session) {
	s.mu.Lock()
	s.sess = sess
	s.mu.Unlock()
}

// Check lists the line devices and says which ones the configuration selects, for
// `ringside agent --check`.
func (s *Source) Check(ctx context.Context) (string, error) {
	lines, err := ListLines(ctx, s.cfg.AppName)
	if err != nil {
		return "", err
	}
	var picked []string
	for _, l := range lines {
		if Selects(s.cfg.Lines, l) {
			picked = append(picked, fmt.Sprintf("%d %q", l.ID, l.Name))
		}
	}
	if len(picked) == 0 {
		return "", fmt.Errorf("tapi: lines: no line device matches %q among %d (see ringside agent --list-lines)", s.cfg.Lines, len(lines))
	}
	return "lines " + strings.Join(picked, ", "), nil
}

// Interface guards.
var (
	_ telephony.Source = (*Source)(nil)
	_ telephony.Dialer = (*Source)(nil)
	_ telephony.Stater = (*Source)(nil)
)
