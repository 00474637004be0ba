package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/phone"
)

// Regression tests for issue 13: calls you can trust.

// TestLateCallerIDIsLookedUp (case 2): the number comes with a later signal; it is looked
// up then, and the page gets call.updated with the caller.
func TestLateCallerIDIsLookedUp(t *testing.T) {
	dir := &gate{open: make(chan struct{}), matches: jane}
	close(dir.open)
	h := newHarness(t, dir, lookup.Config{}, 2)
	h.start()
	h.emit(call.Signal{Source: "tapi", CallID: "c2", Kind: call.SigRinging, Extension: "200"})
	if m := h.next("ringing"); m.Type != call.EvRinging || m.Lookup != "skipped" {
		t.Fatalf("first pop: %s lookup %s", m.Type, m.Lookup)
	}
	h.emit(call.Signal{Source: "tapi", CallID: "c2", Kind: call.SigAnswered, Extension: "200", Remote: call.Party{Number: "+49 30 9876543"}})
	var got []string
	found := false
	for !found {
		m := h.next("the caller, looked up late")
		got = append(got, string(m.Type)+"/"+m.Lookup)
		found = len(m.Matches) == 1 && m.Lookup == "done"
		if len(got) > 5 {
			t.Fatalf("the late number was never looked up: messages %v", got)
		}
	}
	h.stop()
	if recs := h.calls(); len(recs) != 1 || len(recs[0].Matches) != 1 || recs[0].Call.Remote.Number != "+49309876543" {
		t.Errorf("journal: %+v", recs)
	}
}

// TestSameIDTwoSources (case 3): two phone systems both send call 1001: two calls, two
// journal entries, two activities. A reused id after the end starts a third call.
func TestSameIDTwoSources(t *testing.T) {
	dir := &gate{open: make(chan struct{})}
	close(dir.open)
	h := newHarness(t, dir, lookup.Config{}, 4)
	h.start()
	for _, src := range []string{"ami", "esl"} {
		h.emit(call.Signal{Source: src, CallID: "1001", Kind: call.SigRinging, Extension: "200", Remote: call.Party{Number: "+49 30 1111111"}})
		h.emit(call.Signal{Source: src, CallID: "1001", Kind: call.SigAnswered, Extension: "200"})
		h.emit(call.Signal{Source: src, CallID: "1001", Kind: call.SigEnded})
	}
	waitFor(t, "two ended calls", func() bool { return countEnded(h) == 2 })
	// The tracker forgets an ended call after its linger (1 ms here); the id comes again.
	deadline := time.Now().Add(20 * time.Second)
	for countEnded(h) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("a reused id never started a new call: %d ended entries", countEnded(h))
		}
		h.emit(call.Signal{Source: "ami", CallID: "1001", Kind: call.SigRinging, Extension: "201", Remote: call.Party{Number: "+49 30 2222222"}})
		h.emit(call.Signal{Source: "ami", CallID: "1001", Kind: call.SigEnded})
		time.Sleep(50 * time.Millisecond)
	}
	h.stop()
	recs := h.calls()
	ids := map[string]bool{}
	for _, r := range recs {
		ids[r.Call.ID] = true
		if pbxOf(r.Call) != "1001" {
			t.Errorf("journal entry %s: pbx id %q", r.Call.ID, pbxOf(r.Call))
		}
	}
	if len(recs) < 3 || len(ids) != len(recs) {
		t.Fatalf("%d journal entries with %d ids, want 3 or more distinct", len(recs), len(ids))
	}
	acts := h.activities()
	for _, r := range recs {
		if n := len(acts[r.Call.ID]); n != 1 {
			t.Errorf("call %s (%s): %d activities, want 1", r.Call.ID, r.Call.Source, n)
		}
	}
}

