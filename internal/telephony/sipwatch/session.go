package sipwatch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/telephony/reconnect"
)

// errGone says that the server no longer knows a subscription (481).
var errGone = errors.New("the server no longer knows the subscription (481)")

// session is one run of the SIP user agent: a listener for NOTIFYs, a client for
// SUBSCRIBE and OPTIONS, and one subscription per extension.
type session struct {
	s         *Source
	emit      func(call.Signal)
	client    *sipgo.Client
	contact   sip.Uri
	transport string // UDP, TCP, TLS
	dest      string // host:port of the server
	limiter   *pacer
	wake      chan struct{}

	mu        sync.Mutex
	subs      map[string]*subscription // by Call-ID
	active    map[string]bool          // extensions with an active subscription
	probeDown bool
	lastErr   string // why the last subscription failed
}

// subscription is the dialog of one SUBSCRIBE (RFC 6665) for one extension.
type subscription struct {
	ext     string
	callID  string
	fromTag string
	events  chan subEvent

	mu     sync.Mutex
	toTag  string
	target sip.Uri // remote target for refreshes
	cseq   uint32
}

type subEvent struct {
	refresh    bool   // refresh soon (a NOTIFY was refused, a version gap, the server is back)
	terminated string // the server ended the subscription, with this reason
	retryAfter time.Duration
}

func (sb *subscription) send(ev subEvent) {
	select {
	case sb.events <- ev:
	default: // a refresh or an end is already pending: that is enough
	}
}

// session runs until ctx ends or a subscription meets an error that stops the source.
func (s *Source) session(parent context.Context, emit func(call.Signal)) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	listen := s.cfg.Listen
	if listen == "" {
		ip, err := localIP(ctx, s.cfg.Server)
		if err != nil {
			return fmt.Errorf("sipwatch: find the local address that reaches %s: %w", s.cfg.Server, err)
		}
		listen = net.JoinHostPort(ip, "0")
	}
	transport := strings.ToUpper(s.cfg.Transport)
	// sipgo logs protocol traffic, whole messages with callers' numbers included, some at
	// Error: all of it is Debug here.
	sipLog := slog.New(debugHandler{s.log.Handler()})
	uaOpts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent("ringside"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {}),
		),
	}
	if transport == "TLS" {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(&tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}))
	}
	ua, err := sipgo.NewUA(uaOpts...)
	if err != nil {
		return fmt.Errorf("sipwatch: user agent: %w", err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		return fmt.Errorf("sipwatch: server: %w", err)
	}

	sess := &session{
		s: s, emit: emit, transport: transport, dest: s.cfg.Server,
		limiter: newPacer(s.cfg.SubscribeRate),
		wake:    make(chan struct{}, 1),
		subs:    map[string]*subscription{},
		active:  map[string]bool{},
	}
	srv.OnNotify(sess.onNotify)

	// The listener goroutines end when their listener closes: close, then wait.
	var wg sync.WaitGroup
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
		wg.Wait()
	}()
	var laddr string
	switch transport {
	case "UDP":
		pc, err := net.ListenPacket("udp", listen)
		if err != nil {
			return fmt.Errorf("sipwatch: listen: %w", err)
		}
		closers = append(closers, pc.Close)
		laddr = pc.LocalAddr().String()
		wg.Go(func() { _ = srv.ServeUDP(pc) })
		// Requests must leave from this socket; it is usable once the transport has it.
		if err := waitListener(ctx, ua, laddr); err != nil {
			return err
		}
	case "TCP":
		l, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("sipwatch: listen: %w", err)
		}
		closers = append(closers, l.Close)
		laddr = l.Addr().String()
		wg.Go(func() { _ = srv.ServeTCP(l) })
	default:
		// TLS: NOTIFYs come back on the connection the SUBSCRIBE opened.
		laddr = listen
	}
	lhost, lportStr, _ := net.SplitHostPort(laddr)
	lport, _ := strconv.Atoi(lportStr)
	sess.contact = sip.Uri{Scheme: "sip", User: s.cfg.Username, Host: lhost, Port: lport}
	if transport != "UDP" {
		sess.contact.UriParams = sip.NewParams()
		sess.contact.UriParams.Add("transport", strings.ToLower(transport))
	}
	clientOpts := []sipgo.ClientOption{sipgo.WithClientLogger(sipLog), sipgo.WithClientHostname(lhost)}
	if transport == "UDP" {
		// Send from the listening socket: the server answers and notifies one address.
		clientOpts = append(clientOpts, sipgo.WithClientConnectionAddr(laddr), sipgo.WithClientPort(lport))
	}
	sess.client, err = sipgo.NewClient(ua, clientOpts...)
	if err != nil {
		return fmt.Errorf("sipwatch: client: %w", err)
	}
	if transport == "TLS" {
		// No listener (it would need a certificate): open the connection with an OPTIONS
		// and put its local address in Contact, so that the server sends the NOTIFYs back
		// over it (servers look connections up by address).
		if err := sess.options(ctx, requestTimeout); err != nil {
			return fmt.Errorf("sipwatch: tls connection to %s: %w", s.cfg.Server, err)
		}
		raddr, err := net.ResolveTCPAddr("tcp", s.cfg.Server)
		if err != nil {
			return fmt.Errorf("sipwatch: resolve %s: %w", s.cfg.Server, err)
		}
		c, err := ua.TransportLayer().GetConnection("tls", raddr.String())
		if err != nil {
			return fmt.Errorf("sipwatch: tls connection to %s: %w", s.cfg.Server, err)
		}
		h, p, _ := net.SplitHostPort(c.LocalAddr().String())
		sess.contact.Host = h
		sess.contact.Port, _ = strconv.Atoi(p)
	}
	s.log.Info("watching", "server", s.cfg.Server, "transport", s.cfg.Transport, "contact", sess.contact.String(), "extensions", len(s.cfg.Extensions))

	// The first state of every extension in this session ends with the resync mark.
	s.bmu.Lock()
	s.book.startResync()
	s.bmu.Unlock()
	fatal := make(chan error, 1)
	var tasks sync.WaitGroup
	tasks.Go(func() { sess.dueLoop(ctx) })
	if s.cfg.Keepalive > 0 {
		tasks.Go(func() { sess.keepalive(ctx) })
	}
	for _, ext := range s.cfg.Extensions {
		tasks.Go(func() {
			if err := sess.watch(ctx, ext); err != nil {
				select {
				case fatal <- err:
				default:
				}
				cancel()
			}
		})
	}
	<-ctx.Done()
	tasks.Wait()
	select {
	case err := <-fatal:
		return err
	default:
	}
	return parent.Err()
}

