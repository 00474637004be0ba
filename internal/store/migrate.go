package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the numbered migrations of one dialect folder, in order.
func loadMigrations(dir string) ([]migration, error) {
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(strings.TrimSuffix(num, ".sql"))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %s: name must start with a positive number (NNNN_what.sql)", e.Name())
		}
		if other, ok := seen[v]; ok {
			return nil, fmt.Errorf("store: migrations %s and %s share number %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies every migration not yet recorded in schema_version, each in its own
// transaction. Versions are tracked one by one (not as a maximum) so that a migration
// numbered out of order by another component (e.g. 0100) is still applied exactly once.
// Several processes may migrate at once: the check happens under the write lock.
func (s *Store) migrate(ctx context.Context) error {
	dir := "migrations/sqlite"
	if s.dialect == postgresDialect {
		dir = "migrations/postgres"
	}
	ms, err := loadMigrations(dir)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: create schema_version: %w", err)
	}
	for _, m := range ms {
		err := s.inTx(ctx, func(t tx) error {
			if s.dialect == postgresDialect {
				if _, err := t.exec(ctx, `LOCK TABLE schema_version IN EXCLUSIVE MODE`); err != nil {
					return err
				}
			}
			var n int
			if err := t.queryRow(ctx, `SELECT COUNT(*) FROM schema_version WHERE version = ?`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := t.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := t.exec(ctx, `INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)`, m.version, m.name, ts(s.now()))
			if err != nil {
				return err
			}
			s.log.Info("applied migration", "migration", m.name)
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// SchemaVersions returns the migrations applied, in order.
func (s *Store) SchemaVersions(ctx context.Context) ([]int, error) {
	rows, err := s.query(ctx, `SELECT version FROM schema_version ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("store: schema versions: %w", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: schema versions: %w", err)
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}
