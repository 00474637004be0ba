package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/store"
)

// failingJournal refuses its next writes (a locked or full disk), then works again.
type failingJournal struct {
	Journal
	mu    sync.Mutex
	fails int
}

func (f *failingJournal) fail(n int) { f.mu.Lock(); f.fails = n; f.mu.Unlock() }

func (f *failingJournal) refuse() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		return true
	}
	return false
}

var errDisk = errors.New("disk I/O error")

func (f *failingJournal) SaveCalls(ctx context.Context, es []store.JournalEntry) error {
	if f.refuse() {
		return errDisk
	}
	return f.Journal.SaveCalls(ctx, es)
}

// A journal write that fails is tried again, not dropped: a call's end that met a
// refusing store is journaled once the store works again, with exactly one activity.
func TestJournalWriteRetried(t *testing.T) {
	dir := &gate{open: make(chan struct{})}
	close(dir.open)
	h := newHarness(t, dir, lookup.Config{}, 2)
	fj := &failingJournal{}
	h.wrap = func(j Journal) Journal { fj.Journal = j; return fj }
	h.start()
	h.emit(call.Signal{Source: "pbx", CallID: "r1", Kind: call.SigRinging, Extension: "200", Remote: call.Party{Number: "+49 30 1111111"}})
	h.emit(call.Signal{Source: "pbx", CallID: "r1", Kind: call.SigAnswered, Extension: "200"})
	waitFor(t, "the answered call journaled", func() bool {
		recs := h.calls()
		return len(recs) == 1 && recs[0].Call.State == call.Answered
	})
	fj.fail(3)
	h.emit(call.Signal{Source: "pbx", CallID: "r1", Kind: call.SigEnded})
	waitFor(t, "the end journaled after the store came back", func() bool {
		recs := h.calls()
		return len(recs) == 1 && recs[0].Call.State == call.Ended
	})
	waitFor(t, "one activity", func() bool { return len(h.activities()) == 1 })
	h.stop()
	for id, its := range h.activities() {
		if len(its) != 1 {
			t.Errorf("call %s: %d activities, want 1", id, len(its))
		}
	}
}

// legsJournal records what the writer says the journal holds of each call's legs.
type legsJournal struct {
	Journal
	mu   sync.Mutex
	held []store.LegsHeld
}

func (l *legsJournal) SaveCalls(ctx context.Context, es []store.JournalEntry) error {
	err := l.Journal.SaveCalls(ctx, es)
	if err == nil {
		l.mu.Lock()
		for _, e := range es {
			l.held = append(l.held, e.Legs)
		}
		l.mu.Unlock()
	}
	return err
}

func (l *legsJournal) last() (store.LegsHeld, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.held) == 0 {
		return 0, 0
	}
	return l.held[len(l.held)-1], len(l.held)
}

// The journal writer writes a call's legs only when they change: a new call's are
// inserted, an answer that keeps them writes none, a new leg replaces them, and after a
// restart (the writer knows nothing of a restored call) they are replaced. At each step
// the journal's legs are the call's, seen through the viewing rule; the writer forgets
// the call once its end is journaled.
func TestJournalWritesLegsThatChanged(t *testing.T) {
	dir := &gate{open: make(chan struct{})}
	close(dir.open)
	h := newHarness(t, dir, lookup.Config{}, 2)
	lj := &legsJournal{}
	h.wrap = func(j Journal) Journal { lj.Journal = j; return lj }
	h.start()
	sees := func(user, ext string) bool {
		recs, err := h.st.ListCalls(t.Context(), store.CallFilter{Viewer: &store.Viewer{User: user, Extensions: []string{ext}}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return len(recs) == 1
	}
	step := func(what string, s call.Signal, want store.LegsHeld, state call.State) {
		t.Helper()
		_, n := lj.last()
		h.emit(s)
		waitFor(t, what+" journaled", func() bool {
			recs := h.calls()
			_, m := lj.last()
			return m > n && len(recs) == 1 && recs[0].Call.State == state
		})
		if got, _ := lj.last(); got != want {
			t.Errorf("%s: legs held %d, want %d", what, got, want)
		}
	}
	step("ringing on 200", call.Signal{Source: "pbx", CallID: "l1", Kind: call.SigRinging, Extension: "200", Remote: call.Party{Number: "+49 30 1111111"}}, store.LegsNone, call.Ringing)
	if !sees("carol", "200") || sees("bob", "201") {
		t.Fatal("the new call's leg on 200 is not journaled as the only one")
	}
	step("answered on 200", call.Signal{Source: "pbx", CallID: "l1", Kind: call.SigAnswered, Extension: "200"}, store.LegsSame, call.Answered)
	step("a leg on 201", call.Signal{Source: "pbx", CallID: "l1", Kind: call.SigRinging, Extension: "201"}, store.LegsUnknown, call.Answered)
	if !sees("carol", "200") || !sees("bob", "201") {
		t.Fatal("the leg on 201 is not journaled")
	}
	h.stop()
	h.start()
	step("ended after a restart", call.Signal{Source: "pbx", CallID: "l1", Kind: call.SigEnded}, store.LegsUnknown, call.Ended)
	if !sees("carol", "200") || !sees("bob", "201") {
		t.Fatal("the restored call's legs are not journaled")
	}
	h.p.fmu.Lock()
	n := len(h.p.jlegs)
	h.p.fmu.Unlock()
	if n != 0 {
		t.Errorf("the writer still keeps the legs of %d calls after their end", n)
	}
}
