// Package ami follows the calls of an Asterisk through its Manager Interface and places
// click-to-dial calls with Originate.
package ami

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/telephony/reconnect"
)

// ErrLogin says that Asterisk refused the credentials: Run stops with it.
var ErrLogin = errors.New("ami: login refused")

// Source is one Asterisk manager connection: a telephony.Source and a telephony.Dialer.
type Source struct {
	name string
	s    settings
	log  *slog.Logger

	dialTimeout time.Duration  // TCP connect and login
	tlsRoots    *x509.CertPool // nil: the system's (tests set their own)
	rc          *reconnect.Loop

	mu  sync.Mutex
	cur *session

	seq atomic.Uint64
}

// New validates cfg and returns a source named name. It does no I/O other than reading
// secret_file.
func New(name string, cfg Config, log *slog.Logger) (*Source, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = "ami"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src := &Source{name: name, s: s, log: log, dialTimeout: 10 * time.Second}
	src.rc = reconnect.New(reconnect.Policy{}, reconnect.Options{Log: log})
	return src, nil
}

// State reports the connection in the words every source uses (telephony.Stater).
func (src *Source) State() (string, string) { return src.rc.State() }

// Run connects, follows the calls and reconnects after faults until ctx ends (then it
// returns nil). It returns an error only when Asterisk refuses the login.
func (src *Source) Run(ctx context.Context, emit func(call.Signal)) error {
	corr := newCorrelator(&src.s, src.name, emit)
	return src.rc.Run(ctx, func(ctx context.Context) error {
		err := src.session(ctx, corr)
		if errors.Is(err, ErrLogin) {
			return reconnect.Fatal(err)
		}
		return err
	})
}

// Check logs in once, asks for the channel list (the right the resynchronisation needs)
// and logs off: `ringside config check --connect`.
func (src *Source) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, src.dialTimeout)
	defer cancel()
	conn, dec, err := src.connect(ctx, "off")
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, "Action: CoreShowChannels\r\nActionID: check-channels\r\n\r\n"); err != nil {
		return fmt.Errorf("ami: check %s: %w", src.s.Address, err)
	}
	m, err := awaitResponse(dec, "check-channels")
	if err != nil {
		return fmt.Errorf("ami: check %s: %w", src.s.Address, err)
	}
	if string(m.Response()) != "Success" {
		return fmt.Errorf("ami: CoreShowChannels: %s (the AMI user needs write=reporting)", clean(m.Get("Message"), 200))
	}
	_, _ = io.WriteString(conn, "Action: Logoff\r\nActionID: check-logoff\r\n\r\n")
	return nil
}

// Replay reads an AMI byte stream to its end (a capture, or a connection once logged in)
// and passes the signals it describes to emit, as Run would. It returns the number of
// events read, and nil at the end of the stream.
func (src *Source) Replay(r io.Reader, emit func(call.Signal)) (int, error) {
	corr := newCorrelator(&src.s, src.name, emit)
	dec := NewDecoder(r, src.s.MaxLineBytes, src.s.MaxFrameBytes)
	n := 0
	for {
		m, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("ami: replay: %w", err)
		}
		if m.Event() != nil {
			n++
		}
		corr.handle(m)
	}
}

// reply is what a waiter learns from an action's response.
type reply struct {
	response, message, timestamp, eventList string
}

// session is one connection's write side and the actions waiting for an answer.
type session struct {
	conn net.Conn
	wmu  sync.Mutex

	mu      sync.Mutex
	pending map[string]chan reply // ActionID → response waiter
	dials   map[string]*dialWait  // Originate ActionID → the call it places
	lastIn  atomic.Int64          // unix nanos of the last byte read
}

func (ss *session) send(action string) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	_ = ss.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := io.WriteString(ss.conn, action)
	return err
}

// request sends an action and returns the channel its response arrives on.
func (ss *session) request(id, action string) (chan reply, error) {
	ch := make(chan reply, 1)
	ss.mu.Lock()
	ss.pending[id] = ch
	ss.mu.Unlock()
	if err := ss.send(action); err != nil {
		ss.forget(id)
		return nil, err
	}
	return ch, nil
}

func (ss *session) forget(id string) {
	ss.mu.Lock()
	delete(ss.pending, id)
	ss.mu.Unlock()
}

// connect dials, reads the banner and logs in.
func (src *Source) connect(ctx context.Context, events string) (net.Conn, *Decoder, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", src.s.Address)
	if err != nil {
		return nil, nil, fmt.Errorf("ami: connect to %s: %w", src.s.Address, err)
	}
	if src.s.TLS == "on" {
		host, _, _ := net.SplitHostPort(src.s.Address)
		tc := tls.Client(conn, &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: src.tlsRoots})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("ami: tls handshake with %s: %w", src.s.Address, err)
		}
		conn = tc
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(src.dialTimeout))
	}
	dec := NewDecoder(conn, src.s.MaxLineBytes, src.s.MaxFrameBytes)
	if err := src.login(conn, dec, events); err != nil {
		conn.Close()
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, dec, nil
}

// awaitResponse reads until the response to id (events before it are not expected
// before login; they are skipped).
func awaitResponse(dec *Decoder, id string) (*Message, error) {
	for {
		m, err := dec.Next()
		if err != nil {
			return nil, err
		}
		if m.Response() != nil && string(m.Bytes("ActionID")) == id {
			return m, nil
		}
	}
}

