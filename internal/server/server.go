// Package server builds the running Ringside server from a Config (store, sources,
// directory, pipeline, hub, web) and runs and stops it in order. The serve command and the
// end-to-end tests share it.
package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringside/ringside/internal/activity"
	"github.com/ringside/ringside/internal/agent"
	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/crm/builtin"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/outbox"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/pipeline"
	"github.com/ringside/ringside/internal/rules"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/web"
)

// Options are the serve command's switches.
type Options struct {
	// Listen overrides the config's listen address ("127.0.0.1:0" in tests).
	Listen string
	// Demo seeds sample CRM data and the agents alice and bob, and prints how to log in.
	Demo bool
	// Out receives what the server tells the person who started it (demo logins).
	Out io.Writer
	// Outbox tunes the outbox worker (tests use short backoffs); zero values take the
	// defaults.
	Outbox outbox.Options
	// LogLevel is the level of the logger serve passed in; Reload sets it from log_level.
	LogLevel *slog.LevelVar
}

// DemoPassword is the password of the demo agents.
const DemoPassword = "ringside"

// DemoTokenFile is where --demo leaves a pbx token (in the data dir) for `ringside simulate`.
const DemoTokenFile = "demo-pbx-token"

// Server is a built Ringside server.
type Server struct {
	cfg    *config.Config
	opt    Options
	log    *slog.Logger
	st     *store.Store
	parser *phone.Parser
	dir    crm.Directory
	lookup *lookup.Service
	hub    *agent.Hub
	pipe   *pipeline.Pipeline
	web    *web.Web
	outbox *outbox.Worker
	met    *metrics
	clu    *clustering

	sources []namedSource
	comp    *companions // desktop companions (companion.go)

	mu    sync.RWMutex
	users map[string]store.User // by name, refreshed from the store

	ln       net.Listener
	limits   *limitListener
	ready    chan struct{}
	stopping atomic.Bool // SIGTERM came: events answer 503, /readyz not ready

	reload reloadState // SIGHUP (reload.go)
}

type namedSource struct {
	name   string
	kind   string
	src    telephony.Source
	serves telephony.Extensions // the extensions: list of its section (click-to-dial)
	act    *sourceActivity      // for the admins' Phone systems page
}

