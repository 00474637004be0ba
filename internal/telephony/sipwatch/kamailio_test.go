//go:build !windows

package sipwatch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/telephonytest"
	"github.com/ringside/ringside/internal/testenv"
)

// kamailio is a real Kamailio 5.6 started by a test on free loopback ports, with the
// config in testdata/kamailio.cfg.tmpl. Phones 200 and 201 are sipp UAS on their own ports,
// ring group 600 rings both, anything else goes to the trunk port.
type kamailio struct {
	bin       string
	cfgPath   string
	logPath   string
	Port      int
	LegPort   int
	TrunkPort int
	Phones    map[string]int
	cmd       *exec.Cmd
	done      chan struct{}
}

type kamailioOpts struct {
	Username, Password string // digest auth on the watcher's SUBSCRIBE, when Password is set
	TraceNotify        bool   // log when each early NOTIFY leaves Kamailio (benchmark)
	Lifetime           int    // seconds a published dialog state lives (ended ones linger that long); default 300
	MaxExpires         int    // the longest subscription Kamailio grants, when set
}

type ringGroup struct {
	Number  string
	Members []string
}

func startKamailio(t testing.TB, o kamailioOpts) *kamailio {
	t.Helper()
	bin := testenv.LookPath(t, "kamailio", "kamailio kamailio-presence-modules kamailio-sqlite-modules")
	sqlite := testenv.LookPath(t, "sqlite3", "sqlite3")
	testenv.LookPath(t, "sipp", "sip-tester")
	for _, m := range []string{"presence_dialoginfo.so", "pua_dialoginfo.so", "db_sqlite.so"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/x86_64-linux-gnu/kamailio/modules", m)); err != nil {
			if matches, _ := filepath.Glob("/usr/lib/*/kamailio/modules/" + m); len(matches) == 0 {
				testenv.Peer(t, "Kamailio module "+m+" (Debian packages kamailio-presence-modules kamailio-sqlite-modules)")
			}
		}
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "kam.sqlite")
	var schema bytes.Buffer
	for _, f := range []string{"standard-create.sql", "presence-create.sql"} {
		b, err := os.ReadFile(filepath.Join("/usr/share/kamailio/db_sqlite", f))
		if err != nil {
			testenv.Peer(t, "Kamailio SQLite schema "+f+" (Debian package kamailio-sqlite-modules)")
		}
		schema.Write(b)
	}
	cmd := exec.Command(sqlite, db)
	cmd.Stdin = &schema
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	k := &kamailio{bin: bin, cfgPath: filepath.Join(dir, "kamailio.cfg"), logPath: filepath.Join(dir, "kamailio.log"),
		Port: freeUDPTCPPort(t), LegPort: testenv.FreeUDPPort(t), TrunkPort: testenv.FreeUDPPort(t),
		Phones: map[string]int{"200": testenv.FreeUDPPort(t), "201": testenv.FreeUDPPort(t)}}
	tmpl := template.Must(template.ParseFiles("testdata/kamailio.cfg.tmpl"))
	var cfg bytes.Buffer
	if err := tmpl.Execute(&cfg, map[string]any{
		"Port": k.Port, "LegPort": k.LegPort, "TrunkPort": k.TrunkPort, "DB": db,
		"Username": o.Username, "Password": o.Password, "Phones": k.Phones, "TraceNotify": o.TraceNotify, "Lifetime": o.Lifetime, "MaxExpires": o.MaxExpires,
		"Groups": []ringGroup{{"200", []string{"200"}}, {"201", []string{"201"}}, {"600", []string{"200", "201"}}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.cfgPath, cfg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", k.cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("kamailio -c: %v\n%s", err, out)
	}
	k.start(t)
	t.Cleanup(k.stop)
	return k
}

// freeUDPTCPPort returns a port free for both UDP and TCP on 127.0.0.1.
func freeUDPTCPPort(t testing.TB) int {
	for range 20 {
		p := testenv.FreeUDPPort(t)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no port free for UDP and TCP")
	return 0
}

func (k *kamailio) start(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(k.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(k.bin, "-DD", "-E", "-f", k.cfgPath, "-P", k.logPath+".pid")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group (stop signals the workers too), and a graceful stop if the test
	// binary dies without running its cleanups (a timeout panic).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kamailio: %v", err)
	}
	k.cmd, k.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(k.done) }()
	// Ready when it answers OPTIONS.
	deadline := time.Now().Add(10 * time.Second)
	for !sipAnswers(fmt.Sprintf("127.0.0.1:%d", k.Port), 200*time.Millisecond) {
		select {
		case <-k.done:
			t.Fatalf("kamailio exited at start:\n%s", k.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio does not answer on port %d:\n%s", k.Port, k.logTail())
		}
	}
}

func (k *kamailio) stop() {
	if k.cmd == nil {
		return
	}
	_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
		<-k.done
	}
	k.cmd = nil
}

func (k *kamailio) logTail() string {
	b, _ := os.ReadFile(k.logPath)
	lines := strings.Split(string(b), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// sipAnswers sends one OPTIONS over UDP and reports whether any SIP response came back.
func sipAnswers(addr string, wait time.Duration) bool {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	la := c.LocalAddr().String()
	msg := "OPTIONS sip:" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + la + ";branch=z9hG4bK-probe" + strconv.FormatInt(time.Now().UnixNano(), 36) +
		"\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:" + addr + ">\r\nCall-ID: probe-" + la + "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	return err == nil && bytes.HasPrefix(buf[:n], []byte("SIP/2.0 "))
}

// sipp runs one sipp scenario from testdata/sipp to completion in the background; wait
// returns its error (with its output) or fails after the deadline.
type sippRun struct {
	name string
	out  bytes.Buffer
	done chan error
	cmd  *exec.Cmd
}

func runSipp(t testing.TB, scenario string, args ...string) *sippRun {
	t.Helper()
	bin := testenv.LookPath(t, "sipp", "sip-tester")
	sf, err := filepath.Abs(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	all := append([]string{"-sf", sf, "-i", "127.0.0.1", "-m", "1", "-nostdin",
		"-timeout", "20", "-timeout_error", "-max_recv_loops", "1000"}, args...)
	r := &sippRun{name: scenario, done: make(chan error, 1)}
	r.cmd = exec.Command(bin, all...)
	r.cmd.Dir = t.TempDir()
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("sipp %s: %v", scenario, err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *sippRun) wait(t testing.TB) { t.Helper(); r.waitFor(t, 30*time.Second) }

func (r *sippRun) waitFor(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for Cleanup
		if err != nil {
			out := r.out.String()
			t.Fatalf("sipp %s: %v\n%s", r.name, err, out[max(0, len(out)-3000):])
		}
	case <-time.After(d):
		t.Fatalf("sipp %s did not finish in %s", r.name, d)
	}
}

// phone starts a sipp phone for ext: "answer" (rings ringMS, answers) or "ring" (rings
// until cancelled).
func (k *kamailio) phone(t *testing.T, ext, mode string, ringMS int) *sippRun {
	port := k.Phones[ext]
	if ext == "trunk" {
		port = k.TrunkPort
	}
	scenario := "uas_answer.xml"
	if mode == "ring" {
		scenario = "uas_ring.xml"
	}
	return runSipp(t, scenario, "-p", strconv.Itoa(port), "-d", strconv.Itoa(ringMS))
}

// dial starts a sipp caller: from (user, display name) calls to through Kamailio;
// "call" talks for ms then hangs up, "cancel" gives up after ms of ringing.
func (k *kamailio) dial(t *testing.T, mode, fromUser, fromName, to string, ms int) *sippRun {
	scenario := "uac_call.xml"
	if mode == "cancel" {
		scenario = "uac_cancel.xml"
	}
	return runSipp(t, scenario, "-p", strconv.Itoa(testenv.FreeUDPPort(t)), "-s", to, "-d", strconv.Itoa(ms),
		"-key", "from_user", fromUser, "-key", "from_name", fromName, fmt.Sprintf("127.0.0.1:%d", k.Port))
}

// watcher runs a Source against k and records what it emits.
type watcher struct {
	src  *Source
	recs *telephonytest.Recorder // the current scenario's (guarded by mu)
	err  chan error

	mu       sync.Mutex
	notifies map[string]int
	changed  chan struct{}
}

func startWatcher(t *testing.T, k *kamailio, mod func(*Config)) *watcher {
	t.Helper()
	cfg := Config{
		Server:     fmt.Sprintf("127.0.0.1:%d", k.Port),
		Domain:     "127.0.0.1",
		Listen:     "127.0.0.1:0",
		Extensions: []string{"200", "201"},
		Keepalive:  300 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	src, err := New("kamailio", cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{src: src, recs: telephonytest.NewRecorder(), err: make(chan error, 1),
		notifies: map[string]int{}, changed: make(chan struct{}, 1)}
	emit := func(s call.Signal) { w.rec().Emit(s) }
	src.notified = func(ext string) {
		w.mu.Lock()
		w.notifies[ext]++
		w.mu.Unlock()
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() { w.err <- src.Run(ctx, emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-w.err; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return w
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitNotified waits until every watched extension got more NOTIFYs than in before (the
// first NOTIFY of each new subscription), and returns the counts.
func (w *watcher) waitNotified(t *testing.T, before map[string]int, d time.Duration) map[string]int {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ok := true
		now := map[string]int{}
		for _, e := range w.src.cfg.Extensions {
			now[e] = w.notifies[e]
			if w.notifies[e] <= before[e] {
				ok = false
			}
		}
		w.mu.Unlock()
		if ok {
			return now
		}
		select {
		case <-w.changed:
		case <-deadline.C:
			st, why := w.src.State()
			t.Fatalf("no NOTIFY for every extension after %s (state %s %s): %v", d, st, why, now)
		}
	}
}

// waitState polls the source's state until it is want.
func (w *watcher) waitState(t *testing.T, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, _ := w.src.State(); st == want {
			return
		}
		if time.Now().After(deadline) {
			st, why := w.src.State()
			t.Fatalf("state is %s (%s), want %s after %s", st, why, want, d)
		}
		<-tick.C
	}
}

// sig is what a test checks of a signal.
type sig struct {
	Kind   call.SignalKind
	Ext    string
	Cause  string
	Remote string
}

func kinds(sigs []call.Signal, callID string) []sig {
	var out []sig
	for _, s := range sigs {
		if s.CallID == callID {
			out = append(out, sig{s.Kind, s.Extension, s.Cause, s.Remote.Number})
		}
	}
	return out
}

// callEnded waits for a call-level end and returns the signals of that call.
func (w *watcher) callEnded(t *testing.T) (string, []sig, []call.Signal) {
	t.Helper()
	all := w.rec().WaitFor(t, 20*time.Second, func(s []call.Signal) bool {
		for _, x := range s {
			if x.Kind == call.SigEnded && x.Extension == "" {
				return true
			}
		}
		return false
	})
	var id string
	for _, x := range all {
		if x.Kind == call.SigEnded && x.Extension == "" {
			id = x.CallID
			break
		}
	}
	return id, kinds(all, id), all
}

func TestKamailio(t *testing.T) {
	if testing.Short() {
		t.Skip("peer test")
	}
	k := startKamailio(t, kamailioOpts{})
	w := startWatcher(t, k, nil)
	w.waitState(t, "up", 15*time.Second)
	seen := w.waitNotified(t, nil, 10*time.Second)

	t.Run("inbound_answered", func(t *testing.T) {
		resetEmit(w)
		ph := k.phone(t, "200", "answer", 300)
		c := k.dial(t, "call", "+49309876543", "ACME Reception", "200", 300)
		c.wait(t)
		ph.wait(t)
		_, got, all := w.callEnded(t)
		want := []sig{
			{call.SigRinging, "200", "", "+49309876543"},
			{call.SigAnswered, "200", "", "+49309876543"},
			{call.SigEnded, "200", call.CauseNormal, ""},
			{call.SigEnded, "", call.CauseNormal, ""},
		}
		checkSigs(t, want, got, all)
	})
	t.Run("inbound_cancelled_missed", func(t *testing.T) {
		resetEmit(w)
		ph := k.phone(t, "200", "ring", 0)
		c := k.dial(t, "cancel", "030555123", "Bob", "200", 400)
		c.wait(t)
		ph.wait(t)
		_, got, all := w.callEnded(t)
		want := []sig{
			{call.SigRinging, "200", "", "030555123"},
			{call.SigEnded, "200", call.CauseNoAnswer, ""},
			{call.SigEnded, "", call.CauseNoAnswer, ""},
		}
		checkSigs(t, want, got, all)
	})
	t.Run("ringgroup_answered_by_201", func(t *testing.T) {
		resetEmit(w)
		p200 := k.phone(t, "200", "ring", 0)
		p201 := k.phone(t, "201", "answer", 400)
		c := k.dial(t, "call", "+49309876543", "ACME", "600", 300)
		c.wait(t)
		p200.wait(t)
		p201.wait(t)
		_, got, all := w.callEnded(t)
		// The two subscriptions are independent: 200's end may come before 201's answer.
		has := func(s sig) bool {
			for _, g := range got {
				if g == s {
					return true
				}
			}
			return false
		}
		for _, s := range []sig{
			{call.SigRinging, "200", "", "+49309876543"},
			{call.SigRinging, "201", "", "+49309876543"},
			{call.SigAnswered, "201", "", "+49309876543"},
			{call.SigEnded, "201", call.CauseNormal, ""},
			{call.SigEnded, "", call.CauseNormal, ""},
		} {
			if !has(s) {
				t.Errorf("missing %+v in %+v", s, got)
			}
		}
		if !has(sig{call.SigEnded, "200", call.CauseAnsweredElsewhere, ""}) && !has(sig{call.SigEnded, "200", call.CauseNoAnswer, ""}) {
			t.Errorf("200 never stopped ringing: %+v", got)
		}
		if has(sig{call.SigAnswered, "200", "", "+49309876543"}) {
			t.Errorf("200 answered, but 201 did: %+v", got)
		}
		if len(callIDs(all)) != 1 {
			t.Errorf("ring group is %d calls, want 1: %+v", len(callIDs(all)), all)
		}
	})
	t.Run("outbound_answered", func(t *testing.T) {
		resetEmit(w)
		tr := k.phone(t, "trunk", "answer", 300)
		c := k.dial(t, "call", "200", "Alice", "0301234567", 300)
		c.wait(t)
		tr.wait(t)
		_, got, all := w.callEnded(t)
		want := []sig{
			{call.SigDialing, "200", "", "0301234567"},
			{call.SigAnswered, "200", "", "0301234567"},
			{call.SigEnded, "200", call.CauseNormal, ""},
			{call.SigEnded, "", call.CauseNormal, ""},
		}
		checkSigs(t, want, got, all)
		for _, s := range all {
			if s.Direction != call.Outbound {
				t.Errorf("direction %q, want outbound: %+v", s.Direction, s)
			}
		}
	})
	t.Run("kamailio_restarted", func(t *testing.T) {
		resetEmit(w)
		k.stop()
		w.waitState(t, "down", 10*time.Second)
		k.start(t)
		// The probe answers again, the refresh gets 481, the subscription is made anew:
		// a fresh first NOTIFY for every extension.
		seen = w.waitNotified(t, seen, 20*time.Second)
		w.waitState(t, "up", 10*time.Second)
		ph := k.phone(t, "201", "answer", 300)
		c := k.dial(t, "call", "+49309876543", "ACME", "201", 300)
		c.wait(t)
		ph.wait(t)
		_, got, all := w.callEnded(t)
		want := []sig{
			{call.SigRinging, "201", "", "+49309876543"},
			{call.SigAnswered, "201", "", "+49309876543"},
			{call.SigEnded, "201", call.CauseNormal, ""},
			{call.SigEnded, "", call.CauseNormal, ""},
		}
		checkSigs(t, want, got, all)
	})
}

// resetEmit gives the watcher a fresh recorder for the next scenario.
func resetEmit(w *watcher) {
	w.mu.Lock()
	w.recs = telephonytest.NewRecorder()
	w.mu.Unlock()
}

func (w *watcher) rec() *telephonytest.Recorder {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.recs
}

func callIDs(all []call.Signal) map[string]bool {
	ids := map[string]bool{}
	for _, s := range all {
		ids[s.CallID] = true
	}
	return ids
}

func checkSigs(t *testing.T, want, got []sig, all []call.Signal) {
	t.Helper()
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("signals:\n got %+v\nwant %+v\n all %+v", got, want, all)
	}
	if len(callIDs(all)) != 1 {
		t.Errorf("%d calls, want 1: %+v", len(callIDs(all)), all)
	}
	for _, s := range all {
		if s.Resync {
			t.Errorf("resync signal in a live call: %+v", s)
		}
	}
}

func TestKamailioDigestAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("peer test")
	}
	// Kamailio grants 2 s: the subscriptions are refreshed (and challenged) every ~1.5 s.
	k := startKamailio(t, kamailioOpts{Username: "ringside", Password: "s3cret-pw", MaxExpires: 2})
	t.Run("accepted", func(t *testing.T) {
		w := startWatcher(t, k, func(c *Config) {
			c.PasswordEnv = "SIP_PW"
			c.Getenv = func(string) string { return "s3cret-pw" }
		})
		w.waitState(t, "up", 15*time.Second)
		seen := w.waitNotified(t, nil, 10*time.Second)
		// Refreshes are challenged too: each answered one brings a NOTIFY.
		seen = w.waitNotified(t, seen, 10*time.Second)
		w.waitNotified(t, seen, 10*time.Second)
		ph := k.phone(t, "200", "answer", 200)
		c := k.dial(t, "call", "+49309876543", "ACME", "200", 200)
		c.wait(t)
		ph.wait(t)
		_, got, all := w.callEnded(t)
		if len(got) != 4 || got[0].Kind != call.SigRinging || got[1].Kind != call.SigAnswered {
			t.Errorf("signals: %+v", all)
		}
	})
	t.Run("wrong password stops Run", func(t *testing.T) {
		src, err := New("kamailio", Config{Server: fmt.Sprintf("127.0.0.1:%d", k.Port), Domain: "127.0.0.1", Listen: "127.0.0.1:0",
			Extensions: []string{"200"}, PasswordEnv: "X", Getenv: func(string) string { return "wrong" }}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		err = src.Run(ctx, func(call.Signal) {})
		if err == nil || !strings.Contains(err.Error(), "rejects") {
			t.Fatalf("Run = %v, want an error about rejected credentials", err)
		}
		if st, reason := src.State(); st != "failed" || reason != err.Error() {
			t.Errorf("State = %q %q, want failed: %v", st, reason, err)
		}
	})
	t.Run("no password stops Run", func(t *testing.T) {
		src, err := New("kamailio", Config{Server: fmt.Sprintf("127.0.0.1:%d", k.Port), Domain: "127.0.0.1", Listen: "127.0.0.1:0",
			Extensions: []string{"200"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = src.Run(t.Context(), func(call.Signal) {})
		if err == nil || !strings.Contains(err.Error(), "password_env") {
			t.Fatalf("Run = %v, want an error asking for password_env", err)
		}
	})
}

func TestKamailioTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("peer test")
	}
	k := startKamailio(t, kamailioOpts{})
	w := startWatcher(t, k, func(c *Config) { c.Transport = "tcp" })
	w.waitState(t, "up", 15*time.Second)
	w.waitNotified(t, nil, 10*time.Second)
	ph := k.phone(t, "200", "answer", 200)
	c := k.dial(t, "call", "+49309876543", "ACME", "200", 200)
	c.wait(t)
	ph.wait(t)
	_, got, all := w.callEnded(t)
	checkSigs(t, []sig{
		{call.SigRinging, "200", "", "+49309876543"},
		{call.SigAnswered, "200", "", "+49309876543"},
		{call.SigEnded, "200", call.CauseNormal, ""},
		{call.SigEnded, "", call.CauseNormal, ""},
	}, got, all)
}

// TestKamailioManyExtensions: 300 extensions are watched, paced (no burst), and all get
// their first NOTIFY.
func TestKamailioManyExtensions(t *testing.T) {
	if testing.Short() {
		t.Skip("peer test")
	}
	k := startKamailio(t, kamailioOpts{})
	exts := make([]string, 300)
	for i := range exts {
		exts[i] = strconv.Itoa(3000 + i)
	}
	w := startWatcher(t, k, func(c *Config) {
		c.Extensions = exts
		c.SubscribeRate = 200
	})
	w.waitState(t, "up", 30*time.Second)
	w.waitNotified(t, nil, 30*time.Second)
}
