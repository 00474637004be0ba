// Package companion is the desktop companion (`ringside agent`): it follows the phone on
// the agent's PC (a baresip softphone, or a TAPI line on Windows), forwards its call
// signals to the Ringside server over one authenticated WebSocket, places the calls the
// server routes to it, and shows the agent's pops as desktop notifications (opening the
// CRM record when the rules say so).
package companion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/telephony/baresip"
	"github.com/ringside/ringside/internal/telephony/reconnect"
	"github.com/ringside/ringside/internal/telephony/tapi"
)

// Phone is a local phone backend: baresip or TAPI.
type Phone interface {
	telephony.Source
	telephony.Dialer
	telephony.Stater
	Answer(ctx context.Context, callID string) error
	Hangup(ctx context.Context, callID string) error
}

// ErrUnauthorized says that the server refused the token: the companion cannot go on.
var ErrUnauthorized = errors.New("companion: the server refused the agent token")

// QueueSize bounds the signals waiting for the server while it is unreachable; beyond it
// the oldest are dropped (and logged).
const QueueSize = 1024

// staleAfter marks signals older than this when they finally reach the server as Resync:
// a call that rang while the server was unreachable must not pop minutes later.
const staleAfter = 30 * time.Second

// Companion is one running desktop companion. Build it with New; Run it once.
type Companion struct {
	s     settings
	log   *slog.Logger
	phone Phone
	desk  Desktop
	now   func() time.Time
	http  *http.Client

	queue chan call.Signal

	rc *reconnect.Loop

	mu      sync.Mutex
	session string
	user    string
	exts    []string
	opened  map[string]bool // call ids whose record was opened
	retry   *call.Signal    // written when the connection broke; sent first next time
}

// Options are the parts tests and embedders replace. Every field is optional.
type Options struct {
	// Phone replaces the backend that Config.Phone names.
	Phone Phone
	// Desktop replaces the system's notifications and URL opener.
	Desktop Desktop
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// New validates cfg and builds the phone backend. It does no I/O beyond reading
// token_file.
func New(cfg Config, log *slog.Logger, opt Options) (*Companion, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Companion{s: s, log: log, phone: opt.Phone, desk: opt.Desktop, now: opt.Now,
		queue: make(chan call.Signal, QueueSize), opened: map[string]bool{}, http: &http.Client{Timeout: 15 * time.Second}}
	if c.now == nil {
		c.now = time.Now
	}
	c.rc = reconnect.New(reconnect.Policy{}, reconnect.Options{Log: log})
	if c.desk == nil {
		c.desk = SystemDesktop{}
		if s.Notify == "off" && s.OpenRecord == "off" {
			c.desk = quietDesktop{}
		}
	}
	if c.phone == nil {
		plog := log.With("component", "phone", "phone", s.kind)
		switch s.kind {
		case "tapi":
			c.phone, err = tapi.New("tapi", s.TAPI, plog)
		default:
			c.phone, err = baresip.New("baresip", s.Baresip, plog)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Phone returns the local phone backend.
func (c *Companion) Phone() Phone { return c.phone }

// State reports the connection to the server in the words every source uses
// (telephony.Stater): connecting, up, down or failed, with why.
func (c *Companion) State() (string, string) { return c.rc.State() }

// enqueue takes the phone's signals; it never blocks the phone.
func (c *Companion) enqueue(s call.Signal) {
	if s.Time.IsZero() {
		s.Time = c.now()
	}
	for {
		select {
		case c.queue <- s:
			return
		default:
		}
		select {
		case old := <-c.queue:
			c.log.Error("server unreachable for too long: dropping a call signal", "call_id", old.CallID, "kind", old.Kind)
		default:
		}
	}
}

// Run follows the phone and keeps the server connection until ctx ends. It reconnects
// with exponential backoff and jitter; it returns an error only when it cannot go on
// (the server refuses the token, or the phone backend gives up).
func (c *Companion) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: the phone and the desktop helpers stop with ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	phoneErr := make(chan error, 1)
	wg.Go(func() {
		if err := c.phone.Run(ctx, c.enqueue); err != nil {
			phoneErr <- err
			cancel()
		}
	})

	err := c.rc.Run(ctx, func(ctx context.Context) error {
		err := c.connection(ctx, &wg)
		select {
		case perr := <-phoneErr:
			return reconnect.Fatal(perr)
		default:
		}
		if errors.Is(err, ErrUnauthorized) {
			return reconnect.Fatal(err)
		}
		return err
	})
	if err != nil {
		return err
	}
	if perr := drain(phoneErr); perr != nil {
		c.rc.Fail(perr.Error())
		return perr
	}
	return nil
}

func drain(ch chan error) error {
	select {
	case err := <-ch:
		return err
	default:
		return nil
	}
}

// connection runs one WebSocket connection to the server.
func (c *Companion) connection(ctx context.Context, wg *sync.WaitGroup) error {
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	ws, resp, err := websocket.Dial(dctx, c.s.wsURL, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + c.s.token}}})
	dcancel()
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return fmt.Errorf("%w (%s)", ErrUnauthorized, resp.Status)
		}
		return fmt.Errorf("companion: connect to %s: %w", c.s.wsURL, err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	out := make(chan any, 16) // results and status, written by the loop below
	hello := make(chan struct{})
	var once sync.Once
	readErr := make(chan error, 1)
	var cwg sync.WaitGroup
	defer cwg.Wait()
	defer cancel()
	cwg.Go(func() {
		defer cancel()
		greeted := false
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			// Messages before companion.hello are the stream's greeting: the calls in
			// progress, already notified before a reconnect.
			if c.handle(ctx, &cwg, data, out, greeted) {
				greeted = true
				once.Do(func() { close(hello) })
			}
		}
	})

	// Signals wait for the greeting: it names the extensions they must carry.
	select {
	case <-hello:
	case <-ctx.Done():
		return firstErr(readErr, ctx.Err())
	case <-time.After(15 * time.Second):
		return errors.New("companion: the server sent no greeting")
	}
	c.rc.Up()
	c.log.Info("connected to the server", "server", c.s.Server, "user", c.userName())

	lastPhone := ""
	status := time.NewTicker(5 * time.Second)
	defer status.Stop()
	sendStatus := func() error {
		st, reason := c.phone.State()
		if st+reason == lastPhone {
			return nil
		}
		lastPhone = st + reason
		return c.write(ctx, ws, Status{Type: TypeStatus, Phone: st, Reason: reason})
	}
	if err := sendStatus(); err != nil {
		return err
	}
	// A signal whose write failed on the last connection goes first: order within a call
	// is kept.
	if s, ok := c.takeRetry(); ok {
		if err := c.write(ctx, ws, c.wire(s)); err != nil {
			c.setRetry(s)
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			ws.Close(websocket.StatusNormalClosure, "bye")
			return firstErr(readErr, ctx.Err())
		case s := <-c.queue:
			if err := c.write(ctx, ws, c.wire(s)); err != nil {
				c.setRetry(s)
				return err
			}
		case m := <-out:
			if err := c.write(ctx, ws, m); err != nil {
				return err
			}
		case <-status.C:
			if err := sendStatus(); err != nil {
				return err
			}
		}
	}
}

