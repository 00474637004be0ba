package web

import (
	"net/http"
	"net/url"
	"slices"
)

// adminPages are the admin console's pages, in the order of its menu: each is
// templates/admin_NAME.html inside templates/admin.html (the frame) with
// static/admin-NAME.js, and reads and changes through the /api/v1/admin API.
var adminPages = []string{"people", "tokens", "systems", "live", "stats", "import", "outbox", "audit"}

// adminPage serves GET /admin and /admin/{page}: a login first for strangers, a 403
// page for users who are not administrators.
func (w *Web) adminPage(rw http.ResponseWriter, r *http.Request) {
	name := r.PathValue("page")
	if name == "" {
		name = adminPages[0]
	}
	if !slices.Contains(adminPages, name) {
		http.NotFound(rw, r)
		return
	}
	p, err := w.authenticate(r, false)
	if err != nil || !p.session {
		http.Redirect(rw, r, "/login?next="+url.QueryEscape("/admin/"+name), http.StatusSeeOther)
		return
	}
	lang := w.lang(r, p.user.Name)
	d := pageData{User: p.user, CSRF: p.csrf, Page: name, Pages: adminPages, Script: "admin-" + name + ".js"}
	if !p.user.Admin {
		d.Title = w.i18n.T(lang, "admin.forbidden_title")
		rw.WriteHeader(http.StatusForbidden)
		w.render(rw, lang, "forbidden", d)
		return
	}
	d.Title = w.i18n.T(lang, "admin.title_page", "page", w.i18n.T(lang, "admin.nav_"+name))
	w.render(rw, lang, "admin_"+name, d)
}
