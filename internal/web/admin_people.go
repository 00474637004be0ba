package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/internal/store"
)

// The People and Tokens pages' changes (/api/v1/admin/users…, /api/v1/admin/tokens):
// every refusal is a 4xx whose message starts with the field it is about, every change
// is written to the audit log.

// minPassword is the shortest password an admin may set (the CLI's rule).
const minPassword = 8

// fieldError answers code with {"error": "field: msg", "field": field}.
func fieldError(rw http.ResponseWriter, code int, field, msg string, extra ...any) {
	out := map[string]any{"error": field + ": " + msg, "field": field}
	for i := 0; i+1 < len(extra); i += 2 {
		out[fmt.Sprint(extra[i])] = extra[i+1]
	}
	writeJSON(rw, code, out)
}

// newPassword is a password shown once to the admin who made it: 16 random characters.
func newPassword() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// checkEmail accepts "" or one plain address.
func checkEmail(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > 254 || strings.ContainsFunc(v, hostileRune) {
		return errors.New("is not an email address")
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" {
		return errors.New("is not an email address such as dana@example.com")
	}
	return nil
}

// checkExtensions cleans exts and refuses bad ones; a non-admin needs one at least
// (her phone: without one she sees no calls).
func checkExtensions(exts []string, admin bool) ([]string, error) {
	var out []string
	for _, e := range exts {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if err := store.CheckName("extension", e); err != nil {
			return nil, errors.New(strings.TrimSuffix(err.Error(), ": "+store.ErrInvalidName.Error()))
		}
		if strings.ContainsAny(e, " ,;") {
			return nil, fmt.Errorf("extension %q has a space, comma or semicolon", e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) > 32 {
		return nil, errors.New("at most 32 extensions")
	}
	if len(out) == 0 && !admin {
		return nil, errors.New("an agent needs an extension (the phone whose calls she sees)")
	}
	return out, nil
}

// extensionTaken answers 409 when one of exts belongs to another user (unless shared).
func (w *Web) extensionTaken(rw http.ResponseWriter, r *http.Request, name string, exts []string) bool {
	err := w.d.Store.CheckExtensions(r.Context(), name, exts)
	var taken *store.ExtensionTakenError
	if errors.As(err, &taken) {
		fieldError(rw, http.StatusConflict, "extensions", fmt.Sprintf("extension %s belongs to %s already: choose another, or tick shared if both should see its calls", taken.Extension, taken.User),
			"extension", taken.Extension, "user", taken.User)
		return true
	}
	if err != nil {
		apiError(rw, http.StatusInternalServerError, "could not check the extensions")
		return true
	}
	return false
}

type addUserBody struct {
	Name       string   `json:"name"`
	Extensions []string `json:"extensions"`
	Email      string   `json:"email"`
	Admin      bool     `json:"admin"`
	Shared     bool     `json:"shared"`   // the extensions may belong to others too
	Password   string   `json:"password"` // "": one is made and shown once
}

// adminAddUser answers POST /api/v1/admin/users: 201 with the user, and the password
// when it was made here (shown once).
func (w *Web) adminAddUser(rw http.ResponseWriter, r *http.Request) {
	var b addUserBody
	if !decode(rw, r, &b) {
		return
	}
	b.Name = strings.TrimSpace(b.Name)
	if b.Name == "" {
		fieldError(rw, http.StatusBadRequest, "name", "is required")
		return
	}
	if err := store.CheckName("name", b.Name); err != nil || strings.ContainsAny(b.Name, " /") {
		fieldError(rw, http.StatusBadRequest, "name", "use at most 128 characters without spaces, slashes or control characters")
		return
	}
	exts, err := checkExtensions(b.Extensions, b.Admin)
	if err != nil {
		fieldError(rw, http.StatusBadRequest, "extensions", err.Error())
		return
	}
	b.Email = strings.TrimSpace(b.Email)
	if err := checkEmail(b.Email); err != nil {
		fieldError(rw, http.StatusBadRequest, "email", err.Error())
		return
	}
	generated := b.Password == ""
	if generated {
		if b.Password, err = newPassword(); err != nil {
			apiError(rw, http.StatusInternalServerError, "could not make a password")
			return
		}
	} else if len(b.Password) < minPassword || len(b.Password) > 256 {
		fieldError(rw, http.StatusBadRequest, "password", fmt.Sprintf("needs %d to 256 characters", minPassword))
		return
	}
	if _, err := w.d.Store.GetUser(r.Context(), b.Name); err == nil {
		fieldError(rw, http.StatusConflict, "name", fmt.Sprintf("a user %s exists already", b.Name))
		return
	}
	if !b.Shared && w.extensionTaken(rw, r, b.Name, exts) {
		return
	}
	u, err := w.d.Store.AddUser(r.Context(), store.User{Name: b.Name, Extensions: exts, Email: b.Email, Admin: b.Admin}, b.Password)
	if errors.Is(err, store.ErrExists) {
		fieldError(rw, http.StatusConflict, "name", fmt.Sprintf("a user %s exists already", b.Name))
		return
	}
	if err != nil {
		apiError(rw, http.StatusInternalServerError, "could not add the user")
		return
	}
	w.audit(r, "user.add", u.Name, userDetail(u, b.Shared))
	out := map[string]any{"user": u}
	if generated {
		out["password"] = b.Password
	}
	writeJSON(rw, http.StatusCreated, out)
}

func userDetail(u store.User, shared bool) string {
	parts := []string{"extensions " + strings.Join(u.Extensions, ",")}
	if u.Email != "" {
		parts = append(parts, "email "+u.Email)
	}
	if u.Admin {
		parts = append(parts, "admin")
	}
	if shared {
		parts = append(parts, "shared")
	}
	return strings.Join(parts, "; ")
}

// pathUser returns the user named in the path, or answers 404.
func (w *Web) pathUser(rw http.ResponseWriter, r *http.Request) (store.User, bool) {
	name := r.PathValue("name")
	if err := store.CheckName("name", name); err != nil || name == "" {
		fieldError(rw, http.StatusBadRequest, "name", "not a user name")
		return store.User{}, false
	}
	u, err := w.d.Store.GetUser(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		fieldError(rw, http.StatusNotFound, "name", fmt.Sprintf("no user %s", name))
		return store.User{}, false
	}
	if err != nil {
		apiError(rw, http.StatusInternalServerError, "could not read the user")
		return store.User{}, false
	}
	return u, true
}

// notSelf refuses an action that would lock the acting admin out.
func notSelf(rw http.ResponseWriter, r *http.Request, u store.User, what string) bool {
	if principalOf(r).user.Name == u.Name {
		fieldError(rw, http.StatusConflict, "name", "you cannot "+what+" yourself: ask another administrator")
		return false
	}
	return true
}

type editUserBody struct {
	Extensions *[]string `json:"extensions"`
	Email      *string   `json:"email"`
	Admin      *bool     `json:"admin"`
	Shared     bool      `json:"shared"`
}

// adminEditUser answers PATCH /api/v1/admin/users/{name}: the fields given change.
func (w *Web) adminEditUser(rw http.ResponseWriter, r *http.Request) {
	u, ok := w.pathUser(rw, r)
	if !ok {
		return
	}
	var b editUserBody
	if !decode(rw, r, &b) {
		return
	}
	admin := u.Admin
	if b.Admin != nil {
		if !*b.Admin && u.Admin && principalOf(r).user.Name == u.Name {
			fieldError(rw, http.StatusConflict, "admin", "you cannot take away your own admin rights: ask another administrator")
			return
		}
		admin = *b.Admin
	}
	exts := u.Extensions
	if b.Extensions != nil {
		var err error
		if exts, err = checkExtensions(*b.Extensions, admin); err != nil {
			fieldError(rw, http.StatusBadRequest, "extensions", err.Error())
			return
		}
		if !b.Shared && w.extensionTaken(rw, r, u.Name, newOnly(exts, u.Extensions)) {
			return
		}
	} else if len(exts) == 0 && !admin {
		fieldError(rw, http.StatusBadRequest, "extensions", "an agent needs an extension (the phone whose calls she sees)")
		return
	}
	email := u.Email
	if b.Email != nil {
		email = strings.TrimSpace(*b.Email)
		if err := checkEmail(email); err != nil {
			fieldError(rw, http.StatusBadRequest, "email", err.Error())
			return
		}
	}
	ctx := r.Context()
	var changes []string
	if !slices.Equal(exts, u.Extensions) {
		if err := w.d.Store.SetExtensions(ctx, u.Name, exts); err != nil {
			apiError(rw, http.StatusInternalServerError, "could not change the extensions")
			return
		}
		changes = append(changes, "extensions "+strings.Join(u.Extensions, ",")+" → "+strings.Join(exts, ","))
	}
	if email != u.Email {
		if err := w.d.Store.SetEmail(ctx, u.Name, email); err != nil {
			apiError(rw, http.StatusInternalServerError, "could not change the email")
			return
		}
		changes = append(changes, "email "+u.Email+" → "+email)
	}
	if admin != u.Admin {
		if err := w.d.Store.SetAdmin(ctx, u.Name, admin); err != nil {
			apiError(rw, http.StatusInternalServerError, "could not change the admin right")
			return
		}
		changes = append(changes, "admin "+strconv.FormatBool(u.Admin)+" → "+strconv.FormatBool(admin))
	}
	if len(changes) > 0 {
		if b.Shared {
			changes = append(changes, "shared")
		}
		w.audit(r, "user.edit", u.Name, strings.Join(changes, "; "))
	}
	nu, err := w.d.Store.GetUser(ctx, u.Name)
	if err != nil {
		apiError(rw, http.StatusInternalServerError, "could not read the user")
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"user": nu})
}

// newOnly is the extensions of exts not in had (keeping a shared one is no new conflict).
func newOnly(exts, had []string) []string {
	var out []string
	for _, e := range exts {
		if !slices.Contains(had, e) {
			out = append(out, e)
		}
	}
	return out
}

// adminUserState answers POST /api/v1/admin/users/{name}/disable and …/enable.
func (w *Web) adminUserState(disable bool) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		u, ok := w.pathUser(rw, r)
		if !ok {
			return
		}
		action, err := "user.enable", error(nil)
		if disable {
			if !notSelf(rw, r, u, "disable") {
				return
			}
			action, err = "user.disable", w.d.Store.DisableUser(r.Context(), u.Name)
		} else {
			err = w.d.Store.EnableUser(r.Context(), u.Name)
		}
		if err != nil {
			apiError(rw, http.StatusInternalServerError, "could not change the user")
			return
		}
		if disable {
			w.endAccess(u.Name, "account disabled")
		}
		w.audit(r, action, u.Name, "")
		nu, _ := w.d.Store.GetUser(r.Context(), u.Name)
		writeJSON(rw, http.StatusOK, map[string]any{"user": nu})
	}
}