func firstErr(ch chan error, fallback error) error {
	select {
	case err := <-ch:
		return fmt.Errorf("companion: connection: %w", err)
	default:
		return fallback
	}
}

// setRetry keeps a signal that could not be written for the next connection.
func (c *Companion) setRetry(s call.Signal) {
	c.mu.Lock()
	c.retry = &s
	c.mu.Unlock()
}

func (c *Companion) takeRetry() (call.Signal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.retry == nil {
		return call.Signal{}, false
	}
	s := *c.retry
	c.retry = nil
	return s, true
}

func (c *Companion) write(ctx context.Context, ws *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ws.Write(wctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("companion: write: %w", err)
	}
	return nil
}

func (c *Companion) userName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user
}

// wire prepares a phone signal for the server: the leg's extension becomes one of the
// user's (the local phone is the agent's phone, whatever its own account says), and a
// signal that waited too long is marked Resync.
func (c *Companion) wire(s call.Signal) Signal {
	c.mu.Lock()
	exts, user := c.exts, c.user
	c.mu.Unlock()
	if s.Extension != "" && !slices.Contains(exts, s.Extension) {
		if len(exts) > 0 {
			s.Extension = exts[0]
		} else {
			s.Extension = "user:" + user
		}
	}
	if c.now().Sub(s.Time) > staleAfter {
		s.Resync = true
	}
	return SignalOf(s)
}

// handle takes one message from the server; it reports whether it was the greeting.
func (c *Companion) handle(ctx context.Context, wg *sync.WaitGroup, data []byte, out chan<- any, greeted bool) bool {
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(data, &head) != nil {
		return false
	}
	switch head.Type {
	case TypeHello:
		var h Hello
		if json.Unmarshal(data, &h) == nil {
			c.mu.Lock()
			c.session, c.user, c.exts = h.Session, h.User, h.Extensions
			c.mu.Unlock()
			return true
		}
	case TypeDial, TypeAnswer, TypeHangup:
		var r Request
		if json.Unmarshal(data, &r) != nil {
			return false
		}
		c.mu.Lock()
		mine := r.Session == c.session
		c.mu.Unlock()
		if !mine {
			return false // another companion of the same user acts
		}
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var err error
			switch r.Type {
			case TypeDial:
				c.log.Debug("dialing for the server", "number", r.Number)
				err = c.phone.Dial(rctx, r.Extension, r.Number)
			case TypeAnswer:
				err = c.phone.Answer(rctx, r.CallID)
			case TypeHangup:
				err = c.phone.Hangup(rctx, r.CallID)
			}
			res := Result{Type: TypeResult, ID: r.ID}
			if err != nil {
				res.Error = err.Error()
				c.log.Warn("request from the server failed", "request", r.Type, "err", err)
			}
			select {
			case out <- res:
			case <-ctx.Done():
			}
		})
	default:
		if greeted && strings.HasPrefix(head.Type, "call.") {
			var p Pop
			if json.Unmarshal(data, &p) == nil {
				c.pop(ctx, wg, p)
			}
		}
	}
	return false
}

