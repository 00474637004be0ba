package cluster

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"github.com/nats-io/nats.go/jetstream"
)

// A Leaser runs work only while this node holds a named lease.
type Leaser interface {
	// Hold runs fn each time this node gets the lease called name, with a context that
	// ends when the lease is lost (or ctx ends); it gives the lease back when fn returns.
	// Hold returns when ctx ends.
	Hold(ctx context.Context, name string, fn func(ctx context.Context))
}

// acquireFunc tries to take a lease once. ok=false: someone else holds it. When ok, lost is
// closed when the lease is lost, and release gives it back.
type acquireFunc func(ctx context.Context) (ok bool, lost <-chan struct{}, release func(), err error)

// hold is the loop every Leaser shares: try, run while held, retry every retry.
func hold(ctx context.Context, log *slog.Logger, name string, retry time.Duration, acquire acquireFunc, fn func(ctx context.Context)) {
	t := time.NewTimer(0)
	defer t.Stop()
	lastErr := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, lost, release, err := acquire(ctx)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			if e := err.Error(); e != lastErr {
				log.Warn("lease unavailable", "lease", name, "err", err)
				lastErr = e
			}
		case ok:
			lastErr = ""
			log.Info("lease taken", "lease", name)
			lctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				select {
				case <-lost:
					if ctx.Err() == nil {
						log.Warn("lease lost", "lease", name)
					}
				case <-done:
				}
				cancel()
			}()
			fn(lctx)
			close(done)
			cancel()
			release()
			if ctx.Err() == nil {
				log.Info("lease given back", "lease", name)
			}
		}
		t.Reset(retry)
	}
}

// PGLeases are PostgreSQL advisory locks (pg_try_advisory_lock), each held on a
// dedicated session: losing that session loses the lease, and PostgreSQL frees the lock
// of a dead node as soon as its connection goes.
type PGLeases struct {
	db    *sql.DB
	log   *slog.Logger
	retry time.Duration
	check time.Duration
}

// NewPGLeases returns leases in the PostgreSQL database dsn names. retry is how often a
// free lease is tried and a held one checked (default 1s). It does no I/O.
func NewPGLeases(dsn string, retry time.Duration, log *slog.Logger) (*PGLeases, error) {
	if dsn == "" {
		return nil, errors.New("cluster: postgres lease: no dsn")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("cluster: postgres lease: %w", err)
	}
	if retry <= 0 {
		retry = time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db.SetConnMaxIdleTime(time.Minute)
	return &PGLeases{db: db, log: log, retry: retry, check: retry}, nil
}

// Close closes the leases' connections.
func (l *PGLeases) Close() error { return l.db.Close() }

// LockKey is the advisory lock key of a lease name.
func LockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("ringside:lease:" + name))
	return int64(h.Sum64())
}

// Hold implements Leaser.
func (l *PGLeases) Hold(ctx context.Context, name string, fn func(ctx context.Context)) {
	key := LockKey(name)
	hold(ctx, l.log, name, l.retry, func(ctx context.Context) (bool, <-chan struct{}, func(), error) {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := l.db.Conn(actx)
		if err != nil {
			return false, nil, nil, fmt.Errorf("cluster: postgres lease: %w", err)
		}
		var ok bool
		if err := c.QueryRowContext(actx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
			_ = c.Raw(func(any) error { return driver.ErrBadConn }) // make database/sql drop it
			c.Close()
			return false, nil, nil, fmt.Errorf("cluster: postgres lease: %w", err)
		}
		if !ok {
			c.Close()
			return false, nil, nil, nil
		}
		lost := make(chan struct{})
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(l.check)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*l.check+time.Second)
					_, err := c.ExecContext(pctx, "SELECT 1")
					pcancel()
					if err != nil {
						close(lost)
						return
					}
				}
			}
		}()
		release := func() {
			close(stop)
			<-done
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer rcancel()
			if _, err := c.ExecContext(rctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
				// The session is broken or gone: closing it frees the lock anyway.
				_ = c.Raw(func(any) error { return driver.ErrBadConn })
			}
			c.Close()
		}
		return true, lost, release, nil
	}, fn)
}

// KVLeases are keys in a NATS JetStream key-value bucket with a TTL: the holder refreshes
// its key every TTL/3, and a dead holder's key expires after the TTL.
type KVLeases struct {
	bus    *Bus
	bucket string
	ttl    time.Duration
	log    *slog.Logger
}

// NewKVLeases returns leases kept in the bucket (default ringside_leases) on the bus's
// NATS connection. It does no I/O.
func NewKVLeases(bus *Bus, bucket string, log *slog.Logger) *KVLeases {
	if bucket == "" {
		bucket = "ringside_leases"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &KVLeases{bus: bus, bucket: bucket, ttl: bus.cfg.LeaseTTL, log: log}
}

func kvKey(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
}

// Hold implements Leaser.
func (l *KVLeases) Hold(ctx context.Context, name string, fn func(ctx context.Context)) {
	key := kvKey(name)
	var kv jetstream.KeyValue
	retry := l.ttl / 3
	hold(ctx, l.log, name, retry, func(ctx context.Context) (bool, <-chan struct{}, func(), error) {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if kv == nil {
			nc, err := l.bus.conn(actx)
			if err != nil {
				return false, nil, nil, fmt.Errorf("cluster: nats lease: %w", err)
			}
			js, err := jetstream.New(nc)
			if err != nil {
				return false, nil, nil, fmt.Errorf("cluster: nats lease: %w", err)
			}
			b, err := js.CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{Bucket: l.bucket, TTL: l.ttl, History: 1})
			if err != nil {
				return false, nil, nil, fmt.Errorf("cluster: nats lease bucket %s: %w", l.bucket, err)
			}
			kv = b
		}
		rev, err := kv.Create(actx, key, []byte(l.bus.node))
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil, nil, nil
		}
		if err != nil {
			return false, nil, nil, fmt.Errorf("cluster: nats lease: %w", err)
		}
		lost := make(chan struct{})
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(retry)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), retry)
					r, err := kv.Update(uctx, key, []byte(l.bus.node), rev)
					ucancel()
					if err != nil {
						close(lost)
						return
					}
					rev = r
				}
			}
		}()
		release := func() {
			close(stop)
			<-done
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer rcancel()
			_ = kv.Delete(rctx, key, jetstream.LastRevision(rev))
		}
		return true, lost, release, nil
	}, fn)
}

// Interface guards.
var (
	_ Leaser = (*PGLeases)(nil)
	_ Leaser = (*KVLeases)(nil)
)
