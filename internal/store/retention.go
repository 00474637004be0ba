package store

import (
	"context"
	"fmt"
	"time"
)

// Retention says how long the journal, delivered outbox rows and the audit log are
// kept; zero keeps them for ever.
type Retention struct {
	Calls  time.Duration // journal entries (calls, legs, notes), by start time
	Outbox time.Duration // delivered outbox rows, by enqueueing time
	Audit  time.Duration // audit log entries (admin actions), by time
}

// Purged counts what a purge removed (or, in a dry run, would remove).
type Purged struct {
	Calls  int64 `json:"calls"`
	Outbox int64 `json:"outbox"`
	Audit  int64 `json:"audit"`
}

// Purge deletes journal entries, delivered outbox rows and audit entries older than r
// allows. With
// dryRun it only counts them. Pending and parked outbox items are never purged.
func (s *Store) Purge(ctx context.Context, r Retention, dryRun bool) (Purged, error) {
	var p Purged
	now := s.now()
	err := s.inTx(ctx, func(t tx) error {
		p = Purged{}
		type part struct {
			keep  time.Duration
			where string
			args  []any
			n     *int64
		}
		parts := []part{
			{r.Calls, `calls WHERE started_at < ?`, []any{ts(now.Add(-r.Calls))}, &p.Calls},
			{r.Outbox, `outbox WHERE state = ? AND created_at < ?`, []any{OutboxDone, ts(now.Add(-r.Outbox))}, &p.Outbox},
			{r.Audit, `audit WHERE at < ?`, []any{ts(now.Add(-r.Audit))}, &p.Audit},
		}
		for _, pt := range parts {
			if pt.keep <= 0 {
				continue
			}
			if dryRun {
				if err := t.queryRow(ctx, `SELECT COUNT(*) FROM `+pt.where, pt.args...).Scan(pt.n); err != nil {
					return err
				}
				continue
			}
			res, err := t.exec(ctx, `DELETE FROM `+pt.where, pt.args...)
			if err != nil {
				return err
			}
			*pt.n, _ = res.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return Purged{}, fmt.Errorf("store: purge: %w", err)
	}
	return p, nil
}

// Forgotten counts what Forget removed.
type Forgotten struct {
	Calls  int64 `json:"calls"`  // journal entries (with their legs)
	Notes  int64 `json:"notes"`  // notes entries of those calls
	Picks  int64 `json:"picks"`  // agents' remembered records for the number
	Outbox int64 `json:"outbox"` // CRM writes of those calls not yet delivered
}

// Forget removes every trace of a caller's number from the journal (the calls with that
// number, their names and notes), the agents' remembered picks for it, and the CRM
// writes of those calls still waiting in the outbox, for a data-protection request. The
// CRM keeps its own records. number is matched against the E.164 form and the raw
// number as received.
func (s *Store) Forget(ctx context.Context, number string) (Forgotten, error) {
	var f Forgotten
	if number == "" {
		return f, fmt.Errorf("store: forget: empty number")
	}
	err := s.inTx(ctx, func(t tx) error {
		f = Forgotten{}
		rows, err := t.query(ctx, `SELECT id FROM calls WHERE remote_number = ? OR remote_raw = ?`, number, []byte(number))
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			var n int64
			if err := t.queryRow(ctx, `SELECT COUNT(*) FROM call_notes WHERE call_id = ?`, id).Scan(&n); err != nil {
				return err
			}
			f.Notes += n
			var pending, parked int
			if err := t.queryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN state = ? THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN state = ? THEN 1 ELSE 0 END), 0)
				FROM outbox WHERE grp = ? AND state <> ? AND claimed_until <= ?`, OutboxPending, OutboxParked, "call:"+id, OutboxDone, ts(s.now())).Scan(&pending, &parked); err != nil {
				return err
			}
			res, err := t.exec(ctx, `DELETE FROM outbox WHERE grp = ? AND state <> ? AND claimed_until <= ?`, "call:"+id, OutboxDone, ts(s.now()))
			if err != nil {
				return err
			}
			n, _ = res.RowsAffected()
			f.Outbox += n
			if err := bump(ctx, t, counterPending, -pending); err != nil {
				return err
			}
			if err := bump(ctx, t, counterParked, -parked); err != nil {
				return err
			}
			if _, err := t.exec(ctx, `DELETE FROM call_notes WHERE call_id = ?`, id); err != nil {
				return err
			}
			if _, err := t.exec(ctx, `DELETE FROM call_legs WHERE call_id = ?`, id); err != nil {
				return err
			}
			if res, err = t.exec(ctx, `DELETE FROM calls WHERE id = ?`, id); err != nil {
				return err
			}
			n, _ = res.RowsAffected()
			f.Calls += n
		}
		res, err := t.exec(ctx, `DELETE FROM picks WHERE number = ?`, number)
		if err != nil {
			return err
		}
		f.Picks, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return Forgotten{}, fmt.Errorf("store: forget: %w", err)
	}
	return f, nil
}
