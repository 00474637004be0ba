package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ringside/ringside/internal/agent"
	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/companion"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/web"
)

// Limits on what one user's companions may do: companions are untrusted (an agent token
// can speak only for its own extensions, and only so fast). They count per user, over all
// of the user's companion connections (web.max_companions_per_user caps those).
const (
	companionMaxOpenCalls  = 32               // calls of one user that have not ended
	companionMaxPerSecond  = 50               // signals per second and user
	companionRequestWait   = 20 * time.Second // dial/answer/hangup wait for the phone's answer
	companionMaxSkew       = 24 * time.Hour   // signal times further off become now
	companionMaxCallIDSize = 200
)

// companions is the server side of the desktop companion protocol: the connected
// companions per user and their pending requests.
type companions struct {
	s   *Server
	log *slog.Logger

	mu      sync.Mutex
	conns   map[string][]*companionConn // user → connections, newest last
	limits  map[string]*companionLimits // user → what their companions did (while connected)
	pending map[string]*companionReq    // request id → request
	seq     uint64
}

type companionConn struct {
	id   string
	user string
	lim  *companionLimits
}

// companionLimits are one user's counts, shared by all their companion connections.
type companionLimits struct {
	mu     sync.Mutex
	open   map[string]bool // call ids that have not ended
	window time.Time
	count  int
}

type companionReq struct {
	session string
	done    chan string
}

func newCompanions(s *Server) *companions {
	return &companions{s: s, log: s.log.With("component", "companion"), conns: map[string][]*companionConn{}, limits: map[string]*companionLimits{}, pending: map[string]*companionReq{}}
}

// Serve runs one companion connection (web.Companion).
func (cs *companions) Serve(rw http.ResponseWriter, r *http.Request, u store.User, id agent.Identity) {
	c := &companionConn{id: randomID() + randomID(), user: u.Name}
	cs.mu.Lock()
	if cs.limits[u.Name] == nil {
		cs.limits[u.Name] = &companionLimits{open: map[string]bool{}}
	}
	c.lim = cs.limits[u.Name]
	cs.conns[u.Name] = append(cs.conns[u.Name], c)
	cs.mu.Unlock()
	defer cs.drop(c)

	hello := cs.s.hello(u.Name)
	greet, _ := json.Marshal(companion.Hello{Type: companion.TypeHello, Session: c.id, User: u.Name, Extensions: cs.extensions(u.Name)})
	hello = append(hello, greet)
	cs.log.Info("companion connected", "user", u.Name)
	err := cs.s.hub.ServeAs(r.Context(), rw, r, id, hello, func(b []byte) { cs.message(c, b) })
	if err != nil {
		cs.log.Debug("companion connection not opened", "user", u.Name, "err", err)
		return
	}
	cs.log.Info("companion disconnected", "user", u.Name)
}

func (cs *companions) drop(c *companionConn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.conns[c.user] = slices.DeleteFunc(cs.conns[c.user], func(x *companionConn) bool { return x == c })
	if len(cs.conns[c.user]) == 0 {
		delete(cs.conns, c.user)
		delete(cs.limits, c.user)
	}
	for id, p := range cs.pending {
		if p.session == c.id {
			p.done <- "the companion disconnected"
			delete(cs.pending, id)
		}
	}
}

// extensions returns the user's current extensions (the store may have changed them
// since the token was checked).
func (cs *companions) extensions(user string) []string {
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	return append([]string{}, cs.s.users[user].Extensions...)
}

// message takes one message from a companion.
func (cs *companions) message(c *companionConn, b []byte) {
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(b, &head) != nil {
		cs.log.Warn("companion message refused", "user", c.user, "err", "not a JSON object")
		return
	}
	switch head.Type {
	case companion.TypeSignal:
		var m companion.Signal
		if err := json.Unmarshal(b, &m); err != nil {
			cs.log.Warn("companion signal refused", "user", c.user, "err", err)
			return
		}
		sig, err := cs.signal(c, m, time.Now())
		if err != nil {
			cs.log.Warn("companion signal refused", "user", c.user, "err", err)
			return
		}
		cs.s.pipe.Emit(sig)
	case companion.TypeResult:
		var m companion.Result
		if json.Unmarshal(b, &m) != nil {
			return
		}
		cs.mu.Lock()
		p := cs.pending[m.ID]
		if p != nil && p.session == c.id {
			delete(cs.pending, m.ID)
			p.done <- strings.ToValidUTF8(m.Error, "?")
		}
		cs.mu.Unlock()
	case companion.TypeStatus:
		var m companion.Status
		if json.Unmarshal(b, &m) == nil {
			cs.log.Info("companion phone", "user", c.user, "state", m.Phone, "reason", m.Reason)
		}
	default:
		cs.log.Debug("companion message ignored", "user", c.user, "type", head.Type)
	}
}

