//go:build !windows

package cluster_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ringside/ringside/internal/cluster"
	"github.com/ringside/ringside/internal/cluster/clustertest"
)

type got struct {
	user  string
	msg   string
	since time.Time
}

func startBus(t *testing.T, url, node string) (*cluster.Bus, chan got) {
	t.Helper()
	b, err := cluster.NewBus(cluster.Config{NATSURL: url, SecretFile: secretFile(t)}, node, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan got, 16)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := b.Run(ctx, func(u string, m []byte, s time.Time) { ch <- got{u, string(m), s} }); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	<-b.Ready()
	return b, ch
}

func recv(t *testing.T, ch chan got) got {
	t.Helper()
	select {
	case g := <-ch:
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
		return got{}
	}
}

func TestBusFanOut(t *testing.T) {
	n := clustertest.StartNATS(t)
	a, cha := startBus(t, n.URL, "a")
	b, chb := startBus(t, n.URL, "b")
	if err := b.Publish("bob", []byte(`{"type":"x"}`), time.Time{}); err != nil { // make sure b's subscription is live
		t.Fatal(err)
	}
	recv(t, cha)
	recv(t, chb)
	since := time.Unix(0, 1234567890123)
	if err := a.Publish("alice", []byte(`{"type":"call.ringing"}`), since); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan got{cha, chb} {
		g := recv(t, ch)
		if g.user != "alice" || g.msg != `{"type":"call.ringing"}` || !g.since.Equal(since) {
			t.Errorf("got %+v", g)
		}
	}
	if p, _ := a.Counts(); p != 1 {
		t.Errorf("published = %d", p)
	}
	if a.State() != "" {
		t.Errorf("state = %q", a.State())
	}
}

func TestBusNotConnected(t *testing.T) {
	b, err := cluster.NewBus(cluster.Config{NATSURL: "nats://127.0.0.1:1", SecretFile: secretFile(t)}, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish("u", nil, time.Time{}); err != cluster.ErrNotConnected {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  cluster.Config
		ok   bool
	}{
		{"empty", cluster.Config{}, true},
		{"nats lease", cluster.Config{NATSURL: "nats://x", Lease: "nats", LeaseTTL: 3 * time.Second, SecretEnv: "S"}, true},
		{"no secret", cluster.Config{NATSURL: "nats://x"}, false},
		{"two secrets", cluster.Config{NATSURL: "nats://x", SecretEnv: "S", SecretFile: "/f"}, false},
		{"password without user", cluster.Config{NATSURL: "nats://x", SecretEnv: "S", PasswordEnv: "P"}, false},
		{"cert without key", cluster.Config{NATSURL: "nats://x", SecretEnv: "S", TLSCert: "c.pem"}, false},
		{"bad lease", cluster.Config{Lease: "etcd"}, false},
		{"tiny ttl", cluster.Config{LeaseTTL: time.Millisecond}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if _, err := cluster.NewBus(cluster.Config{}, "a", nil); err == nil {
		t.Fatal("NewBus without nats_url")
	}
}

// holder runs l.Hold in the background and reports on held each time it gets the lease.
type holder struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	held   chan string
	lost   chan string
}

func hold(t *testing.T, l cluster.Leaser, name, who string) *holder {
	ctx, cancel := context.WithCancel(t.Context())
	h := &holder{cancel: cancel, held: make(chan string, 8), lost: make(chan string, 8)}
	h.wg.Go(func() {
		l.Hold(ctx, name, func(lctx context.Context) {
			h.held <- who
			<-lctx.Done()
			h.lost <- who
		})
	})
	t.Cleanup(h.stop)
	return h
}

func (h *holder) stop() { h.cancel(); h.wg.Wait() }

func waitFor(t *testing.T, ch chan string, what string) string {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return ""
	}
}

func noValue(t *testing.T, ch chan string, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s: %s", what, v)
	default:
	}
}

