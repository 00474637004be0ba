package ami

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/telephonytest"
	"github.com/ringside/ringside/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedNow is the clock of replays: signals without a timestamp (resynchronisation) get it.
var fixedNow = time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)

// caseSpec is testdata/<case>/case.json: which capture to replay, and how.
type caseSpec struct {
	Fixture string `json:"fixture"`
	// From, when set, starts the replay at the first message containing this text (the
	// banner is always read): a connection made in the middle of things.
	From string `json:"from,omitempty"`
	// Now is the clock of the replay (RFC 3339); default fixedNow.
	Now string `json:"now,omitempty"`
	// Config overrides, as in ringside.yaml.
	LocalExtensions []string `json:"local_extensions,omitempty"`
}

func testSettings(t testing.TB, mod func(*Config)) *settings {
	t.Helper()
	cfg := Config{Username: "ringside", Secret: "secret", Now: func() time.Time { return fixedNow }}
	if mod != nil {
		mod(&cfg)
	}
	s, err := cfg.validate()
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

// replay feeds a capture through the decoder and the correlator.
func replay(t testing.TB, s *settings, data []byte) []call.Signal {
	t.Helper()
	var got []call.Signal
	c := newCorrelator(s, "ami", func(sig call.Signal) { got = append(got, sig) })
	d := NewDecoder(bytes.NewReader(data), s.MaxLineBytes, s.MaxFrameBytes)
	for {
		m, err := d.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		c.handle(m)
	}
}

// signalLine is a signal as written to want.signals.jsonl.
type signalLine struct {
	Kind      call.SignalKind `json:"kind"`
	CallID    string          `json:"call"`
	Direction call.Direction  `json:"dir,omitempty"`
	Extension string          `json:"ext,omitempty"`
	Number    string          `json:"number,omitempty"`
	Name      string          `json:"name,omitempty"`
	DID       string          `json:"did,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	To        string          `json:"to,omitempty"`
	Time      string          `json:"time"`
	Resync    bool            `json:"resync,omitempty"`
	Live      []string        `json:"live,omitempty"` // SigResynced: the calls Asterisk has
}

func signalLines(sigs []call.Signal) []string {
	var out []string
	for _, s := range sigs {
		b, _ := json.Marshal(signalLine{Kind: s.Kind, CallID: s.CallID, Direction: s.Direction, Extension: s.Extension,
			Number: s.Remote.Number, Name: s.Remote.Name, DID: s.DID, Cause: s.Cause, To: s.TransferTo,
			Time: s.Time.Format("2006-01-02T15:04:05.000000Z07:00"), Resync: s.Resync, Live: s.Live})
		out = append(out, string(b))
	}
	return out
}

// eventLine is the essence of a tracker event, as written to want.events.jsonl.
type eventLine struct {
	Type       call.EventType `json:"type"`
	CallID     string         `json:"call"`
	Direction  call.Direction `json:"dir"`
	State      call.State     `json:"state"`
	Leg        string         `json:"leg,omitempty"`
	LegState   call.State     `json:"leg_state,omitempty"`
	LegCause   string         `json:"leg_cause,omitempty"`
	From       string         `json:"from,omitempty"`
	Raw        string         `json:"raw,omitempty"`
	Number     string         `json:"number,omitempty"`
	Name       string         `json:"name,omitempty"`
	Withheld   bool           `json:"withheld,omitempty"`
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
			l := eventLine{Type: e.Type, CallID: e.Call.ID, Direction: e.Call.Direction, State: e.Call.State, From: e.From,
				Raw: e.Call.Remote.Raw, Number: e.Call.Remote.Number, Name: e.Call.Remote.Name, Withheld: e.Call.Remote.Withheld,
				AnsweredBy: e.Call.AnsweredBy, Missed: e.Call.Missed, Cause: e.Call.Cause}
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

// TestCases replays every case folder in testdata/ and compares the signals and the
// tracker's events with the golden files.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/case.json")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, spec := range dirs {
		dir := filepath.Dir(spec)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var cs caseSpec
			b, err := os.ReadFile(spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &cs); err != nil {
				t.Fatalf("%s: %v", spec, err)
			}
			data, err := os.ReadFile(testenv.Capture(t, "asterisk-ami", cs.Fixture))
			if err != nil {
				t.Fatal(err)
			}
			if cs.From != "" {
				banner, rest, _ := bytes.Cut(data, []byte("\r\n"))
				i := bytes.Index(rest, []byte(cs.From))
				if i < 0 {
					t.Fatalf("%q not in %s", cs.From, cs.Fixture)
				}
				j := bytes.LastIndex(rest[:i], []byte("\r\n\r\n"))
				data = append(append(banner, "\r\n"...), rest[j+4:]...)
			}
			now := fixedNow
			if cs.Now != "" {
				if now, err = time.Parse(time.RFC3339Nano, cs.Now); err != nil {
					t.Fatal(err)
				}
			}
			s := testSettings(t, func(c *Config) {
				c.LocalExtensions = cs.LocalExtensions
				c.Now = func() time.Time { return now }
			})
			sigs := replay(t, s, data)
			golden(t, filepath.Join(dir, "want.signals.jsonl"), signalLines(sigs))
			golden(t, filepath.Join(dir, "want.events.jsonl"), eventLines(sigs))
		})
	}
}

// TestCasesCoverFixtures makes sure that every capture is replayed by some case.
func TestCasesCoverFixtures(t *testing.T) {
	fixtures, _ := filepath.Glob(filepath.Join(testenv.Capture(t, "asterisk-ami"), "*.ami"))
	specs, _ := filepath.Glob("testdata/*/case.json")
	used := map[string]bool{}
	for _, p := range specs {
		b, _ := os.ReadFile(p)
		var cs caseSpec
		_ = json.Unmarshal(b, &cs)
		used[cs.Fixture] = true
	}
	for _, f := range fixtures {
		if !used[filepath.Base(f)] {
			t.Errorf("capture %s is not replayed by any testdata/*/case.json", filepath.Base(f))
		}
	}
}

// TestReplayAPI: Source.Replay gives what the correlator gives.
func TestReplayAPI(t *testing.T) {
	src, err := New("ami", Config{Username: "u", Secret: "s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []call.Signal
	n, err := src.Replay(bytes.NewReader(fixture(t, "blind_transfer.ami")), func(s call.Signal) { got = append(got, s) })
	if err != nil || n != 171 {
		t.Fatalf("Replay = %d, %v; want 171 events", n, err)
	}
	if diff := cmp.Diff(replay(t, testSettings(t, nil), fixture(t, "blind_transfer.ami")), got); diff != "" {
		t.Error(diff)
	}
}

func golden(t *testing.T, path string, got []string) {
	t.Helper()
	telephonytest.Golden(t, path, got, *update)
}
