package loadtest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/ami"
	"github.com/ringside/ringside/internal/testenv"
)

func TestScenarioReplaysAsNewCalls(t *testing.T) {
	dir := testenv.Capture(t, "asterisk-ami")
	for _, name := range []string{"inbound_answered", "inbound_missed"} {
		t.Run(name, func(t *testing.T) {
			sc, err := LoadScenario(dir, name)
			if err != nil {
				t.Fatal(err)
			}
			src, err := ami.New("pbx", ami.Config{Username: "u", Secret: "s"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			var all bytes.Buffer
			for n := range 2 {
				ring, rest := sc.Call(n, []string{"4711", "4712"}[n], "+4989123456", now)
				all.Write(ring)
				all.Write(rest)
			}
			var sigs []call.Signal
			if _, err := src.Replay(&all, func(s call.Signal) { sigs = append(sigs, s) }); err != nil {
				t.Fatal(err)
			}
			calls := map[string]map[string]bool{} // call id → extensions that rang
			for _, s := range sigs {
				if calls[s.CallID] == nil {
					calls[s.CallID] = map[string]bool{}
				}
				if s.Kind == call.SigRinging {
					calls[s.CallID][s.Extension] = true
					if s.Remote.Number != "+4989123456" {
						t.Errorf("remote %q", s.Remote.Number)
					}
					if d := s.Time.Sub(now); d < -time.Second || d > time.Minute {
						t.Errorf("time %v is not now", s.Time)
					}
				}
			}
			if len(calls) != 2 {
				t.Fatalf("want 2 calls, got %v (%d signals)", calls, len(sigs))
			}
			var exts []string
			for _, m := range calls {
				for e := range m {
					exts = append(exts, e)
				}
			}
			if j := strings.Join(exts, ","); j != "4711,4712" && j != "4712,4711" {
				t.Fatalf("extensions rung: %s", j)
			}
		})
	}
}

// TestEmbeddedScenario: the bench needs no folder beside the binary; the embedded
// captures load, and a name that is not a capture is refused.
func TestEmbeddedScenario(t *testing.T) {
	sc, err := LoadScenarioFS(ami.Captures(), "inbound_answered")
	if err != nil {
		t.Fatal(err)
	}
	if ring, rest := sc.Call(0, "4711", "+4989123456", time.Now()); len(ring) == 0 || len(rest) == 0 {
		t.Fatalf("embedded scenario replays nothing: ring %d bytes, rest %d", len(ring), len(rest))
	}
	for _, bad := range []string{"../../go", "nope", "a/b"} {
		if _, err := LoadScenarioFS(ami.Captures(), bad); err == nil {
			t.Errorf("LoadScenarioFS(%q) = nil error", bad)
		}
	}
}
