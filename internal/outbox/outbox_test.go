package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/store"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)} }

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{}, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func enqueue(t *testing.T, st *store.Store, it store.OutboxItem) int64 {
	t.Helper()
	id, err := st.Enqueue(t.Context(), it)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func item(t *testing.T, st *store.Store, id int64) store.OutboxItem {
	t.Helper()
	it, err := st.GetOutboxItem(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// runOnce drives one round of w and fails the test on a store error.
func runOnce(t *testing.T, w *Worker) int {
	t.Helper()
	n, err := w.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRetryThenDeliver(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := newClock()
	calls := 0
	var keys []string
	w := New(st, "w1", map[string]Handler{"crm.activity": func(ctx context.Context, it store.OutboxItem) error {
		calls++
		keys = append(keys, it.Key)
		if calls <= 2 {
			return fmt.Errorf("dynamics: create phonecall: %w", crm.ErrUnavailable)
		}
		return nil
	}}, nil, Options{Now: clk.Now, MinBackoff: time.Second, MaxBackoff: time.Minute})
	id := enqueue(t, st, store.OutboxItem{Kind: "crm.activity", Key: "call-1/activity"})

	for round := 1; round <= 2; round++ {
		if n := runOnce(t, w); n != 1 {
			t.Fatalf("round %d: handled %d items", round, n)
		}
		it := item(t, st, id)
		if it.State != store.OutboxPending || it.Attempts != round || !strings.Contains(it.LastError, "unavailable") {
			t.Fatalf("round %d: item %+v", round, it)
		}
		delay := it.NextAt.Sub(clk.Now())
		maxDelay := time.Second << (round - 1)
		if delay < maxDelay/2 || delay > maxDelay {
			t.Errorf("round %d: retry in %v, want between %v and %v", round, delay, maxDelay/2, maxDelay)
		}
		if n := runOnce(t, w); n != 0 {
			t.Fatalf("round %d: delivered %d items before the retry time", round, n)
		}
		clk.Add(delay)
	}
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("third round handled %d", n)
	}
	it := item(t, st, id)
	if it.State != store.OutboxDone || it.Attempts != 3 || it.LastError != "" {
		t.Errorf("delivered item %+v, want done after 3 attempts", it)
	}
	if calls != 3 || !cmp.Equal(keys, []string{"call-1/activity", "call-1/activity", "call-1/activity"}) {
		t.Errorf("handler called %d times with keys %v", calls, keys)
	}
	clk.Add(time.Hour)
	if n := runOnce(t, w); n != 0 || calls != 3 {
		t.Errorf("delivered again: %d items, %d calls", n, calls)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := newClock()
	fail := true
	w := New(st, "w1", map[string]Handler{"webhook": func(context.Context, store.OutboxItem) error {
		if fail {
			fail = false
			return fmt.Errorf("webhook: post: %w", &crm.RetryAfterError{After: 90 * time.Second, Err: errors.New("429 too many requests")})
		}
		return nil
	}}, nil, Options{Now: clk.Now, MaxBackoff: 10 * time.Second})
	id := enqueue(t, st, store.OutboxItem{Kind: "webhook"})
	runOnce(t, w)
	it := item(t, st, id)
	if want := clk.Now().Add(90 * time.Second); !it.NextAt.Equal(want) {
		t.Fatalf("next attempt at %v, want %v (Retry-After)", it.NextAt, want)
	}
	clk.Add(89 * time.Second)
	if n := runOnce(t, w); n != 0 {
		t.Fatal("delivered before Retry-After")
	}
	clk.Add(time.Second)
	if n := runOnce(t, w); n != 1 || item(t, st, id).State != store.OutboxDone {
		t.Fatalf("not delivered after Retry-After: %+v", item(t, st, id))
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassification(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		panicWith any
		kind      string
		wantState string
		wantMsg   string
	}{
		{"unavailable", fmt.Errorf("x: %w", crm.ErrUnavailable), nil, "k", store.OutboxPending, "unavailable"},
		{"net error", &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, nil, "k", store.OutboxPending, "dial tcp"},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), nil, "k", store.OutboxPending, "deadline"},
		{"permanent", fmt.Errorf("dynamics: 400 bad request: %w", ErrPermanent), nil, "k", store.OutboxParked, "400 bad request"},
		{"permanent beats unavailable", fmt.Errorf("%w %w", ErrPermanent, crm.ErrUnavailable), nil, "k", store.OutboxParked, "permanent"},
		{"other error", errors.New("dynamics: field too long"), nil, "k", store.OutboxParked, "field too long"},
		{"not found", fmt.Errorf("x: %w", crm.ErrNotFound), nil, "k", store.OutboxParked, "not found"},
		{"panic", nil, "boom", "k", store.OutboxParked, "panicked: boom"},
		{"unknown kind", nil, nil, "crm.unknown", store.OutboxParked, `no handler for kind "crm.unknown"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			w := New(st, "w1", map[string]Handler{"k": func(context.Context, store.OutboxItem) error {
				if tc.panicWith != nil {
					panic(tc.panicWith)
				}
				return tc.err
			}}, nil, Options{Now: newClock().Now})
			id := enqueue(t, st, store.OutboxItem{Kind: tc.kind})
			runOnce(t, w)
			it := item(t, st, id)
			if it.State != tc.wantState || !strings.Contains(it.LastError, tc.wantMsg) {
				t.Errorf("item state %q error %q; want %q with %q", it.State, it.LastError, tc.wantState, tc.wantMsg)
			}
		})
	}
}

func TestMaxAttemptsParks(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := newClock()
	w := New(st, "w1", map[string]Handler{"k": func(context.Context, store.OutboxItem) error {
		return crm.ErrUnavailable
	}}, nil, Options{Now: clk.Now, MaxAttempts: 3})
	id := enqueue(t, st, store.OutboxItem{Kind: "k"})
	for range 3 {
		runOnce(t, w)
		clk.Add(time.Hour)
	}
	it := item(t, st, id)
	if it.State != store.OutboxParked || it.Attempts != 3 || !strings.Contains(it.LastError, "gave up after 3 attempts") {
		t.Errorf("item %+v", it)
	}
	if err := st.RequeueParked(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if it := item(t, st, id); it.State != store.OutboxPending || it.Attempts != 0 {
		t.Errorf("requeued item %+v", it)
	}
}

func TestBackoff(t *testing.T) {
	w := New(nil, "w", nil, nil, Options{MinBackoff: time.Second, MaxBackoff: time.Minute})
	for _, tc := range []struct {
		attempts int
		max      time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {7, time.Minute}, {50, time.Minute}} {
		for range 20 {
			d := w.backoff(tc.attempts, crm.ErrUnavailable)
			if d < tc.max/2 || d > tc.max {
				t.Errorf("backoff after %d attempts = %v, want in [%v, %v]", tc.attempts, d, tc.max/2, tc.max)
			}
		}
	}
}

func TestGroupInOrder(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := newClock()
	var got []string
	failed := false
	var mu sync.Mutex // the streams g and h are delivered concurrently
	w := New(st, "w1", map[string]Handler{"k": func(_ context.Context, it store.OutboxItem) error {
		mu.Lock()
		defer mu.Unlock()
		if it.Key == "g/2" && !failed {
			failed = true
			return crm.ErrUnavailable
		}
		got = append(got, it.Key)
		return nil
	}}, nil, Options{Now: clk.Now, Batch: 100})
	for i := 1; i <= 4; i++ {
		enqueue(t, st, store.OutboxItem{Kind: "k", Group: "g", Key: fmt.Sprintf("g/%d", i)})
		enqueue(t, st, store.OutboxItem{Kind: "k", Group: "h", Key: fmt.Sprintf("h/%d", i)})
	}
	for range 20 {
		if runOnce(t, w) == 0 {
			clk.Add(time.Hour)
		}
	}
	var g, h []string
	for _, k := range got {
		if strings.HasPrefix(k, "g/") {
			g = append(g, k)
		} else {
			h = append(h, k)
		}
	}
	if diff := cmp.Diff([]string{"g/1", "g/2", "g/3", "g/4"}, g); diff != "" {
		t.Errorf("group g (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"h/1", "h/2", "h/3", "h/4"}, h); diff != "" {
		t.Errorf("group h (-want +got):\n%s", diff)
	}
}

// TestTwoWorkers runs two workers on two stores (two processes) over one database with
// real time; every item must be delivered exactly once.
func TestTwoWorkers(t *testing.T) {
	dir := t.TempDir()
	stores := []*store.Store{openStore(t, dir), openStore(t, dir)}
	const n = 120
	var mu sync.Mutex
	count := map[string]int{}
	delivered := make(chan struct{}, 2*n)
	handler := func(_ context.Context, it store.OutboxItem) error {
		mu.Lock()
		count[it.Key]++
		mu.Unlock()
		delivered <- struct{}{}
		return nil
	}
	for i := range n {
		group := ""
		if i%2 == 0 {
			group = fmt.Sprint("g", i%7)
		}
		enqueue(t, stores[i%2], store.OutboxItem{Kind: "k", Key: fmt.Sprint(i), Group: group})
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i, st := range stores {
		w := New(st, fmt.Sprint("w", i), map[string]Handler{"k": handler}, nil, Options{Poll: 5 * time.Millisecond, Batch: 3})
		wg.Go(func() {
			if err := w.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	deadline := time.After(30 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-delivered:
		case <-deadline:
			t.Fatalf("only %d of %d items delivered", i, n)
		}
	}
	// The last handlers have returned; wait for their Complete before stopping.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		pending, parked, _, err := stores[0].OutboxStats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if parked != 0 {
			t.Fatalf("%d items parked", parked)
		}
		if pending == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%d items still pending", pending)
		}
	}
	cancel()
	wg.Wait()
	if len(count) != n {
		t.Errorf("%d distinct items delivered, want %d", len(count), n)
	}
	for k, c := range count {
		if c != 1 {
			t.Errorf("item %s delivered %d times", k, c)
		}
	}
}

// TestCrashRedelivers: a worker dies mid-handler (its context is cancelled; its lease
// stays); after the lease another worker delivers the item again with the same key.
func TestCrashRedelivers(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	st1, st2 := openStore(t, dir), openStore(t, dir)
	started := make(chan struct{})
	var seen []string
	ctx1, kill := context.WithCancel(t.Context())
	w1 := New(st1, "node-1", map[string]Handler{"crm.activity": func(ctx context.Context, it store.OutboxItem) error {
		seen = append(seen, "node-1:"+it.Key)
		close(started)
		<-ctx.Done() // the CRM write hangs; then the node dies
		return ctx.Err()
	}}, nil, Options{Now: clk.Now, Lease: time.Minute})
	w2 := New(st2, "node-2", map[string]Handler{"crm.activity": func(_ context.Context, it store.OutboxItem) error {
		seen = append(seen, "node-2:"+it.Key)
		return nil
	}}, nil, Options{Now: clk.Now, Lease: time.Minute})
	id := enqueue(t, st1, store.OutboxItem{Kind: "crm.activity", Key: "call-7/activity"})

	done := make(chan error)
	go func() { _, err := w1.RunOnce(ctx1); done <- err }()
	<-started
	kill()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if it := item(t, st2, id); it.State != store.OutboxPending || it.ClaimedUntil.IsZero() {
		t.Fatalf("after the crash: %+v, want still pending and leased", it)
	}
	if n := runOnce(t, w2); n != 0 {
		t.Fatal("node-2 took the item before the lease ran out")
	}
	clk.Add(time.Minute)
	if n := runOnce(t, w2); n != 1 {
		t.Fatal("node-2 did not take the item after the lease")
	}
	it := item(t, st2, id)
	if it.State != store.OutboxDone || it.Attempts != 2 {
		t.Errorf("item %+v, want done after 2 attempts", it)
	}
	if diff := cmp.Diff([]string{"node-1:call-7/activity", "node-2:call-7/activity"}, seen); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	// The dead node cannot finish the item it lost.
	if err := st1.Complete(t.Context(), id, "node-1"); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("late complete by node-1: %v", err)
	}
}

func TestKick(t *testing.T) {
	st := openStore(t, t.TempDir())
	delivered := make(chan string, 1)
	w := New(st, "w1", map[string]Handler{"k": func(_ context.Context, it store.OutboxItem) error {
		delivered <- it.Key
		return nil
	}}, nil, Options{Poll: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	enqueue(t, st, store.OutboxItem{Kind: "k", Key: "kicked"})
	w.Kick()
	select {
	case k := <-delivered:
		if k != "kicked" {
			t.Errorf("delivered %q", k)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Kick did not wake the worker")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil on cancel", err)
	}
}
