package outbox

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/store"
)

// Temporary errors retry with backoff up to MaxAge (counted from the first attempt, or
// from an admin's retry), then park.
func TestMaxAgeParks(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := newClock()
	st.SetClock(clk.Now)
	fail := func(context.Context, store.OutboxItem) error { return crm.ErrUnavailable }
	w := New(st, "w", map[string]Handler{"k": fail}, nil, Options{Now: clk.Now, MaxAge: time.Hour, MinBackoff: time.Minute, MaxBackoff: 10 * time.Minute})
	id := enqueue(t, st, store.OutboxItem{Kind: "k", Key: "a", Group: "g"})
	for clk.Now().Before(time.Date(2026, 11, 25, 10, 55, 0, 0, time.UTC)) {
		runOnce(t, w)
		clk.Add(time.Minute)
	}
	if it := item(t, st, id); it.State != store.OutboxPending || it.Attempts < 5 {
		t.Fatalf("before an hour: %+v", it)
	}
	for range 20 {
		runOnce(t, w)
		clk.Add(time.Minute)
	}
	it := item(t, st, id)
	if it.State != store.OutboxParked || it.LastError == "" {
		t.Fatalf("after an hour: %+v, want parked with the reason", it)
	}
	// An admin's retry gives it another MaxAge.
	if err := st.RequeueParked(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	runOnce(t, w)
	if it := item(t, st, id); it.State != store.OutboxPending {
		t.Fatalf("after a retry: %+v, want pending again", it)
	}
}

// An error that can never succeed parks at once; a parked item blocks its stream until
// it is retried, and a retried item keeps its place in the stream's order.
func TestPermanentParksAndRetryKeepsOrder(t *testing.T) {
	st := openStore(t, t.TempDir())
	var order []string
	bad := true
	var mu sync.Mutex
	h := func(_ context.Context, it store.OutboxItem) error {
		mu.Lock()
		defer mu.Unlock()
		if it.Key == "1" && bad {
			return errors.New("400 Bad Request")
		}
		order = append(order, it.Key)
		return nil
	}
	w := New(st, "w", map[string]Handler{"k": h}, nil, Options{})
	id1 := enqueue(t, st, store.OutboxItem{Kind: "k", Key: "1", Group: "g"})
	enqueue(t, st, store.OutboxItem{Kind: "k", Key: "2", Group: "g"})
	for runOnce(t, w) > 0 {
	}
	if it := item(t, st, id1); it.State != store.OutboxParked || it.Attempts != 1 {
		t.Fatalf("first item %+v, want parked after one attempt", it)
	}
	if len(order) != 0 {
		t.Fatalf("delivered %v past a parked item", order)
	}
	mu.Lock()
	bad = false
	mu.Unlock()
	if err := st.RequeueParked(t.Context(), id1); err != nil {
		t.Fatal(err)
	}
	for runOnce(t, w) > 0 {
	}
	if len(order) != 2 || order[0] != "1" || order[1] != "2" {
		t.Errorf("delivered %v, want [1 2]", order)
	}
}
