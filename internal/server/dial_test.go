package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/telephony"
	"github.com/ringside/ringside/internal/telephony/sipwatch"
)

// fakePBX is a phone system that can dial and says its state.
type fakePBX struct {
	mu    sync.Mutex
	state string
	dials []string // extension>number
}

func (f *fakePBX) Run(ctx context.Context, _ func(call.Signal)) error { <-ctx.Done(); return nil }
func (f *fakePBX) Dial(_ context.Context, ext, number string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dials = append(f.dials, ext+">"+number)
	return nil
}
func (f *fakePBX) State() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == "" {
		return telephony.StateUp, ""
	}
	return f.state, "connection refused"
}
func (f *fakePBX) calls() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.dials, ",")
}

func source(t *testing.T, name string, src telephony.Source, exts ...string) namedSource {
	t.Helper()
	x, err := telephony.ParseExtensions(exts)
	if err != nil {
		t.Fatal(err)
	}
	return namedSource{name: name, kind: "ami", src: src, serves: x, act: &sourceActivity{}}
}

func user(ext string) store.User { return store.User{Name: "u" + ext, Extensions: []string{ext}} }

// TestDialTwoPhoneSystems: with two phone systems, click-to-dial goes through the one
// whose extensions: serve the user's extension (it always used the first one).
func TestDialTwoPhoneSystems(t *testing.T) {
	berlin, munich := &fakePBX{}, &fakePBX{}
	s := &Server{log: slog.New(slog.DiscardHandler), sources: []namedSource{
		source(t, "berlin", berlin, "200-299"),
		source(t, "munich", munich, "3*", "401"),
	}}
	for _, tc := range []struct{ ext, berlin, munich string }{
		{"201", "201>+4930123", ""},
		{"301", "201>+4930123", "301>+4930123"},
		{"401", "201>+4930123", "301>+4930123,401>+4930123"},
	} {
		if err := s.dial(t.Context(), user(tc.ext), "+4930123"); err != nil {
			t.Fatalf("dial from %s: %v", tc.ext, err)
		}
		if berlin.calls() != tc.berlin || munich.calls() != tc.munich {
			t.Errorf("after dialling from %s: berlin %q, munich %q; want %q, %q", tc.ext, berlin.calls(), munich.calls(), tc.berlin, tc.munich)
		}
	}

	// No source serves the extension: plain words, not an internal error.
	err := s.dial(t.Context(), user("999"), "+4930123")
	if !errors.Is(err, telephony.ErrDialUnsupported) || !strings.Contains(err.Error(), "extension 999") {
		t.Errorf("dial from 999 = %v, want ErrDialUnsupported naming the extension", err)
	}
	// The serving source is down: unavailable, with why.
	munich.state = telephony.StateDown
	err = s.dial(t.Context(), user("301"), "+4930123")
	if !errors.Is(err, telephony.ErrDialUnavailable) || !strings.Contains(err.Error(), "munich") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("dial through a source that is down = %v, want ErrDialUnavailable naming it and why", err)
	}
	// Two sources serve the extension and the first is down: the second one dials.
	s.sources = append([]namedSource{source(t, "backup", munich)}, source(t, "main", berlin))
	if err := s.dial(t.Context(), user("250"), "+4930999"); err != nil || !strings.HasSuffix(berlin.calls(), "250>+4930999") {
		t.Errorf("dial with the first source down = %v; berlin dialled %q", err, berlin.calls())
	}
}

// TestSourceExtensions: a section's extensions: are checked (config check names the
// entry), and sipwatch watches the extensions it names plus the users' extensions its
// patterns match (all the users' without a list).
func TestSourceExtensions(t *testing.T) {
	parse := func(y string) *config.Config {
		t.Helper()
		cfg, err := config.Parse("ringside.yaml", []byte("users:\n  - {name: a, extensions: [\"200\"]}\n  - {name: b, extensions: [\"201\", \"400\"]}\n"+y))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	watched := func(y string) string {
		t.Helper()
		cfg := parse(y)
		s := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler)}
		src, err := s.buildSource(t.Context(), cfg.Telephony[0], s.log)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(src.(*sipwatch.Source).Extensions(), ",")
	}
	if got := watched("telephony:\n  - {kind: sipwatch, server: 127.0.0.1:5060, extensions: [\"300\", \"2*\"]}\n"); got != "300,200,201" {
		t.Errorf("sipwatch with 300 and 2* watches %q, want 300,200,201", got)
	}
	if got := watched("telephony:\n  - {kind: sipwatch, server: 127.0.0.1:5060}\n"); got != "200,201,400" {
		t.Errorf("sipwatch without extensions watches %q, want the users' 200,201,400", got)
	}
	err := Check(t.Context(), parse("telephony:\n  - {kind: ami, address: 127.0.0.1:5038, username: u, secret: s, extensions: [\"200\", \"30-2\"]}\n"))
	if err == nil || !strings.Contains(err.Error(), "ringside.yaml:5") || !strings.Contains(err.Error(), "extensions[1]") {
		t.Errorf("config check of a bad extensions entry = %v, want file:line and extensions[1]", err)
	}
	if _, err := config.Parse("ringside.yaml", []byte("telephony:\n  - {kind: ami, extensions: 200}\n")); err == nil {
		t.Error("extensions: 200 (not a list) accepted")
	}
}
