package activity_test

import (
	"testing"

	"github.com/ringside/ringside/internal/activity"
	"github.com/ringside/ringside/internal/outbox"
	"github.com/ringside/ringside/internal/store"
)

func saveNotes(t *testing.T, st *store.Store, id, author, text string) {
	if err := st.SetNote(t.Context(), id, author, text); err != nil {
		t.Fatal(err)
	}
}

func queue(t *testing.T, st *store.Store, rec store.CallRecord, _ func(string) (string, string)) {
	if err := activity.Queue(t.Context(), st, rec.Call.ID); err != nil {
		t.Fatal(err)
	}
}

func newWorker(st *store.Store, l *logger, agentOf func(string) (string, string)) *outbox.Worker {
	return outbox.New(st, "n1", map[string]outbox.Handler{activity.Kind: outbox.Handler(activity.Handler(l, st, agentOf))}, nil, outbox.Options{})
}