// waitListener waits until sipgo's UDP transport holds the listening socket laddr.
func waitListener(ctx context.Context, ua *sipgo.UserAgent, laddr string) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		if c, err := ua.TransportLayer().GetConnection("udp", laddr); err == nil && c != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("sipwatch: listener %s not ready", laddr)
		case <-t.C:
		}
	}
}

// localIP returns the local address the system would use to reach server (no packet is
// sent: a UDP "connection" only picks a route).
func localIP(ctx context.Context, server string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", server)
	if err != nil {
		return "", err
	}
	defer c.Close()
	host, _, err := net.SplitHostPort(c.LocalAddr().String())
	return host, err
}

// watch keeps ext subscribed until ctx ends. It returns an error only when the source
// cannot go on.
func (sess *session) watch(ctx context.Context, ext string) error {
	s := sess.s
	for attempt := 0; ; {
		if err := sess.limiter.wait(ctx); err != nil {
			return nil
		}
		sb := &subscription{
			ext:     ext,
			callID:  sip.GenerateTagN(24) + "@ringside",
			fromTag: sip.GenerateTagN(16),
			events:  make(chan subEvent, 1),
			target:  sip.Uri{Scheme: "sip", User: ext, Host: s.cfg.Domain},
			cseq:    1,
		}
		sess.register(sb)
		s.bmu.Lock()
		s.book.subscribed(ext)
		s.bmu.Unlock()
		granted, err := sess.subscribe(ctx, sb)
		if err == nil {
			attempt = 0
			sess.setActive(ext, true)
			s.log.Debug("subscribed", "extension", ext, "expires", granted)
			var ev subEvent
			ev, err = sess.maintain(ctx, sb, granted)
			sess.setActive(ext, false)
			if err == nil && ev.terminated != "" {
				err = fmt.Errorf("sipwatch: subscription to %s ended: %s", ext, ev.terminated)
			}
			if ev.retryAfter > 0 {
				sess.unregister(sb)
				if !sleepCtx(ctx, ev.retryAfter) {
					return nil
				}
				continue
			}
		}
		sess.unregister(sb)
		if ctx.Err() != nil {
			return nil
		}
		if reconnect.IsFatal(err) {
			return err
		}
		sess.failed(err)
		d := backoff(attempt)
		if attempt == 0 && errors.Is(err, errGone) {
			d = 0 // the server forgot the subscription (481): make it anew right away
		}
		attempt++
		s.log.Warn("resubscribing", "extension", ext, "err", err, "in", d)
		if !sleepCtx(ctx, d) {
			return nil
		}
	}
}

