package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	p := principalOf(r)
	u := p.user
	var hello [][]byte
	if w.d.Hello != nil {
		hello = w.d.Hello(u.Name)
	}
	if err := w.d.Hub.AttachAs(rw, r, p.identity("stream"), hello, nil); err != nil {
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

// canSee is the one rule for who sees a call (store.Viewer.Sees), used by every view.
func (w *Web) canSee(u store.User, c call.Call) bool {
	return u.Admin || store.Viewer{User: u.Name, Extensions: u.Extensions}.Sees(c)
}

func (w *Web) listCalls(rw http.ResponseWriter, r *http.Request) {
	u := principalOf(r).user
	q := r.URL.Query()
	f := store.CallFilter{MissedOnly: q.Get("missed") == "1" || q.Get("missed") == "true"}
	if !u.Admin || q.Get("mine") == "1" {
		f.Viewer = &store.Viewer{User: u.Name, Extensions: u.Extensions}
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
		if t.Year() < 2000 || t.After(time.Now().AddDate(1, 0, 0)) {
			apiError(rw, http.StatusBadRequest, `query parameter "before" must be a time from 2000 to a year from now`)
			return
		}
		f.Before = t
	}
	if s := strings.TrimSpace(q.Get("q")); s != "" {
		if len(s) > 100 {
			apiError(rw, http.StatusBadRequest, `query parameter "q" is longer than 100 bytes`)
			return
		}
		f.Query = call.Sanitize(s, 100)
		f.Digits = searchDigits(w.d.Parser.Parse(s).E164, s)
	}
	if s := q.Get("regarding"); s != "" {
		ent, id, ok := strings.Cut(s, "/")
		ref := crm.Ref{Entity: crm.Entity(ent), ID: id}
		if !ok || !ref.Entity.Valid() || id == "" || len(id) > 200 {
			apiError(rw, http.StatusBadRequest, `query parameter "regarding" must be ENTITY/ID (contact, lead or account)`)
			return
		}
		f.Regarding = &ref
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
	w.nameLegs(r, recs)
	writeJSON(rw, http.StatusOK, map[string]any{"calls": recs})
}

// nameLegs fills in the user of legs the phone system reported by extension only (when
// one user has that extension), so the history says "bob", as the card did, not "ext. 201".
func (w *Web) nameLegs(r *http.Request, recs []store.CallRecord) {
	if len(recs) == 0 {
		return
	}
	m, err := w.d.Store.ExtensionMap(r.Context())
	if err != nil {
		return
	}
	for i := range recs {
		for j, l := range recs[i].Call.Legs {
			if l.User == "" && len(m[l.Extension]) == 1 {
				recs[i].Call.Legs[j].User = m[l.Extension][0]
			}
		}
	}
}

// searchDigits returns the digits to look for in numbers when the search looks like a
// phone number ("030 987", "+49 30 98"): the E.164 form without its plus when it parses,
// else its digits; "" for a name.
func searchDigits(e164, s string) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if len(digits) < 3 || strings.Trim(s, "+0123456789 -()/.") != "" {
		return ""
	}
	if e164 != "" {
		return strings.TrimPrefix(e164, "+")
	}
	return strings.TrimLeft(digits, "0")
}

func (w *Web) callFor(rw http.ResponseWriter, r *http.Request) (store.CallRecord, bool) {
	if err := checkID("id", r.PathValue("id")); err != nil {
		apiError(rw, http.StatusBadRequest, err.Error())
		return store.CallRecord{}, false
	}
	rec, err := w.journaled(r, r.PathValue("id"), func(rec store.CallRecord) bool { return w.canSee(principalOf(r).user, rec.Call) })
	if err != nil || !w.canSee(principalOf(r).user, rec.Call) {
		// The same answer for "no such call" and "not yours": ids are not secrets, but
		// another agent's calls are.
		apiError(rw, http.StatusNotFound, "no such call")
		return store.CallRecord{}, false
	}
	return rec, true
}

// journaled reads call id from the journal. The journal is written in batches: a ring or
// an answer the phone system sent a moment ago (and got 202 for) may not be in it yet.
// So when the call is missing or ok says it does not show what the request needs yet,
// the pipeline writes what it holds now and the call is read again.
func (w *Web) journaled(r *http.Request, id string, ok func(store.CallRecord) bool) (store.CallRecord, error) {
	rec, err := w.d.Store.GetCall(r.Context(), id)
	if (err != nil || !ok(rec)) && w.d.SyncJournal != nil && w.d.SyncJournal(r.Context()) == nil {
		rec, err = w.d.Store.GetCall(r.Context(), id)
	}
	return rec, err
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
	num := body.Number
	dialNum, err := w.dialable(num)
	if err != nil {
		apiError(rw, http.StatusBadRequest, `field "number": `+err.Error())
		return
	}
	n := w.d.Parser.Parse(dialNum)
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
	if err := w.d.Dial(r.Context(), u, dialNum); err != nil {
		switch {
		case errors.Is(err, telephony.ErrDialUnsupported):
			apiError(rw, http.StatusNotImplemented, userWords(err, telephony.ErrDialUnsupported))
		case errors.Is(err, telephony.ErrDialUnavailable):
			rw.Header().Set("Retry-After", "30")
			apiError(rw, http.StatusServiceUnavailable, userWords(err, telephony.ErrDialUnavailable))
		default:
			apiError(rw, http.StatusBadGateway, err.Error())
		}
		return
	}
	writeJSON(rw, http.StatusAccepted, map[string]any{"dialing": dialNum, "number": n.E164, "extension": u.Extensions[0]})
}

func (w *Web) createRecord(rw http.ResponseWriter, r *http.Request) {
	creator, ok := w.d.Directory.(crm.Creator)
	if !ok {
		apiError(rw, http.StatusNotImplemented, "the configured CRM does not let Ringside create records")
		return
	}
	var body struct {
		Entity    crm.Entity `json:"entity"`
		FirstName string     `json:"first_name"`
		LastName  string     `json:"last_name"`
		Name      string     `json:"name"`
		// Salutation holds a title (Dr., Prof., Mag., Ing.) the page split off the
		// caller's name; the CRM has no field for it, so it is accepted and dropped
		// rather than ending up in the first name.
		Salutation string      `json:"salutation"`
		Company    string      `json:"company"`
		Email      string      `json:"email"`
		Phone      string      `json:"phone"`
		Phones     []crm.Phone `json:"phones"`
		Country    string      `json:"country"`
		CallID     string      `json:"call_id"`
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

// maxNotes is the longest notes entry kept, in bytes.
const maxNotes = 32 << 10

// CleanNotes makes an agent's notes safe to keep and show: line breaks (CRLF and CR
// become LF) and tabs are kept, other control characters and invalid UTF-8 are
// dropped, trailing space is trimmed, and the text is cut at 32 KiB (on a rune
// boundary). Pages render it as text.
func CleanNotes(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\r':
			r = '\n'
		case r == utf8.RuneError, r == '\n', r == '\t':
		case unicode.IsControl(r), r == '\u2028', r == '\u2029', r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
			continue
		}
		if r == utf8.RuneError {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > maxNotes {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimRightFunc(b.String(), unicode.IsSpace)
}

// talked says whether u talked on c: a leg of theirs was answered (they answered the
// call, or took it by transfer), not only rang.
func talked(u store.User, c call.Call) bool {
	for _, l := range c.Legs {
		if l.AnsweredAt.IsZero() {
			continue
		}
		if l.User == u.Name {
			return true
		}
		if l.User == "" && slices.Contains(u.Extensions, l.Extension) {
			return true
		}
	}
	return false
}

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
	if err := checkID("call_id", body.CallID); err != nil {
		apiError(rw, http.StatusBadRequest, err.Error())
		return
	}
	u := principalOf(r).user
	rec, err := w.journaled(r, body.CallID, func(rec store.CallRecord) bool {
		return w.canSee(u, rec.Call) && (body.Notes == nil || u.Admin || talked(u, rec.Call))
	})
	if err != nil || !w.canSee(u, rec.Call) {
		apiError(rw, http.StatusNotFound, "no such call")
		return
	}
	if body.Notes != nil && !u.Admin && !talked(u, rec.Call) {
		apiError(rw, http.StatusForbidden, "you did not talk on this call (your phone only rang): only the agents who answered it or took it by transfer, and admins, can write its notes")
		return
	}
	var a store.Annotation
	if body.Regarding != nil {
		rc, err := w.d.Directory.Get(r.Context(), *body.Regarding)
		if err != nil {
			apiError(rw, http.StatusBadRequest, `field "regarding": no such record in the CRM`)
			return
		}
		a.Regarding, a.RegardingName = &rc.Ref, &rc.Name
	}
	if a.Regarding != nil {
		if err := w.d.Store.AnnotateCall(r.Context(), body.CallID, a); err != nil {
			apiError(rw, http.StatusInternalServerError, "could not save the record the call is about")
			return
		}
	}
	if body.Notes != nil {
		if err := w.d.Store.SetNote(r.Context(), body.CallID, u.Name, CleanNotes(*body.Notes)); err != nil {
			apiError(rw, http.StatusInternalServerError, "could not save the notes")
			return
		}
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
	can, via, reason := w.dialAbility(p.user)
	writeJSON(rw, http.StatusOK, map[string]any{"user": p.user, "settings": settings,
		"can_dial": can, "dial_via": via, "dial_reason": reason, "languages": w.i18n.Langs()})
}

// dialAbility answers whether u can place calls from the page, through what ("pbx",
// "companion"), or why not: "no_extension", "not_configured" (no phone system that
// dials), "unsupported" (the phone system only reports calls and no companion is
// connected). The page shows the reason in words instead of a Call button that fails.
func (w *Web) dialAbility(u store.User) (can bool, via, reason string) {
	switch {
	case w.d.Dial == nil:
		return false, "", "not_configured"
	case len(u.Extensions) == 0:
		return false, "", "no_extension"
	case w.d.DialVia == nil:
		return true, "pbx", ""
	}
	if via = w.d.DialVia(u); via == "" {
		return false, "", "unsupported"
	}
	return true, via, ""
}

// The settings an agent may change on her page.
const (
	settingLanguage   = "language"            // "auto" (the browser's) or a catalogue's language
	settingOpenOnRing = "open_record_on_ring" // on, off
	settingRingSound  = "ring_sound"          // on, off (off by default)
)

// allowedSettings returns each setting with the values it takes.
func (w *Web) allowedSettings() map[string][]string {
	return map[string][]string{
		settingOpenOnRing: {"off", "on"},
		settingRingSound:  {"off", "on"},
		settingLanguage:   append([]string{"auto"}, w.i18n.Langs()...),
	}
}

func (w *Web) saveSettings(rw http.ResponseWriter, r *http.Request) {
	var body map[string]string
	if !decode(rw, r, &body) {
		return
	}
	allowed := w.allowedSettings()
	for k, v := range body {
		vals, ok := allowed[k]
		if !ok {
			apiError(rw, http.StatusBadRequest, "unknown setting "+strconv.Quote(call.Sanitize(k, 64)))
			return
		}
		if !slices.Contains(vals, v) {
			apiError(rw, http.StatusBadRequest, "setting "+k+" takes "+strings.Join(vals, ", "))
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

// outboxView is an outbox item as the API shows it (without its payload).
type outboxView struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Key       string    `json:"key"`
	Stream    string    `json:"stream"` // the item's group: one destination of one call
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func viewOf(it store.OutboxItem) outboxView {
	return outboxView{it.ID, it.Kind, it.Key, it.Group, it.State, it.Attempts, it.NextAt, it.LastError, it.CreatedAt}
}

// listOutbox shows the items waiting (pending and parked), or only the parked ones
// (?state=parked), oldest first.
func (w *Web) listOutbox(rw http.ResponseWriter, r *http.Request) {
	states := []string{store.OutboxPending, store.OutboxParked}
	switch q := r.URL.Query().Get("state"); q {
	case "":
	case store.OutboxPending, store.OutboxParked:
		states = []string{q}
	default:
		apiError(rw, http.StatusBadRequest, `query parameter "state" must be pending or parked`)
		return
	}
	items, err := w.d.Store.ListOutbox(r.Context(), states...)
	if err != nil {
		apiError(rw, http.StatusInternalServerError, "could not read the outbox")
		return
	}
	out := []outboxView{}
	for _, it := range items {
		out = append(out, viewOf(it))
	}
	writeJSON(rw, http.StatusOK, map[string]any{"items": out})
}

func outboxID(rw http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		apiError(rw, http.StatusBadRequest, "the outbox item id in the path must be a positive number")
		return 0, false
	}
	return id, true
}

// retryOutbox makes a parked item pending again: it keeps its place in its stream.
func (w *Web) retryOutbox(rw http.ResponseWriter, r *http.Request) {
	id, ok := outboxID(rw, r)
	if !ok {
		return
	}
	if err := w.d.Store.RequeueParked(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			apiError(rw, http.StatusNotFound, "no parked outbox item "+strconv.FormatInt(id, 10))
			return
		}
		apiError(rw, http.StatusInternalServerError, "could not retry the item")
		return
	}
	if w.d.KickOutbox != nil {
		w.d.KickOutbox()
	}
	w.audit(r, "outbox.retry", strconv.FormatInt(id, 10), "")
	it, _ := w.d.Store.GetOutboxItem(r.Context(), id)
	writeJSON(rw, http.StatusOK, viewOf(it))
}

// dropOutbox deletes a parked item (or one waiting behind it) for good.
func (w *Web) dropOutbox(rw http.ResponseWriter, r *http.Request) {
	id, ok := outboxID(rw, r)
	if !ok {
		return
	}
	before, _ := w.d.Store.GetOutboxItem(r.Context(), id) // for the audit log
	if err := w.d.Store.DropOutboxItem(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			apiError(rw, http.StatusNotFound, "no parked or waiting outbox item "+strconv.FormatInt(id, 10)+" (an item being delivered cannot be dropped)")
			return
		}
		apiError(rw, http.StatusInternalServerError, "could not drop the item")
		return
	}
	if w.d.KickOutbox != nil {
		w.d.KickOutbox()
	}
	w.audit(r, "outbox.drop", strconv.FormatInt(id, 10), strings.TrimSpace(before.Kind+" "+before.Key))
	rw.WriteHeader(http.StatusNoContent)
}

func (w *Web) healthz(rw http.ResponseWriter, r *http.Request) {
	writeJSON(rw, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 or 503. The checks (with their error messages, which name hosts
// and components) are shown only to administrators and with the metrics token.
func (w *Web) readyz(rw http.ResponseWriter, r *http.Request) {
	checks := map[string]string{}
	if w.d.Ready != nil {
		checks = w.d.Ready(r.Context())
	}
	code := http.StatusOK
	out := map[string]any{}
	for k, v := range checks {
		if !readyValue(v) {
			code = http.StatusServiceUnavailable
			out[k] = v
		} else if v == "" {
			out[k] = "ok"
		} else {
			out[k] = v
		}
	}
	if !w.mayOperate(r) {
		writeJSON(rw, code, map[string]any{"ready": code == http.StatusOK})
		return
	}
	writeJSON(rw, code, map[string]any{"ready": code == http.StatusOK, "checks": out})
}

// userWords is err's message without the sentinel's technical prefix ("telephony: …: "),
// which the status code already says.
func userWords(err, sentinel error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, sentinel.Error()+": "); ok {
		return rest
	}
	return msg
}

// readyValue reports whether a check's value means ready: "" (shown as ok), or a phone
// system's "up", or "standby" (another node of the cluster runs it), or a note that
// starts with "ok:" or "warning:" (the config check after a reload: a failed reload
// leaves the previous, sound config in force).
func readyValue(v string) bool {
	return v == "" || v == "up" || v == "standby" || strings.HasPrefix(v, "ok:") || strings.HasPrefix(v, "warning:")
}

// mayOperate reports whether r comes from an administrator or carries the metrics token.
func (w *Web) mayOperate(r *http.Request) bool {
	if w.opt.MetricsToken != "" {
		if _, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && secretEqual(strings.TrimSpace(tok), w.opt.MetricsToken) {
			return true
		}
	}
	if r.Header.Get("Authorization") == "" {
		if _, err := r.Cookie(sessionCookie); err != nil {
			return false
		}
	}
	p, err := w.authenticate(r, false)
	return err == nil && p.scope == store.ScopeAgent && p.user.Admin
}

// metricsGuard requires the metrics token (web.metrics_token_env/_file) when one is set.
func (w *Web) metricsGuard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if w.opt.MetricsToken != "" && !w.mayOperate(r) {
			rw.Header().Set("WWW-Authenticate", `Bearer realm="ringside metrics"`)
			apiError(rw, http.StatusUnauthorized, "the metrics token is required (Authorization: Bearer TOKEN)")
			return
		}
		h.ServeHTTP(rw, r)
	})
}

// listRules shows admins the rules in force (configured, or the defaults), read-only.
func (w *Web) listRules(rw http.ResponseWriter, r *http.Request) {
	if w.d.Rules == nil {
		writeJSON(rw, http.StatusOK, map[string]any{"rules": []any{}})
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"rules": w.d.Rules()})
}
