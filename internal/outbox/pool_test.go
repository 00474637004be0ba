package outbox

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/store"
)

// A slow destination delays only itself: while one delivery hangs, the items of other
// streams are delivered by the other workers of the pool.
func TestSlowDestinationDelaysOnlyItself(t *testing.T) {
	st := openStore(t, t.TempDir())
	release := make(chan struct{})
	var mu sync.Mutex
	fast := map[string]bool{}
	handlers := map[string]Handler{
		"slow": func(ctx context.Context, it store.OutboxItem) error {
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		"fast": func(_ context.Context, it store.OutboxItem) error {
			mu.Lock()
			fast[it.Key] = true
			mu.Unlock()
			return nil
		},
	}
	enqueue(t, st, store.OutboxItem{Kind: "slow", Key: "slow", Group: "webhook:slow:c1"})
	for i := range 10 {
		enqueue(t, st, store.OutboxItem{Kind: "fast", Key: fmt.Sprint(i), Group: fmt.Sprint("webhook:fast:c", i)})
	}
	w := New(st, "w", handlers, nil, Options{Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { close(release); cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(fast)
		mu.Unlock()
		if n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 10 items of other streams delivered while one delivery hangs", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A claim lasts as long as its work: while a delivery runs past its lease, the worker
// renews the claim, and another node cannot take the item.
func TestClaimRenewedWhileDelivering(t *testing.T) {
	dir := t.TempDir()
	st, other := openStore(t, dir), openStore(t, dir)
	started, release := make(chan struct{}), make(chan struct{})
	deliveries := 0
	handlers := map[string]Handler{"k": func(ctx context.Context, it store.OutboxItem) error {
		deliveries++
		close(started)
		<-release
		return nil
	}}
	id := enqueue(t, st, store.OutboxItem{Kind: "k", Key: "long", Group: "g"})
	const lease = time.Second // renewed every 333 ms: margin for a loaded machine (300 ms lost claims under -race at load 6)
	w := New(st, "w1", handlers, nil, Options{Lease: lease, Poll: 10 * time.Millisecond})
	defer runWorker(w)()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the item was not delivered")
	}
	// Well past the first lease, the other node looks for work several times.
	for range 5 {
		time.Sleep(lease)
		items, err := other.Claim(t.Context(), "w2", time.Now(), lease, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) > 0 {
			close(release)
			t.Fatalf("another node claimed item %d while it was being delivered", items[0].ID)
		}
	}
	close(release)
	waitDone(t, st, id)
}

// A worker whose own claim has lapsed (its renewal stalled: the fake clock jumps past the
// lease mid-delivery) claims the item again at its next poll; it must not deliver it a
// second time while the first delivery is still under way. The re-claim only extends the
// lease, and the first delivery completes the item.
func TestOwnLapsedClaimNotDeliveredTwice(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := newClock()
	started, release := make(chan struct{}, 4), make(chan struct{})
	var mu sync.Mutex
	deliveries := 0
	handlers := map[string]Handler{"k": func(ctx context.Context, it store.OutboxItem) error {
		mu.Lock()
		deliveries++
		mu.Unlock()
		started <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	id := enqueue(t, st, store.OutboxItem{Kind: "k", Key: "slow", Group: "g"})
	w := New(st, "w1", handlers, nil, Options{Now: clk.Now, Lease: time.Hour, Poll: 5 * time.Millisecond, Timeout: time.Minute})
	defer runWorker(w)()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the item was not delivered")
	}
	clk.Add(2 * time.Hour) // the claim (1 h, renewed every 20 min of real time) has lapsed
	w.Kick()
	select {
	case <-started:
		close(release)
		t.Fatal("the worker delivered the item a second time while its first delivery was under way")
	case <-time.After(300 * time.Millisecond): // many polls
	}
	close(release)
	waitDone(t, st, id)
	mu.Lock()
	defer mu.Unlock()
	if deliveries != 1 {
		t.Errorf("%d deliveries, want 1", deliveries)
	}
}

// An item retried and due again at once is claimed again, possibly before its failed
// delivery has told the worker it finished: that claim is delivered, not mistaken for a
// lapsed claim of the delivery under way (which left the item claimed, undelivered, for
// the whole lease).
func TestRetriedItemClaimedBeforeItsDeliveryFinished(t *testing.T) {
	st := openStore(t, t.TempDir())
	var mu sync.Mutex
	failures := map[string]int{}
	handlers := map[string]Handler{"k": func(ctx context.Context, it store.OutboxItem) error {
		mu.Lock()
		defer mu.Unlock()
		if failures[it.Key] < 10 {
			failures[it.Key]++
			return fmt.Errorf("refused: %w", crm.ErrUnavailable)
		}
		return nil
	}}
	var ids []int64
	for i := range 64 {
		ids = append(ids, enqueue(t, st, store.OutboxItem{Kind: "k", Key: fmt.Sprint(i), Group: fmt.Sprintf("call:%d", i)}))
	}
	w := New(st, "w1", handlers, nil, Options{Lease: time.Hour, Poll: time.Millisecond, MinBackoff: time.Microsecond, MaxBackoff: time.Microsecond})
	defer runWorker(w)()
	for _, id := range ids {
		waitDone(t, st, id)
	}
}

// runWorker runs w until the returned stop is called, which waits for Run to return.
func runWorker(w *Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// waitDone waits (at most 20 s) until item id is delivered.
func waitDone(t *testing.T, st *store.Store, id int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for item(t, st, id).State != store.OutboxDone {
		if time.Now().After(deadline) {
			t.Fatalf("item not completed: %+v", item(t, st, id))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
