package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
)

// An Annotation is what an agent adds to a journal entry; nil fields are left as they are.
type Annotation struct {
	Regarding     *crm.Ref
	RegardingName *string
	ActivityKey   *string
	// LogSubject and LogOwner are what a log_activity rule chose for the call's
	// activity (built from the journal when it is delivered).
	LogSubject *string
	LogOwner   *string
}

func (a Annotation) empty() bool {
	return a.Regarding == nil && a.RegardingName == nil && a.ActivityKey == nil && a.LogSubject == nil && a.LogOwner == nil
}

// A Note is one agent's entry in a call's notes.
type Note struct {
	Author string    `json:"author"` // user name ("" for notes kept from before authors)
	At     time.Time `json:"at"`     // last saved
	Text   string    `json:"text"`   // line breaks kept; render as text
}

// A CallRecord is one call of the journal with what was found and added.
type CallRecord struct {
	Call          call.Call   `json:"call"`
	Matches       []crm.Match `json:"matches"`
	Regarding     *crm.Ref    `json:"regarding,omitempty"`
	RegardingName string      `json:"regarding_name,omitempty"`
	Notes         []Note      `json:"notes"` // in the order they were first written
	ActivityKey   string      `json:"activity_key,omitempty"`
	LogSubject    string      `json:"-"`
	LogOwner      string      `json:"-"`
}

// CallFilter selects journal entries.
type CallFilter struct {
	Extensions []string // calls with a leg on one of these; nil = all calls
	// Viewer keeps only the calls this user may see (Viewer.Sees); nil = no such bound.
	Viewer     *Viewer
	MissedOnly bool      // only missed calls
	Limit      int       // at most this many (default 100, at most 1000)
	Before     time.Time // only calls started before this (paging); zero = no bound
	// Query keeps calls whose caller's name, record name or number contains it (case
	// does not matter); Digits keeps calls whose number contains these digits.
	// Both set: either may match.
	Query, Digits string
	Numbers       []string // calls with one of these E.164 numbers (last contact)
	Regarding     *crm.Ref // calls logged with this record
	Exclude       string   // leave this call out
	PbxID         string   // only calls the phone system calls this ("" = any)
	Source        string   // only calls of this source ("" = any)
}

// SaveCall inserts or updates the journal entry of c (by c.ID, Ringside's id) with the matches found for
// its caller, and its legs. Annotations already made are kept.
func (s *Store) SaveCall(ctx context.Context, c call.Call, matches []crm.Match) error {
	return s.SaveCalls(ctx, []JournalEntry{{Call: c, Matches: matches}})
}

// A JournalEntry is one call to save with the matches found for its caller.
type JournalEntry struct {
	Call    call.Call
	Matches []crm.Match
	// Then, when set, runs inside the transaction once the call is saved, with its
	// journal entry as saved (notes included). The annotation and outbox items it returns
	// are written in the same transaction: a call's end and the CRM write it causes are
	// journaled together or not at all (a kill between them cannot lose the write).
	Then func(rec CallRecord) (Annotation, []OutboxItem)
	// Legs says what the journal holds of the call's legs, when the writer knows it, so
	// that a new call's legs are only inserted and a change that kept them writes none.
	// The zero value replaces them.
	Legs LegsHeld
}

// LegsHeld is what the journal holds of a call's legs before a save.
type LegsHeld uint8

const (
	LegsUnknown LegsHeld = iota // replace them: delete, then insert
	LegsNone                    // the call was never saved: insert them
	LegsSame                    // the same extensions and users as the call's: leave them
)

