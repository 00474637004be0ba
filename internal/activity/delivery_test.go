package activity_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/activity"
	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/outbox"
	"github.com/ringside/ringside/internal/store"
)

// logger records the last activity written per key.
type logger struct {
	mu   sync.Mutex
	byID map[string]crm.Activity
	n    int
}

func (l *logger) LogCall(_ context.Context, a crm.Activity) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = map[string]crm.Activity{}
	}
	l.byID[a.Key] = a
	l.n++
	return nil
}

// The pipeline reads the journal to log a call while an agent saves notes: whatever
// order the writes are queued in, the CRM ends up with the notes.
func TestWriteWhatIsTrueAtDelivery(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, store.Config{}, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	c := call.Call{ID: "race-1", Direction: call.Inbound, State: call.Ended, StartedAt: t0, AnsweredAt: t0.Add(2 * time.Second),
		EndedAt: t0.Add(time.Minute), AnsweredBy: "200", Remote: call.Remote{Raw: "+49 30 9876543", Number: "+49309876543"},
		Legs: []call.Leg{{Extension: "200", User: "alice", State: call.Ended, AnsweredAt: t0.Add(2 * time.Second)}}}
	if err := st.SaveCall(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	agentOf := func(ext string) (string, string) { return "alice", "" }
	// The pipeline's log: it reads the journal (no notes yet) ...
	early, err := st.GetCall(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	// ... alice saves her notes and queues her write ...
	saveNotes(t, st, c.ID, "alice", "Wants a quote.\nCall back Monday.")
	late, _ := st.GetCall(ctx, c.ID)
	queue(t, st, late, agentOf)
	// ... and only then is the pipeline's write queued.
	queue(t, st, early, agentOf)

	l := &logger{}
	w := newWorker(st, l, agentOf)
	for {
		n, err := w.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	got := l.byID[activity.Key(c.ID)]
	if !contains(got.Notes, "Wants a quote.\nCall back Monday.") {
		t.Errorf("the CRM's activity has notes %q: alice's notes were lost", got.Notes)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

var _ = outbox.New
