package web

import (
	"errors"
	"net/http"
	"strings"

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
}

type recordPhone struct {
	Field, Raw, E164 string
}

func (w *Web) agentPage(rw http.ResponseWriter, r *http.Request) {
	p, err := w.authenticate(r, false)
	if err != nil || !p.session {
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return
	}
	w.render(rw, "agent", pageData{Title: "Ringside", User: p.user, CSRF: p.csrf, CRMName: w.opt.CRMName})
}

func (w *Web) loginPage(rw http.ResponseWriter, r *http.Request) {
	w.render(rw, "login", pageData{Title: "Log in · Ringside"})
}

func (w *Web) loginSubmit(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		w.render(rw, "login", pageData{Title: "Log in · Ringside", Error: "The form could not be read."})
		return
	}
	// A login form posted from another site is refused (login CSRF).
	if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r) {
		rw.WriteHeader(http.StatusForbidden)
		w.render(rw, "login", pageData{Title: "Log in · Ringside", Error: "Log in from Ringside's own page."})
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("user"))
	_, secret, _, err := w.login(r.Context(), r, name, r.PostForm.Get("password"))
	if err != nil {
		msg := "Wrong user name or password."
		code := http.StatusUnauthorized
		if errors.Is(err, errThrottled) {
			msg, code = "Too many attempts. Wait a few minutes, then try again.", http.StatusTooManyRequests
		} else if !errors.Is(err, store.ErrBadCredentials) && !errors.Is(err, store.ErrNotFound) {
			w.log.Error("login", "err", err)
			msg, code = "Login is not possible right now.", http.StatusInternalServerError
		}
		rw.WriteHeader(code)
		w.render(rw, "login", pageData{Title: "Log in · Ringside", Error: msg})
		return
	}
	http.SetCookie(rw, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: w.opt.Secure || r.TLS != nil, MaxAge: int(w.opt.SessionTTL.Seconds())})
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

func sameOrigin(origin string, r *http.Request) bool {
	o := strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://")
	return o == r.Host
}

func (w *Web) logout(rw http.ResponseWriter, r *http.Request) {
	p, err := w.authenticate(r, false)
	if err == nil && p.session {
		if r.PostFormValue("csrf") != p.csrf && r.Header.Get("X-CSRF-Token") != p.csrf {
			http.Error(rw, "missing CSRF token", http.StatusForbidden)
			return
		}
		if c, err := r.Cookie(sessionCookie); err == nil {
			w.d.Store.DeleteSession(r.Context(), c.Value)
		}
	}
	http.SetCookie(rw, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(rw, r, "/login", http.StatusSeeOther)
}

// recordPage shows a record of the built-in directory ("Open in CRM" without a CRM).
func (w *Web) recordPage(rw http.ResponseWriter, r *http.Request) {
	p, err := w.authenticate(r, false)
	if err != nil || p.user.Name == "" {
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
	w.render(rw, "record", pageData{Title: rec.Name + " · Ringside", User: p.user, CSRF: p.csrf, Record: &rec, Phones: phones})
}