// SaveCalls saves several calls in one transaction (the pipeline's journal writer batches
// what changed since its last write): all of them, or none.
func (s *Store) SaveCalls(ctx context.Context, entries []JournalEntry) error {
	rows := make([]savedCall, 0, len(entries))
	seen := make(map[string]int, len(entries)) // a call given twice is saved as the last one says
	for _, e := range entries {
		c := e.Call
		if c.ID == "" {
			return fmt.Errorf("store: save call: empty id")
		}
		cj, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("store: save call %s: %w", c.ID, err)
		}
		matches := e.Matches
		if matches == nil {
			matches = []crm.Match{}
		}
		mj, err := json.Marshal(matches)
		if err != nil {
			return fmt.Errorf("store: save call %s: %w", c.ID, err)
		}
		r := savedCall{c, cj, mj, e.Then, e.Legs}
		if i, ok := seen[c.ID]; ok {
			if rows[i].legs != r.legs {
				r.legs = LegsUnknown
			}
			rows[i] = r
			continue
		}
		seen[c.ID] = len(rows)
		rows = append(rows, r)
	}
	return s.inTx(ctx, func(t tx) error {
		// PostgreSQL: one statement for many calls (and one for their legs), a few round
		// trips a transaction instead of three per call (315 → ~100 µs a call,
		// BenchmarkSaveCalls). SQLite has no round trips, and its prepared one-call
		// statements are cheaper than parsing a long one each time (52 vs 62 µs).
		if s.dialect == postgresDialect {
			for start := 0; start < len(rows); start += saveChunk {
				if err := s.saveCallRows(ctx, t, rows[start:min(start+saveChunk, len(rows))]); err != nil {
					return err
				}
			}
		}
		for _, r := range rows {
			if s.dialect != postgresDialect {
				if err := saveCall(ctx, t, r); err != nil {
					return err
				}
			}
			if r.then == nil {
				continue
			}
			rec, err := getCall(ctx, t, r.c.ID)
			if err != nil {
				return err
			}
			ann, items := r.then(rec)
			if !ann.empty() {
				if err := annotateCall(ctx, t, r.c.ID, ann); err != nil {
					return err
				}
			}
			for _, it := range items {
				if _, err := s.enqueue(ctx, t, it); err != nil {
					return fmt.Errorf("store: save call %s: %w", r.c.ID, err)
				}
			}
		}
		return nil
	})
}

// saveChunk is how many calls one statement saves (17 parameters each: well inside
// SQLite's and PostgreSQL's limits).
const saveChunk = 200

// savedCall is a call to journal, encoded, with what its JournalEntry asks for after.
type savedCall struct {
	c      call.Call
	cj, mj []byte
	then   func(CallRecord) (Annotation, []OutboxItem)
	legs   LegsHeld
}

// The upsert of calls: callInsert, one "(?, …)" group of callColumnsN per call, callUpsert.
const (
	callInsert = `INSERT INTO calls (id, pbx_id, source, direction, state, remote_raw, remote_number, remote_name, did,
			started_at, answered_at, ended_at, answered_by, cause, missed, call_json, matches_json) VALUES `
	callUpsert = ` ON CONFLICT (id) DO UPDATE SET pbx_id = excluded.pbx_id, source = excluded.source, direction = excluded.direction, state = excluded.state,
			remote_raw = excluded.remote_raw, remote_number = excluded.remote_number, remote_name = excluded.remote_name,
			did = excluded.did, started_at = excluded.started_at, answered_at = excluded.answered_at,
			ended_at = excluded.ended_at, answered_by = excluded.answered_by, cause = excluded.cause,
			missed = excluded.missed, call_json = excluded.call_json, matches_json = excluded.matches_json`
	callColumnsN = 17
)

// oneCallUpsert is the upsert of one call (a prepared statement, kept by the store).
var oneCallUpsert = callInsert + "(" + placeholders(callColumnsN) + ")" + callUpsert

// args are sc's values for callInsert, in its order.
func (sc savedCall) args() []any {
	c := sc.c
	pbx := c.PbxID
	if pbx == "" {
		pbx = c.ID
	}
	return []any{c.ID, pbx, c.Source, string(c.Direction), string(c.State), []byte(c.Remote.Raw), c.Remote.Number, []byte(c.Remote.Name), c.DID,
		ts(c.StartedAt), ts(c.AnsweredAt), ts(c.EndedAt), c.AnsweredBy, c.Cause, c.Missed, sc.cj, sc.mj}
}