// New builds a server: it opens the store (creating the data dir) and loads the
// directory, and checks every section of the config. It starts nothing.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opt Options) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.Out == nil {
		opt.Out = io.Discard
	}
	s := &Server{cfg: cfg, opt: opt, log: log, users: map[string]store.User{}, ready: make(chan struct{})}
	var err error
	if s.parser, err = phone.NewParser(cfg.Phone); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.Store, cfg.DataDir, log.With("component", "store"))
	if err != nil {
		return nil, err
	}
	s.st = st
	if err := s.build(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

// Check builds everything a config names without opening anything: for config check.
func Check(ctx context.Context, cfg *config.Config) error {
	s := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler), users: map[string]store.User{}}
	var errs []error // the phone settings were checked by config.Parse
	for _, sec := range cfg.Telephony {
		if _, err := s.buildSource(ctx, sec, s.log); err != nil {
			errs = append(errs, err)
		}
	}
	if p, err := phone.NewParser(cfg.Phone); err == nil {
		if _, err := s.buildDirectory(cfg.CRM, nil, p, s.log); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := lookup.New(nopDir{}, cfg.Lookup, nil); err != nil {
		errs = append(errs, cfg.Errorf("lookup", "%v", err))
	}
	if _, err := rules.New(cfg, rules.Options{}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

type nopDir struct{}

func (nopDir) Lookup(context.Context, phone.Number) ([]crm.Match, error) { return nil, nil }
func (nopDir) Get(context.Context, crm.Ref) (crm.Record, error)          { return crm.Record{}, crm.ErrNotFound }

func (s *Server) build(ctx context.Context) error {
	cfg := s.cfg
	var err error
	s.dir, err = s.buildDirectory(cfg.CRM, s.st, s.parser, s.log.With("component", "crm", "crm", cfg.CRM.Kind))
	if err != nil {
		return err
	}
	s.met = newMetrics(s) // its gauges read the parts built below when scraped
	if s.lookup, err = lookup.New(timedDirectory{s.dir, s.met}, cfg.Lookup, s.log.With("component", "lookup")); err != nil {
		return cfg.Errorf("lookup", "%v", err)
	}
	s.lookup.SetObserver(s.met.lookupObserved)
	s.hub = agent.NewHub(s.log.With("component", "hub"), agent.Options{OriginPatterns: cfg.Web.OriginPatterns, Written: func(m []byte, since time.Time) { s.met.written(m, since) },
		MaxPerUser: map[string]int{"stream": cfg.Web.MaxStreamsPerUser, "companion": cfg.Web.MaxCompanionsPerUser}})
	_, logs := s.dir.(crm.ActivityLogger)
	eng, err := rules.New(cfg, rules.Options{})
	if err != nil {
		return err
	}
	kick := func() {} // the outbox, once built below
	s.pipe = pipeline.New(pipeline.Options{
		Log: s.log.With("component", "pipeline"), Rules: eng, Lookup: s.lookup, Parser: s.parser, Hub: s.hub, Journal: s.st,
		Tracker:  call.TrackerConfig{MaxAge: cfg.Calls.MaxAge, LegGrace: cfg.Calls.LegGrace},
		LogCalls: logs, AgentOf: s.agentOf, Observe: s.met.observe, Kick: func() { kick() },
		Leased: s.leased,
	})

	handlers := map[string]outbox.Handler{}
	if l, ok := s.dir.(crm.ActivityLogger); ok {
		handlers[activity.Kind] = outbox.Handler(activity.Handler(timedLogger{l, s.met}, s.st, s.agentOf))
	}
	handlers[rules.WebhookKind] = outbox.Handler(eng.WebhookHandler())
	node := nodeName()
	if err := s.buildCluster(node); err != nil {
		return err
	}
	oopts := s.opt.Outbox
	if oopts.Workers == 0 {
		oopts.Workers = cfg.Outbox.Workers
	}
	if oopts.MaxAge == 0 {
		oopts.MaxAge = cfg.Outbox.MaxAge
	}
	s.outbox = outbox.New(s.st, node, handlers, s.log.With("component", "outbox"), oopts)
	kick = s.outbox.Kick

	httpSources := map[string]http.Handler{}
	for i, sec := range cfg.Telephony {
		src, err := s.buildSource(ctx, sec, s.log.With("component", "telephony", "source", sec.Name))
		if err != nil {
			return err
		}
		serves, err := telephony.ParseExtensions(sec.Extensions)
		if err != nil {
			return fmt.Errorf("%s: %w", sec.Where(), err)
		}
		s.sources = append(s.sources, namedSource{name: sec.Name, kind: sec.Kind, src: src, serves: serves, act: &sourceActivity{}})
		if h, ok := src.(http.Handler); ok {
			key := sec.Name
			if i == 0 || (sec.Kind == "webhook" && httpSources[""] == nil) {
				httpSources[""] = h
			}
			httpSources[key] = h
		}
	}

	if err := s.syncConfigUsers(ctx); err != nil {
		return err
	}
	if l, ok := s.dir.(interface{ Load(context.Context) error }); ok {
		if err := l.Load(ctx); err != nil {
			return fmt.Errorf("crm: loading the directory: %w", err)
		}
		// Loading a large directory leaves as much garbage as the directory itself (rows,
		// parsed numbers): give it back now rather than carry it as resident memory.
		debug.FreeOSMemory()
	}
	if s.opt.Demo {
		if err := s.seedDemo(ctx); err != nil {
			return err
		}
	}
	if err := s.refreshUsers(ctx); err != nil {
		return err
	}

	s.comp = newCompanions(s)
	var trusted []netip.Prefix
	for _, p := range cfg.Web.TrustedProxies {
		pf, err := config.ParsePrefix(p)
		if err != nil {
			return cfg.Errorf("web.trusted_proxies", "%v", err)
		}
		trusted = append(trusted, pf)
	}
	metricsToken, err := secretFrom(cfg.Web.MetricsTokenEnv, cfg.Web.MetricsTokenFile)
	if err != nil {
		return cfg.Errorf("web.metrics_token_env", "%v", err)
	}
	s.web, err = web.New(web.Deps{
		Store: s.st, Hub: s.hub, Lookup: s.lookup, Parser: s.parser, Directory: s.dir,
		Sources: httpSources, Dial: s.dial, DialVia: s.dialRoute, Hello: s.hello, QueueActivity: s.queueActivity, SyncJournal: s.pipe.Sync, Activity: s.activities, CRMSync: s.crmSync, KickOutbox: s.outbox.Kick,
		Ready: s.readiness, Metrics: s.met.handler(), CheckConnections: func(ctx context.Context) error { return Connect(ctx, s.cfg) },
		Companion:   s.comp,
		Rules:       func() any { return s.Rules() },
		ActiveCalls: s.pipe.ActiveCalls,
	}, web.Options{SessionTTL: cfg.Web.SessionTTL, OriginPatterns: cfg.Web.OriginPatterns, Secure: cfg.Web.TLSCert != "", CRMName: cfg.CRM.Kind,
		TrustedProxies: trusted, MetricsToken: metricsToken}, s.log.With("component", "web"))
	return err
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// Store returns the server's store (for tests and commands).
func (s *Server) Store() *store.Store { return s.st }

// Lookup returns the lookup service (for tests).
func (s *Server) Lookup() *lookup.Service { return s.lookup }

// Directory returns the CRM directory.
func (s *Server) Directory() crm.Directory { return s.dir }

// Hub returns the agent hub.
func (s *Server) Hub() *agent.Hub { return s.hub }

// Rules returns the rules in force (the configured list, or the defaults), for the
// admins' read-only view; rules.Rule encodes to JSON.
func (s *Server) Rules() []rules.Rule { return s.pipe.Rules().Rules() }

// ActiveCalls returns the calls in progress (for the admin live board).
func (s *Server) ActiveCalls() []call.Call { return s.pipe.ActiveCalls() }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.web }

// Ready is closed once the server listens and its HTTP sources take events.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the address the server listens on (after Ready).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL returns http://ADDR.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Close releases the store. Run closes it too.
func (s *Server) Close() error { s.closeCluster(); return s.st.Close() }

// Run serves until ctx ends, then stops in order: HTTP (with a bounded wait), sources,
// the pipeline (draining queued signals), the outbox, and the store.
func (s *Server) Run(ctx context.Context) error {
	defer s.st.Close()
	defer s.closeCluster()
	addr := s.cfg.Listen
	if s.opt.Listen != "" {
		addr = s.opt.Listen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", addr, err)
	}
	s.limits = newLimitListener(ln, s.maxConnections(), s.cfg.Web.MaxConnectionsPerAddress, s.web.TrustedProxies())
	ln = s.limits
	s.ln = ln
	// Every connection has a deadline for reading its request and writing its answer, and
	// an idle one is closed; streams clear theirs at the upgrade (agent.Hub).
	srv := &http.Server{Handler: s.web, ReadHeaderTimeout: min(10*time.Second, s.cfg.Web.ReadTimeout), ReadTimeout: s.cfg.Web.ReadTimeout,
		WriteTimeout: s.cfg.Web.WriteTimeout, IdleTimeout: s.cfg.Web.IdleTimeout, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}

	// The pipeline outlives the sources so that it drains what they emitted.
	pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer pcancel()
	var pwg sync.WaitGroup
	pwg.Go(func() { s.pipe.Run(pctx) })
	pwg.Go(func() { s.outbox.Run(pctx) })
	pwg.Go(func() { s.purgeLoop(pctx) })
	s.runCluster(pctx, &pwg)

	var wg sync.WaitGroup
	errc := make(chan error, len(s.sources)+2)
	for _, ns := range s.sources {
		wg.Go(func() {
			s.met.sourceState(ns.name, telephony.StateConnecting)
			if err := s.runSource(ctx, ns); err != nil {
				s.log.Error("telephony source stopped", "source", ns.name, "err", err)
				errc <- fmt.Errorf("telephony source %s: %w", ns.name, err)
			}
		})
	}
	if r, ok := s.dir.(interface{ Run(context.Context) error }); ok {
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				s.log.Error("crm directory stopped", "err", err)
			}
		})
	}
	wg.Go(func() { s.refreshLoop(ctx) })
	wg.Go(func() { s.watchAccess(ctx) })
	// The port is open: a phone system's first event waits in the listen queue until
	// its source takes events rather than getting 503 "not running".
	s.awaitHTTPSources(ctx)
	wg.Go(func() {
		var err error
		if s.cfg.Web.TLSCert != "" {
			err = srv.ServeTLS(ln, s.cfg.Web.TLSCert, s.cfg.Web.TLSKey)
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("server: %w", err)
		}
	})
	s.log.Info("listening", "addr", ln.Addr().String())
	close(s.ready)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	// Shutdown: no new events (503 with Retry-After); the ones acknowledged are in the
	// pipeline's queues, and it applies and journals them all before it returns.
	s.web.StopIntake()
	s.stopping.Store(true)
	if s.webhookSource() {
		// Go's HTTP server drops a request that arrives once Shutdown began without an
		// answer: for a moment, phone systems' events get 503 with Retry-After instead
		// (and /readyz says not ready, so a load balancer moves on).
		time.Sleep(s.cfg.Web.StopGrace)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	s.hub.Shutdown() // agents' streams live on after their handlers (Hub.Attach)
	if runErr != nil {
		// A source that cannot go on stops the server; the others stop with it.
		s.log.Error("stopping", "err", runErr)
	}
	srv.Close()
	wg.Wait()
	pcancel()
	pwg.Wait()
	s.log.Info("stopped")
	return runErr
}

