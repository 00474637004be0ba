// Package baresiptest runs real peers for tests of the softphone bridge: a headless
// baresip (Debian baresip-core) with ctrl_tcp, and sipp scenarios that call it or answer
// it, all on free loopback ports.
package baresiptest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/testenv"
)

// Baresip is a running baresip.
type Baresip struct {
	// Ctrl is the ctrl_tcp address (host:port).
	Ctrl string
	// SIP is the SIP listen address (host:port).
	SIP string
	// User is the account's user (the extension), "200".
	User string
	Dir  string
	log  *lockedBuffer
}

// Log returns what baresip printed so far.
func (b *Baresip) Log() string { return b.log.String() }

// Start runs baresip with account sip:200@127.0.0.1 (manual answer) and ctrl_tcp, and
// stops it when the test ends. A missing baresip skips the test (fails it in CI).
func Start(t testing.TB) *Baresip {
	t.Helper()
	bin := testenv.LookPath(t, "baresip", "baresip-core")
	if _, err := os.Stat("/usr/lib/baresip/modules/ctrl_tcp.so"); err != nil {
		testenv.Peer(t, "baresip's ctrl_tcp module (Debian package baresip-core)")
	}
	dir := t.TempDir()
	ctrl := testenv.FreePort(t)
	sip := freeSIPPort(t)
	cfg := fmt.Sprintf(`sip_listen        127.0.0.1:%d
net_interface     127.0.0.1
audio_player      alsa,null
audio_alert       alsa,null
audio_source      ausine,440
ausrc_srate       48000
ausrc_channels    2
module_path       /usr/lib/baresip/modules
module            g711.so
module            ausine.so
module            alsa.so
module_app        account.so
module_app        contact.so
module_app        menu.so
module_app        ctrl_tcp.so
ctrl_tcp_listen   127.0.0.1:%d
`, sip, ctrl)
	must(t, os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "accounts"), []byte("<sip:200@127.0.0.1>;regint=0;answermode=manual\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "contacts"), nil, 0o644))
	out := &lockedBuffer{}
	cmd := exec.Command(bin, "-f", dir)
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	b := &Baresip{Ctrl: "127.0.0.1:" + strconv.Itoa(ctrl), SIP: "127.0.0.1:" + strconv.Itoa(sip), User: "200", Dir: dir, log: out}
	// Wait until ctrl_tcp listens (baresip takes well under a second); a plain connect
	// would take the control slot, so probe with a connection that is closed at once.
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("baresip exited at start:\n%s", out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", b.Ctrl, time.Second)
		if err == nil {
			c.Close()
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip's ctrl_tcp did not listen on %s:\n%s", b.Ctrl, out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a port that is not open yet: there is nothing to wait on
	}
}

// freeSIPPort returns a port free for UDP and TCP whose next port is free too (baresip
// also binds TCP sip_listen+1).
func freeSIPPort(t testing.TB) int {
	for range 20 {
		p := testenv.FreeUDPPort(t)
		if p < 65000 && tcpFree(p) && tcpFree(p+1) {
			return p
		}
	}
	t.Fatal("no free SIP port")
	return 0
}

func tcpFree(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Scenario names a sipp scenario file in testdata/sipp of the baresip package.
func Scenario(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(testenv.RepoRoot(t), "internal", "telephony", "baresip", "testdata", "sipp", name)
}

// Sipp is a running sipp.
type Sipp struct {
	// Addr is sipp's own SIP address (host:port).
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	out  *lockedBuffer
}

// Wait waits for sipp to finish its one call and returns its error (nil: rc 0).
func (s *Sipp) Wait(ctx context.Context) error {
	select {
	case <-s.done:
		if s.err != nil {
			return fmt.Errorf("sipp: %w\n%s", s.err, s.out.String())
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Call runs sipp as a caller (uac.xml or uac_cancel.xml) from "+49309876543" to user at
// target (host:port) for one call.
func Call(t testing.TB, scenario, target, user string) *Sipp {
	t.Helper()
	return run(t, "-sf", Scenario(t, scenario), "-inf", Scenario(t, "caller.csv"), target, "-s", user)
}

// Answer runs sipp as a called party (uas.xml, uas_busy.xml or uas_480.xml) for one call; dial its
// Addr.
func Answer(t testing.TB, scenario string) *Sipp {
	t.Helper()
	return run(t, "-sf", Scenario(t, scenario))
}

func run(t testing.TB, args ...string) *Sipp {
	t.Helper()
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	port := testenv.FreeUDPPort(t)
	dir := t.TempDir()
	args = append(args, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-timeout", "30s", "-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"))
	out := &lockedBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	s := &Sipp{Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan struct{}), out: out}
	go func() {
		s.err = cmd.Wait()
		if b, err := os.ReadFile(filepath.Join(dir, "errors.log")); err == nil {
			out.Write(b)
		}
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// lockedBuffer is a bytes.Buffer for a process's output and concurrent readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
