package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/telephony"
)

func (w *Web) events(name string) http.Handler {
	return w.pbxOnly(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if w.intakeStopped.Load() {
			rw.Header().Set("Retry-After", "5")
			apiError(rw, http.StatusServiceUnavailable, "Ringside is shutting down: send the event again shortly")
			return
		}
		h, ok := w.d.Sources[name]
		if !ok {
			apiError(rw, http.StatusNotFound, "no webhook source is configured here (telephony: [{kind: webhook}])")
			return
		}
		h.ServeHTTP(rw, r)
	}))
}

func (w *Web) eventsNamed() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.events(r.PathValue("source")).ServeHTTP(rw, r)
	})
}

func (w *Web) stream(rw http.ResponseWriter, r *http.Request) {
	u := principalOf(r).user
	var hello [][]byte
	if w.d.Hello != nil {
		hello = w.d.Hello(u.Name)
	}
	if err := w.d.Hub.Attach(rw, r, u.Name, hello, nil); err != nil {
		w.log.Debug("stream not opened", "user", u.Name, "err", err)
	}
}

func (w *Web) lookupNumber(rw http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("number")
	if raw == "" {
		apiError(rw, http.StatusBadRequest, `query parameter "number" is required`)
		return
	}
	if len(raw) > 256 {
		apiError(rw, http.StatusBadRequest, `query parameter "number" is longer than 256 bytes`)
		return
	}
	n := w.d.Parser.Parse(raw)
	res, err := w.d.Lookup.Lookup(r.Context(), n)
	if err != nil {
		apiError(rw, http.StatusBadGateway, "the CRM did not answer: "+err.Error())
		return
	}
	ms := res.Matches
	if ms == nil {
		ms = []crm.Match{}
	}
	ms = w.applyPick(r, principalOf(r).user, n.E164, ms)
	writeJSON(rw, http.StatusOK, map[string]any{"number": n, "matches": ms})
}

// applyPick moves the record the user chose for this number before to the front.
func (w *Web) applyPick(r *http.Request, u store.User, e164 string, ms []crm.Match) []crm.Match {
	if e164 == "" || len(ms) < 2 {
		return ms
	}
	ref, err := w.d.Store.Pick(r.Context(), u.Name, e164)
	if err != nil {
		return ms
	}
	for i, m := range ms {
		if m.Ref == ref && i > 0 {
			out := append([]crm.Match{m}, ms[:i]...)
			return append(out, ms[i+1:]...)
		}
	}
	return ms
}

func (w *Web) canSee(u store.User, c call.Call) bool {
	if u.Admin {
		return true
	}
	for _, l := range c.Legs {
		if l.User == u.Name {
			return true
		}
		for _, e := range u.Extensions {
			if l.Extension == e && l.User == "" {
				return true
			}
		}
	}
	return false
}

func (w *Web) listCalls(rw http.ResponseWriter, r *http.Request) {
	u := principalOf(r).user
	q := r.URL.Query()
	f := store.CallFilter{MissedOnly: q.Get("missed") == "1" || q.Get("missed") == "true"}
	if !u.Admin || q.Get("mine") == "1" {
		f.Extensions = u.Extensions
		if f.Extensions == nil {
			f.Extensions = []string{}
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			apiError(rw, http.StatusBadRequest, `query parameter "limit" must be a number from 1 to 1000`)
			return
		}
		f.Limit = n
	}
	for _, p := range []struct {
		name string
		to   *string
	}{{"pbx_id", &f.PbxID}, {"source", &f.Source}} {
		v := q.Get(p.name)
		if len(v) > 256 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			apiError(rw, http.StatusBadRequest, `query parameter "`+p.name+`" must be at most 256 bytes of text`)
			return
		}
		*p.to = v
	}
	if s := q.Get("before"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			apiError(rw, http.StatusBadRequest, `query parameter "before" must be an RFC 3339 time`)
			return
		}
		f.Before = t
	}
	recs, err := w.d.Store.ListCalls(r.Context(), f)
	if err != nil {
		w.log.Error("listing calls", "err", err)
		apiError(rw, http.StatusInternalServerError, "could not read the call journal")
		return
	}
	if recs == nil {
		recs = []store.CallRecord{}
	}
	writeJSON(rw, http.StatusOK, map[string]any{"calls": recs})
}