// refreshLoop keeps the users and extensions current (the CLI may add users while the
// server runs), the metrics of the outbox and the sources, and notes when each source's
// state changed (the admins' Phone systems page: "since", to two seconds).
func (s *Server) refreshLoop(ctx context.Context) {
	s.met.refresh(ctx)
	s.activities()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.refreshUsers(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reading users", "err", err)
			}
			s.met.refresh(ctx)
			s.activities()
		}
	}
}

func (s *Server) refreshUsers(ctx context.Context) error {
	us, err := s.st.ListUsers(ctx)
	if err != nil {
		return err
	}
	m := map[string]store.User{}
	exts := map[string][]string{}
	for _, u := range us {
		m[u.Name] = u
		for _, e := range u.Extensions {
			exts[e] = append(exts[e], u.Name)
		}
	}
	s.mu.Lock()
	s.users = m
	s.mu.Unlock()
	s.hub.SetExtensions(exts)
	return nil
}

// resolveUser maps a name from a phone system to an agent: a user name first, then an
// extension.
func (s *Server) resolveUser(v string) (ext, user string, ok bool) {
	s.mu.RLock()
	u, found := s.users[v]
	s.mu.RUnlock()
	if found {
		if len(u.Extensions) > 0 {
			return u.Extensions[0], u.Name, true
		}
		return "user:" + u.Name, u.Name, true
	}
	if us := s.hub.UsersAt(v); len(us) > 0 {
		return v, "", true
	}
	return "", "", false
}

