package telephony_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/companion"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/telephony/ami"
	"github.com/ringside/ringside/internal/telephony/baresip"
	"github.com/ringside/ringside/internal/telephony/esl"
	"github.com/ringside/ringside/internal/telephony/sipwatch"
	"github.com/ringside/ringside/internal/telephony/tapi"
)

// closedAddr is a loopback address nothing listens on (a port that was free a moment ago).
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

type stateSource struct {
	telephony.Stater
	run func(ctx context.Context) error
}

// TestStateWords: every source that connects somewhere says the same words. Before a
// connection fails it is connecting; when the phone system cannot be reached it is down
// with the reason (while retrying); when it stops for good it is failed with the reason;
// when it is stopped it is down: stopped. Today ami and esl say connecting after a
// failure, and no source says failed.
func TestStateWords(t *testing.T) {
	addr := closedAddr(t)
	srcs := map[string]func(t *testing.T) stateSource{
		"ami": func(t *testing.T) stateSource {
			s, err := ami.New("pbx", ami.Config{Address: addr, Username: "u", Secret: "s"}, nil)
			must(t, err)
			return stateSource{s, func(ctx context.Context) error { return s.Run(ctx, func(call.Signal) {}) }}
		},
		"esl": func(t *testing.T) stateSource {
			s, err := esl.New("fs", esl.Config{Address: addr, Password: "ClueCon"}, nil)
			must(t, err)
			return stateSource{s, func(ctx context.Context) error { return s.Run(ctx, func(call.Signal) {}) }}
		},
		"sipwatch": func(t *testing.T) stateSource {
			s, err := sipwatch.New("sip", sipwatch.Config{Server: addr, Transport: "tcp", Extensions: []string{"200"}, Listen: "127.0.0.1:0"}, nil)
			must(t, err)
			return stateSource{s, func(ctx context.Context) error { return s.Run(ctx, func(call.Signal) {}) }}
		},
		"baresip": func(t *testing.T) stateSource {
			s, err := baresip.New("soft", baresip.Config{Address: addr}, nil)
			must(t, err)
			return stateSource{s, func(ctx context.Context) error { return s.Run(ctx, func(call.Signal) {}) }}
		},
		"companion": func(t *testing.T) stateSource {
			phone, err := baresip.New("soft", baresip.Config{Address: addr}, nil)
			must(t, err)
			c, err := companion.New(companion.Config{Server: "http://" + addr, Token: "t", Notify: "off", OpenRecord: "off"}, nil, companion.Options{Phone: phone})
			must(t, err)
			return stateSource{c, c.Run}
		},
	}
	for name, mk := range srcs {
		t.Run(name, func(t *testing.T) {
			src := mk(t)
			if st, reason := src.State(); st != "down" || reason != "not started" {
				t.Errorf("before Run: %q %q, want down: not started", st, reason)
			}
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() { errc <- src.run(ctx) }()
			st, reason := waitState(t, src, func(st, r string) bool { return st != "connecting" && !(st == "down" && r == "not started") })
			if st != "down" || reason == "" || reason == "stopped" {
				t.Errorf("after a failed connection: %q %q, want down with the reason", st, reason)
			}
			if got := telephony.Describe(st, reason); got != "down: "+reason {
				t.Errorf("Describe = %q", got)
			}
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
			if st, reason := src.State(); st != "down" || reason != "stopped" {
				t.Errorf("after Run: %q %q, want down: stopped", st, reason)
			}
		})
	}

	// A source that cannot go on says failed, with why.
	t.Run("tapi", func(t *testing.T) {
		s, err := tapi.New("line", tapi.Config{}, nil)
		must(t, err)
		err = s.Run(t.Context(), func(call.Signal) {})
		st, reason := s.State()
		if err == nil {
			if st != "up" && st != "connecting" {
				t.Errorf("tapi on Windows: %q %q", st, reason)
			}
			return
		}
		if st != "failed" || reason != err.Error() {
			t.Errorf("after Run = %v: %q %q, want failed: %v", err, st, reason, err)
		}
	})
}

// waitState waits until ok holds for the source's state (polling; generous deadline).
func waitState(t *testing.T, s telephony.Stater, ok func(st, reason string) bool) (string, string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, reason := s.State()
		if ok(st, reason) {
			return st, reason
		}
		if time.Now().After(deadline) {
			t.Fatalf("state stayed %q %q for 20 s", st, reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
