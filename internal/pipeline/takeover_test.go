package pipeline

import (
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/lookup"
)

// TestTakeoverAdoptsCalls: a source that one node of a cluster runs at a time (under a
// lease). The node that takes it over from a node that died mid-call continues the call
// under its Ringside id (one journal entry, one activity); a node that starts while
// another runs the source leaves its calls alone; a node that gives the source up forgets
// its calls without ending them, for the next holder.
func TestTakeoverAdoptsCalls(t *testing.T) {
	dir := &gate{open: make(chan struct{}), matches: jane}
	close(dir.open)
	h := newHarness(t, dir, lookup.Config{}, 4)
	h.start() // node A runs "ami"
	for _, id := range []string{"k1", "k2"} {
		h.emit(call.Signal{Source: "ami", CallID: id, Kind: call.SigRinging, Extension: "200", Remote: call.Party{Number: "+49 30 9876543"}})
		h.emit(call.Signal{Source: "ami", CallID: id, Kind: call.SigAnswered, Extension: "200"})
	}
	h.stop() // A is gone; the journal holds both calls, answered

	h.leased = func(source string) bool { return source == "ami" }
	h.start() // node B, started while A still ran "ami"
	if n := h.p.Tracked(); n != 0 {
		t.Fatalf("a node that does not run the source restored %d of its calls", n)
	}
	n, err := h.p.Adopt(t.Context(), "ami") // A died: B takes "ami" over
	if err != nil || n != 2 {
		t.Fatalf("adopted %d calls (%v), want 2", n, err)
	}
	if n, _ := h.p.Adopt(t.Context(), "ami"); n != 0 {
		t.Errorf("a second adoption took %d calls again", n)
	}
	h.emit(call.Signal{Source: "ami", CallID: "k1", Kind: call.SigEnded})
	waitFor(t, "k1 ended", func() bool { return countEnded(h) == 1 })

	// B journals a change of k2 (a leg on 201), so that its journal writer holds k2's legs.
	h.emit(call.Signal{Source: "ami", CallID: "k2", Kind: call.SigRinging, Extension: "201"})
	waitFor(t, "k2's new leg journaled", func() bool {
		for _, r := range h.calls() {
			if pbxOf(r.Call) == "k2" && len(r.Call.Legs) == 2 {
				return true
			}
		}
		return false
	})

	h.p.Release("ami") // B gives "ami" up: k2 is the next holder's
	h.emit(call.Signal{Source: "ami", CallID: "k2", Kind: call.SigEnded})
	h.stop()
	h.p.fmu.Lock()
	held := len(h.p.jlegs)
	h.p.fmu.Unlock()
	if held != 0 {
		t.Errorf("B's journal writer still holds the legs of %d calls after their end and the release", held)
	}
	recs := h.calls()
	if len(recs) != 2 {
		t.Fatalf("%d journal entries, want 2: %+v", len(recs), recs)
	}
	acts := h.activities()
	for _, r := range recs {
		switch pbxOf(r.Call) {
		case "k1":
			if r.Call.State != call.Ended || len(acts[r.Call.ID]) != 1 {
				t.Errorf("k1: %s with %d activities; want ended, 1", r.Call.State, len(acts[r.Call.ID]))
			}
		case "k2":
			if r.Call.State != call.Answered || len(acts[r.Call.ID]) != 0 {
				t.Errorf("k2 after the release: %s with %d activities; want answered (the next holder ends it), 0", r.Call.State, len(acts[r.Call.ID]))
			}
		}
	}
}

// TestResyncEndsUnseenCalls: after a restart, the AMI source's resync lists the calls
// Asterisk still has. A restored call not among them ended while Ringside was down: it
// ends now, saying its end was not seen, and is logged once; the listed call and another
// source's call go on.
func TestResyncEndsUnseenCalls(t *testing.T) {
	dir := &gate{open: make(chan struct{}), matches: jane}
	close(dir.open)
	h := newHarness(t, dir, lookup.Config{}, 4)
	h.start()
	for _, s := range []struct{ src, id string }{{"ami", "gone"}, {"ami", "live"}, {"esl", "gone"}} {
		h.emit(call.Signal{Source: s.src, CallID: s.id, Kind: call.SigRinging, Extension: "200", Remote: call.Party{Number: "+49 30 9876543"}})
		h.emit(call.Signal{Source: s.src, CallID: s.id, Kind: call.SigAnswered, Extension: "200"})
	}
	h.stop()
	h.start() // the restart: all three restored
	h.emit(call.Signal{Source: "ami", Kind: call.SigResynced, Live: []string{"live"}, Resync: true})
	waitFor(t, "the unseen call ended", func() bool { return countEnded(h) == 1 })
	h.stop()
	acts := h.activities()
	recs := h.calls()
	if len(recs) != 3 {
		t.Fatalf("%d journal entries, want 3", len(recs))
	}
	for _, r := range recs {
		c := r.Call
		ended := c.Source == "ami" && pbxOf(c) == "gone"
		switch {
		case ended && (c.State != call.Ended || c.Cause != call.CauseEndNotSeen || len(acts[c.ID]) != 1):
			t.Errorf("ami/gone: %s, cause %q, %d activities; want ended, %s, 1", c.State, c.Cause, len(acts[c.ID]), call.CauseEndNotSeen)
		case !ended && (c.State != call.Answered || len(acts[c.ID]) != 0):
			t.Errorf("%s/%s: %s with %d activities; want answered, none", c.Source, pbxOf(c), c.State, len(acts[c.ID]))
		}
	}
}

// TestRestoredCallExpires: a call restored after a restart whose end never comes is
// closed after calls.max_age (counted from its last recorded signal, not from the
// restart), saying the end was not seen, and logged once with the time Ringside gave up.
func TestRestoredCallExpires(t *testing.T) {
	dir := &gate{open: make(chan struct{}), matches: jane}
	close(dir.open)
	h := newHarness(t, dir, lookup.Config{}, 2)
	h.start()
	long := time.Now().Add(-5 * time.Hour) // beyond the default max_age of 4h
	h.emit(call.Signal{Source: "pbx", CallID: "x1", Kind: call.SigRinging, Extension: "200", Remote: call.Party{Number: "+49 30 9876543"}, Time: long})
	h.emit(call.Signal{Source: "pbx", CallID: "x1", Kind: call.SigAnswered, Extension: "200", Time: long.Add(time.Minute)})
	h.stop() // the tracker saw the signals just now: nothing expired before the stop
	if n := countEnded(h); n != 0 {
		t.Fatalf("%d calls ended before the restart", n)
	}
	restart := time.Now()
	h.start()
	waitFor(t, "the restored call closed", func() bool { return countEnded(h) == 1 })
	h.stop()
	recs := h.calls()
	if len(recs) != 1 {
		t.Fatalf("%d journal entries, want 1", len(recs))
	}
	c := recs[0].Call
	if c.Cause != call.CauseEndNotSeen || c.EndedAt.Before(restart) || len(h.activities()[c.ID]) != 1 {
		t.Errorf("journal: cause %q, ended %v (restart %v), %d activities; want %s, after the restart, 1",
			c.Cause, c.EndedAt, restart, len(h.activities()[c.ID]), call.CauseEndNotSeen)
	}
}