// maintain refreshes sb until the subscription ends (the returned event or error says
// why) or ctx ends.
func (sess *session) maintain(ctx context.Context, sb *subscription, granted time.Duration) (subEvent, error) {
	timer := time.NewTimer(refreshIn(granted))
	defer timer.Stop()
	var kicks int
	var lastKick time.Time
	for {
		select {
		case <-ctx.Done():
			return subEvent{}, nil
		case ev := <-sb.events:
			if ev.terminated != "" {
				return ev, nil
			}
			// A refresh asked for by a refused NOTIFY: back off when they keep coming, so
			// that a server whose NOTIFYs we always refuse does not loop with us.
			if time.Since(lastKick) > 2*time.Minute {
				kicks = 0
			}
			d := time.Duration(0)
			if kicks >= 3 {
				d = backoff(kicks - 3)
			}
			kicks++
			lastKick = time.Now()
			if d > 0 && !sleepCtx(ctx, d) {
				return subEvent{}, nil
			}
		case <-timer.C:
		}
		if err := sess.limiter.wait(ctx); err != nil {
			return subEvent{}, nil
		}
		g, err := sess.subscribe(ctx, sb)
		if err != nil {
			return subEvent{}, err
		}
		granted = g
		sess.setActive(sb.ext, true)
		timer.Reset(refreshIn(granted))
	}
}

// refreshIn is when to refresh a subscription granted for d: at about 80%, with jitter so
// that hundreds of subscriptions do not refresh together.
func refreshIn(d time.Duration) time.Duration {
	r := d * 8 / 10
	if d-r > 32*time.Second { // leave at most 32 s (a UDP transaction's timeout) and no less
		r = d - 32*time.Second
	}
	j := r / 10
	return r - j + rand.N(j+1)
}

// subscribe sends a SUBSCRIBE for sb (the first, or a refresh within its dialog) and
// returns the expiry the server granted.
func (sess *session) subscribe(ctx context.Context, sb *subscription) (time.Duration, error) {
	s := sess.s
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req := sess.newSubscribe(sb, s.cfg.Expires)
	res, err := sess.client.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("sipwatch: subscribe %s: %w", sb.ext, err)
	}
	if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
		if s.password == "" {
			return 0, reconnect.Fatal(fmt.Errorf("sipwatch: subscribe %s: the server asks for authentication (%d); set password_env or password_file", sb.ext, res.StatusCode))
		}
		res, err = sess.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: s.cfg.Username, Password: s.password})
		if cs := req.CSeq(); cs != nil {
			sb.mu.Lock()
			sb.cseq = max(sb.cseq, cs.SeqNo)
			sb.mu.Unlock()
		}
		if err != nil {
			return 0, fmt.Errorf("sipwatch: subscribe %s: %w", sb.ext, err)
		}
		if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired || res.StatusCode == sip.StatusForbidden {
			return 0, reconnect.Fatal(fmt.Errorf("sipwatch: subscribe %s: the server rejects username %q and its password (%d %s)", sb.ext, s.cfg.Username, res.StatusCode, res.Reason))
		}
	}
	if res.StatusCode == sip.StatusCallTransactionDoesNotExists {
		return 0, fmt.Errorf("sipwatch: subscribe %s: %w", sb.ext, errGone)
	}
	if !res.IsSuccess() {
		return 0, fmt.Errorf("sipwatch: subscribe %s: %d %s", sb.ext, res.StatusCode, res.Reason)
	}
	sb.mu.Lock()
	if to := res.To(); to != nil && sb.toTag == "" {
		sb.toTag, _ = to.Params.Get("tag")
	}
	if c := res.Contact(); c != nil && c.Address.Host != "" {
		sb.target = *c.Address.Clone()
	}
	sb.mu.Unlock()
	granted := time.Duration(s.cfg.Expires) * time.Second
	if h := res.GetHeader("Expires"); h != nil {
		if v, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && v > 0 {
			granted = time.Duration(v) * time.Second
		}
	}
	return granted, nil
}

