//go:build !windows

// Package clustertest starts the real peers cluster tests need: a private nats-server on a
// loopback port, and a fresh PostgreSQL database (or a private PostgreSQL instance).
package clustertest

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"

	"github.com/ringside/ringside/internal/testenv"
)

// NATS is a nats-server started for one test.
type NATS struct {
	URL  string
	port int
	dir  string
	bin  string
	cmd  *exec.Cmd
	t    testing.TB
}

// StartNATS starts nats-server (with JetStream, its store in t.TempDir()) on a free
// loopback port and stops it when the test ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	bin := testenv.LookPath(t, "nats-server", "nats-server")
	n := &NATS{port: testenv.FreePort(t), dir: t.TempDir(), bin: bin, t: t}
	n.URL = fmt.Sprintf("nats://127.0.0.1:%d", n.port)
	n.Start()
	t.Cleanup(n.Stop)
	return n
}

// Start (re)starts the server on its port.
func (n *NATS) Start() {
	n.t.Helper()
	cmd := exec.Command(n.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-js", "-sd", n.dir)
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("nats-server: %v", err)
	}
	n.cmd = cmd
	waitPort(n.t, fmt.Sprintf("127.0.0.1:%d", n.port), 10*time.Second)
}

// Stop stops the server.
func (n *NATS) Stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
	n.cmd = nil
}

func waitPort(t testing.TB, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after %s: %v", addr, d, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a port another process opens
	}
}

// DefaultPostgresDSN is the shared test database (CI and the development machine).
const DefaultPostgresDSN = "postgres://ringside:ringside@127.0.0.1:5432/ringside_test?sslmode=disable"

// PostgresDB creates a fresh database for the test on the shared PostgreSQL
// (RINGSIDE_TEST_POSTGRES_DSN, whose role has CREATEDB), drops it at the end, and returns
// its DSN. A missing PostgreSQL is a missing peer.
func PostgresDB(t testing.TB) string {
	t.Helper()
	base := os.Getenv("RINGSIDE_TEST_POSTGRES_DSN")
	if base == "" {
		testenv.Peer(t, "RINGSIDE_TEST_POSTGRES_DSN is not set (e.g. "+DefaultPostgresDSN+")")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		testenv.Peer(t, "PostgreSQL at RINGSIDE_TEST_POSTGRES_DSN: "+err.Error())
	}
	name := fmt.Sprintf("ringside_cluster_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Postgres is a private PostgreSQL instance in t.TempDir(), which a test may restart.
type Postgres struct {
	DSN  string
	cred *syscall.Credential // run as this user (when the tests run as root)
	bin  string
	dir  string
	port int
	t    testing.TB
}

// StartPostgres initialises and starts a private PostgreSQL (Debian's binaries under
// /usr/lib/postgresql/*/bin) on a free loopback port; it is stopped when the test ends.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		testenv.Peer(t, "initdb not found (Debian package postgresql)")
	}
	// PostgreSQL refuses to run as root: then it runs as the postgres user, in a folder
	// that user owns.
	base, err := os.MkdirTemp("", "ringside-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	p := &Postgres{bin: filepath.Dir(bins[len(bins)-1]), dir: filepath.Join(base, "pg"), port: testenv.FreePort(t), t: t}
	pw := filepath.Join(base, "pw")
	if err := os.WriteFile(pw, []byte("ringside\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			testenv.Peer(t, "running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, f := range []string{base, pw} {
			if err := os.Chown(f, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := p.command("initdb", "-D", p.dir, "-U", "ringside", "--pwfile", pw, "-A", "scram-sha-256", "--no-sync").CombinedOutput()
	if err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.DSN = fmt.Sprintf("postgres://ringside:ringside@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Start starts (or restarts after Stop) the instance and waits until it accepts queries.
func (p *Postgres) Start() {
	p.t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", p.port, p.dir)
	out, err := p.command("pg_ctl", "-D", p.dir, "-o", opts, "-l", filepath.Join(p.dir, "log"), "-w", "-t", "30", "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		p.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, lastLines(string(log), 20))
	}
}

// Stop stops the instance (fast shutdown: sessions are cut).
func (p *Postgres) Stop() {
	_ = p.command("pg_ctl", "-D", p.dir, "-m", "fast", "-w", "stop").Run()
}

func (p *Postgres) command(prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, prog), args...)
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
		cmd.Dir = "/"
	}
	return cmd
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
