// Package store keeps Ringside's durable state — users, tokens, sessions, the call journal,
// the outbox, adapter state and the built-in directory — in SQLite or PostgreSQL through
// database/sql, with the SQL written once in the subset both speak.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite" // driver "sqlite"
)

// Config is the store section of ringside.yaml.
type Config struct {
	Driver string `yaml:"driver"`  // sqlite (default) or postgres
	DSN    string `yaml:"dsn"`     // postgres: connection string; sqlite: database file (default DATA_DIR/ringside.db)
	DSNEnv string `yaml:"dsn_env"` // name of an environment variable holding the DSN (wins over dsn)
}

// Sentinel errors; check them with errors.Is.
var (
	ErrNotFound       = errors.New("store: not found")
	ErrExists         = errors.New("store: already exists")
	ErrBadCredentials = errors.New("store: bad credentials")
	// ErrLeaseLost says an outbox item is no longer claimed by the caller (its lease
	// expired and another worker took it, or it was finished already).
	ErrLeaseLost = errors.New("store: outbox lease lost")
)

type dialect int

const (
	sqliteDialect dialect = iota
	postgresDialect
)

// Store is the handle on the database. It is safe for concurrent use, and several
// processes may open the same SQLite file at once.
type Store struct {
	db      *sql.DB
	dialect dialect
	log     *slog.Logger
	now     func() time.Time
	cost    int // bcrypt cost

	txBatch, loadPage int // bulk index rows: rows per transaction, rows per read

	wmu sync.Mutex // SQLite: one write transaction at a time in this process

	dummyOnce sync.Once
	dummyHash []byte

	path string // the SQLite database file ("" for PostgreSQL)

	stmts     sync.Map // rewritten query → *sql.Stmt: parsing SQL costs more than running it
	preparing sync.Map // rewritten query → struct{}: being prepared for a transaction
}

// Open connects to the database cfg names (SQLite in dataDir/ringside.db by default,
// creating dataDir), and brings its schema up to date.
func Open(ctx context.Context, cfg Config, dataDir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dsn := cfg.DSN
	if cfg.DSNEnv != "" {
		v := os.Getenv(cfg.DSNEnv)
		if v == "" {
			return nil, fmt.Errorf("store: dsn_env: environment variable %s is empty or unset", cfg.DSNEnv)
		}
		dsn = v
	}
	s := &Store{log: log, now: time.Now, cost: bcrypt.DefaultCost, txBatch: defaultTxBatch, loadPage: defaultLoadPage}
	var err error
	switch strings.ToLower(cfg.Driver) {
	case "", "sqlite":
		s.dialect = sqliteDialect
		path := sqlitePath(dsn, dataDir)
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("store: create data dir: %w", err)
			}
		}
		s.path = path
		// _txlock=immediate: every transaction takes the write lock up front, so two
		// writers queue on busy_timeout instead of failing on a read→write upgrade.
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		s.db, err = sql.Open("sqlite", path+sep+"_busy_timeout=5000&_journal_mode=WAL&_foreign_keys=1&_synchronous=NORMAL&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
		}
	case "postgres", "postgresql", "pgx":
		if dsn == "" {
			return nil, fmt.Errorf("store: driver postgres needs dsn or dsn_env")
		}
		s.dialect = postgresDialect
		s.db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		s.db.SetMaxOpenConns(16)
	default:
		return nil, fmt.Errorf("store: driver %q is not sqlite or postgres", cfg.Driver)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// sqlitePath is the SQLite database file of a dsn (a file name) or, without one,
// dataDir/ringside.db.
func sqlitePath(dsn, dataDir string) string {
	if dsn != "" {
		return dsn
	}
	if dataDir == "" {
		dataDir = "."
	}
	return filepath.Join(dataDir, "ringside.db")
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// stmt returns the prepared statement of a query (rewritten for the dialect), preparing
// it once per store. database/sql re-prepares it on each pooled connection as needed.
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	q := s.q(query)
	if v, ok := s.stmts.Load(q); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if v, loaded := s.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// q rewrites the ? placeholders of a query for the dialect in use.
func (s *Store) q(query string) string {
	if s.dialect != postgresDialect {
		return query
	}
	return rebind(query)
}

// rebind turns ? placeholders into $1, $2, … (outside single-quoted literals).
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n, inQuote := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return s.db.ExecContext(ctx, s.q(query), args...)
	}
	return st.ExecContext(ctx, args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return s.db.QueryContext(ctx, s.q(query), args...)
	}
	return st.QueryContext(ctx, args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return s.db.QueryRowContext(ctx, s.q(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// runner runs statements: the store (each on its own) or a transaction.
type runner interface {
	exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	queryRow(ctx context.Context, query string, args ...any) *sql.Row
}

// tx is a transaction with the store's placeholder rewriting.
type tx struct {
	*sql.Tx
	s     *Store
	stmts map[string]*sql.Stmt // the store's prepared statements bound to this transaction
}

// stmt returns the prepared statement of query bound to t (bound once per transaction:
// a journal batch runs the same two statements for every call), or nil the first time
// the store sees the query.
func (t tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := t.stmts[query]; st != nil {
		return st
	}
	st := t.s.cached(ctx, query)
	if st == nil {
		return nil
	}
	st = t.StmtContext(ctx, st)
	t.stmts[query] = st
	return st
}

func (t tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.ExecContext(ctx, t.s.q(query), args...)
}

func (t tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.QueryContext(ctx, t.s.q(query), args...)
}

func (t tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.QueryRowContext(ctx, t.s.q(query), args...)
}

// cached returns the prepared statement of a query used in a transaction, or nil the
// first time. A transaction holds a pooled connection, and preparing on the pool could
// wait for another one that every other transaction also holds: so the statement is
// prepared in the background, for the next time.
func (s *Store) cached(ctx context.Context, query string) *sql.Stmt {
	q := s.q(query)
	if v, ok := s.stmts.Load(q); ok {
		return v.(*sql.Stmt)
	}
	if _, busy := s.preparing.LoadOrStore(q, struct{}{}); !busy {
		go func() {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if _, err := s.stmt(pctx, query); err != nil {
				s.preparing.Delete(q) // try again another time
			}
		}()
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil. Writes are short; a
// database that stays busy beyond busy_timeout is retried a few times.
func (s *Store) inTx(ctx context.Context, fn func(tx) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = s.tryTx(ctx, fn)
		if err == nil || attempt >= 4 || !isBusy(err) || ctx.Err() != nil {
			return err
		}
		s.log.Warn("database busy, retrying", "attempt", attempt+1)
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(tx) error) error {
	if s.dialect == sqliteDialect {
		// SQLite has one writer at a time (transactions begin IMMEDIATE): goroutines of
		// this process queue here instead of in SQLite's busy handler, whose sleeps
		// (up to 100 ms) cut the write rate under contention.
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	t, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx{t, s, map[string]*sql.Stmt{}}); err != nil {
		t.Rollback()
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// isBusy reports whether err is SQLite's "database is locked/busy" or a PostgreSQL
// serialisation failure or deadlock: worth another try.
func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "(5)") && strings.Contains(msg, "busy") ||
		strings.Contains(msg, "SQLSTATE 40001") || strings.Contains(msg, "SQLSTATE 40P01")
}

// ts turns a time into the integer stored (Unix nanoseconds; 0 for the zero time).
func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromTS is the inverse of ts, in UTC.
func fromTS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// SetClock makes the store read the time from now (tests of packages built on the store
// move a fake clock); call it before using the store.
func (s *Store) SetClock(now func() time.Time) { s.now = now }