func (sess *session) newSubscribe(sb *subscription, expires int) *sip.Request {
	s := sess.s
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.cseq++
	req := sip.NewRequest(sip.SUBSCRIBE, *sb.target.Clone())
	req.SetTransport(sess.transport)
	req.SetDestination(sess.dest)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: s.cfg.Username, Host: s.cfg.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sb.fromTag)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: sb.ext, Host: s.cfg.Domain}, Params: sip.NewParams()}
	if sb.toTag != "" {
		to.Params.Add("tag", sb.toTag)
	}
	callID := sip.CallIDHeader(sb.callID)
	contact := &sip.ContactHeader{Address: *sess.contact.Clone()}
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sb.cseq, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(contact)
	req.AppendHeader(sip.NewHeader("Event", "dialog"))
	req.AppendHeader(sip.NewHeader("Accept", "application/dialog-info+xml"))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	req.AppendHeader(sip.NewHeader("User-Agent", "ringside"))
	return req
}

// onNotify answers one NOTIFY and applies its document. Whatever is wrong with it, the
// subscription stays: a refused document only triggers a refresh for the full state.
func (sess *session) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	s := sess.s
	respond := func(code int, reason string) {
		if err := tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil)); err != nil {
			s.log.Debug("notify response not sent", "err", err)
		}
	}
	cid := req.CallID()
	if cid == nil {
		respond(400, "Missing Call-ID")
		return
	}
	sess.mu.Lock()
	sb := sess.subs[cid.Value()]
	sess.mu.Unlock()
	if sb == nil {
		respond(481, "Subscription Does Not Exist")
		return
	}
	if ev := req.GetHeader("Event"); ev == nil || !strings.EqualFold(eventPackage(ev.Value()), "dialog") {
		respond(489, "Bad Event")
		return
	}
	body := req.Body()
	if len(body) > s.cfg.MaxBodyBytes {
		s.log.Warn("notify body too large", "extension", sb.ext, "bytes", len(body))
		respond(413, "Request Entity Too Large")
		sb.send(subEvent{refresh: true})
		return
	}
	state, params := subscriptionState(req)
	sb.mu.Lock()
	if sb.toTag == "" {
		if f := req.From(); f != nil {
			sb.toTag, _ = f.Params.Get("tag")
		}
	}
	if c := req.Contact(); c != nil && c.Address.Host != "" {
		sb.target = *c.Address.Clone()
	}
	sb.mu.Unlock()

	var doc *dialogInfo
	if len(body) > 0 {
		ct := ""
		if h := req.ContentType(); h != nil {
			ct = h.Value()
		}
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/dialog-info+xml" {
			respond(415, "Unsupported Media Type")
			sb.send(subEvent{refresh: true})
			return
		}
		if s.onNotify != nil {
			s.onNotify(sb.ext, body)
		}
		d, err := parseDialogInfo(body)
		if err != nil {
			s.log.Warn("notify refused", "extension", sb.ext, "err", err)
			respond(400, "Bad Dialog Info")
			sb.send(subEvent{refresh: true})
			return
		}
		doc = &d
	}
	respond(200, "OK")
	if sess.apply(sb.ext, doc) {
		sb.send(subEvent{refresh: true})
	}
	if s.notified != nil {
		s.notified(sb.ext)
	}
	if state == "terminated" {
		ev := subEvent{terminated: params["reason"]}
		if ev.terminated == "" {
			ev.terminated = "terminated"
		}
		if v, err := strconv.Atoi(params["retry-after"]); err == nil && v > 0 {
			ev.retryAfter = time.Duration(min(v, 3600)) * time.Second
		}
		sess.unregister(sb)
		sb.send(ev)
	}
}

// apply runs a document through the leg book and emits the signals; it reports a gap.
func (sess *session) apply(ext string, doc *dialogInfo) bool {
	s := sess.s
	s.bmu.Lock()
	sigs, gap := s.book.apply(ext, doc, s.cfg.Now())
	for _, sig := range sigs {
		sess.emit(sig)
	}
	s.bmu.Unlock()
	select {
	case sess.wake <- struct{}{}:
	default:
	}
	return gap
}

