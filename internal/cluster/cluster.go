// Package cluster lets several Ringside nodes act as one: it fans stream messages out over
// NATS so that an agent connected to any node gets the pops of calls seen by any other, and
// it holds leases so that each phone-system connection runs on one node at a time.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Config is the cluster section of ringside.yaml. Without nats_url a node runs alone.
type Config struct {
	// NATSURL is the NATS server (or comma-separated servers) the nodes share, e.g.
	// nats://127.0.0.1:4222. Empty: no cluster.
	NATSURL string `yaml:"nats_url"`
	// Subject is the NATS subject stream messages travel on. Default ringside.stream.
	Subject string `yaml:"subject"`
	// Lease picks how a phone-system connection is held by one node: auto (postgres when
	// the store is PostgreSQL, else nats), postgres (advisory lock) or nats (key-value
	// bucket with a TTL; needs JetStream). Default auto.
	Lease string `yaml:"lease"`
	// LeaseTTL is how long a dead holder's lease outlives it (nats leases), and how often
	// a free lease is tried. Default 5s.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

// Enabled reports whether the config asks for a cluster.
func (c Config) Enabled() bool { return c.NATSURL != "" }

// Validate checks the section and returns an error naming the key at fault.
func (c Config) Validate() error {
	switch c.Lease {
	case "", "auto", "postgres", "nats":
	default:
		return fmt.Errorf("cluster.lease: %q is not auto, postgres or nats", c.Lease)
	}
	if c.LeaseTTL < 0 {
		return errors.New("cluster.lease_ttl: must not be negative")
	}
	if c.LeaseTTL > 0 && c.LeaseTTL < time.Second {
		return errors.New("cluster.lease_ttl: must be at least 1s")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Subject == "" {
		c.Subject = "ringside.stream"
	}
	if c.Lease == "" {
		c.Lease = "auto"
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 5 * time.Second
	}
	return c
}

// Header names of a stream message on NATS.
const (
	hdrUser  = "Ringside-User"
	hdrSince = "Ringside-Since" // Unix nanoseconds when the message's cause reached a node
	hdrNode  = "Ringside-Node"
)

// ErrNotConnected is returned by Publish before the bus has connected.
var ErrNotConnected = errors.New("cluster: not connected to nats")

// A Bus carries stream messages between nodes over NATS.
type Bus struct {
	cfg  Config
	node string
	log  *slog.Logger

	nc    atomic.Pointer[nats.Conn]
	ready chan struct{}
	once  sync.Once

	published, received atomic.Int64
}

// NewBus returns a bus for the node called node. It does no I/O.
func NewBus(cfg Config, node string, log *slog.Logger) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.NATSURL == "" {
		return nil, errors.New("cluster.nats_url: required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bus{cfg: cfg.withDefaults(), node: node, log: log, ready: make(chan struct{})}, nil
}

// Node returns the node's name.
func (b *Bus) Node() string { return b.node }

// Ready is closed once the bus has a NATS connection object (it may still be reconnecting).
func (b *Bus) Ready() <-chan struct{} { return b.ready }

// Run connects to NATS (retrying until it can), hands every stream message any node
// publishes to deliver, and returns nil when ctx ends. deliver is called from one
// goroutine, in the order messages arrive.
func (b *Bus) Run(ctx context.Context, deliver func(user string, msg []byte, since time.Time)) error {
	nc, err := nats.Connect(b.cfg.NATSURL,
		nats.Name("ringside "+b.node),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, 100*time.Millisecond),
		nats.ReconnectBufSize(32<<20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { b.log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
		nats.ConnectHandler(func(c *nats.Conn) { b.log.Info("connected to nats", "url", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return fmt.Errorf("cluster: connect to nats: %w", err)
	}
	defer nc.Close()
	sub, err := nc.Subscribe(b.cfg.Subject, func(m *nats.Msg) {
		b.received.Add(1)
		user := m.Header.Get(hdrUser)
		if user == "" {
			return
		}
		var since time.Time
		if v := m.Header.Get(hdrSince); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				since = time.Unix(0, n)
			}
		}
		deliver(user, m.Data, since)
	})
	if err != nil {
		return fmt.Errorf("cluster: subscribe to %s: %w", b.cfg.Subject, err)
	}
	// Pops must not be dropped because one node is briefly busy.
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	b.nc.Store(nc)
	b.once.Do(func() { close(b.ready) })
	<-ctx.Done()
	b.nc.Store(nil)
	_ = sub.Unsubscribe()
	_ = nc.Flush()
	return nil
}

// Publish sends a stream message for user to every node (this one included). It returns
// ErrNotConnected before Run has connected; while NATS is briefly away the message is
// buffered and sent on reconnect.
func (b *Bus) Publish(user string, msg []byte, since time.Time) error {
	nc := b.nc.Load()
	if nc == nil {
		return ErrNotConnected
	}
	m := &nats.Msg{Subject: b.cfg.Subject, Data: msg, Header: nats.Header{}}
	m.Header.Set(hdrUser, user)
	m.Header.Set(hdrNode, b.node)
	if !since.IsZero() {
		m.Header.Set(hdrSince, strconv.FormatInt(since.UnixNano(), 10))
	}
	if err := nc.PublishMsg(m); err != nil {
		return fmt.Errorf("cluster: publish: %w", err)
	}
	b.published.Add(1)
	return nil
}

// State reports the NATS connection for /readyz: "" when connected, else what it is.
func (b *Bus) State() string {
	nc := b.nc.Load()
	if nc == nil {
		return "connecting"
	}
	if nc.IsConnected() {
		return ""
	}
	return nc.Status().String()
}

// Counts returns how many messages this node published and received.
func (b *Bus) Counts() (published, received int64) { return b.published.Load(), b.received.Load() }

// conn returns the live NATS connection once Run has one (for leases).
func (b *Bus) conn(ctx context.Context) (*nats.Conn, error) {
	select {
	case <-b.ready:
		if nc := b.nc.Load(); nc != nil {
			return nc, nil
		}
		return nil, ErrNotConnected
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
