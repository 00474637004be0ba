package web

import (
	"errors"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/store"
)

type pageData struct {
	Title   string
	User    store.User
	CSRF    string
	Error   string
	Next    string
	CRMName string
	Record  *crm.Record
	Phones  []recordPhone
	// CIFLib is the Dynamics 365 Channel Integration Framework library to load (from the
	// ucilib parameter, only from a configured origin), and CIFOrigin its org's URL.
	CIFLib, CIFOrigin string
	// The admin console: the page shown, the menu's pages, and the page's script.
	Page   string
	Pages  []string
	Script string
}

type recordPhone struct {
	Field, Raw, E164 string
}

func (w *Web) agentPage(rw http.ResponseWriter, r *http.Request) {
	p, err := w.authenticate(r, false)
	if err != nil || !p.session {
		next := "/"
		if r.URL.RawQuery != "" {
			next += "?" + r.URL.RawQuery
		}
		http.Redirect(rw, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	d := pageData{Title: "Ringside", User: p.user, CSRF: p.csrf, CRMName: w.opt.CRMName}
	d.CIFLib, d.CIFOrigin = w.cifLibrary(r.URL.Query().Get("ucilib"))
	w.render(rw, w.lang(r, p.user.Name), "agent", d)
}

// cifLibrary accepts the CIF library URL Dynamics 365 passes in the widget's landing URL
// (ucilib=https://ORG.crm.dynamics.com/webresources/Widget/msdyn_ciLibrary.js) when its
// host is one of the configured origin patterns; the CSP allows scripts from those only.
func (w *Web) cifLibrary(raw string) (lib, origin string) {
	if raw == "" || len(raw) > 512 {
		return "", ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" || u.Path != "/webresources/Widget/msdyn_ciLibrary.js" {
		return "", ""
	}
	if !w.allowedOrigin(u.Hostname()) {
		return "", ""
	}
	return "https://" + u.Host + u.Path, "https://" + u.Host
}

// allowedOrigin reports whether host matches one of the configured origin patterns.
func (w *Web) allowedOrigin(host string) bool {
	host = strings.ToLower(host)
	for _, pat := range w.opt.OriginPatterns {
		if ok, err := path.Match(strings.ToLower(pat), host); err == nil && ok {
			return true
		}
	}
	return false
}

// localPath returns next when it is a path on this server (no open redirect), else "/".
// Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
// "/\t/evil.example" would lead off-site: any control character, space or backslash, and
// anything with a scheme or host, is refused.
func localPath(next string) string {
	bad := func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '\\' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	}
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsFunc(next, bad) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(u.Path, "//") || strings.ContainsFunc(u.Path, bad) {
		return "/"
	}
	return next
}

func (w *Web) loginPage(rw http.ResponseWriter, r *http.Request) {
	lang := w.lang(r, "")
	d := pageData{Title: w.i18n.T(lang, "login.title"), Next: localPath(r.URL.Query().Get("next"))}
	if r.URL.Query().Has("ended") {
		// The agent page lands here when the server ended its access (disabled, logged
		// out elsewhere, password changed, session expired): say so.
		d.Error = w.i18n.T(lang, "login.ended")
	}
	w.render(rw, lang, "login", d)
}

func (w *Web) loginSubmit(rw http.ResponseWriter, r *http.Request) {
	lang := w.lang(r, "")
	title := w.i18n.T(lang, "login.title")
	r.Body = http.MaxBytesReader(rw, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		rw.WriteHeader(http.StatusBadRequest)
		w.render(rw, lang, "login", pageData{Title: title, Error: w.i18n.T(lang, "login.error_form")})
		return
	}
	// A login form posted from another site is refused (login CSRF).
	if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r) {
		rw.WriteHeader(http.StatusForbidden)
		w.render(rw, lang, "login", pageData{Title: title, Error: w.i18n.T(lang, "login.error_origin")})
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("user"))
	next := localPath(r.PostForm.Get("next"))
	_, secret, _, err := w.login(r.Context(), r, name, r.PostForm.Get("password"))
	if err != nil {
		msg := "login.error_credentials"
		code := http.StatusUnauthorized
		var th throttled
		if errors.As(err, &th) {
			msg, code = "login.error_throttled", http.StatusTooManyRequests
			rw.Header().Set("Retry-After", strconv.Itoa(int(th.wait.Seconds())+1))
		} else if errors.Is(err, errBusy) {
			msg, code = "login.error_busy", http.StatusServiceUnavailable
			rw.Header().Set("Retry-After", "5")
		} else if !errors.Is(err, store.ErrBadCredentials) && !errors.Is(err, store.ErrNotFound) {
			w.log.Error("login", "err", err)
			msg, code = "login.error_unavailable", http.StatusInternalServerError
		}
		rw.WriteHeader(code)
		w.render(rw, lang, "login", pageData{Title: title, Error: w.i18n.T(lang, msg), Next: next})
		return
	}
	http.SetCookie(rw, w.sessionCookie(r, secret))
	http.Redirect(rw, r, next, http.StatusSeeOther)
}