// saveCallRows upserts calls and replaces their legs (as far as their legs say they
// differ), in one to three statements. The
// statements vary with the number of calls, so they are not kept prepared.
func (s *Store) saveCallRows(ctx context.Context, t tx, cs []savedCall) error {
	if len(cs) == 0 {
		return nil
	}
	groups := strings.Repeat("("+placeholders(callColumnsN)+"), ", len(cs)-1) + "(" + placeholders(callColumnsN) + ")"
	args := make([]any, 0, callColumnsN*len(cs))
	var ids, legArgs []any
	for _, sc := range cs {
		args = append(args, sc.args()...)
		if sc.legs == LegsUnknown {
			ids = append(ids, sc.c.ID)
		}
		if sc.legs == LegsSame {
			continue
		}
		for _, l := range sc.c.Legs {
			legArgs = append(legArgs, sc.c.ID, l.Extension, l.User)
		}
	}
	if _, err := t.ExecContext(ctx, s.q(callInsert+groups+callUpsert), args...); err != nil {
		return fmt.Errorf("store: save %d calls: %w", len(cs), err)
	}
	if len(ids) > 0 {
		if _, err := t.ExecContext(ctx, s.q(`DELETE FROM call_legs WHERE call_id IN (`+placeholders(len(ids))+`)`), ids...); err != nil {
			return fmt.Errorf("store: save %d calls' legs: %w", len(cs), err)
		}
	}
	if n := len(legArgs) / 3; n > 0 {
		vals := strings.Repeat("(?, ?, ?), ", n-1) + "(?, ?, ?)"
		if _, err := t.ExecContext(ctx, s.q(`INSERT INTO call_legs (call_id, extension, user_name) VALUES `+vals+` ON CONFLICT DO NOTHING`), legArgs...); err != nil {
			return fmt.Errorf("store: save %d calls' legs: %w", len(cs), err)
		}
	}
	return nil
}

