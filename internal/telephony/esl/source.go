// Package esl is the FreeSWITCH Event Socket connector: it turns FreeSWITCH's channel
// events into call signals and places click-to-dial calls with bgapi originate.
package esl

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/telephony/reconnect"
)

//go:embed sample.yaml
var sampleConfig string

// SampleConfig returns the sample configuration shown in README.md.
func SampleConfig() string { return sampleConfig }

// eventList is what the connector subscribes to.
const eventList = "CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP_COMPLETE CALL_UPDATE BACKGROUND_JOB HEARTBEAT"

var (
	// errAuth: FreeSWITCH refused the password. Retrying would not help.
	errAuth = errors.New("password refused")
	// errLost: the connection went away while a command waited for its answer.
	errLost = errors.New("connection to FreeSWITCH lost")
)

// Source is one FreeSWITCH Event Socket connection. It implements telephony.Source,
// telephony.Dialer and telephony.Stater.
type Source struct {
	set settings
	log *slog.Logger

	rc      *reconnect.Loop
	heldFor time.Duration // how long a phone's end waits for a transfer to show
	newID   func() string

	mu    sync.Mutex
	cur   *session
	dials map[string]string // dial id → number, while the originate runs

	stats struct {
		frames, events, skipped, decodeErrors, signals, reconnects, dials, dialsFailed atomic.Uint64
	}
}

// Stats are counters of a Source since it was created.
type Stats struct {
	Frames       uint64 // frames read
	Events       uint64 // events decoded and correlated
	Skipped      uint64 // events of types the connector does not use
	DecodeErrors uint64 // events that could not be decoded (the connection is dropped)
	Signals      uint64 // signals emitted
	Reconnects   uint64 // connection attempts after the first (each follows a lost or failed connection)
	Dials        uint64 // originates sent
	DialsFailed  uint64 // originates FreeSWITCH refused or that failed
}

// New validates cfg and returns a source; it does no I/O besides reading password_file.
func New(name string, cfg Config, log *slog.Logger) (*Source, error) {
	set, err := cfg.settings(name)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{
		set: set, log: log, heldFor: 10 * time.Second, newID: newUUID, dials: map[string]string{},
		rc: reconnect.New(reconnect.Policy{}, reconnect.Options{Log: log}),
	}, nil
}

// State reports the connection in the words every source uses (telephony.Stater).
func (s *Source) State() (string, string) { return s.rc.State() }

// Stats returns the source's counters.
func (s *Source) Stats() Stats {
	return Stats{
		Frames: s.stats.frames.Load(), Events: s.stats.events.Load(), Skipped: s.stats.skipped.Load(),
		DecodeErrors: s.stats.decodeErrors.Load(), Signals: s.stats.signals.Load(), Reconnects: s.stats.reconnects.Load(),
		Dials: s.stats.dials.Load(), DialsFailed: s.stats.dialsFailed.Load(),
	}
}

// Run connects to FreeSWITCH and emits signals until ctx ends, reconnecting with
// exponential backoff and jitter (package reconnect). It returns nil when ctx ends, and
// an error when FreeSWITCH refuses the password.
func (s *Source) Run(ctx context.Context, emit func(call.Signal)) error {
	co := newCorrelator(s.set.name, s.set.ext, s.set.trunks, func(sig call.Signal) {
		s.stats.signals.Add(1)
		emit(sig)
	})
	co.dialNum = s.dialNumber
	first := true
	return s.rc.Run(ctx, func(ctx context.Context) error {
		if !first {
			s.stats.reconnects.Add(1)
		}
		first = false
		err := s.session(ctx, co)
		if errors.Is(err, errAuth) {
			return reconnect.Fatal(fmt.Errorf("esl: login to %s: %w", s.set.address, err))
		}
		return err
	})
}

// A session is one live connection.
type session struct {
	nc net.Conn

	wmu     sync.Mutex // serialises writes and the order of waiters
	waiters []waiter   // commands awaiting command/reply or api/response, in order
	jobs    map[string]chan string
	closed  bool
}

// A waiter receives the reply to one command: fn runs on the reader goroutine (resync,
// keepalive); ch is for other goroutines (Dial).
type waiter struct {
	fn func(f *frame)
	ch chan reply
}

type reply struct {
	text string
	body string
	err  error
}

// send writes one command and queues w for its reply.
func (ss *session) send(cmd string, w waiter) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	return ss.sendLocked(cmd, w)
}

func (ss *session) sendLocked(cmd string, w waiter) error {
	if ss.closed {
		return errLost
	}
	ss.waiters = append(ss.waiters, w)
	ss.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(ss.nc, cmd); err != nil {
		ss.waiters = ss.waiters[:len(ss.waiters)-1]
		return err
	}
	return nil
}

func (ss *session) popWaiter() (waiter, bool) {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	if len(ss.waiters) == 0 {
		return waiter{}, false
	}
	w := ss.waiters[0]
	ss.waiters = ss.waiters[1:]
	return w, true
}

// close fails every waiter and job of the session.
func (ss *session) close() {
	ss.wmu.Lock()
	ss.closed = true
	ws, jobs := ss.waiters, ss.jobs
	ss.waiters, ss.jobs = nil, nil
	ss.wmu.Unlock()
	for _, w := range ws {
		if w.ch != nil {
			w.ch <- reply{err: errLost}
		}
	}
	for _, ch := range jobs {
		close(ch)
	}
	ss.nc.Close()
}

