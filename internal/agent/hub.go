// Package agent is the agent hub: it knows which user sits at which extension, holds every
// user's live connections, and delivers each call event to the users concerned without
// letting a slow or dead connection hold anyone else up.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/call"
)

// Options tune a Hub. Every field is optional.
type Options struct {
	// SendBuffer is how many messages may wait for one connection before it counts as
	// slow and is dropped. Default 32 (a call makes 3–5 messages per agent; the buffer is
	// a good part of an idle connection's memory).
	SendBuffer int
	// WriteTimeout bounds one write to a connection. Default 5s.
	WriteTimeout time.Duration
	// PingInterval is how often idle connections are pinged to find dead ones. Default 30s.
	PingInterval time.Duration
	// OriginPatterns lists extra origins (host patterns) allowed to open the stream, such
	// as the Dynamics 365 host that embeds the agent page. The page's own host is always
	// allowed.
	OriginPatterns []string
	// Written, when set, is called after a message sent with SendSince (non-zero since)
	// has been written to a connection's socket: for the pop latency histogram.
	Written func(msg []byte, since time.Time)
	// MaxPerUser caps one user's open connections of each kind (Identity.Kind: "stream",
	// "companion"); a kind not listed, or 0, is not capped. The connection past the cap
	// is refused with 429 before the upgrade.
	MaxPerUser map[string]int
}

// An Identity says who a connection speaks for and with which credential, so that the
// hub can close it the moment access ends (CloseUser, CloseCredential) or expires.
type Identity struct {
	User string
	// Kind is "stream" (the default: agent pages) or "companion"; Options.MaxPerUser caps
	// each.
	Kind string
	// Credential names what the connection was opened with: "token:ID" or
	// "session:ID" ("" none).
	Credential string
	// Expires closes the connection at that time (a session's end); zero: never.
	Expires time.Time
}

// ErrTooMany is returned (after a 429 answer) when a user has as many connections of a
// kind as Options.MaxPerUser allows.
var ErrTooMany = errors.New("agent: too many connections")

// A Forward takes the messages given to Send instead of the local connections: a cluster
// publishes them to every node, and each node hands what it receives to Deliver.
type Forward func(user string, msg []byte, since time.Time)

// A Hub routes messages to users' connections. It is safe for concurrent use.
type Hub struct {
	opt Options
	log *slog.Logger

	mu      sync.RWMutex
	conns   map[string]map[*conn]struct{} // user → live connections
	exts    map[string][]string           // extension → users
	pending map[string]int                // user+"\x00"+kind → connections being accepted

	forward atomic.Pointer[Forward]

	connected atomic.Int64
	dropped   atomic.Int64

	done         chan struct{} // closed by Shutdown
	shutdownOnce sync.Once
}

// outMsg is a queued message and when its cause reached Ringside (zero: not measured).
type outMsg struct {
	b     []byte
	since time.Time
}

type conn struct {
	user string
	id   Identity
	send chan outMsg
	once sync.Once
	kill chan struct{} // closed when the hub drops the connection

	endOnce   sync.Once
	end       chan struct{} // closed when access ends (CloseUser, CloseCredential)
	endReason string
}

func (c *conn) drop() { c.once.Do(func() { close(c.kill) }) }

func (c *conn) close(reason string) {
	c.endOnce.Do(func() {
		c.endReason = reason
		close(c.end)
	})
}

// NewHub returns a hub with no users.
func NewHub(log *slog.Logger, opt Options) *Hub {
	if opt.SendBuffer <= 0 {
		opt.SendBuffer = 32
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 5 * time.Second
	}
	if opt.PingInterval <= 0 {
		opt.PingInterval = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{opt: opt, log: log, conns: map[string]map[*conn]struct{}{}, exts: map[string][]string{}, pending: map[string]int{}, done: make(chan struct{})}
}

// SetExtensions replaces the extension → users map.
func (h *Hub) SetExtensions(m map[string][]string) {
	cp := make(map[string][]string, len(m))
	for k, v := range m {
		cp[k] = append([]string(nil), v...)
	}
	h.mu.Lock()
	h.exts = cp
	h.mu.Unlock()
}

// UsersAt returns the users at an extension.
func (h *Hub) UsersAt(ext string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.exts[ext]
}

// Recipients returns the users an event concerns: for a leg's event, the users at that
// leg's extension (or the leg's user); for a call-level event, the users of every leg.
func (h *Hub) Recipients(ev call.Event) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []string
	add := func(l call.Leg) {
		if l.User != "" {
			out = appendUnique(out, l.User)
			return
		}
		for _, u := range h.exts[l.Extension] {
			out = appendUnique(out, u)
		}
	}
	if ev.Leg != nil {
		add(*ev.Leg)
		return out
	}
	for _, l := range ev.Call.Legs {
		add(l)
	}
	return out
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// SetForward makes Send hand every message to f instead of the local connections (nil
// restores local delivery). f must deliver the message to the users' connections on every
// node, this one included (through Deliver).
func (h *Hub) SetForward(f Forward) {
	if f == nil {
		h.forward.Store(nil)
		return
	}
	h.forward.Store(&f)
}

// Send queues msg for every connection of user and returns how many took it. A
// connection whose queue is full is dropped: it is too slow to keep up. With a forward set
// (see SetForward) it hands msg on and returns 0.
func (h *Hub) Send(user string, msg []byte) int {
	return h.SendSince(user, msg, time.Time{})
}

// SendSince is Send for a message caused by something that reached Ringside at since:
// Options.Written learns when it is written to each socket.
func (h *Hub) SendSince(user string, msg []byte, since time.Time) int {
	if f := h.forward.Load(); f != nil {
		(*f)(user, msg, since)
		return 0
	}
	return h.Deliver(user, msg, since)
}

// Deliver queues msg for the local connections of user, whatever the forward: a cluster
// calls it with the messages it receives. It returns how many connections took it.
func (h *Hub) Deliver(user string, msg []byte, since time.Time) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for c := range h.conns[user] {
		select {
		case c.send <- outMsg{b: msg, since: since}:
			n++
		default:
			h.dropped.Add(1)
			c.drop()
		}
	}
	return n
}