// dueLoop emits the final end of calls whose legs all ended a moment ago.
func (sess *session) dueLoop(ctx context.Context) {
	s := sess.s
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.bmu.Lock()
		next := s.book.next()
		s.bmu.Unlock()
		if !next.IsZero() {
			timer.Reset(max(next.Sub(s.cfg.Now()), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-sess.wake:
			continue
		case <-timer.C:
		}
		s.bmu.Lock()
		for _, sig := range s.book.due(s.cfg.Now()) {
			sess.emit(sig)
		}
		s.bmu.Unlock()
	}
}

// keepalive probes the server with OPTIONS. When it stops answering the source is down;
// when it answers again, every subscription is refreshed (a restarted server answers 481,
// and the subscription is made anew).
func (sess *session) keepalive(ctx context.Context) {
	s := sess.s
	t := time.NewTicker(s.cfg.Keepalive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := sess.options(ctx, min(s.cfg.Keepalive, requestTimeout))
		if ctx.Err() != nil {
			return
		}
		sess.mu.Lock()
		was := sess.probeDown
		sess.probeDown = err != nil
		var subs []*subscription
		if was && err == nil {
			// Until each subscription is refreshed, nothing says the server still has it.
			clear(sess.active)
			for _, sb := range sess.subs {
				subs = append(subs, sb)
			}
		}
		sess.mu.Unlock()
		switch {
		case err != nil && !was:
			s.log.Warn("server does not answer", "err", err)
		case was && err == nil:
			s.log.Info("server answers again", "server", s.cfg.Server)
			for _, sb := range subs {
				sb.send(subEvent{refresh: true})
			}
		}
		sess.updateState()
	}
}

func (sess *session) options(ctx context.Context, timeout time.Duration) error {
	s := sess.s
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: s.cfg.Domain})
	req.SetTransport(sess.transport)
	req.SetDestination(sess.dest)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: s.cfg.Username, Host: s.cfg.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ContactHeader{Address: *sess.contact.Clone()})
	_, err := sess.client.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("sipwatch: options %s: %w", s.cfg.Server, err)
	}
	return nil // any answer means the server is there
}

func (sess *session) register(sb *subscription) {
	sess.mu.Lock()
	sess.subs[sb.callID] = sb
	sess.mu.Unlock()
}

func (sess *session) unregister(sb *subscription) {
	sess.mu.Lock()
	if sess.subs[sb.callID] == sb {
		delete(sess.subs, sb.callID)
	}
	sess.mu.Unlock()
}

func (sess *session) setActive(ext string, on bool) {
	sess.mu.Lock()
	if on {
		sess.active[ext] = true
	} else {
		delete(sess.active, ext)
	}
	sess.mu.Unlock()
	sess.updateState()
}

// failed notes why a subscription failed, for the state.
func (sess *session) failed(err error) {
	sess.mu.Lock()
	sess.lastErr = err.Error()
	sess.mu.Unlock()
	sess.updateState()
}

// updateState says up when every extension is subscribed, else down with why. Before
// anything is known the state stays connecting.
func (sess *session) updateState() {
	s := sess.s
	sess.mu.Lock()
	n, down, last := len(sess.active), sess.probeDown, sess.lastErr
	sess.mu.Unlock()
	switch {
	case down:
		s.rc.Down("the server does not answer OPTIONS")
	case n == len(s.cfg.Extensions):
		s.rc.Up()
	case last != "":
		s.rc.Down(fmt.Sprintf("%d of %d extensions subscribed (%s)", n, len(s.cfg.Extensions), last))
	default:
		if st, _ := s.rc.State(); st != telephony.StateConnecting {
			s.rc.Down(fmt.Sprintf("%d of %d extensions subscribed", n, len(s.cfg.Extensions)))
		}
	}
}

// debugHandler logs every record at Debug.
type debugHandler struct{ h slog.Handler }

func (d debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d debugHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d debugHandler) WithAttrs(as []slog.Attr) slog.Handler { return debugHandler{d.h.WithAttrs(as)} }
func (d debugHandler) WithGroup(g string) slog.Handler       { return debugHandler{d.h.WithGroup(g)} }

// eventPackage is the package of an Event header value ("dialog;id=1" → "dialog").
func eventPackage(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// subscriptionState parses Subscription-State: "active;expires=599" → "active", {expires: 599}.
func subscriptionState(req *sip.Request) (string, map[string]string) {
	h := req.GetHeader("Subscription-State")
	if h == nil {
		return "", nil
	}
	parts := strings.Split(h.Value(), ";")
	params := map[string]string{}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	return strings.ToLower(strings.TrimSpace(parts[0])), params
}

// pacer spaces events evenly at a rate per second: no burst, however many wait.
type pacer struct {
	mu   sync.Mutex
	gap  time.Duration
	next time.Time
}

func newPacer(rate float64) *pacer {
	return &pacer{gap: time.Duration(float64(time.Second) / rate)}
}

// reserve returns when the caller asking at now may go.
func (p *pacer) reserve(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.gap)
	return at
}

func (p *pacer) wait(ctx context.Context) error {
	now := time.Now()
	if d := p.reserve(now).Sub(now); d > 0 && !sleepCtx(ctx, d) {
		return ctx.Err()
	}
	return ctx.Err()
}