// session runs one connection: login, subscription, resync, then events until it fails.
func (s *Source) session(ctx context.Context, co *correlator) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	nc, err := s.set.dial(dctx, "tcp", s.set.address)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	ss := &session{nc: nc, jobs: map[string]chan string{}}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	defer func() {
		s.mu.Lock()
		if s.cur == ss {
			s.cur = nil
		}
		s.mu.Unlock()
		ss.close()
	}()
	fr := newFrameReader(nc, s.set.maxBody)
	var f frame
	// Login: auth/request, auth, +OK accepted.
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := fr.readFrame(&f); err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	if f.contentType != ctAuthRequest {
		return fmt.Errorf("greeting is %q, not auth/request: %w", f.contentType, errFrame)
	}
	if err := writeCmd(nc, "auth "+s.set.password+"\n\n"); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if err := readReply(fr, &f); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if !strings.HasPrefix(f.replyText, "+OK") {
		return fmt.Errorf("%w (%s)", errAuth, f.replyText)
	}
	if err := writeCmd(nc, "event "+s.set.format+" "+eventList+"\n\n"); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := readReply(fr, &f); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if !strings.HasPrefix(f.replyText, "+OK") {
		return fmt.Errorf("subscribe: FreeSWITCH says %q", f.replyText)
	}

	// Resync: what is in progress now, in the order of the stream. Dial may use the
	// connection from now on; holding the write lock queues its commands behind these.
	var channels []byte
	ss.wmu.Lock()
	s.mu.Lock()
	s.cur = ss
	s.mu.Unlock()
	err = ss.sendLocked("api show channels as json\n\n", waiter{fn: func(f *frame) { channels = bytes.Clone(f.body) }})
	if err == nil {
		err = ss.sendLocked("api show calls as json\n\n", waiter{fn: func(f *frame) {
			if err := co.resyncFrom(channels, f.body); err != nil {
				s.log.Warn("resync failed", "err", err)
			}
		}})
	}
	ss.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	s.rc.Up()
	s.log.Info("connected", "address", s.set.address)

	var ev event
	probing := false
	for {
		nc.SetReadDeadline(time.Now().Add(s.set.keepalive))
		err := fr.readFrame(&f)
		if err != nil {
			if errors.Is(err, errIdle) {
				co.flushHeldBefore(time.Time{})
				if probing {
					return fmt.Errorf("keepalive: no answer for %s", 2*s.set.keepalive)
				}
				probing = true
				if err := ss.send("api status\n\n", waiter{fn: func(*frame) { probing = false }}); err != nil {
					return fmt.Errorf("keepalive: %w", err)
				}
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("FreeSWITCH closed the connection")
			}
			return fmt.Errorf("read: %w", err)
		}
		s.stats.frames.Add(1)
		probing = false
		switch f.contentType {
		case ctEventPlain, ctEventJSON:
			if err := s.event(ss, co, &f, &ev); err != nil {
				s.stats.decodeErrors.Add(1)
				return fmt.Errorf("decode event: %w", err)
			}
		case ctCommandReply, ctAPIResponse:
			w, ok := ss.popWaiter()
			if !ok {
				continue // a reply nobody waits for
			}
			if w.fn != nil {
				w.fn(&f)
			} else {
				w.ch <- reply{text: f.replyText, body: string(f.body)}
			}
		case ctDisconnect:
			return fmt.Errorf("FreeSWITCH sent a disconnect notice")
		case ctAuthRequest:
			return fmt.Errorf("unexpected auth/request: %w", errFrame)
		}
	}
}

// errIdle: no frame started within the read deadline.
var errIdle = errors.New("idle")

func writeCmd(nc net.Conn, cmd string) error {
	nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := io.WriteString(nc, cmd)
	return err
}

// readReply reads up to the next command/reply, skipping anything else.
func readReply(fr *frameReader, f *frame) error {
	for {
		if err := fr.readFrame(f); err != nil {
			return err
		}
		switch f.contentType {
		case ctCommandReply:
			return nil
		case ctDisconnect:
			return errors.New("FreeSWITCH disconnected before replying")
		}
	}
}

// event decodes one event frame and hands it to the correlator, or to a waiting Dial.
func (s *Source) event(ss *session, co *correlator, f *frame, ev *event) error {
	var err error
	if f.contentType == ctEventJSON {
		err = decodeJSON(f.body, ev)
	} else {
		err = decodePlain(f.body, ev)
	}
	if err != nil {
		return err
	}
	switch string(ev.get(fEventName)) {
	case "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP_COMPLETE":
		s.stats.events.Add(1)
		co.handle(ev)
		co.flushHeldBefore(eventTime(ev).Add(-s.heldFor))
	case "BACKGROUND_JOB":
		s.stats.events.Add(1)
		id := string(ev.get(fJobUUID))
		ss.wmu.Lock()
		ch := ss.jobs[id]
		delete(ss.jobs, id)
		ss.wmu.Unlock()
		if ch != nil {
			ch <- string(ev.get(fBody))
		}
	default:
		s.stats.skipped.Add(1)
	}
	return nil
}

func (s *Source) dialNumber(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.dials[id]
	return n, ok
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = cryptorand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Interface guards.
var (
	_ telephony.Source = (*Source)(nil)
	_ telephony.Dialer = (*Source)(nil)
	_ telephony.Stater = (*Source)(nil)
)
