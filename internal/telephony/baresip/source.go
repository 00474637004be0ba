// Package baresip follows a baresip softphone through its ctrl_tcp module (netstring-framed
// JSON): its call events become call signals, and it dials, answers and hangs up on request.
package baresip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/telephony/reconnect"
)

// ErrNotConnected says that the softphone is not reachable right now.
var ErrNotConnected = errors.New("baresip: not connected to the softphone")

// Source follows one baresip. Build it with New; Run it once.
type Source struct {
	name string
	cfg  Config
	log  *slog.Logger

	rc *reconnect.Loop

	mu      sync.Mutex
	conn    net.Conn
	pending map[string]chan Message
	seq     uint64

	wmu sync.Mutex // serialises writes to conn
}

// New validates cfg. It does no I/O.
func New(name string, cfg Config, log *slog.Logger) (*Source, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = "baresip"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{name: name, cfg: cfg, log: log, pending: map[string]chan Message{},
		rc: reconnect.New(reconnect.Policy{Min: 250 * time.Millisecond}, reconnect.Options{Log: log})}, nil
}

// Address returns the ctrl_tcp address the source talks to.
func (s *Source) Address() string { return s.cfg.Address }

// State reports the connection to the softphone in the words every source uses
// (telephony.Stater).
func (s *Source) State() (string, string) { return s.rc.State() }

// Run connects to baresip and passes its call events to emit until ctx ends; it
// reconnects with exponential backoff and jitter (package reconnect) when baresip goes
// away. baresip serves one control client at a time: a second one takes the events away
// from the first.
func (s *Source) Run(ctx context.Context, emit func(call.Signal)) error {
	return s.rc.Run(ctx, func(ctx context.Context) error { return s.session(ctx, emit) })
}

// session runs one connection until it fails or ctx ends.
func (s *Source) session(ctx context.Context, emit func(call.Signal)) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("baresip: connect to %s: %w", s.cfg.Address, err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.conn = nil
		for tok, ch := range s.pending {
			close(ch)
			delete(s.pending, tok)
		}
		s.mu.Unlock()
	}()

	// A command's reply proves that baresip has taken this connection as its control
	// client (events go to the newest client only).
	wg.Go(func() {
		if _, err := s.command(ctx, "reginfo", ""); err == nil {
			s.mu.Lock()
			current := s.conn == conn
			s.mu.Unlock()
			if current {
				s.rc.Up()
			}
			s.log.Info("connected to the softphone", "addr", s.cfg.Address)
		}
	})

	c := newCorrelator(s.cfg, s.name, emit)
	r := NewNetstringReader(conn, s.cfg.MaxMessageBytes)
	for {
		b, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("baresip closed the connection")
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("baresip: read: %w", err)
		}
		m, err := ParseMessage(b)
		if err != nil {
			// One bad message does not lose the framing: skip it.
			s.log.Debug("skipping a message that is not JSON", "err", err)
			continue
		}
		if m.Response {
			s.mu.Lock()
			ch := s.pending[m.Token]
			delete(s.pending, m.Token)
			s.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		if m.Event {
			s.log.Debug("softphone event", "type", m.Type, "call_id", m.ID)
			c.handle(m)
		}
	}
}

// command sends one command and waits for its reply.
func (s *Source) command(ctx context.Context, name, params string) (Message, error) {
	s.mu.Lock()
	conn := s.conn
	if conn == nil {
		s.mu.Unlock()
		return Message{}, ErrNotConnected
	}
	s.seq++
	tok := "rs" + strconv.FormatUint(s.seq, 10)
	ch := make(chan Message, 1)
	s.pending[tok] = ch
	s.mu.Unlock()

	req := struct {
		Command string `json:"command"`
		Params  string `json:"params,omitempty"`
		Token   string `json:"token"`
	}{name, params, tok}
	b, _ := json.Marshal(req)
	s.wmu.Lock()
	conn.SetWriteDeadline(time.Now().Add(s.cfg.ReplyTimeout))
	_, err := conn.Write(AppendNetstring(nil, b))
	s.wmu.Unlock()
	if err != nil {
		s.forget(tok)
		return Message{}, fmt.Errorf("baresip: send %s: %w", name, err)
	}
	t := time.NewTimer(s.cfg.ReplyTimeout)
	defer t.Stop()
	select {
	case m, ok := <-ch:
		if !ok {
			return Message{}, fmt.Errorf("baresip: %s: %w", name, ErrNotConnected)
		}
		if !m.OK {
			return m, fmt.Errorf("baresip: %s refused: %s", name, strings.TrimSpace(clean(stripANSI(m.Data), 200)))
		}
		return m, nil
	case <-t.C:
		s.forget(tok)
		return Message{}, fmt.Errorf("baresip: %s: no reply within %s", name, s.cfg.ReplyTimeout)
	case <-ctx.Done():
		s.forget(tok)
		return Message{}, ctx.Err()
	}
}

