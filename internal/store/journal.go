package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
)

// An Annotation is what an agent adds to a journal entry; nil fields are left as they are.
type Annotation struct {
	Regarding     *crm.Ref
	RegardingName *string
	Notes         *string
	ActivityKey   *string
}

// A CallRecord is one call of the journal with what was found and added.
type CallRecord struct {
	Call          call.Call   `json:"call"`
	Matches       []crm.Match `json:"matches"`
	Regarding     *crm.Ref    `json:"regarding,omitempty"`
	RegardingName string      `json:"regarding_name,omitempty"`
	Notes         string      `json:"notes,omitempty"`
	ActivityKey   string      `json:"activity_key,omitempty"`
}

// CallFilter selects journal entries.
type CallFilter struct {
	Extensions []string  // calls with a leg on one of these; nil = all calls
	MissedOnly bool      // only missed calls
	Limit      int       // at most this many (default 100, at most 1000)
	Before     time.Time // only calls started before this (paging); zero = no bound
	PbxID      string    // only calls the phone system calls this ("" = any)
	Source     string    // only calls of this source ("" = any)
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
}

// SaveCalls saves several calls in one transaction (the pipeline's journal writer batches
// what changed since its last write): all of them, or none.
func (s *Store) SaveCalls(ctx context.Context, entries []JournalEntry) error {
	type row struct {
		c      call.Call
		cj, mj []byte
	}
	rows := make([]row, 0, len(entries))
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
		rows = append(rows, row{c, cj, mj})
	}
	return s.inTx(ctx, func(t tx) error {
		for _, r := range rows {
			if err := saveCall(ctx, t, r.c, r.cj, r.mj); err != nil {
				return err
			}
		}
		return nil
	})
}

func saveCall(ctx context.Context, t tx, c call.Call, cj, mj []byte) error {
	pbx := c.PbxID
	if pbx == "" {
		pbx = c.ID
	}
	_, err := t.exec(ctx, `INSERT INTO calls (id, pbx_id, source, direction, state, remote_raw, remote_number, remote_name, did,
			started_at, answered_at, ended_at, answered_by, cause, missed, call_json, matches_json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET pbx_id = excluded.pbx_id, source = excluded.source, direction = excluded.direction, state = excluded.state,
			remote_raw = excluded.remote_raw, remote_number = excluded.remote_number, remote_name = excluded.remote_name,
			did = excluded.did, started_at = excluded.started_at, answered_at = excluded.answered_at,
			ended_at = excluded.ended_at, answered_by = excluded.answered_by, cause = excluded.cause,
			missed = excluded.missed, call_json = excluded.call_json, matches_json = excluded.matches_json`,
		c.ID, pbx, c.Source, string(c.Direction), string(c.State), []byte(c.Remote.Raw), c.Remote.Number, []byte(c.Remote.Name), c.DID,
		ts(c.StartedAt), ts(c.AnsweredAt), ts(c.EndedAt), c.AnsweredBy, c.Cause, c.Missed, cj, mj)
	if err != nil {
		return fmt.Errorf("store: save call %s: %w", c.ID, err)
	}
	if _, err := t.exec(ctx, `DELETE FROM call_legs WHERE call_id = ?`, c.ID); err != nil {
		return fmt.Errorf("store: save call %s legs: %w", c.ID, err)
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
	if a.Notes != nil {
		sets = append(sets, "notes = ?")
		args = append(args, []byte(*a.Notes))
	}
	if a.ActivityKey != nil {
		sets = append(sets, "activity_key = ?")
		args = append(args, *a.ActivityKey)
	}
	q := `UPDATE calls SET id = id`
	for _, set := range sets {
		q += ", " + set
	}
	res, err := s.exec(ctx, q+` WHERE id = ?`, append(args, id)...)
	if err != nil {
		return fmt.Errorf("store: annotate call %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: annotate call %s: %w", id, ErrNotFound)
	}
	return nil
}

const callColumns = `remote_raw, remote_name, call_json, matches_json, regarding_entity, regarding_id, regarding_name, notes, activity_key`

func scanCall(sc interface{ Scan(...any) error }) (CallRecord, error) {
	var raw, name, cj, mj, regName, notes []byte
	var regEntity, regID string
	var r CallRecord
	if err := sc.Scan(&raw, &name, &cj, &mj, &regEntity, &regID, &regName, &notes, &r.ActivityKey); err != nil {
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
	r.RegardingName, r.Notes = string(regName), string(notes)
	return r, nil
}

// GetCall returns the journal entry of call id, or ErrNotFound.
func (s *Store) GetCall(ctx context.Context, id string) (CallRecord, error) {
	r, err := scanCall(s.queryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return CallRecord{}, fmt.Errorf("store: call %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return CallRecord{}, fmt.Errorf("store: call %s: %w", id, err)
	}
	return r, nil
}

// ListCalls returns the journal entries f selects, newest first.
func (s *Store) ListCalls(ctx context.Context, f CallFilter) ([]CallRecord, error) {
	if f.Extensions != nil && len(f.Extensions) == 0 {
		return []CallRecord{}, nil
	}
	q := `SELECT ` + callColumns + ` FROM calls WHERE 1 = 1`
	var args []any
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
	return out, nil
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
