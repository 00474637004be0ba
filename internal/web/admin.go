package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ringside/ringside/internal/crm/builtin"
	"github.com/ringside/ringside/internal/stats"
	"github.com/ringside/ringside/internal/store"
)

// The admin API (/api/v1/admin/…): administrators only, every change recorded in the
// audit log. Routes are in routes.go.

// maxImportBytes bounds an uploaded import file.
const maxImportBytes = 64 << 20

// importer is the built-in directory's import (other CRMs have none).
type importer interface {
	Preview(ctx context.Context, r io.Reader) (builtin.Preview, error)
	Import(ctx context.Context, r io.Reader) (builtin.ImportResult, error)
}

// audit records an admin action; a failure to record is logged, not shown.
func (w *Web) audit(r *http.Request, action, target, detail string) {
	remote, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remote = r.RemoteAddr
	}
	e := store.AuditEntry{Actor: principalOf(r).user.Name, Action: action, Target: target, Detail: detail, Remote: remote}
	if err := w.d.Store.AddAudit(context.WithoutCancel(r.Context()), e); err != nil {
		w.log.Warn("audit log", "action", action, "err", err)
	}
}

// adminUser is a user as the People page lists it.
type adminUser struct {
	store.User
	Connected bool `json:"connected"`
}

func (w *Web) adminUsers(rw http.ResponseWriter, r *http.Request) {
	us, err := w.d.Store.ListUsers(r.Context())
	if err != nil {
		apiError(rw, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]adminUser, 0, len(us))
	for _, u := range us {
		out = append(out, adminUser{User: u, Connected: w.d.Hub != nil && w.d.Hub.Online(u.Name)})
	}
	writeJSON(rw, http.StatusOK, map[string]any{"users": out})
}

func (w *Web) adminTokens(rw http.ResponseWriter, r *http.Request) {
	ts, err := w.d.Store.ListTokens(r.Context())
	if err != nil {
		apiError(rw, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"tokens": ts})
}

func (w *Web) adminRevokeToken(rw http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		apiError(rw, http.StatusBadRequest, "id: not a token id")
		return
	}
	if err := w.d.Store.RevokeToken(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			apiError(rw, http.StatusNotFound, fmt.Sprintf("id: no token %d", id))
			return
		}
		apiError(rw, http.StatusInternalServerError, err.Error())
		return
	}
	w.tokens.forget() // a revoked token must not live on in the cache
	w.audit(r, "token.revoke", strconv.FormatInt(id, 10), "")
	writeJSON(rw, http.StatusOK, map[string]any{"revoked": id})
}