// pop shows what the rules ask for: notifications and opening the record.
func (c *Companion) pop(ctx context.Context, wg *sync.WaitGroup, p Pop) {
	if p.Resync || p.Call == nil {
		return
	}
	var notes [][2]string
	var open []string
	explicitNotify := false
	for _, a := range p.Actions {
		switch a.Do {
		case "notify":
			explicitNotify = true
			notes = append(notes, [2]string{a.Title, a.Text})
		case "open_record":
			// The rule says where the record opens: in the browser page (the default),
			// the CRM panel, or here.
			if c.s.OpenRecord != "off" && a.URL != "" && a.Target == "companion" {
				open = append(open, c.absolute(a.URL))
			}
		}
	}
	if p.Type == string(call.EvRinging) && !explicitNotify {
		who := p.Call.Remote.Name
		if who == "" {
			who = p.Call.Remote.Raw
		}
		if p.Call.Remote.Withheld || who == "" {
			who = "a withheld number"
		}
		body := p.Call.Remote.Raw
		if len(p.Matches) > 0 {
			m := p.Matches[0]
			body = strings.TrimSpace(m.Name + " · " + m.Company + " · " + p.Call.Remote.Raw)
			body = strings.Trim(strings.ReplaceAll(body, " ·  · ", " · "), " ·")
			if c.s.OpenRecord == "ringing" && m.URL != "" && len(open) == 0 {
				open = append(open, c.absolute(m.URL))
			}
		}
		notes = append(notes, [2]string{"Call from " + who, body})
	}
	if c.s.Notify == "off" {
		notes = nil
	}
	c.mu.Lock()
	if len(open) > 0 {
		if c.opened[p.Call.ID] {
			open = nil
		} else {
			if len(c.opened) > 1000 {
				clear(c.opened)
			}
			c.opened[p.Call.ID] = true
		}
	}
	c.mu.Unlock()
	for _, n := range notes {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := c.desk.Notify(dctx, n[0], n[1]); err != nil && !errors.Is(err, errNoDesktop) {
				c.log.Warn("desktop notification failed", "err", err)
			}
		})
	}
	for _, u := range open[:min(len(open), 1)] {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := c.desk.Open(dctx, u); err != nil && !errors.Is(err, errNoDesktop) {
				c.log.Warn("opening the record failed", "err", err)
			}
		})
	}
}

// absolute resolves a URL of the server's (the built-in directory's records are
// relative: /crm/contact/1) against the server's address.
func (c *Companion) absolute(u string) string {
	base, err := url.Parse(c.s.Server)
	if err != nil {
		return u
	}
	ref, err := url.Parse(u)
	if err != nil {
		return u
	}
	return base.ResolveReference(ref).String()
}

// Check tells the user whether the setup works: the server accepts the token, and the
// phone answers (`ringside agent --check`).
func (c *Companion) Check(ctx context.Context, w io.Writer) error {
	var errs []error
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.s.apiURL+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+c.s.token)
	resp, err := c.http.Do(req)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("server %s: %w", c.s.Server, err))
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		errs = append(errs, fmt.Errorf("server %s: %s (is the token an agent token from `ringside tokens create --user NAME`?)", c.s.Server, resp.Status))
	default:
		var me struct {
			User struct {
				Name       string   `json:"name"`
				Extensions []string `json:"extensions"`
			} `json:"user"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&me)
		resp.Body.Close()
		fmt.Fprintf(w, "server    ok: %s as %s, extensions %v\n", c.s.Server, me.User.Name, me.User.Extensions)
	}
	if ch, ok := c.phone.(interface {
		Check(ctx context.Context) (string, error)
	}); ok {
		text, err := ch.Check(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("phone (%s): %w", c.s.kind, err))
		} else {
			fmt.Fprintf(w, "phone     ok: %s: %s\n", c.s.kind, strings.ReplaceAll(strings.TrimSpace(text), "\n", "\n          "))
		}
	}
	return errors.Join(errs...)
}
