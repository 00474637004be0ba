package server

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/companion"
	"github.com/ringside/ringside/internal/store"
)

// TestCompanionSignal checks what the server makes of companion messages: only the
// user's extensions, the user's call-id namespace, bounded text and times, limits.
func TestCompanionSignal(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler), users: map[string]store.User{
		"alice": {Name: "alice", Extensions: []string{"200", "210"}},
		"eve":   {Name: "eve"},
	}}
	cs := newCompanions(s)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	sig := func(kind call.SignalKind, id, ext string) companion.Signal {
		return companion.Signal{Type: companion.TypeSignal, Kind: kind, CallID: id, Extension: ext, Direction: call.Inbound, Time: now}
	}
	tests := []struct {
		name    string
		user    string
		in      companion.Signal
		wantErr string
		check   func(t *testing.T, s call.Signal)
	}{
		{name: "ringing", user: "alice", in: sig(call.SigRinging, "1-2@host", "210"), check: func(t *testing.T, s call.Signal) {
			if s.Source != "companion:alice" || s.CallID != "alice:1-2@host" || s.Extension != "210" || s.User != "alice" || !s.Time.Equal(now) {
				t.Errorf("%+v", s)
			}
		}},
		{name: "another's extension", user: "alice", in: sig(call.SigRinging, "c", "201"), wantErr: `extension "201" is not one of the user's`},
		{name: "no extension on a leg", user: "alice", in: sig(call.SigAnswered, "c", ""), wantErr: "extension is required"},
		{name: "call-level end", user: "alice", in: sig(call.SigEnded, "c", ""), check: func(t *testing.T, s call.Signal) {
			if s.Extension != "" || s.CallID != "alice:c" {
				t.Errorf("%+v", s)
			}
		}},
		{name: "user without extensions", user: "eve", in: sig(call.SigRinging, "c", "user:eve")},
		{name: "user without extensions, other name", user: "eve", in: sig(call.SigRinging, "c", "user:alice"), wantErr: "not one of the user's"},
		{name: "transfer", user: "alice", in: sig(call.SigTransferred, "c", "200"), wantErr: "not accepted"},
		{name: "empty call id", user: "alice", in: sig(call.SigRinging, "", "200"), wantErr: "call_id"},
		{name: "long call id", user: "alice", in: sig(call.SigRinging, strings.Repeat("x", 201), "200"), wantErr: "call_id"},
		{name: "control character", user: "alice", in: sig(call.SigRinging, "a\nb", "200"), wantErr: "call_id"},
		{name: "direction", user: "alice", in: func() companion.Signal { m := sig(call.SigRinging, "c", "200"); m.Direction = "up"; return m }(), wantErr: "direction"},
		{name: "hostile text, odd cause and time", user: "alice", in: func() companion.Signal {
			m := sig(call.SigEnded, "c", "200")
			m.Remote = companion.Remote{Number: strings.Repeat("9", 500), Name: "\xff" + strings.Repeat("ä", 300)}
			m.Cause, m.Time = "'; DROP", now.Add(48*time.Hour)
			return m
		}(), check: func(t *testing.T, s call.Signal) {
			if len(s.Remote.Number) != 128 || len(s.Remote.Name) > 256 || !strings.HasPrefix(s.Remote.Name, "\uFFFD") || s.Cause != "" || !s.Time.Equal(now) {
				t.Errorf("number %d bytes, name %q, cause %q, time %s", len(s.Remote.Number), s.Remote.Name, s.Cause, s.Time)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &companionConn{id: "s", user: tt.user, lim: &companionLimits{open: map[string]bool{}}}
			got, err := cs.signal(c, tt.in, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestCompanionLimits(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler), users: map[string]store.User{"alice": {Name: "alice", Extensions: []string{"200"}}}}
	cs := newCompanions(s)
	c := &companionConn{id: "s", user: "alice", lim: &companionLimits{open: map[string]bool{}}}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ring := func(id string, at time.Time) error {
		_, err := cs.signal(c, companion.Signal{Kind: call.SigRinging, CallID: id, Extension: "200"}, at)
		return err
	}
	// Open calls: 32 at most; an ended call frees its place.
	for i := range companionMaxOpenCalls {
		if err := ring(strings.Repeat("c", i+1), now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	later := now.Add(time.Hour)
	if err := ring("one-too-many", later); err == nil || !strings.Contains(err.Error(), "calls in progress") {
		t.Errorf("33rd call: %v", err)
	}
	if _, err := cs.signal(c, companion.Signal{Kind: call.SigEnded, CallID: "c"}, later); err != nil {
		t.Fatal(err)
	}
	if err := ring("now-it-fits", later); err != nil {
		t.Errorf("after an end: %v", err)
	}
	// Rate: 50 signals a second.
	burst := later.Add(time.Minute)
	var err error
	n := 0
	for ; n < 100 && err == nil; n++ {
		err = ring("now-it-fits", burst)
	}
	if n != companionMaxPerSecond+1 || err == nil || !strings.Contains(err.Error(), "a second") {
		t.Errorf("refused after %d signals: %v", n, err)
	}
	if err := ring("now-it-fits", burst.Add(time.Second)); err != nil {
		t.Errorf("next second: %v", err)
	}
}
