package esl

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"

	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/telephonytest"
	"github.com/ringside/ringside/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// replay decodes an ESL capture and correlates its events, returning the signals.
func replay(t testing.TB, data []byte) []call.Signal {
	t.Helper()
	var out []call.Signal
	co := newCorrelator("esl", regexp.MustCompile(defaultExtensionPattern), []string{"external"}, func(s call.Signal) { out = append(out, s) })
	fr := newFrameReader(bytes.NewReader(data), 1<<20)
	var f frame
	var ev event
	for {
		err := fr.readFrame(&f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("frame: %v", err)
		}
		var derr error
		switch f.contentType {
		case ctEventPlain:
			derr = decodePlain(f.body, &ev)
		case ctEventJSON:
			derr = decodeJSON(f.body, &ev)
		default:
			continue
		}
		if derr != nil {
			t.Fatalf("decode: %v", derr)
		}
		co.handle(&ev)
	}
	co.flushHeldBefore(time.Time{})
	return out
}

// sigLine is the golden form of a signal.
type sigLine struct {
	Kind      call.SignalKind `json:"kind"`
	CallID    string          `json:"call_id"`
	Direction call.Direction  `json:"direction,omitempty"`
	Extension string          `json:"ext,omitempty"`
	Remote    string          `json:"remote,omitempty"`
	Name      string          `json:"name,omitempty"`
	DID       string          `json:"did,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	To        string          `json:"to,omitempty"`
	Time      string          `json:"time,omitempty"`
	Resync    bool            `json:"resync,omitempty"`
}

func signalLines(sigs []call.Signal) []string {
	var out []string
	for _, s := range sigs {
		l := sigLine{Kind: s.Kind, CallID: s.CallID, Direction: s.Direction, Extension: s.Extension, Remote: s.Remote.Number,
			Name: s.Remote.Name, DID: s.DID, Cause: s.Cause, To: s.TransferTo, Resync: s.Resync}
		if !s.Time.IsZero() {
			l.Time = s.Time.UTC().Format("2006-01-02T15:04:05.000000Z")
		}
		b, _ := json.Marshal(l)
		out = append(out, string(b))
	}
	return out
}

// evLine is the golden form of a tracker event: its essential fields.
type evLine struct {
	Type       call.EventType `json:"type"`
	CallID     string         `json:"call_id"`
	Direction  call.Direction `json:"direction"`
	Leg        string         `json:"leg,omitempty"`
	LegState   call.State     `json:"leg_state,omitempty"`
	LegCause   string         `json:"leg_cause,omitempty"`
	From       string         `json:"from,omitempty"`
	Remote     string         `json:"remote,omitempty"`
	Name       string         `json:"name,omitempty"`
	AnsweredBy string         `json:"answered_by,omitempty"`
	Missed     bool           `json:"missed,omitempty"`
	Cause      string         `json:"cause,omitempty"`
	Talk       string         `json:"talk,omitempty"`
}

var testEpoch = time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC)

func eventLines(sigs []call.Signal) []string {
	tr := call.NewTracker(call.TrackerConfig{Now: func() time.Time { return testEpoch }})
	var out []string
	for _, s := range sigs {
		for _, e := range tr.Handle(s) {
			l := evLine{Type: e.Type, CallID: e.Call.ID, Direction: e.Call.Direction, From: e.From, Remote: e.Call.Remote.Raw,
				Name: e.Call.Remote.Name, AnsweredBy: e.Call.AnsweredBy, Missed: e.Call.Missed, Cause: e.Call.Cause}
			if e.Leg != nil {
				l.Leg, l.LegState, l.LegCause = e.Leg.Extension, e.Leg.State, e.Leg.Cause
			}
			if d := e.Call.Duration(e.Time); d > 0 {
				l.Talk = d.Round(time.Millisecond).String()
			}
			b, _ := json.Marshal(l)
			out = append(out, string(b))
		}
	}
	return out
}

// TestCases replays every case under testdata/: a case named after a capture scenario reads
// the capture testdata/captures/<case>.{plain,json}.esl; a case with its own
// input.*.esl files reads those. Every input of a case must give the same signals.
func TestCases(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() || strings.HasPrefix(d.Name(), "fuzz") || d.Name() == "captures" {
			continue
		}
		name := d.Name()
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			inputs, _ := filepath.Glob(filepath.Join(dir, "input*.esl"))
			if len(inputs) == 0 {
				fx := testenv.Capture(t, "freeswitch-esl")
				inputs = []string{filepath.Join(fx, name+".plain.esl"), filepath.Join(fx, name+".json.esl")}
			}
			var first []string
			for i, in := range inputs {
				data, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				got := signalLines(replay(t, data))
				if i == 0 {
					first = got
					golden(t, filepath.Join(dir, "want.signals.jsonl"), got)
					golden(t, filepath.Join(dir, "want.events.jsonl"), eventLines(replay(t, data)))
					continue
				}
				if d := cmp.Diff(first, got); d != "" {
					t.Errorf("%s disagrees with %s (-first +this):\n%s", filepath.Base(in), filepath.Base(inputs[0]), d)
				}
			}
		})
	}
}

func golden(t *testing.T, path string, got []string) {
	t.Helper()
	telephonytest.Golden(t, path, got, *update)
}
