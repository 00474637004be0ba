package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// SetState stores value under (scope, key): small adapter state such as a sync cursor.
func (s *Store) SetState(ctx context.Context, scope, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	_, err := s.exec(ctx, `INSERT INTO adapter_state (scope, key, value) VALUES (?, ?, ?)
		ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value`, scope, key, value)
	if err != nil {
		return fmt.Errorf("store: set state %s/%s: %w", scope, key, err)
	}
	return nil
}

// State returns the value under (scope, key), or ErrNotFound.
func (s *Store) State(ctx context.Context, scope, key string) ([]byte, error) {
	var v []byte
	err := s.queryRow(ctx, `SELECT value FROM adapter_state WHERE scope = ? AND key = ?`, scope, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: state %s/%s: %w", scope, key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: state %s/%s: %w", scope, key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// An IndexRow is one entry of a CRM adapter's local index (e.g. a record's phones).
type IndexRow struct {
	Key  string
	Data []byte
}

// indexBatch is how many rows one INSERT carries (3 parameters each).
const indexBatch = 500

// defaultTxBatch is how many rows one transaction writes, so that other writers get a
// turn during a bulk load of millions of rows.
const defaultTxBatch = 20000

// PutIndexRows inserts or replaces rows in scope. Large slices are written in several
// transactions of many rows each.
func (s *Store) PutIndexRows(ctx context.Context, scope string, rows []IndexRow) error {
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), s.txBatch)]
		rows = rows[len(chunk):]
		err := s.inTx(ctx, func(t tx) error {
			for c := chunk; len(c) > 0; {
				b := c[:min(len(c), indexBatch)]
				c = c[len(b):]
				args := make([]any, 0, 3*len(b))
				var q strings.Builder
				q.WriteString(`INSERT INTO index_rows (scope, key, data) VALUES `)
				for i, r := range b {
					if i > 0 {
						q.WriteString(", ")
					}
					q.WriteString("(?, ?, ?)")
					d := r.Data
					if d == nil {
						d = []byte{}
					}
					args = append(args, scope, r.Key, d)
				}
				q.WriteString(` ON CONFLICT (scope, key) DO UPDATE SET data = excluded.data`)
				if _, err := t.exec(ctx, q.String(), args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: put index rows %s: %w", scope, err)
		}
	}
	return nil
}

// DeleteIndexRows removes the rows with these keys from scope (missing keys are fine).
func (s *Store) DeleteIndexRows(ctx context.Context, scope string, keys []string) error {
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), s.txBatch)]
		keys = keys[len(chunk):]
		err := s.inTx(ctx, func(t tx) error {
			for c := chunk; len(c) > 0; {
				b := c[:min(len(c), indexBatch)]
				c = c[len(b):]
				args := make([]any, 0, len(b)+1)
				args = append(args, scope)
				for _, k := range b {
					args = append(args, k)
				}
				if _, err := t.exec(ctx, `DELETE FROM index_rows WHERE scope = ? AND key IN (`+placeholders(len(b))+`)`, args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: delete index rows %s: %w", scope, err)
		}
	}
	return nil
}

// defaultLoadPage is how many index rows one query reads.
const defaultLoadPage = 10000

// LoadIndexRows calls fn for every row of scope, in key order, reading in pages so that
// no transaction stays open while fn runs. An error from fn stops it and is returned.
func (s *Store) LoadIndexRows(ctx context.Context, scope string, fn func(IndexRow) error) error {
	after, first := "", true
	for {
		q := `SELECT key, data FROM index_rows WHERE scope = ? AND key > ? ORDER BY key LIMIT ?`
		args := []any{scope, after, s.loadPage}
		if first {
			q = `SELECT key, data FROM index_rows WHERE scope = ? ORDER BY key LIMIT ?`
			args = []any{scope, s.loadPage}
		}
		page, err := s.indexPage(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("store: load index rows %s: %w", scope, err)
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < s.loadPage {
			return nil
		}
		after, first = page[len(page)-1].Key, false
	}
}

func (s *Store) indexPage(ctx context.Context, q string, args ...any) ([]IndexRow, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := make([]IndexRow, 0, s.loadPage)
	for rows.Next() {
		var r IndexRow
		if err := rows.Scan(&r.Key, &r.Data); err != nil {
			return nil, err
		}
		page = append(page, r)
	}
	return page, rows.Err()
}

// ClearIndex removes every row of scope.
func (s *Store) ClearIndex(ctx context.Context, scope string) error {
	if _, err := s.exec(ctx, `DELETE FROM index_rows WHERE scope = ?`, scope); err != nil {
		return fmt.Errorf("store: clear index %s: %w", scope, err)
	}
	return nil
}
