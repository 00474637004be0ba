package testenv

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Msg is the part of a stream message (GET /api/v1/stream) that tests look at.
type Msg struct {
	Type   string `json:"type"`
	Resync bool   `json:"resync"`
	Lookup string `json:"lookup"`
	Call   struct {
		ID     string `json:"id"`     // Ringside's id
		PbxID  string `json:"pbx_id"` // the phone system's id
		Source string `json:"source"`
		State  string `json:"state"`
	} `json:"call"`
	Matches []struct {
		Name string `json:"name"`
	} `json:"matches"`
}

// Stream reads an agent's stream in the background.
type Stream struct {
	msgs chan Msg
	done chan struct{}
}

// ReadStream starts reading ws until it fails; messages that are not JSON are skipped.
func ReadStream(t testing.TB, ws *websocket.Conn) *Stream {
	s := &Stream{msgs: make(chan Msg, 10000), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			_, b, err := ws.Read(context.WithoutCancel(t.Context()))
			if err != nil {
				return
			}
			var m Msg
			if json.Unmarshal(b, &m) == nil {
				s.msgs <- m
			}
		}
	}()
	return s
}

// Done is closed when the connection has ended.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Until reads messages until one satisfies ok and returns everything read, or fails the
// test after d saying what it waited for.
func (s *Stream) Until(t testing.TB, d time.Duration, what string, ok func(Msg) bool) []Msg {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	var got []Msg
	for {
		select {
		case m := <-s.msgs:
			got = append(got, m)
			if ok(m) {
				return got
			}
		case <-timer.C:
			t.Fatalf("no %s within %s; got %+v", what, d, got)
		}
	}
}

// Pops counts the call.ringing messages of a call that are not resynchronisations: the
// pops an agent saw.
func Pops(ms []Msg, callID string) int {
	n := 0
	for _, m := range ms {
		if m.Type == "call.ringing" && !m.Resync && m.Call.ID == callID {
			n++
		}
	}
	return n
}

// PbxPops counts the pops (as Pops) of the call the phone system calls pbxID, and
// returns every Ringside id under which a message of that call appeared: a call that
// keeps its identity (across a reconnect, a takeover, a restart) shows exactly one.
func PbxPops(ms []Msg, pbxID string) (pops int, ids []string) {
	for _, m := range ms {
		if m.Call.PbxID != pbxID {
			continue
		}
		if m.Type == "call.ringing" && !m.Resync {
			pops++
		}
		if !slices.Contains(ids, m.Call.ID) {
			ids = append(ids, m.Call.ID)
		}
	}
	return pops, ids
}

// Eventually polls cond (the state of another component or process, which has no event
// to wait on) until it holds, or fails the test after d with cond's last error.
func Eventually(t testing.TB, d time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last error: %v)", what, d, last)
		}
		time.Sleep(50 * time.Millisecond) // polling, not ordering
	}
}