// saveCall upserts one call and replaces its legs (as far as sc.legs says they differ)
// with prepared statements (SQLite).
func saveCall(ctx context.Context, t tx, sc savedCall) error {
	c := sc.c
	if _, err := t.exec(ctx, oneCallUpsert, sc.args()...); err != nil {
		return fmt.Errorf("store: save call %s: %w", c.ID, err)
	}
	switch sc.legs {
	case LegsSame:
		return nil
	case LegsUnknown:
		if _, err := t.exec(ctx, `DELETE FROM call_legs WHERE call_id = ?`, c.ID); err != nil {
			return fmt.Errorf("store: save call %s legs: %w", c.ID, err)
		}
	}
	for _, l := range c.Legs {
		_, err := t.exec(ctx, `INSERT INTO call_legs (call_id, extension, user_name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			c.ID, l.Extension, l.User)
		if err != nil {
			return fmt.Errorf("store: save call %s legs: %w", c.ID, err)
		}
	}
	return nil
}

// AnnotateCall changes the non-nil fields of a on call id (ErrNotFound if not journaled).
func (s *Store) AnnotateCall(ctx context.Context, id string, a Annotation) error {
	return annotateCall(ctx, s, id, a)
}

func annotateCall(ctx context.Context, r runner, id string, a Annotation) error {
	var sets []string
	var args []any
	if a.Regarding != nil {
		sets = append(sets, "regarding_entity = ?", "regarding_id = ?")
		args = append(args, string(a.Regarding.Entity), a.Regarding.ID)
	}
	if a.RegardingName != nil {
		sets = append(sets, "regarding_name = ?")
		args = append(args, []byte(*a.RegardingName))
	}
	if a.LogSubject != nil {
		sets = append(sets, "log_subject = ?")
		args = append(args, []byte(*a.LogSubject))
	}
	if a.LogOwner != nil {
		sets = append(sets, "log_owner = ?")
		args = append(args, *a.LogOwner)
	}
	if a.ActivityKey != nil {
		sets = append(sets, "activity_key = ?")
		args = append(args, *a.ActivityKey)
	}
	q := `UPDATE calls SET id = id`
	for _, set := range sets {
		q += ", " + set
	}
	res, err := r.exec(ctx, q+` WHERE id = ?`, append(args, id)...)
	if err != nil {
		return fmt.Errorf("store: annotate call %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: annotate call %s: %w", id, ErrNotFound)
	}
	return nil
}

const callColumns = `remote_raw, remote_name, call_json, matches_json, regarding_entity, regarding_id, regarding_name, activity_key, log_subject, log_owner`

func scanCall(sc interface{ Scan(...any) error }) (CallRecord, error) {
	var raw, name, cj, mj, regName, subject []byte
	var regEntity, regID string
	var r CallRecord
	if err := sc.Scan(&raw, &name, &cj, &mj, &regEntity, &regID, &regName, &r.ActivityKey, &subject, &r.LogOwner); err != nil {
		return CallRecord{}, err
	}
	if err := json.Unmarshal(cj, &r.Call); err != nil {
		return CallRecord{}, fmt.Errorf("call json: %w", err)
	}
	if err := json.Unmarshal(mj, &r.Matches); err != nil {
		return CallRecord{}, fmt.Errorf("matches json: %w", err)
	}
	if r.Call.PbxID == "" {
		r.Call.PbxID = r.Call.ID // journaled before calls had their own ids
	}
	// JSON cannot carry invalid UTF-8; the columns have the caller's bytes as received.
	r.Call.Remote.Raw, r.Call.Remote.Name = string(raw), string(name)
	if regEntity != "" || regID != "" {
		r.Regarding = &crm.Ref{Entity: crm.Entity(regEntity), ID: regID}
	}
	r.RegardingName, r.LogSubject, r.Notes = string(regName), string(subject), []Note{}
	return r, nil
}

// GetCall returns the journal entry of call id, or ErrNotFound.
func (s *Store) GetCall(ctx context.Context, id string) (CallRecord, error) {
	return getCall(ctx, s, id)
}

func getCall(ctx context.Context, r runner, id string) (CallRecord, error) {
	rec, err := scanCall(r.queryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return CallRecord{}, fmt.Errorf("store: call %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return CallRecord{}, fmt.Errorf("store: call %s: %w", id, err)
	}
	recs := []CallRecord{rec}
	if err := loadNotes(ctx, r, recs); err != nil {
		return CallRecord{}, err
	}
	return recs[0], nil
}

// A Viewer is an agent looking at calls. The one rule for who sees a call, used by
// every list, view, stream and search: a call is the viewer's when one of its legs is
// theirs, that is a leg routed to them by name, or a leg on one of their extensions that
// was routed to nobody by name. (A call routed to alice on bob's extension is alice's.)
type Viewer struct {
	User       string
	Extensions []string
}

// Sees applies the rule to a call.
func (v Viewer) Sees(c call.Call) bool {
	for _, l := range c.Legs {
		if l.User != "" {
			if l.User == v.User {
				return true
			}
			continue
		}
		if slices.Contains(v.Extensions, l.Extension) {
			return true
		}
	}
	return false
}

// where is the rule in SQL, on call_legs.
func (v Viewer) where() (string, []any) {
	q := `id IN (SELECT call_id FROM call_legs WHERE user_name = ?`
	args := []any{v.User}
	if len(v.Extensions) > 0 {
		q += ` OR (user_name = '' AND extension IN (` + placeholders(len(v.Extensions)) + `))`
		for _, e := range v.Extensions {
			args = append(args, e)
		}
	}
	return q + `)`, args
}

// ListCalls returns the journal entries f selects, newest first.
func (s *Store) ListCalls(ctx context.Context, f CallFilter) ([]CallRecord, error) {
	if f.Extensions != nil && len(f.Extensions) == 0 {
		return []CallRecord{}, nil
	}
	q := `SELECT ` + callColumns + ` FROM calls WHERE 1 = 1`
	var args []any
	if f.Viewer != nil {
		w, a := f.Viewer.where()
		q += ` AND ` + w
		args = append(args, a...)
	}
	if f.Extensions != nil {
		q += ` AND id IN (SELECT call_id FROM call_legs WHERE extension IN (` + placeholders(len(f.Extensions)) + `))`
		for _, e := range f.Extensions {
			args = append(args, e)
		}
	}
	if f.PbxID != "" {
		q += ` AND pbx_id = ?`
		args = append(args, f.PbxID)
	}
	if f.Source != "" {
		q += ` AND source = ?`
		args = append(args, f.Source)
	}
	if f.MissedOnly {
		q += ` AND missed = ?`
		args = append(args, true)
	}
	if !f.Before.IsZero() {
		q += ` AND started_at < ?`
		args = append(args, ts(f.Before))
	}
	var or []string
	if f.Query != "" {
		text := `CAST(remote_name AS TEXT) || ' ' || CAST(regarding_name AS TEXT) || ' ' || CAST(matches_json AS TEXT) || ' ' || CAST(remote_raw AS TEXT)`
		if s.dialect == postgresDialect {
			text = `convert_from(remote_name, 'UTF8') || ' ' || convert_from(regarding_name, 'UTF8') || ' ' || convert_from(matches_json, 'UTF8') || ' ' || convert_from(remote_raw, 'UTF8')`
		}
		or = append(or, `lower(`+text+`) LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscape(strings.ToLower(f.Query))+"%")
	}
	if f.Digits != "" {
		or = append(or, `remote_number LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscape(f.Digits)+"%")
	}
	if len(or) > 0 {
		q += ` AND (` + strings.Join(or, " OR ") + `)`
	}
	if len(f.Numbers) > 0 {
		q += ` AND remote_number IN (` + placeholders(len(f.Numbers)) + `)`
		for _, n := range f.Numbers {
			args = append(args, n)
		}
	}
	if f.Regarding != nil {
		q += ` AND regarding_entity = ? AND regarding_id = ?`
		args = append(args, string(f.Regarding.Entity), f.Regarding.ID)
	}
	if f.Exclude != "" {
		q += ` AND id <> ?`
		args = append(args, f.Exclude)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list calls: %w", err)
	}
	defer rows.Close()
	out := []CallRecord{}
	for rows.Next() {
		r, err := scanCall(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list calls: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list calls: %w", err)
	}
	rows.Close()
	if err := s.loadNotes(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// likeEscape escapes LIKE's wildcards in s (the escape character is a backslash).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// loadNotes fills the notes of recs, in the order they were first written.
func (s *Store) loadNotes(ctx context.Context, recs []CallRecord) error {
	return loadNotes(ctx, s, recs)
}

func loadNotes(ctx context.Context, r runner, recs []CallRecord) error {
	if len(recs) == 0 {
		return nil
	}
	byID := make(map[string]int, len(recs))
	args := make([]any, len(recs))
	for i, r := range recs {
		byID[r.Call.ID] = i
		args[i] = r.Call.ID
	}
	rows, err := r.query(ctx, `SELECT call_id, author, text, updated_at FROM call_notes WHERE call_id IN (`+placeholders(len(recs))+`)
		ORDER BY created_at, author`, args...)
	if err != nil {
		return fmt.Errorf("store: notes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var text []byte
		var at int64
		var n Note
		if err := rows.Scan(&id, &n.Author, &text, &at); err != nil {
			return fmt.Errorf("store: notes: %w", err)
		}
		n.Text, n.At = string(text), fromTS(at)
		if i, ok := byID[id]; ok {
			recs[i].Notes = append(recs[i].Notes, n)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: notes: %w", err)
	}
	return nil
}

// SetNote sets author's entry in the notes of call id (its first saving fixes its place
// in the order); an empty text removes it. ErrNotFound when the call is not journaled.
func (s *Store) SetNote(ctx context.Context, id, author, text string) error {
	now := ts(s.now())
	return s.inTx(ctx, func(t tx) error {
		var n int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM calls WHERE id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("store: note on call %s: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("store: note on call %s: %w", id, ErrNotFound)
		}
		var err error
		if text == "" {
			_, err = t.exec(ctx, `DELETE FROM call_notes WHERE call_id = ? AND author = ?`, id, author)
		} else {
			_, err = t.exec(ctx, `INSERT INTO call_notes (call_id, author, text, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (call_id, author) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at`,
				id, author, []byte(text), now, now)
		}
		if err != nil {
			return fmt.Errorf("store: note on call %s: %w", id, err)
		}
		return nil
	})
}

// OpenCalls returns the journal entries of calls not ended (in progress when the last
// run stopped), oldest first: the pipeline restores them at start.
func (s *Store) OpenCalls(ctx context.Context) ([]CallRecord, error) {
	rows, err := s.query(ctx, `SELECT `+callColumns+` FROM calls WHERE state <> ? ORDER BY started_at, id`, string(call.Ended))
	if err != nil {
		return nil, fmt.Errorf("store: open calls: %w", err)
	}
	defer rows.Close()
	var out []CallRecord
	for rows.Next() {
		r, err := scanCall(rows)
		if err != nil {
			return nil, fmt.Errorf("store: open calls: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: open calls: %w", err)
	}
	return out, nil
}