// endAccess closes the user's open connections on this node at once (other nodes
// follow the store's access log within a second) and forgets cached tokens.
func (w *Web) endAccess(user, reason string) {
	w.tokens.forget()
	if w.d.Hub != nil {
		w.d.Hub.CloseUser(user, reason)
	}
}

// adminRemoveUser answers DELETE /api/v1/admin/users/{name}.
func (w *Web) adminRemoveUser(rw http.ResponseWriter, r *http.Request) {
	u, ok := w.pathUser(rw, r)
	if !ok || !notSelf(rw, r, u, "remove") {
		return
	}
	if err := w.d.Store.RemoveUser(r.Context(), u.Name); err != nil {
		apiError(rw, http.StatusInternalServerError, "could not remove the user")
		return
	}
	w.endAccess(u.Name, "account removed")
	w.audit(r, "user.remove", u.Name, userDetail(u, false))
	rw.WriteHeader(http.StatusNoContent)
}

// adminResetPassword answers POST /api/v1/admin/users/{name}/password: a new password
// (given as {"password": "…"}, or made here and answered once); the user's browser
// sessions end.
func (w *Web) adminResetPassword(rw http.ResponseWriter, r *http.Request) {
	u, ok := w.pathUser(rw, r)
	if !ok {
		return
	}
	var b struct {
		Password string `json:"password"`
	}
	if r.ContentLength != 0 && !decode(rw, r, &b) {
		return
	}
	generated := b.Password == ""
	if generated {
		var err error
		if b.Password, err = newPassword(); err != nil {
			apiError(rw, http.StatusInternalServerError, "could not make a password")
			return
		}
	} else if len(b.Password) < minPassword || len(b.Password) > 256 {
		fieldError(rw, http.StatusBadRequest, "password", fmt.Sprintf("needs %d to 256 characters", minPassword))
		return
	}
	if err := w.d.Store.SetPassword(r.Context(), u.Name, b.Password); err != nil {
		apiError(rw, http.StatusInternalServerError, "could not set the password")
		return
	}
	if w.d.Hub != nil && principalOf(r).user.Name != u.Name {
		w.d.Hub.CloseSessions(u.Name, "your password changed: log in again")
	}
	w.audit(r, "user.password", u.Name, "")
	out := map[string]any{"user": u.Name}
	if generated {
		out["password"] = b.Password
	}
	writeJSON(rw, http.StatusOK, out)
}

