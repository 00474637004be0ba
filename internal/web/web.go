// Package web is Ringside's HTTP side: the /api/v1 handlers, the embedded agent UI, and
// the authentication in front of both. Every route is listed in routes.go.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ringside/ringside/internal/agent"
	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/web/i18n"
)

//go:embed templates static
var embedded embed.FS

// Assets returns the embedded templates and static files.
func Assets() fs.FS { return embedded }

// Deps is what the web layer needs from the running server.
type Deps struct {
	Store     *store.Store
	Hub       *agent.Hub
	Lookup    *lookup.Service
	Parser    *phone.Parser
	Directory crm.Directory
	// Sources are the HTTP-fed telephony sources by name; "" is the default one mounted at
	// /api/v1/events.
	Sources map[string]http.Handler
	// Dial places a call for user (click-to-dial); errors wrapping
	// telephony.ErrDialUnsupported answer 501.
	Dial func(ctx context.Context, u store.User, number string) error
	// DialVia says how Dial would place a call for u right now: "pbx", "companion", or
	// "" when it cannot (GET /api/v1/me can_dial; nil: "pbx" whenever Dial is set).
	DialVia func(u store.User) string
	// Hello returns the messages a new stream connection of user gets first.
	Hello func(user string) [][]byte
	// QueueActivity queues the phone-call activity of a journal entry (after notes).
	QueueActivity func(ctx context.Context, rec store.CallRecord) error
	// SyncJournal applies the signals already acknowledged and writes the journal now
	// (it batches): notes saved right after an answer find the call answered (nil: the
	// journal is read as it is).
	SyncJournal func(ctx context.Context) error
	// Activity reports, by system name (telephony/NAME), since when each phone system is
	// in its state, its events in the last minute and the last one (nil: not shown).
	Activity func() map[string]Activity
	// CRMSync reports the CRM's local phone index sync, or nil when it keeps none (nil
	// func: not shown).
	CRMSync func() *crm.SyncStatus
	// KickOutbox wakes the outbox worker (after an admin's retry).
	KickOutbox func()
	// Ready checks the parts of the server; a non-empty reason means not ready, except a
	// phone system's state words "up" and "standby".
	Ready func(ctx context.Context) map[string]string
	// Metrics serves /metrics (nil: 404).
	Metrics http.Handler
	// Companion serves the desktop companion protocol (nil: not offered).
	Companion Companion
	// Rules returns the rules in force, for the admins' read-only view (nil: none shown).
	Rules func() any
	// ActiveCalls lists the calls in progress, for the admins' live board (nil: none).
	ActiveCalls func() []call.Call
	// CheckConnections connects to every configured phone system and the CRM once, as
	// `ringside config check --connect` does (the admins' "test connections"; nil: not
	// offered).
	CheckConnections func(ctx context.Context) error
	// Assets overrides the embedded templates and static files (tests, --dev).
	Assets fs.FS
}

// Activity is what the admins' Phone systems page shows of a phone system beside its
// state.
type Activity struct {
	Since            time.Time // when it entered its current state
	LastEvent        time.Time // zero: none since the start
	EventsLastMinute int
}

// Options are the web settings of ringside.yaml.
type Options struct {
	SessionTTL     time.Duration
	OriginPatterns []string
	Secure         bool // cookies only over TLS
	CRMName        string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// MetricsToken, when set, is required by /metrics and shows /readyz's checks.
	MetricsToken string
}

// AccessChanged forgets the tokens checked recently: one was revoked or its user
// disabled (the server calls it when it learns of an access change).
func (w *Web) AccessChanged() { w.tokens.purge() }

// Web serves HTTP. Build it with New; it is an http.Handler.
type Web struct {
	d      Deps
	opt    Options
	log    *slog.Logger
	mux    *http.ServeMux
	pages  map[string]map[string]*template.Template // lang → page → template
	i18n   *i18n.Bundle
	seen   seenMarks        // last use of users and tokens, written once a minute
	static map[string]asset // by name
	byHash map[string]asset // by "hash/name"
	limits *loginLimiter
	tokens tokenCache
	csp    []string // the Content-Security-Policy header's value (built once: it depends on opt)

	intakeStopped atomic.Bool // shutting down: events answer 503
}

// StopIntake makes /api/v1/events answer 503 with Retry-After from now on: the server
// is shutting down and applies only what it already acknowledged.
func (w *Web) StopIntake() { w.intakeStopped.Store(true) }

type asset struct {
	name, hash, ctype string
	data              []byte
}