func (s *Source) forget(tok string) {
	s.mu.Lock()
	delete(s.pending, tok)
	s.mu.Unlock()
}

// stripANSI removes colour escapes (baresip colours some replies).
func stripANSI(t string) string {
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] == 0x1b && i+1 < len(t) && t[i+1] == '[' {
			j := i + 2
			for j < len(t) && (t[j] < 0x40 || t[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(t[i])
	}
	return b.String()
}

// DialTarget returns what the dial command gets for number.
func (s *Source) DialTarget(number string) (string, error) {
	n := strings.TrimSpace(number)
	if n == "" || len(n) > 128 || strings.ContainsAny(n, " \t\r\n\"\\<>") {
		return "", fmt.Errorf("baresip: %q is not a number the softphone can dial", number)
	}
	if l := strings.ToLower(n); strings.HasPrefix(l, "sip:") || strings.HasPrefix(l, "sips:") {
		return n, nil // already a SIP URI
	}
	return strings.ReplaceAll(s.cfg.DialURI, "{number}", n), nil
}

// Dial makes the softphone call number (telephony.Dialer). extension is ignored: the
// softphone is one phone. baresip answers ok even for an unreachable target; the call's
// progress comes as signals.
func (s *Source) Dial(ctx context.Context, extension, number string) error {
	target, err := s.DialTarget(number)
	if err != nil {
		return err
	}
	_, err = s.command(ctx, "dial", target)
	return err
}

// Answer answers the softphone's ringing call. baresip 1.0 acts on its current call;
// callID, when given, selects the call first (callfind).
func (s *Source) Answer(ctx context.Context, callID string) error {
	if err := s.selectCall(ctx, callID); err != nil {
		return err
	}
	_, err := s.command(ctx, "accept", "")
	return err
}

// Hangup ends (or, while ringing, rejects) the softphone's call; see Answer for callID.
func (s *Source) Hangup(ctx context.Context, callID string) error {
	if err := s.selectCall(ctx, callID); err != nil {
		return err
	}
	_, err := s.command(ctx, "hangup", "")
	return err
}

func (s *Source) selectCall(ctx context.Context, callID string) error {
	if callID == "" {
		return nil
	}
	if strings.ContainsAny(callID, " \t\r\n") || len(callID) > maxID {
		return fmt.Errorf("baresip: %q is not a call id", callID)
	}
	_, err := s.command(ctx, "callfind", callID)
	return err
}

// Check connects once and asks baresip for its registrations: for `ringside agent
// --check`. It returns baresip's answer as text.
func (s *Source) Check(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReplyTimeout+5*time.Second)
	defer cancel()
	got := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- s.session(ctx, func(call.Signal) {}) }()
	for {
		m, err := s.command(ctx, "reginfo", "")
		if err == nil {
			got <- strings.TrimSpace(clean(stripANSI(m.Data), 4096))
			break
		}
		if !errors.Is(err, ErrNotConnected) {
			cancel()
			<-errc
			return "", err
		}
		select {
		case err := <-errc:
			if err == nil {
				err = ctx.Err()
			}
			return "", err
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	<-errc
	return <-got, nil
}

// Interface guards.
var (
	_ telephony.Source = (*Source)(nil)
	_ telephony.Dialer = (*Source)(nil)
	_ telephony.Stater = (*Source)(nil)
)
