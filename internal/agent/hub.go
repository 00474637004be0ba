// Package agent is the agent hub: it knows which user sits at which extension, holds every
// user's live connections, and delivers each call event to the users concerned without
// letting a slow or dead connection hold anyone else up.
package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
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
}

// A Forward takes the messages given to Send instead of the local connections: a cluster
// publishes them to every node, and each node hands what it receives to Deliver.
type Forward func(user string, msg []byte, since time.Time)

// A Hub routes messages to users' connections. It is safe for concurrent use.
type Hub struct {
	opt Options
	log *slog.Logger

	mu    sync.RWMutex
	conns map[string]map[*conn]struct{} // user → live connections
	exts  map[string][]string           // extension → users

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
	send chan outMsg
	once sync.Once
	kill chan struct{} // closed when the hub drops the connection
}

func (c *conn) drop() { c.once.Do(func() { close(c.kill) }) }

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
	return &Hub{opt: opt, log: log, conns: map[string]map[*conn]struct{}{}, exts: map[string][]string{}, done: make(chan struct{})}
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
	ws, c, err := h.accept(w, r, user, hello)
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
	ws, c, err := h.accept(w, r, user, hello)
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

func (h *Hub) accept(w http.ResponseWriter, r *http.Request, user string, hello [][]byte) (*websocket.Conn, *conn, error) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.opt.OriginPatterns})
	if err != nil {
		return nil, nil, err // Accept has answered the request
	}
	ws.SetReadLimit(64 << 10)
	c := &conn{user: user, send: make(chan outMsg, h.opt.SendBuffer+len(hello)), kill: make(chan struct{})}
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

	ping := time.NewTicker(h.opt.PingInterval)
	defer ping.Stop()
	for {
		select {
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
			wctx, wcancel := context.WithTimeout(rctx, h.opt.WriteTimeout)
			err := ws.Write(wctx, websocket.MessageText, m.b)
			wcancel()
			if err == nil && !m.since.IsZero() && h.opt.Written != nil {
				h.opt.Written(m.b, m.since)
			}
			if err != nil {
				ws.CloseNow()
				if errors.Is(err, context.DeadlineExceeded) {
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
