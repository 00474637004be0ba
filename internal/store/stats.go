package store

import (
	"context"
	"fmt"
	"time"
)

// A StatCall is what the statistics need of one journal entry.
type StatCall struct {
	ID         string
	Started    time.Time
	Answered   time.Time // zero when never answered
	Ended      time.Time // zero while in progress
	Direction  string
	Missed     bool
	CalledBack bool // missed, and a later call with the same number was outbound or answered
	DID        string
	AnsweredBy string
	Remote     string    // the remote number (E.164 when known)
	Legs       []StatLeg // the extensions it rang (or was placed from)
}

// A StatLeg is one extension of a call, and its user.
type StatLeg struct {
	Extension string
	User      string
}

// StatCalls calls fn for every call started in [from, to), in start order, with its
// legs. It reads the covering index calls_stats (migration 0005) and the legs' primary
// key, and finds callbacks of missed calls through calls_remote: one query, so that a
// month of a busy journal is one pass over an index range.
func (s *Store) StatCalls(ctx context.Context, from, to time.Time, fn func(StatCall) error) error {
	rows, err := s.query(ctx, `SELECT c.id, c.started_at, c.answered_at, c.ended_at, c.direction, c.missed, c.did, c.answered_by, c.remote_number,
			CASE WHEN c.missed AND c.remote_number <> '' THEN EXISTS (SELECT 1 FROM calls o WHERE o.remote_number = c.remote_number
				AND o.started_at > c.started_at AND (o.direction = 'outbound' OR o.answered_at > 0)) ELSE FALSE END,
			COALESCE(l.extension, ''), COALESCE(l.user_name, '')
		FROM calls c LEFT JOIN call_legs l ON l.call_id = c.id
		WHERE c.started_at >= ? AND c.started_at < ? ORDER BY c.started_at, c.id`, ts(from), ts(to))
	if err != nil {
		return fmt.Errorf("store: statistics: %w", err)
	}
	defer rows.Close()
	var cur StatCall
	have := false
	for rows.Next() {
		var c StatCall
		var st, an, en int64
		var leg StatLeg
		if err := rows.Scan(&c.ID, &st, &an, &en, &c.Direction, &c.Missed, &c.DID, &c.AnsweredBy, &c.Remote, &c.CalledBack, &leg.Extension, &leg.User); err != nil {
			return fmt.Errorf("store: statistics: %w", err)
		}
		if have && c.ID == cur.ID {
			cur.Legs = append(cur.Legs, leg)
			continue
		}
		if have {
			if err := fn(cur); err != nil {
				return err
			}
		}
		c.Started, c.Answered, c.Ended = fromTS(st), fromTS(an), fromTS(en)
		if leg.Extension != "" || leg.User != "" {
			c.Legs = []StatLeg{leg}
		}
		cur, have = c, true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: statistics: %w", err)
	}
	if have {
		return fn(cur)
	}
	return nil
}

// An AuditEntry is one admin action.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`  // the admin's user name
	Action string    `json:"action"` // "user.add", "token.revoke", "import.apply", …
	Target string    `json:"target,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Remote string    `json:"remote,omitempty"` // the client's address
}

// AddAudit records an admin action (At defaults to now).
func (s *Store) AddAudit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if e.Actor == "" || e.Action == "" {
		return fmt.Errorf("store: audit: an entry needs an actor and an action")
	}
	if _, err := s.exec(ctx, `INSERT INTO audit (at, actor, action, target, detail, remote) VALUES (?, ?, ?, ?, ?, ?)`,
		ts(e.At), e.Actor, e.Action, e.Target, e.Detail, e.Remote); err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// ListAudit returns up to limit entries (default 100, at most 1000), newest first,
// before the entry with id before (0: from the newest).
func (s *Store) ListAudit(ctx context.Context, limit int, before int64) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := `SELECT id, at, actor, action, target, detail, remote FROM audit`
	var args []any
	if before > 0 {
		q += ` WHERE id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Detail, &e.Remote); err != nil {
			return nil, fmt.Errorf("store: audit: %w", err)
		}
		e.At = fromTS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeAudit deletes the entries older than before (the retention setting) and returns
// how many went.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM audit WHERE at < ?`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("store: audit purge: %w", err)
	}
	return res.RowsAffected()
}