// adminCreateToken answers POST /api/v1/admin/tokens {"name", "scope": "agent"|"pbx",
// "user", "expires_days"}: 201 with the token and its secret (shown once).
func (w *Web) adminCreateToken(rw http.ResponseWriter, r *http.Request) {
	var b struct {
		Name        string `json:"name"`
		Scope       string `json:"scope"`
		User        string `json:"user"`
		ExpiresDays int    `json:"expires_days"` // 0: never
	}
	if !decode(rw, r, &b) {
		return
	}
	b.Name, b.User = strings.TrimSpace(b.Name), strings.TrimSpace(b.User)
	if b.Name == "" {
		fieldError(rw, http.StatusBadRequest, "name", "is required (what the token is for, e.g. 3CX or alice's laptop)")
		return
	}
	if err := store.CheckName("name", b.Name); err != nil {
		fieldError(rw, http.StatusBadRequest, "name", "use at most 128 characters without control characters")
		return
	}
	switch {
	case b.Scope != store.ScopeAgent && b.Scope != store.ScopePBX:
		fieldError(rw, http.StatusBadRequest, "scope", "must be agent (a user's programs) or pbx (a phone system)")
		return
	case b.Scope == store.ScopeAgent && b.User == "":
		fieldError(rw, http.StatusBadRequest, "user", "an agent token needs a user")
		return
	case b.Scope == store.ScopePBX && b.User != "":
		fieldError(rw, http.StatusBadRequest, "user", "a pbx token belongs to no user")
		return
	case b.ExpiresDays < 0 || b.ExpiresDays > 3650:
		fieldError(rw, http.StatusBadRequest, "expires_days", "a number of days from 1 to 3650, or 0 for never")
		return
	}
	if b.User != "" {
		if _, err := w.d.Store.GetUser(r.Context(), b.User); errors.Is(err, store.ErrNotFound) {
			fieldError(rw, http.StatusBadRequest, "user", fmt.Sprintf("no user %s", b.User))
			return
		}
	}
	var until time.Time
	if b.ExpiresDays > 0 {
		until = time.Now().Add(time.Duration(b.ExpiresDays) * 24 * time.Hour)
	}
	secret, tok, err := w.d.Store.CreateTokenUntil(r.Context(), b.User, b.Scope, b.Name, until)
	if err != nil {
		apiError(rw, http.StatusInternalServerError, "could not create the token")
		return
	}
	detail := "scope " + tok.Scope
	if tok.User != "" {
		detail += "; user " + tok.User
	}
	if !until.IsZero() {
		detail += "; expires " + tok.ExpiresAt.Format(time.DateOnly)
	}
	w.audit(r, "token.create", strconv.FormatInt(tok.ID, 10), tok.Name+"; "+detail)
	writeJSON(rw, http.StatusCreated, map[string]any{"token": tok, "secret": secret})
}