func TestPGLeaseTakeover(t *testing.T) {
	dsn := clustertest.PostgresDB(t)
	l1, err := cluster.NewPGLeases(dsn, 200*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	l2, _ := cluster.NewPGLeases(dsn, 200*time.Millisecond, nil)
	defer l2.Close()

	h1 := hold(t, l1, "telephony/ami", "one")
	waitFor(t, h1.held, "first holder")
	h2 := hold(t, l2, "telephony/ami", "two")
	// Another name is independent.
	h3 := hold(t, l2, "telephony/esl", "three")
	waitFor(t, h3.held, "other lease")
	noValue(t, h2.held, "second holder while the first holds")

	// The holder's session is killed (as when its node dies): it loses the lease and the
	// other node takes it.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = ($1::bigint & 4294967295)::oid", cluster.LockKey("telephony/ami")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, h1.lost, "first holder losing")
	waitFor(t, h2.held, "takeover")

	// A clean stop gives the lease back at once.
	h2.stop()
	waitFor(t, h2.lost, "second holder stopping")
	if w := waitFor(t, h1.held, "first holder again"); w != "one" {
		t.Fatal(w)
	}
}

func TestKVLeaseTakeover(t *testing.T) {
	n := clustertest.StartNATS(t)
	a, _ := startBus(t, n.URL, "a")
	b, _ := startBus(t, n.URL, "b")
	// The default TTL (5s) is the lower bound of a takeover after a crash; a clean stop
	// deletes the key, so the other takes over on its next try.
	la := cluster.NewKVLeases(a, "test_leases", nil)
	lb := cluster.NewKVLeases(b, "test_leases", nil)
	h1 := hold(t, la, "telephony/ami", "a")
	waitFor(t, h1.held, "first holder")
	h2 := hold(t, lb, "telephony/ami", "b")
	noValue(t, h2.held, "second holder while the first holds")
	h1.stop()
	waitFor(t, h1.lost, "first holder stopping")
	waitFor(t, h2.held, "takeover")
}

// secretFile writes the cluster secret the test nodes share.
func secretFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(os.TempDir(), "ringside-test-cluster-secret")
	if err := os.WriteFile(p, []byte("a-shared-secret-for-the-bus-tests\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSignVerify: a message signed with the cluster secret verifies; one changed in any
// signed part, signed with another secret, unsigned, or old does not.
func TestSignVerify(t *testing.T) {
	a, err := cluster.NewBus(cluster.Config{NATSURL: "nats://x", SecretFile: secretFile(t)}, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other")
	os.WriteFile(other, []byte("another-secret-of-16-bytes-or-more"), 0o600)
	b, err := cluster.NewBus(cluster.Config{NATSURL: "nats://x", SecretFile: other}, "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := func() *nats.Msg {
		m := &nats.Msg{Subject: "ringside.stream", Data: []byte(`{"type":"call.ringing"}`), Header: nats.Header{}}
		m.Header.Set("Ringside-User", "bob")
		a.Sign(m)
		return m
	}
	if m := msg(); !a.Verify(m) {
		t.Fatal("a signed message does not verify")
	}
	for name, change := range map[string]func(m *nats.Msg){
		"data":    func(m *nats.Msg) { m.Data = []byte(`{"type":"call.ringing","open_record":"https://evil"}`) },
		"user":    func(m *nats.Msg) { m.Header.Set("Ringside-User", "alice") },
		"subject": func(m *nats.Msg) { m.Subject = "other" },
		"time":    func(m *nats.Msg) { m.Header.Set("Ringside-Time", "1") },
		"no sig":  func(m *nats.Msg) { m.Header.Del("Ringside-Sig") },
		"garbage": func(m *nats.Msg) { m.Header.Set("Ringside-Sig", "zz") },
	} {
		m := msg()
		change(m)
		if a.Verify(m) {
			t.Errorf("%s changed: still verifies", name)
		}
	}
	if m := msg(); b.Verify(m) {
		t.Error("verifies with another secret")
	}
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("short"), 0o600)
	if _, err := cluster.NewBus(cluster.Config{NATSURL: "nats://x", SecretFile: short}, "c", nil); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}
