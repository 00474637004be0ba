package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Outbox item states.
const (
	OutboxPending = "pending" // waiting for delivery (possibly claimed by a worker)
	OutboxParked  = "parked"  // failed for good; waits for an admin (RequeueParked)
	OutboxDone    = "done"    // delivered
)

// Destination names the destination of an outbox group, for fairness between
// destinations: a webhook stream's group is "webhook:URL CALLID" (its destination
// "webhook:URL "), a CRM stream's is "call:CALLID" (its destination "call:").
func Destination(group string) string {
	if i := strings.IndexByte(group, ' '); i >= 0 {
		return group[:i+1]
	}
	if i := strings.IndexByte(group, ':'); i >= 0 {
		return group[:i+1]
	}
	return group
}

// An OutboxItem is one piece of durable work: a CRM write, a webhook, …
type OutboxItem struct {
	ID           int64     `json:"id"`
	Kind         string    `json:"kind"`  // "crm.activity", "webhook", … (selects the handler)
	Key          string    `json:"key"`   // idempotency key handed to the handler
	Group        string    `json:"group"` // items of one group are delivered strictly in order ("" = no group)
	Payload      []byte    `json:"payload"`
	Attempts     int       `json:"attempts"` // deliveries started (claims)
	NextAt       time.Time `json:"next_at,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	State        string    `json:"state"`
	CreatedAt    time.Time `json:"created_at"`
	ClaimedUntil time.Time `json:"claimed_until,omitzero"`
	// Since is when the item's current run of attempts began (its enqueueing, or an
	// admin's retry): the outbox parks it when temporary errors last longer than its
	// maximum age from here.
	Since time.Time `json:"since,omitzero"`
}

const outboxColumns = `id, kind, key, grp, payload, attempts, next_at, last_error, state, created_at, claimed_until, since`

func scanOutbox(sc interface{ Scan(...any) error }) (OutboxItem, error) {
	var it OutboxItem
	var next, created, until, since int64
	err := sc.Scan(&it.ID, &it.Kind, &it.Key, &it.Group, &it.Payload, &it.Attempts, &next, &it.LastError, &it.State, &created, &until, &since)
	it.NextAt, it.CreatedAt, it.ClaimedUntil, it.Since = fromTS(next), fromTS(created), fromTS(until), fromTS(since)
	if it.Since.IsZero() {
		it.Since = it.CreatedAt
	}
	return it, err
}

// Counter names of the outbox (kept in the same transactions as the items they count, so
// that metrics and /readyz read two rows instead of scanning the outbox).
const (
	counterPending = "outbox_pending"
	counterParked  = "outbox_parked"
)

// bump adds d to counter name.
func bump(ctx context.Context, t tx, name string, d int) error {
	if d == 0 {
		return nil
	}
	_, err := t.exec(ctx, `UPDATE counters SET value = value + ? WHERE name = ?`, d, name)
	return err
}

// Enqueue stores it as pending (due at it.NextAt, or at once) and returns its ID.
func (s *Store) Enqueue(ctx context.Context, it OutboxItem) (int64, error) {
	if it.Kind == "" {
		return 0, fmt.Errorf("store: enqueue: empty kind")
	}
	var id int64
	err := s.inTx(ctx, func(t tx) error {
		var err error
		id, err = s.enqueue(ctx, t, it)
		return err
	})
	return id, err
}

// enqueue is Enqueue inside transaction t.
func (s *Store) enqueue(ctx context.Context, t tx, it OutboxItem) (int64, error) {
	if it.Kind == "" {
		return 0, fmt.Errorf("store: enqueue: empty kind")
	}
	if it.Payload == nil {
		it.Payload = []byte{}
	}
	created := it.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	var id int64
	if err := t.queryRow(ctx, `INSERT INTO outbox (kind, key, grp, payload, next_at, state, created_at, since) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		it.Kind, it.Key, it.Group, it.Payload, ts(it.NextAt), OutboxPending, ts(created), ts(created)).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: enqueue %s: %w", it.Kind, err)
	}
	if err := bump(ctx, t, counterPending, 1); err != nil {
		return 0, fmt.Errorf("store: enqueue %s: %w", it.Kind, err)
	}
	return id, nil
}

