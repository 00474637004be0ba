package baresip

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/telephonytest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedNow is the clock of replays: baresip's events carry no timestamp.
var fixedNow = time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)

// replay feeds a capture (netstrings as baresip sent them) through the correlator.
func replay(t testing.TB, cfg Config, data []byte) []call.Signal {
	t.Helper()
	// baresip's events carry no time: the replay clock ticks one second per signal.
	tick := fixedNow
	cfg.Now = func() time.Time { tick = tick.Add(time.Second); return tick }
	cfg, err := cfg.validate()
	if err != nil {
		t.Fatal(err)
	}
	var got []call.Signal
	c := newCorrelator(cfg, "baresip", func(s call.Signal) { got = append(got, s) })
	r := NewNetstringReader(strings.NewReader(string(data)), 0)
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("netstring: %v", err)
		}
		m, err := ParseMessage(b)
		if err != nil {
			continue // the source skips messages that are not JSON too
		}
		c.handle(m)
	}
}

type signalLine struct {
	Kind      call.SignalKind `json:"kind"`
	CallID    string          `json:"call"`
	Direction call.Direction  `json:"dir,omitempty"`
	Extension string          `json:"ext,omitempty"`
	Number    string          `json:"number,omitempty"`
	Name      string          `json:"name,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	Time      string          `json:"time"`
}

func signalLines(sigs []call.Signal) []string {
	var out []string
	for _, s := range sigs {
		b, _ := json.Marshal(signalLine{Kind: s.Kind, CallID: s.CallID, Direction: s.Direction, Extension: s.Extension,
			Number: s.Remote.Number, Name: s.Remote.Name, Cause: s.Cause, Time: s.Time.Format(time.RFC3339Nano)})
		out = append(out, string(b))
	}
	return out
}

type eventLine struct {
	Type       call.EventType `json:"type"`
	CallID     string         `json:"call"`
	Direction  call.Direction `json:"dir"`
	State      call.State     `json:"state"`
	Leg        string         `json:"leg,omitempty"`
	LegState   call.State     `json:"leg_state,omitempty"`
	LegCause   string         `json:"leg_cause,omitempty"`
	Raw        string         `json:"raw,omitempty"`
	Name       string         `json:"name,omitempty"`
	AnsweredBy string         `json:"answered_by,omitempty"`
	Missed     bool           `json:"missed,omitempty"`
	Cause      string         `json:"cause,omitempty"`
	Talk       string         `json:"talk,omitempty"`
}

func eventLines(sigs []call.Signal) []string {
	tr := call.NewTracker(call.TrackerConfig{Now: func() time.Time { return fixedNow }})
	var out []string
	for _, s := range sigs {
		for _, e := range tr.Handle(s) {
			l := eventLine{Type: e.Type, CallID: e.Call.ID, Direction: e.Call.Direction, State: e.Call.State,
				Raw: e.Call.Remote.Raw, Name: e.Call.Remote.Name, AnsweredBy: e.Call.AnsweredBy, Missed: e.Call.Missed, Cause: e.Call.Cause}
			if e.Leg != nil {
				l.Leg, l.LegState, l.LegCause = e.Leg.Extension, e.Leg.State, e.Leg.Cause
			}
			if e.Call.State == call.Ended && !e.Call.AnsweredAt.IsZero() {
				l.Talk = e.Call.Duration(e.Call.EndedAt).Round(time.Millisecond).String()
			}
			b, _ := json.Marshal(l)
			out = append(out, string(b))
		}
	}
	return out
}

// TestCases replays every capture in testdata/<case>/input.ns (recorded from baresip
// 1.0.0 driven by the sipp scenarios in testdata/sipp; see the README) and compares the
// signals and the tracker's events with the golden files. An optional config.json holds
// Config overrides.
func TestCases(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*/input.ns")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, in := range inputs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var cfg Config
			if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
				if err := json.Unmarshal(b, &cfg); err != nil {
					t.Fatal(err)
				}
			}
			sigs := replay(t, cfg, data)
			golden(t, filepath.Join(dir, "want.signals.jsonl"), signalLines(sigs))
			golden(t, filepath.Join(dir, "want.events.jsonl"), eventLines(sigs))
		})
	}
}

func golden(t *testing.T, path string, got []string) {
	t.Helper()
	telephonytest.Golden(t, path, got, *update)
}
