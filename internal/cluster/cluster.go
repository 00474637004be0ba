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

	// SecretEnv or SecretFile hold the cluster secret every node shares: each message is
	// signed with it (HMAC-SHA256) and messages without a valid signature are dropped.
	// Required with nats_url (at least 16 bytes).
	SecretEnv  string `yaml:"secret_env"`
	SecretFile string `yaml:"secret_file"`
	// CredentialsFile is a NATS credentials file (JWT and NKey seed).
	CredentialsFile string `yaml:"credentials_file"`
	// NKeyFile is a file holding an NKey seed (SU…).
	NKeyFile string `yaml:"nkey_file"`
	// User with PasswordEnv or PasswordFile log in to NATS with a user name and password.
	User         string `yaml:"user"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	// TLSCA verifies the NATS server's certificate (and turns TLS on); TLSCert and TLSKey
	// are this node's client certificate, if the server asks for one.
	TLSCA   string `yaml:"tls_ca"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`

	// secret is the cluster secret read by Load.
	secret []byte
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
	if c.SecretEnv != "" && c.SecretFile != "" {
		return errors.New("cluster.secret_env: set secret_env or secret_file, not both")
	}
	if c.NATSURL != "" && c.SecretEnv == "" && c.SecretFile == "" {
		return errors.New("cluster.secret_env: a cluster needs a shared secret (secret_env or secret_file) to sign its messages")
	}
	if c.PasswordEnv != "" && c.PasswordFile != "" {
		return errors.New("cluster.password_env: set password_env or password_file, not both")
	}
	if (c.PasswordEnv != "" || c.PasswordFile != "") && c.User == "" {
		return errors.New("cluster.user: a password needs a user")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("cluster.tls_cert: set tls_cert and tls_key together")
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
	hdrTime  = "Ringside-Time" // Unix nanoseconds when it was signed
	hdrSig   = "Ringside-Sig"  // HMAC-SHA256 (hex) of the subject, the headers above and the data
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

	published, received, forged atomic.Int64
	opts                        []nats.Option
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
	secret, err := readSecret(cfg.SecretEnv, cfg.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("cluster.secret_env: %w", err)
	}
	if len(secret) < 16 {
		return nil, errors.New("cluster.secret_env: the cluster secret must be at least 16 bytes")
	}
	cfg.secret = secret
	opts, err := cfg.authOptions()
	if err != nil {
		return nil, err
	}
	return &Bus{cfg: cfg.withDefaults(), node: node, log: log, ready: make(chan struct{}), opts: opts}, nil
}

// Node returns the node's name.
func (b *Bus) Node() string { return b.node }

// Ready is closed once the bus has a NATS connection object (it may still be reconnecting).
func (b *Bus) Ready() <-chan struct{} { return b.ready }

// Run connects to NATS (retrying until it can), hands every stream message any node
// publishes to deliver, and returns nil when ctx ends. deliver is called from one
// goroutine, in the order messages arrive.
func (b *Bus) Run(ctx context.Context, deliver func(user string, msg []byte, since time.Time)) error {
	nc, err := nats.Connect(b.cfg.NATSURL, append(b.opts,
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
	)...)
	if err != nil {
		return fmt.Errorf("cluster: connect to nats: %w", err)
	}
	defer nc.Close()
	sub, err := nc.Subscribe(b.cfg.Subject, func(m *nats.Msg) {
		b.received.Add(1)
		if !b.Verify(m) {
			b.forged.Add(1)
			b.log.Warn("cluster message dropped: not signed with the cluster secret", "node", clip(m.Header.Get(hdrNode), 64))
			return
		}
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
	b.Sign(m)
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

// Forged returns how many received messages were dropped for a missing or wrong signature.
func (b *Bus) Forged() int64 { return b.forged.Load() }

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
