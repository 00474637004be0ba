package sipwatch

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/call"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// replayBase is when the first NOTIFY of a case is replayed; NOTIFY i comes i×100ms later.
var replayBase = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// sipMessage is one SIP message read from a capture: its headers (first value per
// lower-case name) and body.
type sipMessage struct {
	start   string
	headers map[string]string
	body    []byte
}

// splitSIP splits a capture of SIP messages sent back to back (as on a stream).
func splitSIP(t testing.TB, data []byte) []sipMessage {
	t.Helper()
	var out []sipMessage
	for len(data) > 0 {
		end := bytes.Index(data, []byte("\r\n\r\n"))
		if end < 0 {
			t.Fatalf("capture: message without end of headers: %q", data[:min(len(data), 80)])
		}
		lines := strings.Split(string(data[:end]), "\r\n")
		m := sipMessage{start: lines[0], headers: map[string]string{}}
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, ":")
			k = strings.ToLower(strings.TrimSpace(k))
			if _, ok := m.headers[k]; !ok {
				m.headers[k] = strings.TrimSpace(v)
			}
		}
		n, err := strconv.Atoi(m.headers["content-length"])
		if err != nil {
			t.Fatalf("capture: Content-Length %q", m.headers["content-length"])
		}
		data = data[end+4:]
		m.body, data = data[:n], data[n:]
		out = append(out, m)
	}
	return out
}

// replay runs the NOTIFYs of a capture through a leg book, as the Source does (without
// SIP), and returns the signals: the watched extension of a NOTIFY is its From user, and a
// new Call-ID is a new subscription.
func replay(t testing.TB, data []byte, extensions []string) []call.Signal {
	t.Helper()
	b := newLegBook("kamailio", extensions, endGrace)
	subs := map[string]bool{}
	var sigs []call.Signal
	now := replayBase
	for i, m := range splitSIP(t, data) {
		now = replayBase.Add(time.Duration(i) * 100 * time.Millisecond)
		sigs = append(sigs, b.due(now)...)
		ext := uriUser(m.headers["from"])
		if cid := m.headers["call-id"]; !subs[cid] {
			subs[cid] = true
			b.subscribed(ext)
		}
		var doc *dialogInfo
		if len(m.body) > 0 {
			d, err := parseDialogInfo(m.body)
			if err != nil {
				t.Fatalf("NOTIFY %d: %v", i, err)
			}
			doc = &d
		}
		s, _ := b.apply(ext, doc, now)
		sigs = append(sigs, s...)
	}
	return append(sigs, b.due(now.Add(time.Hour))...)
}

// eventLine is the essential content of one tracker event, for the golden files.
type eventLine struct {
	Type       call.EventType `json:"type"`
	CallID     string         `json:"call_id"`
	Direction  call.Direction `json:"direction"`
	Leg        string         `json:"leg,omitempty"`
	LegState   call.State     `json:"leg_state,omitempty"`
	LegCause   string         `json:"leg_cause,omitempty"`
	RemoteRaw  string         `json:"remote_raw,omitempty"`
	RemoteName string         `json:"remote_name,omitempty"`
	AnsweredBy string         `json:"answered_by,omitempty"`
	Missed     bool           `json:"missed,omitempty"`
	Cause      string         `json:"cause,omitempty"`
	Talk       string         `json:"talk,omitempty"`
}

// track feeds signals through the tracker, its clock following the signals' times.
func track(sigs []call.Signal) []eventLine {
	now := replayBase
	tr := call.NewTracker(call.TrackerConfig{Now: func() time.Time { return now }})
	var out []eventLine
	add := func(evs []call.Event) {
		for _, e := range evs {
			l := eventLine{Type: e.Type, CallID: e.Call.ID, Direction: e.Call.Direction,
				RemoteRaw: e.Call.Remote.Raw, RemoteName: e.Call.Remote.Name,
				AnsweredBy: e.Call.AnsweredBy, Missed: e.Call.Missed, Cause: e.Call.Cause}
			if e.Leg != nil {
				l.Leg, l.LegState, l.LegCause = e.Leg.Extension, e.Leg.State, e.Leg.Cause
			}
			if e.Call.State == call.Ended && !e.Call.AnsweredAt.IsZero() {
				l.Talk = e.Call.Duration(now).String()
			}
			out = append(out, l)
		}
	}
	for _, s := range sigs {
		if s.Time.After(now) {
			now = s.Time
		}
		add(tr.Expire())
		add(tr.Handle(s))
	}
	now = now.Add(time.Hour)
	add(tr.Expire())
	return out
}

func jsonLines[T any](t *testing.T, vs []T) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, v := range vs {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if d := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
	}
}

// TestCases replays every testdata/<case>/notify.sip and compares the signals and the
// tracker's events with the golden files.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/notify.sip")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			sigs := replay(t, data, []string{"200", "201"})
			golden(t, filepath.Join(dir, "want.signals.jsonl"), jsonLines(t, sigs))
			golden(t, filepath.Join(dir, "want.events.jsonl"), jsonLines(t, track(sigs)))
		})
	}
}