// adminStats answers GET /api/v1/admin/stats?from=2026-03-01&to=2026-04-01&step=day
// [&format=csv|svg][&tz=Europe/Berlin]; from and to are dates (or RFC 3339 times),
// to is exclusive; the default is the last 30 days.
func (w *Web) adminStats(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	loc := time.UTC
	if tz := q.Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			apiError(rw, http.StatusBadRequest, "tz: not a time zone such as Europe/Berlin")
			return
		}
		loc = l
	}
	now := time.Now().In(loc)
	to := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, loc)
	from := to.AddDate(0, 0, -30)
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, v); err != nil {
				apiError(rw, http.StatusBadRequest, p.name+": not a date (2006-01-02) or time (RFC 3339)")
				return
			}
		}
		*p.dst = t
	}
	rep, err := stats.Compute(r.Context(), w.d.Store, stats.Options{From: from, To: to, Step: stats.Step(q.Get("step")), Loc: loc})
	if err != nil {
		apiError(rw, http.StatusBadRequest, err.Error())
		return
	}
	switch q.Get("format") {
	case "", "json":
		writeJSON(rw, http.StatusOK, rep)
	case "csv":
		rw.Header().Set("Content-Type", "text/csv; charset=utf-8")
		rw.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="ringside-stats-%s-%s.csv"`, from.Format("20060102"), to.Format("20060102")))
		rep.WriteCSV(rw)
	case "svg":
		lang := w.chartLang(r)
		rw.Header().Set("Content-Type", "image/svg+xml")
		rw.Header().Set("Cache-Control", "no-store")
		io.WriteString(rw, rep.SVG(w.chartLabels(lang)))
	default:
		apiError(rw, http.StatusBadRequest, "format: json, csv or svg")
	}
}

func (w *Web) importerOf(rw http.ResponseWriter) (importer, bool) {
	im, ok := w.d.Directory.(importer)
	if !ok {
		apiError(rw, http.StatusConflict, "import fills the built-in directory; this server uses another CRM")
	}
	return im, ok
}

// adminImportPreview answers POST /api/v1/admin/import/preview with the CSV file as the
// body: what an import would do, row by row, storing nothing.
func (w *Web) adminImportPreview(rw http.ResponseWriter, r *http.Request) {
	im, ok := w.importerOf(rw)
	if !ok {
		return
	}
	p, err := im.Preview(r.Context(), http.MaxBytesReader(rw, r.Body, maxImportBytes))
	if err != nil {
		importFailed(rw, err)
		return
	}
	writeJSON(rw, http.StatusOK, p)
}

// adminImport answers POST /api/v1/admin/import with the CSV file as the body: the
// file is stored entirely, or (422, with the bad lines) not at all.
func (w *Web) adminImport(rw http.ResponseWriter, r *http.Request) {
	im, ok := w.importerOf(rw)
	if !ok {
		return
	}
	res, err := im.Import(r.Context(), http.MaxBytesReader(rw, r.Body, maxImportBytes))
	if err != nil {
		var ie *builtin.ImportError
		if errors.As(err, &ie) {
			writeJSON(rw, http.StatusUnprocessableEntity, map[string]any{"error": "the file has bad rows; nothing was imported", "errors": ie.Lines, "more_errors": ie.More})
			return
		}
		importFailed(rw, err)
		return
	}
	w.audit(r, "import.apply", "", fmt.Sprintf("%d rows: %d contacts, %d leads, %d accounts created, %d updated", res.Rows, res.Contacts, res.Leads, res.Accounts+res.AccountsLinked, res.Updated+res.AccountsUpdated))
	writeJSON(rw, http.StatusOK, res)
}

func importFailed(rw http.ResponseWriter, err error) {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		apiError(rw, http.StatusRequestEntityTooLarge, fmt.Sprintf("file: larger than %d MiB", maxImportBytes>>20))
		return
	}
	apiError(rw, http.StatusInternalServerError, err.Error())
}

// adminAudit answers GET /api/v1/admin/audit[?before=ID][&limit=N], newest first.
func (w *Web) adminAudit(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var before int64
	limit := 100
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			apiError(rw, http.StatusBadRequest, "before: not an entry id")
			return
		}
		before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			apiError(rw, http.StatusBadRequest, "limit: a number from 1 to 1000")
			return
		}
		limit = n
	}
	es, err := w.d.Store.ListAudit(r.Context(), limit, before)
	if err != nil {
		apiError(rw, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"entries": es})
}

// forget empties the token cache, so that a revoked token is refused at once.
func (c *tokenCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// chartLang is the statistics chart's language: ?lang= one with a catalogue, else the
// admin's setting or the browser's choice (see lang).
func (w *Web) chartLang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l != "" && w.i18n.Has(l) {
		return l
	}
	return w.lang(r, principalOf(r).user.Name)
}

// chartLabels are the statistics chart's words, from the admin catalogue.
func (w *Web) chartLabels(lang string) stats.Labels {
	t := func(k string) string { return w.i18n.T(lang, "admin.chart_"+k) }
	return stats.Labels{Title: t("title"), Answered: t("answered"), Missed: t("missed"), Outbound: t("outbound")}
}