// signal builds the call signal of a companion message, or says why it is refused.
func (cs *companions) signal(c *companionConn, m companion.Signal, now time.Time) (call.Signal, error) {
	c.lim.mu.Lock()
	defer c.lim.mu.Unlock()
	lim := c.lim
	if now.Sub(lim.window) >= time.Second {
		lim.window, lim.count = now, 0
	}
	lim.count++
	if lim.count > companionMaxPerSecond {
		return call.Signal{}, fmt.Errorf("more than %d signals a second", companionMaxPerSecond)
	}
	switch m.Kind {
	case call.SigRinging, call.SigDialing, call.SigAnswered, call.SigEnded:
	default:
		return call.Signal{}, fmt.Errorf("kind %q is not accepted from a companion", m.Kind)
	}
	if m.CallID == "" || len(m.CallID) > companionMaxCallIDSize || !utf8.ValidString(m.CallID) ||
		strings.ContainsFunc(m.CallID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return call.Signal{}, errors.New("call_id must be 1 to 200 printable characters")
	}
	switch m.Direction {
	case call.Unknown, call.Inbound, call.Outbound, call.Internal:
	default:
		return call.Signal{}, fmt.Errorf("direction %q is not inbound, outbound or internal", m.Direction)
	}
	exts := cs.extensions(c.user)
	ext := m.Extension
	switch {
	case ext == "" && m.Kind == call.SigEnded:
		// the whole call ended
	case ext == "":
		return call.Signal{}, errors.New("extension is required")
	case slices.Contains(exts, ext):
	case len(exts) == 0 && ext == "user:"+c.user:
	default:
		return call.Signal{}, fmt.Errorf("extension %q is not one of the user's %v", ext, exts)
	}
	if !lim.open[m.CallID] {
		if m.Kind == call.SigEnded && ext == "" {
			// the end of a call this user never reported: harmless, pass it on
		} else if len(lim.open) >= companionMaxOpenCalls {
			return call.Signal{}, fmt.Errorf("more than %d calls in progress", companionMaxOpenCalls)
		} else {
			lim.open[m.CallID] = true
		}
	}
	if m.Kind == call.SigEnded && ext == "" {
		delete(lim.open, m.CallID)
	}
	at := m.Time
	if at.IsZero() || at.Sub(now) > companionMaxSkew || now.Sub(at) > companionMaxSkew {
		at = now
	}
	cause := m.Cause
	if len(cause) > 32 || strings.Trim(cause, "abcdefghijklmnopqrstuvwxyz_") != "" {
		cause = ""
	}
	return call.Signal{
		Source:    "companion:" + c.user,
		CallID:    c.user + ":" + m.CallID, // the user's namespace: a companion cannot touch other calls
		Kind:      m.Kind,
		Direction: m.Direction,
		Extension: ext,
		User:      c.user,
		Remote:    call.Party{Number: clip(m.Remote.Number, 128), Name: clip(m.Remote.Name, 256)},
		Cause:     cause,
		Time:      at,
		Resync:    m.Resync,
	}, nil
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// newest returns the user's most recent companion connection.
func (cs *companions) newest(user string) *companionConn {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if l := cs.conns[user]; len(l) > 0 {
		return l[len(l)-1]
	}
	return nil
}

// request sends a request to the user's newest companion and waits for its result.
func (cs *companions) request(ctx context.Context, u store.User, r companion.Request) error {
	c := cs.newest(u.Name)
	if c == nil {
		return web.ErrNoCompanion
	}
	cs.mu.Lock()
	cs.seq++
	r.ID = "r" + strconv.FormatUint(cs.seq, 10) + "-" + randomID()
	r.Session = c.id
	p := &companionReq{session: c.id, done: make(chan string, 1)}
	cs.pending[r.ID] = p
	cs.mu.Unlock()
	forget := func() {
		cs.mu.Lock()
		delete(cs.pending, r.ID)
		cs.mu.Unlock()
	}
	b, _ := json.Marshal(r)
	if cs.s.hub.Send(u.Name, b) == 0 {
		forget()
		return web.ErrNoCompanion
	}
	t := time.NewTimer(companionRequestWait)
	defer t.Stop()
	select {
	case res := <-p.done:
		if res != "" {
			return fmt.Errorf("companion: the phone refused: %s", res)
		}
		return nil
	case <-t.C:
		forget()
		return fmt.Errorf("companion: no answer from the phone within %s", companionRequestWait)
	case <-ctx.Done():
		forget()
		return ctx.Err()
	}
}

// dial routes click-to-dial to the user's companion; ok is false when none is
// connected.
func (cs *companions) dial(ctx context.Context, u store.User, number string) (ok bool, err error) {
	if cs == nil || cs.newest(u.Name) == nil {
		return false, nil
	}
	ext := ""
	if len(u.Extensions) > 0 {
		ext = u.Extensions[0]
	}
	return true, cs.request(ctx, u, companion.Request{Type: companion.TypeDial, Number: number, Extension: ext})
}

// Control answers or hangs up on the user's companion (web.Companion).
func (cs *companions) Control(ctx context.Context, u store.User, action, callID string) error {
	typ := companion.TypeAnswer
	if action == "hangup" {
		typ = companion.TypeHangup
	}
	if callID != "" {
		// Stream messages carry Ringside's call id; the companion knows the call by its
		// phone's id, which the server keeps as the pbx id "user:phone-id".
		pbx := ""
		for _, c := range cs.s.pipe.ActiveCalls() {
			if c.ID == callID && c.Source == "companion:"+u.Name {
				pbx = c.PbxID
				break
			}
		}
		id, ok := strings.CutPrefix(pbx, u.Name+":")
		if !ok {
			return fmt.Errorf("call %q is not a call in progress on your companion", callID)
		}
		callID = id
	}
	return cs.request(ctx, u, companion.Request{Type: typ, CallID: callID})
}

var _ web.Companion = (*companions)(nil)