// sessionCookie is HttpOnly, SameSite=Lax, and Secure over TLS. When the page may be
// embedded by a CRM (origin_patterns) and is served over TLS, a Lax cookie would never be
// sent inside the CRM's frame (a cross-site context), so the cookie is SameSite=None but
// Partitioned (CHIPS): the browser keeps it only for the top-level site it was set under,
// so other sites still cannot make requests with it. State changes need the CSRF header
// either way, and the stream only accepts the page's own and the configured origins.
func (w *Web) sessionCookie(r *http.Request, secret string) *http.Cookie {
	secure := w.opt.Secure || r.TLS != nil
	c := &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure, MaxAge: int(w.opt.SessionTTL.Seconds())}
	if secure && len(w.opt.OriginPatterns) > 0 {
		c.SameSite, c.Partitioned = http.SameSiteNoneMode, true
	}
	return c
}

// caller answers what the page needs to show a number beyond the pop: the number
// formatted nationally and internationally (for the create form), and the record this
// user picked for it before (so that her earlier choice comes first).
func (w *Web) caller(rw http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("number")
	if raw == "" || len(raw) > 256 {
		apiError(rw, http.StatusBadRequest, `query parameter "number" is required (at most 256 bytes)`)
		return
	}
	n := w.d.Parser.Parse(raw)
	out := map[string]any{"number": n.E164, "national": "", "international": "", "pick": nil}
	if n.E164 != "" {
		if pn, err := phonenumbers.Parse(n.E164, ""); err == nil {
			out["national"] = phonenumbers.Format(pn, phonenumbers.NATIONAL)
			out["international"] = phonenumbers.Format(pn, phonenumbers.INTERNATIONAL)
		}
		u := principalOf(r).user
		if ref, err := w.d.Store.Pick(r.Context(), u.Name, n.E164); err == nil {
			out["pick"] = ref
		}
		out["last"] = w.lastContact(r, u, n.E164, r.URL.Query().Get("call"))
	}
	writeJSON(rw, http.StatusOK, out)
}

// lastContact is the user's latest earlier call with number (not the call she is on):
// when, who answered it, and its notes, for the card's "last contact" line; nil if none.
func (w *Web) lastContact(r *http.Request, u store.User, e164, exclude string) map[string]any {
	f := store.CallFilter{Numbers: []string{e164}, Limit: 1, Exclude: exclude}
	if !u.Admin {
		f.Viewer = &store.Viewer{User: u.Name, Extensions: u.Extensions}
	}
	recs, err := w.d.Store.ListCalls(r.Context(), f)
	if err != nil || len(recs) == 0 {
		return nil
	}
	rec := recs[0]
	who := ""
	for _, l := range rec.Call.Legs {
		if l.Extension == rec.Call.AnsweredBy || (who == "" && !l.AnsweredAt.IsZero()) {
			who = l.User
			if who == "" {
				who = l.Extension
			}
		}
	}
	return map[string]any{"call_id": rec.Call.ID, "at": rec.Call.StartedAt, "user": who,
		"missed": rec.Call.Missed, "direction": rec.Call.Direction, "notes": notesText(rec)}
}

// notesText is a call's notes entries as one text.
func notesText(rec store.CallRecord) string {
	parts := make([]string, 0, len(rec.Notes))
	for _, n := range rec.Notes {
		if n.Text != "" {
			parts = append(parts, n.Text)
		}
	}
	return strings.Join(parts, " · ")
}

func sameOrigin(origin string, r *http.Request) bool {
	o := strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://")
	return o == r.Host
}

func (w *Web) logout(rw http.ResponseWriter, r *http.Request) {
	p, err := w.authenticate(r, false)
	if err == nil && p.session {
		r.Body = http.MaxBytesReader(rw, r.Body, 8<<10)
		if !secretEqual(r.PostFormValue("csrf"), p.csrf) && !secretEqual(r.Header.Get("X-CSRF-Token"), p.csrf) {
			http.Error(rw, "missing CSRF token", http.StatusForbidden)
			return
		}
		if c, err := r.Cookie(sessionCookie); err == nil {
			if err := w.d.Store.DeleteSession(r.Context(), c.Value); err != nil {
				w.log.Error("logout", "err", err)
			}
		}
		// The page's streams end now (other nodes learn it from the store's access log).
		w.d.Hub.CloseCredential(p.user.Name, p.credential, "logged out")
	}
	http.SetCookie(rw, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(rw, r, "/login", http.StatusSeeOther)
}

// recordPage shows a record of the built-in directory ("Open in CRM" without a CRM).
func (w *Web) recordPage(rw http.ResponseWriter, r *http.Request) {
	p, err := w.authenticate(r, false)
	if err != nil || p.user.Name == "" || p.scope != store.ScopeAgent {
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return
	}
	ref := crm.Ref{Entity: crm.Entity(r.PathValue("entity")), ID: r.PathValue("id")}
	rec, err := w.d.Directory.Get(r.Context(), ref)
	if err != nil {
		http.NotFound(rw, r)
		return
	}
	var phones []recordPhone
	for _, ph := range rec.Phones {
		phones = append(phones, recordPhone{Field: ph.Field, Raw: ph.Raw, E164: w.d.Parser.ParseStored(ph.Raw, rec.Country).E164})
	}
	w.render(rw, w.lang(r, p.user.Name), "record", pageData{Title: rec.Name + " · Ringside", User: p.user, CSRF: p.csrf, Record: &rec, Phones: phones})
}
