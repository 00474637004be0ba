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