func countEnded(h *harness) int {
	n := 0
	for _, r := range h.calls() {
		if r.Call.State == call.Ended {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHangingCRMHoldsOnlyItsCalls (case 4): 80 callers, the CRM hangs for half of them
// and answers the others at once. With a pop timeout far longer than the test, every
// caller the CRM can answer is popped while it still hangs on the others: no pop waits
// for another call's lookup.
func TestHangingCRMHoldsOnlyItsCalls(t *testing.T) {
	slow := func(n phone.Number) bool { return strings.HasSuffix(n.E164, "1") }
	dir := &gate{open: make(chan struct{}), hold: slow, matches: jane}
	h := newHarness(t, dir, lookup.Config{PopTimeout: time.Hour}, 8)
	h.start()
	for i := range 80 {
		h.emit(call.Signal{Source: "pbx", CallID: fmt.Sprint("h", i), Kind: call.SigRinging, Extension: "200",
			Remote: call.Party{Number: fmt.Sprintf("+49 30 %06d%d", i, i%2)}})
	}
	for i := range 40 {
		m := h.next(fmt.Sprintf("pop %d of the 40 callers the CRM answers", i+1))
		if m.Type != call.EvRinging || slow(phone.Number{E164: m.Call.Remote.Number}) {
			t.Fatalf("pop %d: %s for %s: a call the CRM hangs on", i, m.Type, m.Call.Remote.Number)
		}
	}
	// Each lookup reaches the CRM on its own goroutine: the last may still be on its way.
	waitFor(t, "40 lookups hanging in the CRM", func() bool { return dir.blocked() == 40 })
	close(dir.open)
	for i := range 40 {
		if m := h.next("the slow callers"); !slow(phone.Number{E164: m.Call.Remote.Number}) {
			t.Fatalf("pop %d after the CRM answered: %s", i, m.Call.Remote.Number)
		}
	}
}

// TestRestartThenEnded (case 5): a call answered before a restart ends after it: the
// journal says ended, and exactly one activity is queued.
func TestRestartThenEnded(t *testing.T) {
	dir := &gate{open: make(chan struct{}), matches: jane}
	close(dir.open)
	h := newHarness(t, dir, lookup.Config{}, 2)
	h.start()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	h.emit(call.Signal{Source: "pbx", CallID: "r1", Kind: call.SigRinging, Extension: "200", Remote: call.Party{Number: "+49 30 9876543"}, Time: t0})
	h.emit(call.Signal{Source: "pbx", CallID: "r1", Kind: call.SigAnswered, Extension: "200", Time: t0.Add(5 * time.Second)})
	h.stop()
	h.start()
	h.emit(call.Signal{Source: "pbx", CallID: "r1", Kind: call.SigEnded, Time: t0.Add(65 * time.Second)})
	h.stop()
	recs := h.calls()
	if len(recs) != 1 {
		t.Fatalf("%d journal entries, want 1", len(recs))
	}
	c := recs[0].Call
	if c.State != call.Ended || c.Duration(time.Time{}) != time.Minute {
		t.Errorf("journal: state %s, duration %v; want ended, 1m0s", c.State, c.Duration(time.Time{}))
	}
	if n := len(h.activities()[c.ID]); n != 1 {
		t.Errorf("%d activities, want 1", n)
	}
}

// TestShutdownDrains (case 6): 200 acknowledged signals, then shutdown: all 200 applied
// and journaled.
func TestShutdownDrains(t *testing.T) {
	dir := &gate{open: make(chan struct{})}
	close(dir.open)
	h := newHarness(t, dir, lookup.Config{}, 8)
	h.start()
	for i := range 200 {
		h.emit(call.Signal{Source: "pbx", CallID: fmt.Sprint("d", i), Kind: call.SigRinging, Extension: "200", Remote: call.Party{Number: fmt.Sprintf("+49 30 %07d", i)}})
	}
	h.stop()
	if n := len(h.calls()); n != 200 {
		t.Errorf("%d of 200 acknowledged signals journaled", n)
	}
}
