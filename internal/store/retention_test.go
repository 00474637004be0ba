package store

import (
	"errors"
	"testing"
	"time"
)

// Retention: journal entries and delivered outbox rows older than their limits are
// purged (a dry run only counts them); pending and parked items are kept.
func TestPurge(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		clk := newClock()
		st.now = clk.Now
		now := clk.Now()
		old, recent := testCall("old", now.Add(-100*24*time.Hour), "Old Caller", "200"), testCall("recent", now.Add(-time.Hour), "New Caller", "200")
		if err := st.SaveCall(ctx, old, nil); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveCall(ctx, recent, nil); err != nil {
			t.Fatal(err)
		}
		if err := st.SetNote(ctx, "old", "u200", "an old note"); err != nil {
			t.Fatal(err)
		}
		clk.t = now.Add(-10 * 24 * time.Hour)
		doneOld, _ := st.Enqueue(ctx, OutboxItem{Kind: "k", Key: "a"})
		parkedOld, _ := st.Enqueue(ctx, OutboxItem{Kind: "k", Key: "b"})
		clk.t = now
		doneNew, _ := st.Enqueue(ctx, OutboxItem{Kind: "k", Key: "c"})
		items, _ := st.Claim(ctx, "w", now, time.Minute, 10)
		if len(items) != 3 {
			t.Fatalf("claimed %d", len(items))
		}
		st.Complete(ctx, doneOld, "w")
		st.Park(ctx, parkedOld, "w", "refused")
		st.Complete(ctx, doneNew, "w")
		ret := Retention{Calls: 90 * 24 * time.Hour, Outbox: 7 * 24 * time.Hour}
		dry, err := st.Purge(ctx, ret, true)
		if err != nil {
			t.Fatal(err)
		}
		if dry.Calls != 1 || dry.Outbox != 1 {
			t.Errorf("dry run: %+v, want 1 call and 1 outbox row", dry)
		}
		if _, err := st.GetCall(ctx, "old"); err != nil {
			t.Fatalf("the dry run removed the call: %v", err)
		}
		got, err := st.Purge(ctx, ret, false)
		if err != nil || got != dry {
			t.Fatalf("purge: %+v, %v; dry run said %+v", got, err, dry)
		}
		if _, err := st.GetCall(ctx, "old"); !errors.Is(err, ErrNotFound) {
			t.Errorf("old call still there: %v", err)
		}
		if _, err := st.GetCall(ctx, "recent"); err != nil {
			t.Errorf("recent call gone: %v", err)
		}
		if _, err := st.GetOutboxItem(ctx, doneOld); !errors.Is(err, ErrNotFound) {
			t.Errorf("old delivered item still there: %v", err)
		}
		for _, id := range []int64{parkedOld, doneNew} {
			if _, err := st.GetOutboxItem(ctx, id); err != nil {
				t.Errorf("item %d purged: %v", id, err)
			}
		}
	})
}

// Forget removes a caller's number, name and notes from the journal.
func TestForget(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		a, b := testCall("f1", now, "Jane Doe", "200"), testCall("f2", now, "Other", "200")
		b.Remote.Raw, b.Remote.Number = "+49 40 1234567", "+49401234567"
		if err := st.SaveCall(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveCall(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		st.SetNote(ctx, "f1", "u200", "Jane's secret")
		res, err := st.Forget(ctx, "+49309876543")
		if err != nil {
			t.Fatal(err)
		}
		if res.Calls != 1 || res.Notes != 1 {
			t.Errorf("forget: %+v, want 1 call, 1 note", res)
		}
		if _, err := st.GetCall(ctx, "f1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the caller's call is still in the journal: %v", err)
		}
		if _, err := st.GetCall(ctx, "f2"); err != nil {
			t.Errorf("another caller's call is gone: %v", err)
		}
	})
}
