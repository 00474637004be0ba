package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ids(items []OutboxItem) []int64 {
	var out []int64
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func TestOutboxClaim(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		enq := func(group string, next time.Time) int64 {
			t.Helper()
			id, err := st.Enqueue(ctx, OutboxItem{Kind: "crm.activity", Key: "k", Group: group, Payload: []byte(`{}`), NextAt: next, CreatedAt: now})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		g1a, g1b := enq("call-1", time.Time{}), enq("call-1", time.Time{})
		g2a := enq("call-2", now.Add(time.Minute)) // not due yet
		g2b := enq("call-2", time.Time{})          // due, but behind g2a
		free := enq("", time.Time{})

		got, err := st.Claim(ctx, "w1", now, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{g1a, free}, ids(got)); diff != "" {
			t.Fatalf("first claim (-want +got):\n%s", diff)
		}
		if got[0].Attempts != 1 || got[0].ClaimedUntil != now.Add(time.Minute) || got[0].Kind != "crm.activity" || string(got[0].Payload) != "{}" {
			t.Errorf("claimed item %+v", got[0])
		}
		if got, _ := st.Claim(ctx, "w2", now, time.Minute, 10); len(got) != 0 {
			t.Errorf("second worker claimed %v while everything is leased or blocked", ids(got))
		}
		if err := st.Complete(ctx, g1a, "w2"); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("complete by non-owner: %v", err)
		}
		if err := st.Complete(ctx, g1a, "w1"); err != nil {
			t.Fatal(err)
		}
		if err := st.Complete(ctx, g1a, "w1"); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("second complete: %v", err)
		}
		if got, _ := st.Claim(ctx, "w2", now, time.Minute, 10); !cmp.Equal(ids(got), []int64{g1b}) {
			t.Errorf("after completing g1a: claimed %v, want [%d]", ids(got), g1b)
		}
		// The lease of free expires; another worker takes it; the first may not finish it.
		later := now.Add(2 * time.Minute)
		got, err = st.Claim(ctx, "w3", later, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{g1b, g2a, free}, ids(got)); diff != "" {
			t.Errorf("after the leases expired (-want +got):\n%s", diff)
		}
		if err := st.Retry(ctx, free, "w1", later, "late"); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("retry by the expired owner: %v", err)
		}
		if got[2].Attempts != 2 {
			t.Errorf("attempts after second claim: %d", got[2].Attempts)
		}
		if err := st.Retry(ctx, free, "w3", later.Add(time.Hour), "crm: unavailable"); err != nil {
			t.Fatal(err)
		}
		if err := st.Park(ctx, g2a, "w3", "crm: bad request"); err != nil {
			t.Fatal(err)
		}
		// g2b stays blocked behind the parked g2a; free waits for its retry time.
		if got, _ := st.Claim(ctx, "w3", later, time.Minute, 10); len(got) != 0 {
			t.Errorf("claimed %v; g2b is behind a parked item and free is not due", ids(got))
		}
		pending, parked, oldest, err := st.OutboxStats(ctx)
		if err != nil || pending != 3 || parked != 1 || !oldest.Equal(now) {
			t.Errorf("OutboxStats = %d, %d, %v, %v", pending, parked, oldest, err)
		}
		items, err := st.ListOutbox(ctx, OutboxParked)
		if err != nil || len(items) != 1 || items[0].ID != g2a || items[0].LastError != "crm: bad request" {
			t.Errorf("parked items %+v, %v", items, err)
		}
		if err := st.RequeueParked(ctx, g2a); err != nil {
			t.Fatal(err)
		}
		if err := st.RequeueParked(ctx, g2a); !errors.Is(err, ErrNotFound) {
			t.Errorf("requeue of a pending item: %v", err)
		}
		if got, _ := st.Claim(ctx, "w3", later, time.Minute, 10); !cmp.Equal(ids(got), []int64{g2a}) {
			t.Errorf("after requeue: claimed %v, want [%d]", ids(got), g2a)
		}
		if err := st.Complete(ctx, g2a, "w3"); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Claim(ctx, "w3", later, time.Minute, 10); !cmp.Equal(ids(got), []int64{g2b}) {
			t.Errorf("after g2a: claimed %v, want [%d]", ids(got), g2b)
		}
		it, err := st.GetOutboxItem(ctx, free)
		if err != nil || it.LastError != "crm: unavailable" || !it.NextAt.Equal(later.Add(time.Hour)) || it.State != OutboxPending {
			t.Errorf("retried item %+v, %v", it, err)
		}
		if n, err := st.PurgeOutbox(ctx, now.Add(time.Second)); err != nil || n != 2 {
			t.Errorf("PurgeOutbox = %d, %v; want the two done items", n, err)
		}
	})
}

func TestOutboxConcurrentClaims(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		stores := []*Store{open(t), open(t)}
		ctx := t.Context()
		const n = 150
		for i := range n {
			group := ""
			if i%3 == 0 {
				group = fmt.Sprintf("g%d", i%5)
			}
			if _, err := stores[0].Enqueue(ctx, OutboxItem{Kind: "webhook", Group: group, Key: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now()
		var mu sync.Mutex
		seen := map[int64]string{}
		var order = map[string][]int64{}
		var wg sync.WaitGroup
		for w := range 6 {
			st := stores[w%2]
			owner := fmt.Sprintf("w%d", w)
			wg.Go(func() {
				for idle := 0; idle < 3; {
					items, err := st.Claim(ctx, owner, now, time.Hour, 4)
					if err != nil {
						t.Error(err)
						return
					}
					if len(items) == 0 {
						idle++
						continue
					}
					idle = 0
					for _, it := range items {
						mu.Lock()
						if prev, dup := seen[it.ID]; dup {
							t.Errorf("item %d claimed by %s and %s", it.ID, prev, owner)
						}
						seen[it.ID] = owner
						if it.Group != "" {
							order[it.Group] = append(order[it.Group], it.ID)
						}
						mu.Unlock()
						if err := st.Complete(ctx, it.ID, owner); err != nil {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		// Workers may stop while a group still had items blocked: finish the rest.
		for {
			items, err := stores[0].Claim(ctx, "last", now, time.Hour, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 0 {
				break
			}
			for _, it := range items {
				if _, dup := seen[it.ID]; dup {
					t.Errorf("item %d claimed twice", it.ID)
				}
				seen[it.ID] = "last"
				if it.Group != "" {
					order[it.Group] = append(order[it.Group], it.ID)
				}
				stores[0].Complete(ctx, it.ID, "last")
			}
		}
		if len(seen) != n {
			t.Errorf("%d items delivered, want %d", len(seen), n)
		}
		for g, ids := range order {
			for i := 1; i < len(ids); i++ {
				if ids[i] < ids[i-1] {
					t.Errorf("group %s delivered out of order: %v", g, ids)
					break
				}
			}
		}
	})
}
