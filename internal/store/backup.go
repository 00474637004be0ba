package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrUsePgDump is the answer of Backup and Restore for a PostgreSQL store: its own tools
// make consistent copies of a running database.
var ErrUsePgDump = errors.New("the store is PostgreSQL: back it up with pg_dump (pg_dump -Fc -f ringside.dump DSN) and restore it with pg_restore (pg_restore --clean --if-exists -d DSN ringside.dump) while no ringside serve uses the database; ringside backup and restore copy SQLite stores")

// ErrInUse means that another process (a running ringside serve) holds the data lock.
var ErrInUse = errors.New("a ringside serve is using this store")

// sqliteFile is the file name of a SQLite dsn: without a file: prefix and URI parameters.
func sqliteFile(dsn string) string {
	dsn = strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		dsn = dsn[:i]
	}
	return dsn
}

// DataFile is the SQLite database file of a config ("" for PostgreSQL).
func DataFile(cfg Config, dataDir string) string {
	switch strings.ToLower(cfg.Driver) {
	case "", "sqlite":
	default:
		return ""
	}
	dsn := cfg.DSN
	if cfg.DSNEnv != "" {
		dsn = os.Getenv(cfg.DSNEnv)
	}
	return sqliteFile(sqlitePath(dsn, dataDir))
}

// Backup writes a consistent copy of the SQLite store to dst, which must not exist, while
// the store is in use: VACUUM INTO reads one snapshot (a read transaction: writers go on)
// into a compact database of its own (no WAL file beside it). The copy is written next to
// dst and renamed into place once its integrity is checked, so dst is either whole or
// absent. A PostgreSQL store answers ErrUsePgDump.
func (s *Store) Backup(ctx context.Context, dst string) error {
	if s.dialect != sqliteDialect {
		return ErrUsePgDump
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("backup: %s exists; name a new file", dst)
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".partial")
	os.Remove(tmp)
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: copying the database to %s: %w", dst, err)
	}
	if err := checkSQLite(ctx, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: the copy is not sound: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// checkSQLite opens path and checks that it is a sound Ringside database: integrity_check
// says ok and it has the schema_version table of Ringside's migrations.
func checkSQLite(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return fmt.Errorf("%s is not a SQLite database: %w", path, err)
	}
	if res != "ok" {
		return fmt.Errorf("%s fails SQLite's integrity check: %s", path, res)
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil || !v.Valid {
		return fmt.Errorf("%s is not a Ringside store (no schema version)", path)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Restore replaces the SQLite store of cfg with the backup src. It refuses while a
// server holds the data lock (ErrInUse) and holds the lock itself meanwhile, so that no
// server starts on a half-restored store. The store it replaces is kept beside it as
// FILE.replaced-TIME (with its -wal and -shm files), whose name it returns ("" when
// there was none). The backup is copied and checked before anything is replaced; the
// next Open brings its schema up to date. A PostgreSQL store answers ErrUsePgDump.
func Restore(ctx context.Context, cfg Config, dataDir, src string, now time.Time) (replaced string, err error) {
	path := DataFile(cfg, dataDir)
	if path == "" {
		return "", ErrUsePgDump
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("restore: create data dir: %w", err)
	}
	unlock, err := LockData(cfg, dataDir)
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	defer unlock()

	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".restoring")
	os.Remove(tmp)
	defer os.Remove(tmp)
	if err := copyFile(src, tmp); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if err := checkSQLite(ctx, tmp); err != nil {
		return "", fmt.Errorf("restore: %s: %w", src, err)
	}
	if _, err := os.Stat(path); err == nil {
		replaced = path + ".replaced-" + now.UTC().Format("20060102T150405Z")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(path+suffix, replaced+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("restore: keeping the current store: %w", err)
			}
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return replaced, fmt.Errorf("restore: %w", err)
	}
	return replaced, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// LockData takes the data lock of a SQLite store (FILE.lock beside the database, an
// advisory lock the system drops when the process ends) for as long as the process serves
// it or restores it. It answers ErrInUse when another process holds it. PostgreSQL stores
// take no lock (several nodes share one database).
func LockData(cfg Config, dataDir string) (unlock func(), err error) {
	path := DataFile(cfg, dataDir)
	if path == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%w (%s is locked): stop it first", ErrInUse, path+".lock")
		}
		return nil, fmt.Errorf("data lock %s: %w", path+".lock", err)
	}
	return func() { unlockFile(f); f.Close() }, nil
}