// New parses the templates (failing fast when one is broken) and builds the routes.
func New(d Deps, opt Options, log *slog.Logger) (*Web, error) {
	if d.Assets == nil {
		d.Assets = embedded
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.SessionTTL <= 0 {
		opt.SessionTTL = 12 * time.Hour
	}
	cat, err := i18n.Load(i18n.Files())
	if err != nil {
		return nil, err
	}
	w := &Web{d: d, opt: opt, log: log, mux: http.NewServeMux(), static: map[string]asset{}, byHash: map[string]asset{}, limits: newLoginLimiter(), i18n: cat}
	frame := "'self'"
	for _, o := range opt.OriginPatterns {
		frame += " https://" + o
	}
	// Scripts from the configured CRM origins: the Dynamics 365 CIF library (ui.go cifLibrary).
	w.csp = []string{"default-src 'self'; script-src " + frame + "; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors " + frame}
	if err := w.loadStatic(); err != nil {
		return nil, err
	}
	if err := w.loadTemplates(); err != nil {
		return nil, err
	}
	w.routes()
	return w, nil
}

func (w *Web) loadStatic() error {
	return fs.WalkDir(w.d.Assets, "static", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := fs.ReadFile(w.d.Assets, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		a := asset{name: path.Base(p), hash: hex.EncodeToString(sum[:6]), data: data}
		switch path.Ext(p) {
		case ".js":
			a.ctype = "text/javascript; charset=utf-8"
		case ".css":
			a.ctype = "text/css; charset=utf-8"
		case ".svg":
			a.ctype = "image/svg+xml"
		case ".png":
			a.ctype = "image/png"
		case ".json":
			a.ctype = "application/manifest+json"
		default:
			a.ctype = "application/octet-stream"
		}
		w.static[a.name] = a
		w.byHash[a.hash+"/"+a.name] = a
		return nil
	})
}

func (w *Web) assetURL(name string) (string, error) {
	a, ok := w.static[name]
	if !ok {
		return "", fmt.Errorf("web: no static file %q", name)
	}
	return "/static/" + a.hash + "/" + a.name, nil
}

var pageNames = []string{"login", "agent", "record", "forbidden"}

// partials are templates other pages include: the layout of every page, the admin
// console's frame of its pages.
var partials = []string{"layout", "admin"}

// loadTemplates parses every page once per language: the template function t looks a
// message up in that language's catalogue, lang names it, and catalogue hands the page's
// JavaScript the messages of some areas (a JSON script tag, see static/i18n.js).
func (w *Web) loadTemplates() error {
	w.pages = map[string]map[string]*template.Template{}
	for _, lang := range w.i18n.Langs() {
		funcs := template.FuncMap{
			"asset": w.assetURL,
			"t":     func(key string, args ...any) string { return w.i18n.T(lang, key, args...) },
			"lang":  func() string { return lang },
			"catalogue": func(areas ...string) map[string]string {
				return w.i18n.Map(lang, areas...)
			},
		}
		w.pages[lang] = map[string]*template.Template{}
		names := slices.Clone(pageNames)
		for _, p := range adminPages {
			names = append(names, "admin_"+p)
		}
		for _, name := range names {
			files := []string{"templates/layout.html", "templates/" + name + ".html"}
			if strings.HasPrefix(name, "admin_") {
				files = append(files, "templates/admin.html")
			}
			t, err := template.New("layout.html").Funcs(funcs).ParseFS(w.d.Assets, files...)
			if err != nil {
				return fmt.Errorf("web: template %s: %w", name, err)
			}
			w.pages[lang][name] = t
		}
	}
	// Every page on disk must be declared above.
	entries, err := fs.ReadDir(w.d.Assets, "templates")
	if err != nil {
		return fmt.Errorf("web: templates: %w", err)
	}
	for _, e := range entries {
		n := strings.TrimSuffix(e.Name(), ".html")
		if _, ok := w.pages[i18n.Fallback][n]; !ok && !slices.Contains(partials, n) {
			return fmt.Errorf("web: template %s.html is not declared in pageNames or adminPages", n)
		}
	}
	return nil
}

// lang picks the language of a page for user ("" before login): her setting, else the
// browser's Accept-Language, else English.
func (w *Web) lang(r *http.Request, user string) string {
	setting := ""
	if user != "" {
		if s, err := w.d.Store.UserSettings(r.Context(), user); err == nil {
			setting = s[settingLanguage]
		}
	}
	return w.i18n.Pick(setting, r.Header.Get("Accept-Language"))
}

// ServeHTTP applies the security headers every response carries and routes.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	h := rw.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	// Shared by every response: len = cap, so a handler's Add copies it, never writes it.
	h["Content-Security-Policy"] = w.csp[:1:1]
	w.mux.ServeHTTP(rw, r)
}

// render writes page name in lang (see lang).
func (w *Web) render(rw http.ResponseWriter, lang, name string, data any) {
	var buf strings.Builder
	t := w.pages[lang][name]
	if t == nil {
		t = w.pages[i18n.Fallback][name]
	}
	if err := t.Execute(&buf, data); err != nil {
		w.log.Error("rendering page", "page", name, "err", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("Content-Language", lang)
	rw.Header().Add("Vary", "Accept-Language")
	fmt.Fprint(rw, buf.String())
}

func (w *Web) serveStatic(rw http.ResponseWriter, r *http.Request) {
	a, ok := w.byHash[r.PathValue("hash")+"/"+r.PathValue("name")]
	if !ok {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", a.ctype)
	rw.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	rw.Write(a.data)
}

// writeJSON answers with v as JSON.
func writeJSON(rw http.ResponseWriter, code int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(code)
	enc := json.NewEncoder(rw)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

// apiError answers {"error": msg} with code.
func apiError(rw http.ResponseWriter, code int, msg string) {
	writeJSON(rw, code, map[string]string{"error": msg})
}

// TrustedProxies returns web.trusted_proxies (the server's connection caps exempt them).
func (w *Web) TrustedProxies() []netip.Prefix { return w.opt.TrustedProxies }
