package ami

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/reconnect"
	"github.com/ringside/ringside/internal/telephony/telephonytest"
)

const wait = 10 * time.Second

type running struct {
	src  *Source
	rec  *telephonytest.Recorder
	stop func() error // cancels Run and returns its result
	errc chan error   // Run's result, when it returns on its own
}

// run starts a source against addr. Its Run is stopped at the end of the test, and the
// test fails if goroutines are left behind.
func run(t *testing.T, addr string, mod func(*Config)) *running {
	t.Helper()
	before := runtime.NumGoroutine()
	cfg := Config{Address: addr, Username: "ringside", Secret: "secret", Auth: "plain", PingInterval: time.Minute,
		Now: func() time.Time { return fixedNow }}
	if mod != nil {
		mod(&cfg)
	}
	src, err := New("pbx", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	src.rc = reconnect.New(reconnect.Policy{Min: time.Millisecond, Max: 5 * time.Millisecond}, reconnect.Options{})
	rec := telephonytest.NewRecorder()
	ctx, cancel := context.WithCancel(t.Context())
	errc, out := make(chan error, 1), make(chan error, 1)
	go func() {
		err := src.Run(ctx, rec.Emit)
		errc <- err
		out <- err
	}()
	var result error
	stopped := false
	stop := func() error {
		if stopped {
			return result
		}
		stopped = true
		cancel()
		select {
		case result = <-errc:
		case <-time.After(wait):
			t.Fatal("Run did not return after its context ended")
		}
		return result
	}
	t.Cleanup(func() {
		_ = stop()
		noLeaks(t, before)
	})
	return &running{src: src, rec: rec, stop: stop, errc: out}
}

// noLeaks waits (with a deadline) until the goroutine count is back to before.
func noLeaks(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling a condition with a deadline, not synchronisation
	}
}

func callEnded(id string) func([]call.Signal) bool {
	return func(sigs []call.Signal) bool {
		for _, s := range sigs {
			if s.CallID == id && s.Kind == call.SigEnded && s.Extension == "" {
				return true
			}
		}
		return false
	}
}

func without(sigs []call.Signal, source string) []call.Signal {
	for i := range sigs {
		sigs[i].Source = source
	}
	return calls(sigs)
}

// calls drops the end-of-resync marks (SigResynced): a live connection resyncs on each
// connect, a replay only where its capture has a list; the golden cases check the marks.
func calls(sigs []call.Signal) []call.Signal {
	return slices.DeleteFunc(slices.Clone(sigs), func(s call.Signal) bool { return s.Kind == call.SigResynced })
}

// TestRunReplaysCapture: the signals of a live connection equal those of the replay.
func TestRunReplaysCapture(t *testing.T) {
	for _, auth := range []string{"plain", "md5"} {
		t.Run(auth, func(t *testing.T) {
			fs := newFakeServer(t, func(c *fakeConn) {
				_, _ = c.Write(events(t, "ringgroup_answered_by_201.ami"))
				<-c.actions // until the client goes
			})
			r := run(t, fs.addr(), func(c *Config) { c.Auth = auth })
			got := r.rec.WaitFor(t, wait, callEnded("1795628350.6"))
			want := replay(t, testSettings(t, nil), fixture(t, "ringgroup_answered_by_201.ami"))
			if diff := cmp.Diff(without(want, "pbx"), calls(got)); diff != "" {
				t.Errorf("signals (-replay +live):\n%s", diff)
			}
			if st, _ := r.src.State(); st != "up" {
				t.Errorf("State = %q, want up", st)
			}
		})
	}
}

func TestRunLoginFailed(t *testing.T) {
	b := fixture(t, "login_failed.ami")
	fs := newFakeServer(t, nil)
	fs.loginReply = b[bytes.Index(b, []byte("\r\n"))+2:]
	r := run(t, fs.addr(), nil)
	var err error
	select {
	case <-time.After(wait):
		t.Fatal("Run did not give up after a refused login")
	case err = <-r.errc:
	}
	if !errors.Is(err, ErrLogin) || !strings.Contains(err.Error(), "Authentication failed") {
		t.Fatalf("Run = %v, want ErrLogin with Asterisk's message", err)
	}
	if fs.connections() != 1 {
		t.Errorf("%d connections, want 1: a refused login is not retried", fs.connections())
	}
	if st, reason := r.src.State(); st != "failed" || !strings.Contains(reason, "check username and secret") {
		t.Errorf("State = %q %q, want failed with the reason", st, reason)
	}
}

// TestReconnectMidCall: the server goes away while a queue call is up and comes back; the
// resynchronisation finds the call, nothing pops twice, and the end still arrives.
func TestReconnectMidCall(t *testing.T) {
	all := events(t, "coreshowchannels.ami")
	start := bytes.Index(all, []byte("Response: Success\r\nActionID: csc-1"))
	end := bytes.Index(all, []byte("ListItems: 4\r\n\r\n")) + len("ListItems: 4\r\n\r\n")
	before, after := all[:start], all[end:]
	fs := newFakeServer(t, func(c *fakeConn) {
		if c.n == 1 {
			_, _ = c.Write(before)
			return // the server closes mid-call
		}
		_, _ = c.Write(after)
		<-c.actions
	})
	fs.list = func(n int) []string {
		if n == 1 {
			return nil
		}
		return listItems(t, "coreshowchannels.ami")
	}
	r := run(t, fs.addr(), nil)
	got := r.rec.WaitFor(t, wait, callEnded("1795628376.15"))
	want := replay(t, testSettings(t, nil), fixture(t, "coreshowchannels.ami"))
	if diff := cmp.Diff(without(want, "pbx"), calls(got)); diff != "" {
		t.Errorf("signals (-uninterrupted +with reconnect):\n%s", diff)
	}
	if fs.connections() < 2 {
		t.Errorf("%d connections, want a reconnect", fs.connections())
	}
}