// Claim atomically takes up to limit pending items that are due at now and not leased
// (or whose lease expired), leasing them to owner until now+lease and counting an
// attempt. It never takes an item while an older item of its group is unfinished
// (pending, claimed or parked), so a group is delivered strictly in order.
//
// Items whose group starts with one of skip (busy destinations) are left for later.
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...string) ([]OutboxItem, error) {
	if owner == "" {
		return nil, fmt.Errorf("store: claim: empty owner")
	}
	if limit <= 0 {
		limit = 1
	}
	n := ts(now)
	skipSQL := ""
	var skipArgs []any
	for _, p := range skip {
		skipSQL += ` AND substr(o.grp, 1, ?) <> ?`
		skipArgs = append(skipArgs, len(p), p)
	}
	var items []OutboxItem
	// The outer WHERE repeats the conditions so that PostgreSQL re-checks them on rows
	// another transaction changed meanwhile (two workers never claim one item).
	err := s.inTx(ctx, func(t tx) error {
		rows, err := t.query(ctx, `UPDATE outbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1
			WHERE state = ? AND next_at <= ? AND claimed_until <= ? AND id IN (
				SELECT o.id FROM outbox o
				WHERE o.state = ? AND o.next_at <= ? AND o.claimed_until <= ?
				AND (o.grp = '' OR NOT EXISTS (SELECT 1 FROM outbox p WHERE p.grp = o.grp AND p.id < o.id AND p.state <> ?))`+skipSQL+`
				ORDER BY o.id LIMIT ?)
			RETURNING `+outboxColumns,
			append(append([]any{owner, ts(now.Add(lease)), OutboxPending, n, n, OutboxPending, n, n, OutboxDone}, skipArgs...), limit)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		items = items[:0]
		for rows.Next() {
			it, err := scanOutbox(rows)
			if err != nil {
				return err
			}
			items = append(items, it)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
	return items, nil
}

// finish changes a claimed item; only its current claim owner may. to is the item's new
// state, for the counters.
func (s *Store) finish(ctx context.Context, what string, id int64, owner, to, set string, args ...any) error {
	args = append(args, id, owner, OutboxPending)
	err := s.inTx(ctx, func(t tx) error {
		res, err := t.exec(ctx, `UPDATE outbox SET claimed_by = '', claimed_until = 0, `+set+` WHERE id = ? AND claimed_by = ? AND state = ?`, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("by %s: %w", owner, ErrLeaseLost)
		}
		switch to {
		case OutboxDone:
			return bump(ctx, t, counterPending, -1)
		case OutboxParked:
			if err := bump(ctx, t, counterPending, -1); err != nil {
				return err
			}
			return bump(ctx, t, counterParked, 1)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: outbox %s %d: %w", what, id, err)
	}
	return nil
}

// Renew extends owner's claim on item id until until, while its delivery runs
// (ErrLeaseLost when owner no longer holds it).
func (s *Store) Renew(ctx context.Context, id int64, owner string, until time.Time) error {
	res, err := s.exec(ctx, `UPDATE outbox SET claimed_until = ? WHERE id = ? AND claimed_by = ? AND state = ?`, ts(until), id, owner, OutboxPending)
	if err != nil {
		return fmt.Errorf("store: outbox renew %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: outbox renew %d by %s: %w", id, owner, ErrLeaseLost)
	}
	return nil
}

// Complete marks item id delivered. It fails with ErrLeaseLost unless owner holds the
// item's claim.
func (s *Store) Complete(ctx context.Context, id int64, owner string) error {
	return s.finish(ctx, "complete", id, owner, OutboxDone, `state = ?, last_error = ''`, OutboxDone)
}

// Retry releases item id for another attempt at next, recording errMsg.
func (s *Store) Retry(ctx context.Context, id int64, owner string, next time.Time, errMsg string) error {
	return s.finish(ctx, "retry", id, owner, OutboxPending, `next_at = ?, last_error = ?`, ts(next), errMsg)
}

// Park stops delivering item id until an admin requeues it, recording errMsg.
func (s *Store) Park(ctx context.Context, id int64, owner string, errMsg string) error {
	return s.finish(ctx, "park", id, owner, OutboxParked, `state = ?, last_error = ?`, OutboxParked, errMsg)
}

// RequeueParked makes a parked item pending again, due now, with its attempts reset and
// a new maximum age from now (ErrNotFound when id is not parked). It keeps its id, so it
// keeps its place in its stream's order.
func (s *Store) RequeueParked(ctx context.Context, id int64) error {
	err := s.inTx(ctx, func(t tx) error {
		res, err := t.exec(ctx, `UPDATE outbox SET state = ?, next_at = 0, attempts = 0, claimed_by = '', claimed_until = 0, since = ? WHERE id = ? AND state = ?`,
			OutboxPending, ts(s.now()), id, OutboxParked)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("no parked item: %w", ErrNotFound)
		}
		if err := bump(ctx, t, counterParked, -1); err != nil {
			return err
		}
		return bump(ctx, t, counterPending, 1)
	})
	if err != nil {
		return fmt.Errorf("store: requeue %d: %w", id, err)
	}
	return nil
}

// RequeueAllParked requeues every parked item (see RequeueParked) and returns their ids.
func (s *Store) RequeueAllParked(ctx context.Context) ([]int64, error) {
	items, err := s.ListOutbox(ctx, OutboxParked)
	if err != nil {
		return nil, err
	}
	ids := []int64{}
	for _, it := range items {
		if err := s.RequeueParked(ctx, it.ID); err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // requeued meanwhile
			}
			return ids, err
		}
		ids = append(ids, it.ID)
	}
	return ids, nil
}

// DropOutboxItem deletes an item that waits (parked, or pending and not being
// delivered): the items after it in its stream go on. ErrNotFound otherwise.
func (s *Store) DropOutboxItem(ctx context.Context, id int64) error {
	err := s.inTx(ctx, func(t tx) error {
		var state string
		err := t.queryRow(ctx, `DELETE FROM outbox WHERE id = ? AND (state = ? OR (state = ? AND claimed_until <= ?)) RETURNING state`,
			id, OutboxParked, OutboxPending, ts(s.now())).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no parked or waiting item: %w", ErrNotFound)
		}
		if err != nil {
			return err
		}
		if state == OutboxParked {
			return bump(ctx, t, counterParked, -1)
		}
		return bump(ctx, t, counterPending, -1)
	})
	if err != nil {
		return fmt.Errorf("store: drop %d: %w", id, err)
	}
	return nil
}

// GetOutboxItem returns item id, or ErrNotFound.
func (s *Store) GetOutboxItem(ctx context.Context, id int64) (OutboxItem, error) {
	items, err := s.listOutbox(ctx, ` WHERE id = ?`, id)
	if err != nil {
		return OutboxItem{}, err
	}
	if len(items) == 0 {
		return OutboxItem{}, fmt.Errorf("store: outbox item %d: %w", id, ErrNotFound)
	}
	return items[0], nil
}

// ListOutbox returns the items in the given states (all when none), oldest first.
func (s *Store) ListOutbox(ctx context.Context, states ...string) ([]OutboxItem, error) {
	if len(states) == 0 {
		return s.listOutbox(ctx, ``)
	}
	args := make([]any, len(states))
	for i, st := range states {
		args[i] = st
	}
	return s.listOutbox(ctx, ` WHERE state IN (`+placeholders(len(states))+`)`, args...)
}

func (s *Store) listOutbox(ctx context.Context, where string, args ...any) ([]OutboxItem, error) {
	rows, err := s.query(ctx, `SELECT `+outboxColumns+` FROM outbox`+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list outbox: %w", err)
	}
	defer rows.Close()
	items := []OutboxItem{}
	for rows.Next() {
		it, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list outbox: %w", err)
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

// OutboxStats counts pending and parked items and says when the oldest pending one was
// enqueued (zero when none is pending). It reads two counters and one index entry: no
// scan, however long the outbox.
func (s *Store) OutboxStats(ctx context.Context) (pending, parked int, oldest time.Time, err error) {
	var oldestTS int64
	err = s.queryRow(ctx, `SELECT
		COALESCE((SELECT value FROM counters WHERE name = ?), 0),
		COALESCE((SELECT value FROM counters WHERE name = ?), 0),
		COALESCE((SELECT created_at FROM outbox WHERE state = ? ORDER BY id LIMIT 1), 0)`,
		counterPending, counterParked, OutboxPending).Scan(&pending, &parked, &oldestTS)
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("store: outbox stats: %w", err)
	}
	return pending, parked, fromTS(oldestTS), nil
}

// PurgeOutbox deletes delivered items enqueued before before, and returns how many.
func (s *Store) PurgeOutbox(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM outbox WHERE state = ? AND created_at < ?`, OutboxDone, ts(before))
	if err != nil {
		return 0, fmt.Errorf("store: purge outbox: %w", err)
	}
	return res.RowsAffected()
}