// Connected returns the number of live connections.
func (h *Hub) Connected() int64 { return h.connected.Load() }

// Dropped returns how many connections were dropped for being too slow.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Online reports whether user has at least one live connection.
func (h *Hub) Online(user string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns[user]) > 0
}

// CloseUser closes every connection of user (all kinds) with reason, at once: the user
// was disabled or removed. It returns how many it closed.
func (h *Hub) CloseUser(user, reason string) int {
	return h.closeWhere(user, func(*conn) bool { return true }, reason)
}

// CloseCredential closes the connections of user opened with credential (see
// Identity.Credential) with reason: a logout or a revoked token. It returns how many.
func (h *Hub) CloseCredential(user, credential, reason string) int {
	return h.closeWhere(user, func(c *conn) bool { return c.id.Credential == credential }, reason)
}

// CloseSessions closes the connections of user opened with a browser session (a new
// password ends them). It returns how many.
func (h *Hub) CloseSessions(user, reason string) int {
	return h.closeWhere(user, func(c *conn) bool { return strings.HasPrefix(c.id.Credential, "session:") }, reason)
}

func (h *Hub) closeWhere(user string, match func(*conn) bool, reason string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for c := range h.conns[user] {
		if match(c) {
			c.close(reason)
			n++
		}
	}
	return n
}

// reserve takes a connection slot of id's kind for its user, or says there is none.
func (h *Hub) reserve(id Identity) (release func(), max int, ok bool) {
	max = h.opt.MaxPerUser[id.Kind]
	if max <= 0 {
		return func() {}, 0, true
	}
	key := id.User + "\x00" + id.Kind
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.pending[key]
	for c := range h.conns[id.User] {
		if c.id.Kind == id.Kind {
			n++
		}
	}
	if n >= max {
		return nil, max, false
	}
	h.pending[key]++
	return func() {
		h.mu.Lock()
		if h.pending[key]--; h.pending[key] <= 0 {
			delete(h.pending, key)
		}
		h.mu.Unlock()
	}, max, true
}

func (h *Hub) add(c *conn) {
	h.mu.Lock()
	m := h.conns[c.user]
	if m == nil {
		m = map[*conn]struct{}{}
		h.conns[c.user] = m
	}
	m[c] = struct{}{}
	h.mu.Unlock()
	h.connected.Add(1)
}

func (h *Hub) remove(c *conn) {
	h.mu.Lock()
	if m := h.conns[c.user]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(h.conns, c.user)
		}
	}
	h.mu.Unlock()
	h.connected.Add(-1)
}

// Serve upgrades the request to a WebSocket for user and streams their messages until
// the client goes away, the hub drops it, or ctx ends (or Shutdown). hello messages are
// sent first (the greeting and the calls in progress). Messages from the client are
// handed to onMessage (nil ignores them). It returns when the connection is over.
func (h *Hub) Serve(ctx context.Context, w http.ResponseWriter, r *http.Request, user string, hello [][]byte, onMessage func([]byte)) error {
	return h.ServeAs(ctx, w, r, Identity{User: user}, hello, onMessage)
}

// ServeAs is Serve for a connection with an identity: capped per user and kind, and
// closed when its credential ends.
func (h *Hub) ServeAs(ctx context.Context, w http.ResponseWriter, r *http.Request, id Identity, hello [][]byte, onMessage func([]byte)) error {
	ws, c, err := h.accept(w, r, id, hello)
	if err != nil {
		return err
	}
	h.run(ctx, ws, c, onMessage)
	return nil
}

// Attach is Serve for connections that may stay idle for hours (agents' pages): it
// returns as soon as the connection is registered, and the connection lives on its own
// goroutine until the client goes away, the hub drops it, or Shutdown. Not holding the
// HTTP handler lets net/http free its per-request state, about a quarter of an idle
// connection's memory.
func (h *Hub) Attach(w http.ResponseWriter, r *http.Request, user string, hello [][]byte, onMessage func([]byte)) error {
	return h.AttachAs(w, r, Identity{User: user}, hello, onMessage)
}

