package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/store"
)

const sessionCookie = "ringside_session"

// principal is who a request speaks for.
type principal struct {
	user    store.User // zero for a pbx token
	scope   string     // agent, pbx, or session
	csrf    string     // with a session
	session bool
}

type ctxKey struct{}

func withPrincipal(ctx context.Context, p principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

func principalOf(r *http.Request) principal {
	p, _ := r.Context().Value(ctxKey{}).(principal)
	return p
}

var errNoCredentials = errors.New("no credentials")

// authenticate finds the principal of r: a bearer token, the session cookie, or (when
// allowQuery) a ?token= parameter.
func (w *Web) authenticate(r *http.Request, allowQuery bool) (principal, error) {
	secret := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return principal{}, errors.New("the Authorization header must be 'Bearer TOKEN'")
		}
		secret = strings.TrimSpace(tok)
	} else if allowQuery && r.URL.Query().Get("token") != "" {
		secret = r.URL.Query().Get("token")
	}
	if secret != "" {
		if p, ok := w.tokens.get(secret, time.Now()); ok {
			return p, nil
		}
		t, err := w.d.Store.CheckToken(r.Context(), secret)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return principal{}, errors.New("unknown or revoked token")
			}
			return principal{}, err
		}
		p := principal{scope: t.Scope}
		if t.User != "" {
			u, err := w.d.Store.GetUser(r.Context(), t.User)
			if err != nil {
				return principal{}, errors.New("the token's user no longer exists")
			}
			p.user = u
		}
		w.tokens.put(secret, p, time.Now())
		return p, nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		u, csrf, err := w.d.Store.Session(r.Context(), c.Value)
		if err != nil {
			return principal{}, errors.New("session expired: log in again")
		}
		return principal{user: u, scope: "agent", csrf: csrf, session: true}, nil
	}
	return principal{}, errNoCredentials
}

// agentOnly admits users (agent tokens or a browser session). Browser sessions must send
// the CSRF token on every state-changing request.
func (w *Web) agentOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		p, err := w.authenticate(r, false)
		if err != nil {
			rw.Header().Set("WWW-Authenticate", `Bearer realm="ringside"`)
			apiError(rw, http.StatusUnauthorized, "authentication required: "+err.Error())
			return
		}
		if p.user.Name == "" {
			apiError(rw, http.StatusForbidden, "this token is for a phone system, not a user")
			return
		}
		if p.session && !safeMethod(r.Method) {
			got := r.Header.Get("X-CSRF-Token")
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.csrf)) != 1 {
				apiError(rw, http.StatusForbidden, "missing or wrong X-CSRF-Token header")
				return
			}
		}
		h(rw, r.WithContext(withPrincipal(r.Context(), p)))
	}
}

// adminOnly admits admin users.
func (w *Web) adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return w.agentOnly(func(rw http.ResponseWriter, r *http.Request) {
		if !principalOf(r).user.Admin {
			apiError(rw, http.StatusForbidden, "administrators only")
			return
		}
		h(rw, r)
	})
}

// pbxOnly admits tokens with scope pbx, from the header or ?token=.
func (w *Web) pbxOnly(h http.Handler) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		p, err := w.authenticate(r, true)
		if err != nil {
			rw.Header().Set("WWW-Authenticate", `Bearer realm="ringside"`)
			apiError(rw, http.StatusUnauthorized, "a token with scope pbx is required: "+err.Error())
			return
		}
		if p.scope != "pbx" {
			apiError(rw, http.StatusForbidden, "this endpoint takes tokens with scope pbx (ringside tokens create --scope pbx)")
			return
		}
		h.ServeHTTP(rw, r.WithContext(withPrincipal(r.Context(), p)))
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// login checks a password, throttled per user name and per client address.
func (w *Web) login(ctx context.Context, r *http.Request, name, password string) (store.User, string, string, error) {
	now := time.Now()
	ipKey, userKey := "ip:"+clientIP(r), "user:"+name
	// Only failed attempts count: a shift of agents behind one NAT address logging in at
	// nine must not lock each other out.
	if w.limits.full(ipKey, 20, 5*time.Minute, now) || w.limits.full(userKey, 5, 5*time.Minute, now) {
		return store.User{}, "", "", errThrottled
	}
	u, err := w.d.Store.CheckPassword(ctx, name, password)
	if err != nil {
		w.limits.allow(ipKey, 20, 5*time.Minute, now)
		w.limits.allow(userKey, 5, 5*time.Minute, now)
		return store.User{}, "", "", err
	}
	w.limits.reset("user:" + name)
	secret, csrf, err := w.d.Store.CreateSession(ctx, u.Name, w.opt.SessionTTL)
	if err != nil {
		return store.User{}, "", "", err
	}
	return u, secret, csrf, nil
}

var errThrottled = errors.New("too many attempts: wait a few minutes")

// tokenCache remembers checked tokens for a few seconds: a phone system posts an event per
// call state change, and each check would otherwise be a database query. A revoked token
// stops working within tokenCacheTTL.
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedToken
}

type cachedToken struct {
	p       principal
	expires time.Time
}

const tokenCacheTTL = 10 * time.Second

func (c *tokenCache) get(secret string, now time.Time) (principal, bool) {
	k := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.After(e.expires) {
		return principal{}, false
	}
	return e.p, true
}

func (c *tokenCache) put(secret string, p principal, now time.Time) {
	k := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[[32]byte]cachedToken{}
	}
	c.m[k] = cachedToken{p: p, expires: now.Add(tokenCacheTTL)}
}
