package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/agent"
	"github.com/ringside/ringside/internal/store"
)

const sessionCookie = "ringside_session"

// principal is who a request speaks for.
type principal struct {
	user    store.User // zero for a pbx token (even one bound to a user)
	scope   string     // agent or pbx (a session is scope agent)
	csrf    string     // with a session
	session bool
	// credential names what authenticated the request, "token:ID" or "session:ID", so that
	// streams opened with it close when it ends; expires is when it ends by itself.
	credential string
	expires    time.Time
}

// identity is what the agent hub needs to cap and close a connection opened by p.
func (p principal) identity(kind string) agent.Identity {
	return agent.Identity{User: p.user.Name, Kind: kind, Credential: p.credential, Expires: p.expires}
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
		p := principal{scope: t.Scope, credential: "token:" + strconv.FormatInt(t.ID, 10), expires: t.ExpiresAt}
		// A pbx token speaks for a phone system, never for a user, even when bound to one.
		if t.User != "" && t.Scope == store.ScopeAgent {
			u, err := w.d.Store.GetUser(r.Context(), t.User)
			if err != nil {
				return principal{}, errors.New("the token's user no longer exists")
			}
			p.user = u
		}
		w.seen.mark(r.Context(), w, p.user.Name, t.ID)
		w.tokens.put(secret, p, time.Now())
		return p, nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		se, err := w.d.Store.SessionInfo(r.Context(), c.Value)
		if err != nil {
			return principal{}, errors.New("session expired: log in again")
		}
		w.seen.mark(r.Context(), w, se.User.Name, 0)
		return principal{user: se.User, scope: store.ScopeAgent, csrf: se.CSRF, session: true, credential: "session:" + se.ID, expires: se.ExpiresAt}, nil
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
		if p.scope != store.ScopeAgent || p.user.Name == "" {
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

func (w *Web) clientIP(r *http.Request) string { return clientAddr(r, w.opt.TrustedProxies) }

// login checks a password. The attempt is counted before bcrypt runs (per client address,
// per user name from that address, and per user name) and refunded on success; past the
// free attempts each key waits a growing delay (errThrottled carries it). bcrypt runs a
// few at a time.
func (w *Web) login(ctx context.Context, r *http.Request, name, password string) (store.User, string, string, error) {
	addr := w.clientIP(r)
	release, wait := w.limits.admit(time.Now(),
		limitKey{"a\x00" + addr, addrPolicy}, limitKey{"ua\x00" + name + "\x00" + addr, userAddrPolicy}, limitKey{"u\x00" + name, userPolicy})
	if wait > 0 {
		return store.User{}, "", "", throttled{wait}
	}
	var u store.User
	var err error
	if werr := w.limits.work(ctx, func() { u, err = w.d.Store.CheckPassword(ctx, name, password) }); werr != nil {
		release(true) // not checked: it does not count
		return store.User{}, "", "", werr
	}
	if err != nil {
		release(false)
		return store.User{}, "", "", err
	}
	release(true)
	secret, csrf, err := w.d.Store.CreateSession(ctx, u.Name, w.opt.SessionTTL)
	if err != nil {
		return store.User{}, "", "", err
	}
	return u, secret, csrf, nil
}

// throttled is errThrottled with how long to wait.
type throttled struct{ wait time.Duration }

func (t throttled) Error() string { return errThrottled.Error() }
func (t throttled) Unwrap() error { return errThrottled }

var errThrottled = errors.New("too many attempts: wait a few minutes")

// tokenCache remembers checked tokens for a second: a phone system posts an event per
// call state change, and each check would otherwise be a database query. A revoked token
// stops working within tokenCacheTTL on every node, at once on the node told of it
// (Web.AccessChanged).
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedToken
}

type cachedToken struct {
	p       principal
	expires time.Time
}

const tokenCacheTTL = time.Second

func (c *tokenCache) get(secret string, now time.Time) (principal, bool) {
	k := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.After(e.expires) || (!e.p.expires.IsZero() && !now.Before(e.p.expires)) {
		return principal{}, false
	}
	return e.p, true
}

func (c *tokenCache) purge() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
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

// seenEvery is how often a user's "last seen" and a token's "last used" are written.
const seenEvery = time.Minute

// seenMarks remembers when this node last wrote a user's or token's use (Store.Seen), so
// that a busy user or phone system costs one write a minute, not one per request.
type seenMarks struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (s *seenMarks) due(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.m[key]) < seenEvery {
		return false
	}
	if s.m == nil || len(s.m) > 10000 {
		s.m = map[string]time.Time{}
	}
	s.m[key] = now
	return true
}

// mark records a use of user and token (0: none) when its minute is due.
func (s *seenMarks) mark(ctx context.Context, w *Web, user string, token int64) {
	now := time.Now()
	if user != "" && !s.due("u\x00"+user, now) {
		user = ""
	}
	if token != 0 && !s.due("t\x00"+strconv.FormatInt(token, 10), now) {
		token = 0
	}
	if user == "" && token == 0 {
		return
	}
	if err := w.d.Store.Seen(ctx, user, token, now); err != nil {
		w.log.Warn("recording last use", "user", user, "token", token, "err", err)
	}
}

// secretEqual compares a secret in constant time (an empty one never matches).
func secretEqual(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