// AttachAs is Attach for a connection with an identity: capped per user and kind, and
// closed when its credential ends.
func (h *Hub) AttachAs(w http.ResponseWriter, r *http.Request, id Identity, hello [][]byte, onMessage func([]byte)) error {
	ws, c, err := h.accept(w, r, id, hello)
	if err != nil {
		return err
	}
	// The request's context ends with the handler; the connection ends with the hub.
	ctx := context.WithoutCancel(r.Context())
	go h.run(ctx, ws, c, onMessage)
	return nil
}

// Shutdown closes every connection (with a "going away" close frame); connections
// attached later are closed at once.
func (h *Hub) Shutdown() { h.shutdownOnce.Do(func() { close(h.done) }) }

func (h *Hub) accept(w http.ResponseWriter, r *http.Request, id Identity, hello [][]byte) (*websocket.Conn, *conn, error) {
	if id.Kind == "" {
		id.Kind = "stream"
	}
	release, max, ok := h.reserve(id)
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "10")
		w.WriteHeader(http.StatusTooManyRequests)
		b, _ := json.Marshal(map[string]string{"error": fmt.Sprintf("you have %d %ss open already, the most allowed: close a tab or window of Ringside and try again", max, id.Kind)})
		w.Write(append(b, '\n'))
		return nil, nil, fmt.Errorf("%w: %s has %d %s connections", ErrTooMany, id.User, max, id.Kind)
	}
	defer release()
	// The server's read and write deadlines are for requests; a stream lives for hours
	// with its own ping and write timeouts.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.opt.OriginPatterns})
	if err != nil {
		return nil, nil, err // Accept has answered the request
	}
	ws.SetReadLimit(64 << 10)
	c := &conn{user: id.User, id: id, send: make(chan outMsg, h.opt.SendBuffer+len(hello)), kill: make(chan struct{}), end: make(chan struct{})}
	for _, m := range hello {
		c.send <- outMsg{b: m}
	}
	h.add(c)
	return ws, c, nil
}

func (h *Hub) run(ctx context.Context, ws *websocket.Conn, c *conn, onMessage func([]byte)) {
	user := c.user
	defer h.remove(c)
	// Reads run on a context of their own: cancelling a read closes the connection at
	// once, and on shutdown the close handshake must come first.
	rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer rcancel()
	gone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(gone)
		for {
			_, data, err := ws.Read(rctx)
			if err != nil {
				return
			}
			if onMessage != nil {
				onMessage(data)
			}
		}
	})
	defer wg.Wait()
	defer rcancel()

	// Writes share one context, cancelled by a timer armed for each write: a write that
	// takes longer than WriteTimeout ends the connection (a context and a timer per
	// message cost more than the write itself under load).
	wctx, wcancel := context.WithCancel(rctx)
	defer wcancel()
	late := time.AfterFunc(time.Hour, wcancel)
	late.Stop()
	defer late.Stop()

	ping := time.NewTicker(h.opt.PingInterval)
	defer ping.Stop()
	var expired <-chan time.Time
	if !c.id.Expires.IsZero() {
		t := time.NewTimer(time.Until(c.id.Expires))
		defer t.Stop()
		expired = t.C
	}
	for {
		select {
		case <-expired:
			ws.Close(websocket.StatusPolicyViolation, "session expired: log in again")
			return
		case <-c.end:
			// Access ended (logout, revoke, disable): say why, and do not wait long for the
			// client's half of the close handshake.
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			go func() { <-cctx.Done(); ws.CloseNow() }()
			ws.Close(websocket.StatusPolicyViolation, c.endReason)
			ccancel()
			return
		case <-ctx.Done():
			ws.Close(websocket.StatusGoingAway, "server shutting down")
			return
		case <-h.done:
			ws.Close(websocket.StatusGoingAway, "server shutting down")
			return
		case <-gone:
			ws.CloseNow()
			return
		case <-c.kill:
			h.log.Warn("dropping slow connection", "user", user)
			// It is not reading, so a close handshake would only wait: cut it off.
			ws.CloseNow()
			return
		case m := <-c.send:
			late.Reset(h.opt.WriteTimeout)
			err := ws.Write(wctx, websocket.MessageText, m.b)
			timedOut := !late.Stop() // it fired: the write context is cancelled
			if timedOut && err == nil {
				err = context.DeadlineExceeded // in time, just: the next write would fail
			}
			if err == nil && !m.since.IsZero() && h.opt.Written != nil {
				h.opt.Written(m.b, m.since)
			}
			if err != nil {
				ws.CloseNow()
				if timedOut {
					h.dropped.Add(1)
				}
				return
			}
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(rctx, h.opt.WriteTimeout)
			err := ws.Ping(pctx)
			pcancel()
			if err != nil {
				ws.CloseNow()
				return
			}
		}
	}
}