func (src *Source) login(conn net.Conn, dec *Decoder, events string) error {
	w := bufio.NewWriter(conn)
	user := src.s.Username
	var login string
	if src.s.Auth == "md5" {
		fmt.Fprintf(w, "Action: Challenge\r\nActionID: login-challenge\r\nAuthType: MD5\r\n\r\n")
		if err := w.Flush(); err != nil {
			return fmt.Errorf("ami: login to %s: %w", src.s.Address, err)
		}
		m, err := awaitResponse(dec, "login-challenge")
		if err != nil {
			return fmt.Errorf("ami: login to %s: %w", src.s.Address, err)
		}
		if string(m.Response()) != "Success" {
			return fmt.Errorf("%w: %s does not offer an MD5 challenge (%s); set auth: plain", ErrLogin, src.s.Address, clean(m.Get("Message"), 200))
		}
		sum := md5.Sum([]byte(m.Get("Challenge") + src.s.secret))
		login = fmt.Sprintf("Action: Login\r\nActionID: login\r\nAuthType: MD5\r\nUsername: %s\r\nKey: %s\r\nEvents: %s\r\n\r\n", user, hex.EncodeToString(sum[:]), events)
	} else {
		login = fmt.Sprintf("Action: Login\r\nActionID: login\r\nUsername: %s\r\nSecret: %s\r\nEvents: %s\r\n\r\n", user, src.s.secret, events)
	}
	if _, err := io.WriteString(w, login); err != nil {
		return fmt.Errorf("ami: login to %s: %w", src.s.Address, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("ami: login to %s: %w", src.s.Address, err)
	}
	m, err := awaitResponse(dec, "login")
	if err != nil {
		return fmt.Errorf("ami: login to %s: %w", src.s.Address, err)
	}
	if string(m.Response()) != "Success" {
		return fmt.Errorf("%w: %s as %q: %s (check username and secret in manager.conf)", ErrLogin, src.s.Address, user, clean(m.Get("Message"), 200))
	}
	if dec.Banner() != "" && !strings.HasPrefix(dec.Banner(), "Asterisk Call Manager/") {
		src.log.Warn("unexpected banner", "banner", clean(dec.Banner(), 100))
	}
	return nil
}

// session runs one connection until it fails or ctx ends.
func (src *Source) session(ctx context.Context, corr *correlator) error {
	cctx, cancel := context.WithTimeout(ctx, src.dialTimeout)
	conn, dec, err := src.connect(cctx, src.s.Events)
	cancel()
	if err != nil {
		return err
	}
	ss := &session{conn: conn, pending: map[string]chan reply{}, dials: map[string]*dialWait{}}
	ss.lastIn.Store(time.Now().UnixNano())
	src.log.Info("connected", "address", src.s.Address)
	src.rc.Up()
	src.mu.Lock()
	src.cur = ss
	src.mu.Unlock()

	done := make(chan struct{})
	var wg sync.WaitGroup
	var why atomic.Value // string: why the helper closed the connection
	wg.Go(func() {
		t := time.NewTicker(src.s.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				conn.Close()
				return
			case <-done:
				return
			case <-t.C:
				if time.Since(time.Unix(0, ss.lastIn.Load())) > 2*src.s.PingInterval {
					why.Store("no answer to Ping")
					conn.Close()
					return
				}
				id := "ping-" + strconv.FormatUint(src.seq.Add(1), 10)
				if err := ss.send("Action: Ping\r\nActionID: " + id + "\r\n\r\n"); err != nil {
					conn.Close()
					return
				}
			}
		}
	})
	defer func() {
		close(done)
		conn.Close()
		wg.Wait()
		src.mu.Lock()
		if src.cur == ss {
			src.cur = nil
		}
		src.mu.Unlock()
		ss.failAll()
	}()

	corr.pbxNow = time.Time{}
	corr.hook = ss.watch
	defer func() { corr.hook = nil }()
	// Read the PBX clock, then resynchronise: Asterisk answers in order.
	n := strconv.FormatUint(src.seq.Add(1), 10)
	pingID, resyncID := "sync-ping-"+n, "resync-"+n
	corr.beginResync()
	if err := ss.send("Action: Ping\r\nActionID: " + pingID + "\r\n\r\nAction: CoreShowChannels\r\nActionID: " + resyncID + "\r\n\r\n"); err != nil {
		return fmt.Errorf("ami: resynchronise: %w", err)
	}
	for {
		m, err := dec.Next()
		if err != nil {
			if w, ok := why.Load().(string); ok {
				return fmt.Errorf("ami: %s: connection reset (%s)", src.s.Address, w)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("ami: read from %s: %w", src.s.Address, err)
		}
		ss.lastIn.Store(time.Now().UnixNano())
		if m.Event() == nil {
			resp := m.Response()
			if resp == nil {
				continue
			}
			id := string(m.Bytes("ActionID"))
			switch id {
			case pingID:
				corr.pbxNow = ts(m)
				continue
			case resyncID:
				if string(resp) != "Success" {
					msg := clean(m.Get("Message"), 200)
					src.log.Warn("cannot resynchronise calls", "err", "ami: CoreShowChannels: "+msg+" (the AMI user needs write=reporting)")
					corr.abortResync()
				}
				continue
			}
			ss.respond(id, reply{response: string(resp), message: m.Get("Message"), timestamp: m.Get("Timestamp"), eventList: m.Get("EventList")})
			continue
		}
		if string(m.Event()) == "OriginateResponse" {
			ss.originateResponse(m)
		}
		corr.handle(m)
	}
}

func (ss *session) respond(id string, r reply) {
	ss.mu.Lock()
	ch := ss.pending[id]
	delete(ss.pending, id)
	ss.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// failAll wakes every waiter of a connection that is gone.
func (ss *session) failAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, ch := range ss.pending {
		close(ch)
		delete(ss.pending, id)
	}
	for id, dw := range ss.dials {
		dw.finish("", "")
		delete(ss.dials, id)
	}
}

var (
	_ telephony.Source = (*Source)(nil)
	_ telephony.Dialer = (*Source)(nil)
	_ telephony.Stater = (*Source)(nil)
)