// TestReconnectCallEndedMeanwhile: the call ends while the connection is down; the empty
// channel list after the reconnect closes it.
func TestReconnectCallEndedMeanwhile(t *testing.T) {
	all := events(t, "inbound_answered.ami")
	cut := bytes.Index(all, []byte("Event: HangupRequest"))
	fs := newFakeServer(t, func(c *fakeConn) {
		if c.n == 1 {
			_, _ = c.Write(all[:cut])
			return
		}
		<-c.actions
	})
	r := run(t, fs.addr(), nil)
	got := r.rec.WaitFor(t, wait, callEnded("1795628297.0"))
	var ends []string
	for _, s := range got {
		if s.Kind == call.SigEnded {
			if !s.Resync || !s.Time.Equal(time.Unix(1795628382, 500000000)) {
				t.Errorf("end %+v: want Resync at the PBX's time", s)
			}
			ends = append(ends, s.Extension+":"+s.Cause)
		}
	}
	if diff := cmp.Diff([]string{"200:normal", ":normal"}, ends); diff != "" {
		t.Errorf("ends (-want +got):\n%s", diff)
	}
}

// TestBadStreams: broken input resets the connection; the source reconnects and goes on.
func TestBadStreams(t *testing.T) {
	good := events(t, "inbound_missed.ami")
	for name, bad := range map[string][]byte{
		"half frame":  []byte("Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/carrier-000"),
		"1 MB line":   append([]byte("Event: Newchannel\r\nCallerIDName: "), bytes.Repeat([]byte("A"), 1<<20)...),
		"huge frame":  bytes.Repeat([]byte("VarSet: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"), 10000),
		"garbage":     []byte("\x00\xff\xfe garbage \x1b[31m\r\n\n\n\r\r:::: \r\n\r\nEvent\r\n: \r\n\r\n"),
		"bare LFs":    bytes.Repeat([]byte("\n"), 100000),
		"binary zero": make([]byte, 70000),
	} {
		t.Run(name, func(t *testing.T) {
			fs := newFakeServer(t, func(c *fakeConn) {
				if c.n == 1 {
					_, _ = c.Write(bad)
					return
				}
				_, _ = c.Write(good)
				<-c.actions
			})
			r := run(t, fs.addr(), nil)
			got := r.rec.WaitFor(t, wait, callEnded("1795628311.2"))
			want := replay(t, testSettings(t, nil), fixture(t, "inbound_missed.ami"))
			if diff := cmp.Diff(without(want, "pbx"), calls(got)); diff != "" {
				t.Errorf("signals (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPingTimeout: no byte for two ping intervals resets the connection.
func TestPingTimeout(t *testing.T) {
	ln := newFakeServer(t, func(c *fakeConn) {
		for range c.actions {
		}
	})
	ln.silent = true
	r := run(t, ln.addr(), func(c *Config) { c.PingInterval = 100 * time.Millisecond })
	deadline := time.Now().Add(wait)
	for ln.connections() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no reconnect after the server went silent (%d connections)", ln.connections())
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
	if _, reason := r.src.State(); reason != "" && !strings.Contains(reason, "Ping") && !strings.Contains(reason, "connect") {
		t.Logf("state reason: %s", reason)
	}
}

func TestCheck(t *testing.T) {
	fs := newFakeServer(t, func(c *fakeConn) {
		for range c.actions {
		}
	})
	for _, tc := range []struct {
		secret, auth string
		ok           bool
	}{{"secret", "md5", true}, {"secret", "plain", true}, {"wrong", "md5", false}} {
		src, err := New("pbx", Config{Address: fs.addr(), Username: "ringside", Secret: tc.secret, Auth: tc.auth}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = src.Check(t.Context())
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrLogin)) {
			t.Errorf("Check(%s, %s) = %v", tc.secret, tc.auth, err)
		}
	}
	src, _ := New("pbx", Config{Address: "127.0.0.1:1", Username: "u", Secret: "s"}, nil)
	if err := src.Check(t.Context()); err == nil || !strings.HasPrefix(err.Error(), "ami: connect to 127.0.0.1:1") {
		t.Errorf("Check without a server = %v", err)
	}
	deny := newFakeServer(t, func(c *fakeConn) {
		for range c.actions {
		}
	})
	deny.denyList = true
	src, _ = New("pbx", Config{Address: deny.addr(), Username: "ringside", Secret: "secret"}, nil)
	if err := src.Check(t.Context()); err == nil || err.Error() != "ami: CoreShowChannels: Permission denied (the AMI user needs write=reporting)" {
		t.Errorf("Check without write=reporting = %v", err)
	}
}

func TestTLS(t *testing.T) {
	fs, pool := newTLSFakeServer(t, func(c *fakeConn) {
		_, _ = c.Write(events(t, "inbound_missed.ami"))
		for range c.actions {
		}
	})
	before := runtime.NumGoroutine()
	src, err := New("pbx", Config{Address: fs.addr(), Username: "ringside", Secret: "secret", TLS: "on"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src.tlsRoots = pool
	rec := telephonytest.NewRecorder()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, rec.Emit) }()
	rec.WaitFor(t, wait, callEnded("1795628311.2"))
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	noLeaks(t, before)
	// Without trusting the certificate, the handshake fails and is reported.
	src2, _ := New("pbx", Config{Address: fs.addr(), Username: "ringside", Secret: "secret", TLS: "on"}, nil)
	if err := src2.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "ami: tls handshake with") {
		t.Errorf("Check with an untrusted certificate = %v", err)
	}
}