func (w *Web) callFor(rw http.ResponseWriter, r *http.Request) (store.CallRecord, bool) {
	rec, err := w.d.Store.GetCall(r.Context(), r.PathValue("id"))
	if err != nil || !w.canSee(principalOf(r).user, rec.Call) {
		// The same answer for "no such call" and "not yours": ids are not secrets, but
		// another agent's calls are.
		apiError(rw, http.StatusNotFound, "no such call")
		return store.CallRecord{}, false
	}
	return rec, true
}

func (w *Web) getCall(rw http.ResponseWriter, r *http.Request) {
	if rec, ok := w.callFor(rw, r); ok {
		writeJSON(rw, http.StatusOK, rec)
	}
}

// decode reads a JSON request body of at most 64 KiB into v, strictly.
func decode(rw http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			apiError(rw, http.StatusRequestEntityTooLarge, "body larger than 64 KiB")
		case errors.As(err, &ute):
			apiError(rw, http.StatusBadRequest, "field "+strconv.Quote(ute.Field)+": expected a "+ute.Type.String())
		case errors.Is(err, io.EOF):
			apiError(rw, http.StatusBadRequest, "a JSON body is required")
		default:
			apiError(rw, http.StatusBadRequest, "malformed JSON: "+strings.TrimPrefix(err.Error(), "json: "))
		}
		return false
	}
	return true
}

func (w *Web) setRegarding(rw http.ResponseWriter, r *http.Request) {
	rec, ok := w.callFor(rw, r)
	if !ok {
		return
	}
	var body crm.Ref
	if !decode(rw, r, &body) {
		return
	}
	rc, err := w.d.Directory.Get(r.Context(), body)
	if err != nil {
		apiError(rw, http.StatusBadRequest, "no such record in the CRM")
		return
	}
	name := rc.Name
	if err := w.d.Store.AnnotateCall(r.Context(), rec.Call.ID, store.Annotation{Regarding: &rc.Ref, RegardingName: &name}); err != nil {
		apiError(rw, http.StatusInternalServerError, "could not save the choice")
		return
	}
	if rec.Call.Remote.Number != "" {
		w.d.Store.RememberPick(r.Context(), principalOf(r).user.Name, rec.Call.Remote.Number, rc.Ref)
	}
	writeJSON(rw, http.StatusOK, map[string]any{"regarding": rc})
}