func (s *Server) agentOf(ext string) (string, string) {
	us := s.hub.UsersAt(ext)
	if len(us) == 0 {
		return "", ""
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return us[0], s.users[us[0]].Email
}

func (s *Server) syncConfigUsers(ctx context.Context) error { return s.syncUsers(ctx, s.cfg.Users) }

// syncUsers creates the config's users that the store lacks and sets the extensions of
// those it has (at start and on reload).
func (s *Server) syncUsers(ctx context.Context, users []config.User) error {
	for _, cu := range users {
		u, err := s.st.GetUser(ctx, cu.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			pw := randomID() + randomID() + randomID()
			if _, err := s.st.AddUser(ctx, store.User{Name: cu.Name, Extensions: cu.Extensions, Email: cu.Email, Admin: cu.Admin}, pw); err != nil {
				return fmt.Errorf("users: adding %s from the config: %w", cu.Name, err)
			}
			s.log.Info("user created from the config; set a password with 'ringside users passwd'", "user", cu.Name)
		case err != nil:
			return err
		case strings.Join(u.Extensions, ",") != strings.Join(cu.Extensions, ","):
			if err := s.st.SetExtensions(ctx, cu.Name, cu.Extensions); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) seedDemo(ctx context.Context) error {
	if sd, ok := s.dir.(*builtin.Directory); ok {
		if err := sd.Seed(ctx, builtin.DemoRecords()); err != nil {
			return fmt.Errorf("demo: seeding the directory: %w", err)
		}
	}
	for _, u := range []store.User{
		{Name: "alice", Extensions: []string{"200"}, Email: "alice@example.com", Admin: true},
		{Name: "bob", Extensions: []string{"201"}, Email: "bob@example.com"},
	} {
		if _, err := s.st.AddUser(ctx, u, DemoPassword); err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("demo: adding %s: %w", u.Name, err)
		}
	}
	tokPath := filepath.Join(s.cfg.DataDir, DemoTokenFile)
	tok, err := os.ReadFile(tokPath)
	if err != nil || len(tok) == 0 {
		secret, _, err := s.st.CreateToken(ctx, "", "pbx", "demo")
		if err != nil {
			return fmt.Errorf("demo: creating a pbx token: %w", err)
		}
		if err := os.WriteFile(tokPath, []byte(secret+"\n"), 0o600); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		tok = []byte(secret)
	}
	listen := s.cfg.Listen
	if s.opt.Listen != "" {
		listen = s.opt.Listen
	}
	fmt.Fprintf(s.opt.Out, `
Ringside demo
  open      http://%s/  and log in as alice / %s  (or bob / %s)
  call it   go run ./cmd/ringside simulate        (in another terminal)
  or        curl -H "Authorization: Bearer %s" -H 'Content-Type: application/json' \
              -d '{"event":"ringing","call_id":"demo-1","from":"+49 30 9876543","from_name":"ACME Reception","extension":"200"}' \
              http://%s/api/v1/events
`, listen, DemoPassword, DemoPassword, strings.TrimSpace(string(tok)), listen)
	return nil
}

// dialRoute says how a call of user would be placed (web.Deps.DialVia): "pbx" when a
// phone system that dials serves her extension, "companion" when her desktop companion
// is connected, else "" (the page then hides its Call buttons with the reason).
func (s *Server) dialRoute(u store.User) string {
	for _, ns := range s.sources {
		if _, ok := ns.src.(telephony.Dialer); ok && len(u.Extensions) > 0 && ns.serves.Serves(u.Extensions[0]) {
			return "pbx"
		}
	}
	if s.comp != nil && s.comp.newest(u.Name) != nil {
		return "companion"
	}
	return ""
}

// hello greets a new stream connection: who it is, and the calls in progress on the
// user's phones so that a reloaded page shows them.
func (s *Server) hello(user string) [][]byte {
	s.mu.RLock()
	u := s.users[user]
	s.mu.RUnlock()
	greet, _ := json.Marshal(map[string]any{"type": "hello", "user": user, "extensions": u.Extensions})
	out := [][]byte{greet}
	for _, a := range s.pipe.Active() {
		c := a.Call
		for i := range c.Legs {
			l := c.Legs[i]
			if l.State == call.Ended {
				continue
			}
			mine := l.User == user
			if !mine && l.User == "" {
				for _, x := range s.hub.UsersAt(l.Extension) {
					mine = mine || x == user
				}
			}
			if !mine {
				continue
			}
			typ := call.EvRinging
			switch l.State {
			case call.Answered:
				typ = call.EvAnswered
			case call.Dialing:
				typ = call.EvDialing
			}
			matches, state := a.Matches, a.Lookup
			if matches == nil {
				matches = []crm.Match{}
			}
			b, _ := json.Marshal(pipeline.Message{Type: typ, Call: c, Leg: &l, Matches: matches, Lookup: state, Time: time.Now()})
			out = append(out, b)
			break
		}
	}
	return out
}

func (s *Server) queueActivity(ctx context.Context, rec store.CallRecord) error {
	if _, ok := s.dir.(crm.ActivityLogger); !ok {
		return errors.New("the configured CRM does not take phone-call activities")
	}
	if err := activity.Queue(ctx, s.st, rec.Call.ID); err != nil {
		return err
	}
	s.outbox.Kick()
	return nil
}

func (s *Server) readiness(ctx context.Context) map[string]string {
	out := map[string]string{}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.st.Ping(pctx); err != nil {
		out["store"] = err.Error()
	} else {
		out["store"] = ""
	}
	out["crm"] = ""
	switch p := s.dir.(type) {
	case interface{ Ready() error }:
		if err := p.Ready(); err != nil {
			out["crm"] = err.Error()
		}
	case interface{ Ready() bool }: // a CRM with a local phone index (dynamics)
		if !p.Ready() {
			out["crm"] = "the local phone index is not synced yet: lookups go to the CRM live"
		}
	}
	s.clusterReadiness(out)
	if s.stopping.Load() {
		out["server"] = "stopping"
	}
	out["config"] = s.reloadReadiness()
	for _, ns := range s.sources {
		out["telephony/"+ns.name] = s.sourceReadiness(ns)
	}
	return out
}

// awaitHTTPSources waits, five seconds at most, until every source a phone system
// posts to takes events (its Run has begun).
func (s *Server) awaitHTTPSources(ctx context.Context) {
	deadline := time.Now().Add(5 * time.Second)
	for _, ns := range s.sources {
		st, ok := ns.src.(telephony.Stater)
		if _, isHTTP := ns.src.(http.Handler); !isHTTP || !ok {
			continue
		}
		for {
			if state, _ := st.State(); state == telephony.StateUp || ctx.Err() != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// webhookSource reports whether a phone system posts its events over HTTP.
func (s *Server) webhookSource() bool {
	for _, ns := range s.sources {
		if _, ok := ns.src.(http.Handler); ok {
			return true
		}
	}
	return false
}

// purgeLoop enforces the retention: at start, then every hour.
func (s *Server) purgeLoop(ctx context.Context) {
	ret := store.Retention{Calls: s.cfg.Retention.Calls, Outbox: s.cfg.Retention.Outbox, Audit: s.cfg.Retention.Audit}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		p, err := s.st.Purge(ctx, ret, false)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("purge failed", "err", err)
		case p.Calls > 0 || p.Outbox > 0 || p.Audit > 0:
			s.log.Info("purged old data", "calls", p.Calls, "outbox_rows", p.Outbox, "audit_entries", p.Audit)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
