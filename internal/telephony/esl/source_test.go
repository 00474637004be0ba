package esl

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/reconnect"
	"github.com/ringside/ringside/internal/telephony/telephonytest"
	"github.com/ringside/ringside/internal/testenv"
)

// start runs a source against fs; the returned channel yields Run's result.
func start(t *testing.T, fs *fakeFS, cfg Config) (*Source, *telephonytest.Recorder, context.CancelFunc, <-chan error) {
	t.Helper()
	src, rec, cancel, done := startSource(t, fs, cfg)
	return src, rec, cancel, done
}

// startSource is start; done is closed after Run's result was sent on it once.
func startSource(t *testing.T, fs *fakeFS, cfg Config) (*Source, *telephonytest.Recorder, context.CancelFunc, <-chan error) {
	t.Helper()
	cfg.Address = fs.addr()
	src, err := New("esl", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	src.rc = reconnect.New(reconnect.Policy{Min: time.Millisecond, Max: 4 * time.Millisecond}, reconnect.Options{})
	rec := telephonytest.NewRecorder()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- src.Run(ctx, rec.Emit)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return src, rec, cancel, done
}

// callEnded holds once n call-level ended signals were seen.
func callEnded(n int) func([]call.Signal) bool {
	return func(s []call.Signal) bool {
		k := 0
		for _, x := range s {
			if x.Kind == call.SigEnded && x.Extension == "" {
				k++
			}
		}
		return k >= n
	}
}

const wait = 10 * time.Second

func TestRunOverSocket(t *testing.T) {
	for _, format := range []string{"plain", "json"} {
		t.Run(format, func(t *testing.T) {
			fs := newFakeFS(t)
			_, rec, cancel, done := start(t, fs, Config{Format: format})
			fc := fs.next(t)
			fc.login(format)
			fc.resync(noRows, noRows)
			fc.stream(capture(t, "ringgroup_answered_by_201."+format+".esl"))
			got := rec.WaitFor(t, wait, callEnded(1))
			if d := cmp.Diff(goldenSignals(t, "ringgroup_answered_by_201"), signalLines(got)); d != "" {
				t.Errorf("signals (-want +got):\n%s", d)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		})
	}
}

func TestAuthFailed(t *testing.T) {
	fs := newFakeFS(t)
	src, _, _, done := start(t, fs, Config{Password: "not-the-password"})
	fc := fs.next(t)
	fc.write([]byte("Content-Type: auth/request\n\n"))
	fc.expect("auth not-the-password\n")
	data, err := os.ReadFile(testenv.Capture(t, "freeswitch-esl", "auth_failed.esl"))
	if err != nil {
		t.Fatal(err)
	}
	fc.write(data[len("Content-Type: auth/request\n\n"):])
	fc.c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, errAuth) || !strings.Contains(err.Error(), "esl: login to") {
			t.Fatalf("Run = %v, want a login error", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not give up after a refused password")
	}
	if st, reason := src.State(); st != "failed" || !strings.Contains(reason, "password") {
		t.Errorf("State = %q, %q", st, reason)
	}
}

// splitAt returns the frames up to and including the first event named name (and
// Unique-ID uuid, if given), and the rest.
func splitAt(t *testing.T, frames []rawFrame, marker string) ([]rawFrame, []rawFrame) {
	t.Helper()
	for i, f := range frames {
		if strings.Contains(string(f.raw), marker) {
			return frames[:i+1], frames[i+1:]
		}
	}
	t.Fatalf("no frame contains %q", marker)
	return nil, nil
}

// TestReconnectMidCall: the connection drops after the bridge; after the reconnect
// FreeSWITCH still has the call (api_resync's replies). Nothing pops twice, and the call
// ends normally.
func TestReconnectMidCall(t *testing.T) {
	replies := controlReplies(t) // status, show calls, show channels, ...
	showCalls, showChannels := replies[1], replies[2]
	for _, tc := range []struct {
		name              string
		channels, calls   []byte
		streamRest        bool
		wantSignals       []string
		wantTrackerEvents []string
	}{
		{"call still up", showChannels, showCalls, true,
			[]string{"ringing  ", "ringing 200 ", "answered 200 ", "ended 200 normal", "ended  normal"},
			[]string{"call.ringing 200", "call.answered 200", "call.ended "}},
		{"call ended while away", noRows, noRows, false,
			[]string{"ringing  ", "ringing 200 ", "answered 200 ", "ended 200  resync", "ended  normal resync"},
			[]string{"call.ringing 200", "call.answered 200", "call.ended "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeFS(t)
			src, rec, _, _ := start(t, fs, Config{Format: "plain"})
			first, rest := splitAt(t, capture(t, "api_resync.plain.esl"), "Event-Name: CHANNEL_BRIDGE")
			fc := fs.next(t)
			fc.login("plain")
			fc.resync(noRows, noRows)
			fc.stream(first)
			rec.WaitFor(t, wait, func(s []call.Signal) bool { return len(s) == 3 })
			fc.c.Close() // connection lost mid-call

			fc2 := fs.next(t)
			fc2.login("plain")
			fc2.resync(tc.channels, tc.calls)
			if tc.streamRest {
				fc2.stream(rest)
			}
			got := rec.WaitFor(t, wait, callEnded(1))
			var brief []string
			for _, s := range got {
				b := string(s.Kind) + " " + s.Extension + " " + s.Cause
				if s.Resync {
					b += " resync"
				}
				brief = append(brief, b)
			}
			if d := cmp.Diff(tc.wantSignals, brief); d != "" {
				t.Errorf("signals (-want +got):\n%s", d)
			}
			tr := call.NewTracker(call.TrackerConfig{Now: func() time.Time { return testEpoch }})
			var evs []string
			for _, s := range got {
				for _, e := range tr.Handle(s) {
					b := string(e.Type) + " "
					if e.Leg != nil {
						b += e.Leg.Extension
					}
					evs = append(evs, b)
				}
			}
			if d := cmp.Diff(tc.wantTrackerEvents, evs); d != "" {
				t.Errorf("tracker events (-want +got):\n%s", d)
			}
			if st := src.Stats(); st.Reconnects != 1 {
				t.Errorf("Reconnects = %d, want 1", st.Reconnects)
			}
		})
	}
}

// TestResyncOnConnect: Ringside starts while a call is in progress: it appears answered,
// without a ringing pop.
func TestResyncOnConnect(t *testing.T) {
	replies := controlReplies(t)
	fs := newFakeFS(t)
	_, rec, _, _ := start(t, fs, Config{})
	fc := fs.next(t)
	fc.login("plain")
	fc.resync(replies[2], replies[1])
	_, rest := splitAt(t, capture(t, "api_resync.plain.esl"), "Event-Name: CHANNEL_BRIDGE")
	fc.stream(rest)
	got := rec.WaitFor(t, wait, callEnded(1))
	want := []string{
		`{"kind":"ringing","call_id":"92b3656c-9398-4afc-9a6f-5d10908a2285","direction":"inbound","remote":"+49309876543","name":"ACME Reception","did":"4930123456","time":"2026-11-25T18:10:33.000000Z","resync":true}`,
		`{"kind":"answered","call_id":"92b3656c-9398-4afc-9a6f-5d10908a2285","direction":"inbound","ext":"200","remote":"+49309876543","name":"ACME Reception","did":"4930123456","time":"2026-11-25T18:10:35.000000Z","resync":true}`,
		`{"kind":"ended","call_id":"92b3656c-9398-4afc-9a6f-5d10908a2285","direction":"inbound","ext":"200","remote":"+49309876543","name":"ACME Reception","did":"4930123456","cause":"normal","time":"2026-11-25T18:10:44.909785Z"}`,
		`{"kind":"ended","call_id":"92b3656c-9398-4afc-9a6f-5d10908a2285","direction":"inbound","remote":"+49309876543","name":"ACME Reception","did":"4930123456","cause":"normal","time":"2026-11-25T18:10:44.909785Z"}`,
	}
	if d := cmp.Diff(want, signalLines(got)); d != "" {
		t.Errorf("signals (-want +got):\n%s", d)
	}
}

// TestBadStreams: after each kind of broken input the source drops the connection and
// connects again; what came before the fault is kept.
func TestBadStreams(t *testing.T) {
	evs := capture(t, "inbound_answered.plain.esl")
	firstCreate, _ := splitAt(t, evs, "Event-Name: CHANNEL_CREATE")
	for _, tc := range []struct {
		name   string
		poison string
	}{
		{"half frame then EOF", "Content-Length: 5200\nContent-Type: text/event-plain\n\nEvent-Name: CHANNEL_CREATE\n"},
		{"half header then EOF", "Content-Length: 52"},
		{"oversized body", "Content-Length: 99999999\nContent-Type: text/event-plain\n\n"},
		{"bad length", "Content-Length: -1\nContent-Type: text/event-plain\n\n"},
		{"garbage", "\x00\xff\xfeGET / HTTP/1.1\n\n"},
		{"no content type", "Content-Length: 3\n\nabc"},
		{"event without name", "Content-Length: 12\nContent-Type: text/event-plain\n\nFoo: bar\n\n\n"},
		{"broken json", "Content-Length: 14\nContent-Type: text/event-json\n\n{\"Event-Name\":"},
		{"disconnect notice", "Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeFS(t)
			src, rec, _, _ := start(t, fs, Config{})
			fc := fs.next(t)
			fc.login("plain")
			fc.resync(noRows, noRows)
			fc.stream(firstCreate)
			fc.write([]byte(tc.poison))
			fc.c.(interface{ CloseWrite() error }).CloseWrite()
			if err := fc.waitClosed(); err != nil {
				t.Logf("fake: %v", err)
			}
			fc2 := fs.next(t) // the source came back
			fc2.login("plain")
			fc2.resync(noRows, noRows)
			got := rec.WaitFor(t, wait, func(s []call.Signal) bool { return len(s) >= 1 })
			if got[0].Kind != call.SigRinging || got[0].CallID != "142c1bd0-9afd-4f8e-8c4a-a1fdc114837c" {
				t.Errorf("first signal %+v", got[0])
			}
			for deadline := time.Now().Add(wait); ; time.Sleep(time.Millisecond) {
				st, reason := src.State()
				if st == "up" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("State = %q %q after the source came back, want up", st, reason)
				}
			}
		})
	}
}

func TestKeepalive(t *testing.T) {
	fs := newFakeFS(t)
	src, err := New("esl", Config{Address: fs.addr()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src.set.keepalive = 20 * time.Millisecond
	src.rc = reconnect.New(reconnect.Policy{Min: time.Millisecond, Max: time.Millisecond}, reconnect.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(call.Signal) {}) }()
	defer func() { cancel(); <-done }()
	fc := fs.next(t)
	fc.login("plain")
	fc.resync(noRows, noRows)
	fc.expect("api status\n") // probed after silence
	fc.api([]byte("UP 0 years\n"))
	fc.expect("api status\n") // silence again; this time nobody answers
	fc2 := fs.next(t)         // the source gave up on the dead connection
	fc2.login("plain")
	if st := src.Stats(); st.Reconnects != 1 {
		t.Errorf("Reconnects = %d, want 1", st.Reconnects)
	}
}