func (w *Web) dial(rw http.ResponseWriter, r *http.Request) {
	var body struct {
		Number    string `json:"number"`
		Extension string `json:"extension"`
	}
	if !decode(rw, r, &body) {
		return
	}
	u := principalOf(r).user
	num := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(body.Number), "tel:"))
	if num == "" || len(num) > 64 {
		apiError(rw, http.StatusBadRequest, `field "number" is required (at most 64 characters)`)
		return
	}
	n := w.d.Parser.Parse(num)
	if n.Withheld || (n.E164 == "" && strings.Trim(num, "+0123456789 -()/.") != "") {
		apiError(rw, http.StatusBadRequest, "field \"number\": "+strconv.Quote(num)+" is not a phone number")
		return
	}
	if len(u.Extensions) == 0 {
		apiError(rw, http.StatusConflict, "you have no extension to dial from; ask an administrator to set one")
		return
	}
	if body.Extension != "" {
		found := false
		for _, e := range u.Extensions {
			found = found || e == body.Extension
		}
		if !found {
			apiError(rw, http.StatusForbidden, "extension "+strconv.Quote(body.Extension)+" is not yours")
			return
		}
		u.Extensions = []string{body.Extension}
	}
	if w.d.Dial == nil {
		apiError(rw, http.StatusNotImplemented, "no phone system that can dial is configured")
		return
	}
	if err := w.d.Dial(r.Context(), u, num); err != nil {
		if errors.Is(err, telephony.ErrDialUnsupported) {
			apiError(rw, http.StatusNotImplemented, err.Error())
			return
		}
		apiError(rw, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(rw, http.StatusAccepted, map[string]any{"dialing": num, "number": n.E164, "extension": u.Extensions[0]})
}

func (w *Web) createRecord(rw http.ResponseWriter, r *http.Request) {
	creator, ok := w.d.Directory.(crm.Creator)
	if !ok {
		apiError(rw, http.StatusNotImplemented, "the configured CRM does not let Ringside create records")
		return
	}
	var body struct {
		Entity    crm.Entity  `json:"entity"`
		FirstName string      `json:"first_name"`
		LastName  string      `json:"last_name"`
		Name      string      `json:"name"`
		Company   string      `json:"company"`
		Email     string      `json:"email"`
		Phone     string      `json:"phone"`
		Phones    []crm.Phone `json:"phones"`
		Country   string      `json:"country"`
		CallID    string      `json:"call_id"`
	}
	if !decode(rw, r, &body) {
		return
	}
	if !body.Entity.Valid() {
		apiError(rw, http.StatusBadRequest, `field "entity" must be contact, lead or account`)
		return
	}
	rec := crm.Record{Ref: crm.Ref{Entity: body.Entity}, FirstName: clean(body.FirstName), LastName: clean(body.LastName),
		Name: clean(body.Name), Company: clean(body.Company), Email: clean(body.Email), Country: strings.ToUpper(clean(body.Country))}
	if rec.Name == "" {
		rec.Name = strings.TrimSpace(rec.FirstName + " " + rec.LastName)
	}
	if body.Entity == crm.Account && rec.Name == "" {
		rec.Name = rec.Company
	}
	if rec.Name == "" {
		apiError(rw, http.StatusBadRequest, `a name is required ("first_name"/"last_name", or "name")`)
		return
	}
	phones := body.Phones
	if body.Phone != "" {
		phones = append([]crm.Phone{{Field: crm.FieldBusiness, Raw: body.Phone}}, phones...)
	}
	for _, p := range phones {
		if p.Raw = clean(p.Raw); p.Raw == "" {
			continue
		}
		if p.Field == "" {
			p.Field = crm.FieldBusiness
		}
		rec.Phones = append(rec.Phones, p)
	}
	created, err := creator.Create(r.Context(), rec)
	if err != nil {
		if errors.Is(err, crm.ErrUnavailable) {
			apiError(rw, http.StatusBadGateway, "the CRM is not reachable; try again: "+err.Error())
			return
		}
		apiError(rw, http.StatusBadRequest, "the CRM refused the record: "+err.Error())
		return
	}
	for _, p := range created.Phones {
		w.d.Lookup.Invalidate(w.d.Parser.ParseStored(p.Raw, created.Country))
	}
	if body.CallID != "" {
		if rec, err := w.d.Store.GetCall(r.Context(), body.CallID); err == nil && w.canSee(principalOf(r).user, rec.Call) {
			name := created.Name
			w.d.Store.AnnotateCall(r.Context(), body.CallID, store.Annotation{Regarding: &created.Ref, RegardingName: &name})
			w.d.Lookup.Invalidate(w.d.Parser.Parse(rec.Call.Remote.Raw))
		}
	}
	writeJSON(rw, http.StatusCreated, created)
}

func clean(s string) string { return call.Sanitize(strings.TrimSpace(s), 1024) }

func (w *Web) saveActivity(rw http.ResponseWriter, r *http.Request) {
	var body struct {
		CallID    string   `json:"call_id"`
		Notes     *string  `json:"notes"`
		Regarding *crm.Ref `json:"regarding"`
	}
	if !decode(rw, r, &body) {
		return
	}
	if body.CallID == "" {
		apiError(rw, http.StatusBadRequest, `field "call_id" is required`)
		return
	}
	rec, err := w.d.Store.GetCall(r.Context(), body.CallID)
	if err != nil || !w.canSee(principalOf(r).user, rec.Call) {
		apiError(rw, http.StatusNotFound, "no such call")
		return
	}
	var a store.Annotation
	if body.Notes != nil {
		notes := call.Sanitize(*body.Notes, 32<<10)
		a.Notes = &notes
	}
	if body.Regarding != nil {
		rc, err := w.d.Directory.Get(r.Context(), *body.Regarding)
		if err != nil {
			apiError(rw, http.StatusBadRequest, `field "regarding": no such record in the CRM`)
			return
		}
		a.Regarding, a.RegardingName = &rc.Ref, &rc.Name
	}
	if err := w.d.Store.AnnotateCall(r.Context(), body.CallID, a); err != nil {
		apiError(rw, http.StatusInternalServerError, "could not save the notes")
		return
	}
	rec, _ = w.d.Store.GetCall(r.Context(), body.CallID)
	if w.d.QueueActivity != nil {
		if err := w.d.QueueActivity(r.Context(), rec); err != nil {
			apiError(rw, http.StatusInternalServerError, "notes saved, but not queued for the CRM: "+err.Error())
			return
		}
	}
	writeJSON(rw, http.StatusAccepted, rec)
}

func (w *Web) me(rw http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	settings, _ := w.d.Store.UserSettings(r.Context(), p.user.Name)
	if settings == nil {
		settings = map[string]string{}
	}
	writeJSON(rw, http.StatusOK, map[string]any{"user": p.user, "settings": settings})
}

var allowedSettings = map[string][]string{"open_record_on_ring": {"off", "on"}}

func (w *Web) saveSettings(rw http.ResponseWriter, r *http.Request) {
	var body map[string]string
	if !decode(rw, r, &body) {
		return
	}
	for k, v := range body {
		vals, ok := allowedSettings[k]
		if !ok {
			apiError(rw, http.StatusBadRequest, "unknown setting "+strconv.Quote(call.Sanitize(k, 64)))
			return
		}
		valid := false
		for _, x := range vals {
			valid = valid || x == v
		}
		if !valid {
			apiError(rw, http.StatusBadRequest, "setting "+k+" takes "+strings.Join(vals, " or "))
			return
		}
	}
	u := principalOf(r).user.Name
	for k, v := range body {
		if err := w.d.Store.SetUserSetting(r.Context(), u, k, v); err != nil {
			apiError(rw, http.StatusInternalServerError, "could not save the setting")
			return
		}
	}
	w.me(rw, r)
}

func (w *Web) listOutbox(rw http.ResponseWriter, r *http.Request) {
	items, err := w.d.Store.ListOutbox(r.Context(), "pending", "parked")
	if err != nil {
		apiError(rw, http.StatusInternalServerError, "could not read the outbox")
		return
	}
	type view struct {
		ID        int64     `json:"id"`
		Kind      string    `json:"kind"`
		Key       string    `json:"key"`
		State     string    `json:"state"`
		Attempts  int       `json:"attempts"`
		NextAt    time.Time `json:"next_at,omitzero"`
		LastError string    `json:"last_error,omitempty"`
		CreatedAt time.Time `json:"created_at"`
	}
	out := []view{}
	for _, it := range items {
		out = append(out, view{it.ID, it.Kind, it.Key, it.State, it.Attempts, it.NextAt, it.LastError, it.CreatedAt})
	}
	writeJSON(rw, http.StatusOK, map[string]any{"items": out})
}

func (w *Web) healthz(rw http.ResponseWriter, r *http.Request) {
	writeJSON(rw, http.StatusOK, map[string]string{"status": "ok"})
}

func (w *Web) readyz(rw http.ResponseWriter, r *http.Request) {
	checks := map[string]string{}
	if w.d.Ready != nil {
		checks = w.d.Ready(r.Context())
	}
	code := http.StatusOK
	out := map[string]any{}
	for k, v := range checks {
		if v != "" {
			code = http.StatusServiceUnavailable
			out[k] = v
		} else {
			out[k] = "ok"
		}
	}
	writeJSON(rw, code, map[string]any{"ready": code == http.StatusOK, "checks": out})
}

// listRules shows admins the rules in force (configured, or the defaults), read-only.
func (w *Web) listRules(rw http.ResponseWriter, r *http.Request) {
	if w.d.Rules == nil {
		writeJSON(rw, http.StatusOK, map[string]any{"rules": []any{}})
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"rules": w.d.Rules()})
}
