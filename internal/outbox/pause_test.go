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

// A Retry-After from a destination (Dataverse's service protection 429) pauses that
// whole destination: no item of it is attempted until the time is up, while other
// destinations keep going; afterwards every item is delivered once.
func TestRetryAfterPausesDestination(t *testing.T) {
	st := openStore(t, t.TempDir())
	clk := newClock()
	st.SetClock(clk.Now)
	var mu sync.Mutex
	crmCalls := map[string]int{}
	hooks := map[string]int{}
	throttled := true
	crmH := func(_ context.Context, it store.OutboxItem) error {
		mu.Lock()
		defer mu.Unlock()
		crmCalls[it.Key]++
		if throttled {
			return &crm.RetryAfterError{After: 30 * time.Second, Err: fmt.Errorf("429: %w", crm.ErrUnavailable)}
		}
		return nil
	}
	hookH := func(_ context.Context, it store.OutboxItem) error {
		mu.Lock()
		defer mu.Unlock()
		hooks[it.Key]++
		return nil
	}
	w := New(st, "w", map[string]Handler{"crm": crmH, "hook": hookH}, nil, Options{Now: clk.Now, Workers: 1})
	for i := range 3 {
		enqueue(t, st, store.OutboxItem{Kind: "crm", Key: fmt.Sprintf("crm-%d", i), Group: fmt.Sprintf("call:%d", i)})
	}
	for i := range 3 {
		enqueue(t, st, store.OutboxItem{Kind: "hook", Key: fmt.Sprintf("hook-%d", i), Group: fmt.Sprintf("webhook:http://h/ %d", i)})
	}
	// The first CRM write is throttled; the next runs deliver the webhooks and leave the
	// CRM alone.
	for range 6 {
		runOnce(t, w)
	}
	mu.Lock()
	if len(crmCalls) != 1 || crmCalls["crm-0"] != 1 {
		t.Errorf("CRM attempts while paused: %v, want only the throttled one", crmCalls)
	}
	if len(hooks) != 3 {
		t.Errorf("webhooks delivered during the pause: %v, want all 3", hooks)
	}
	throttled = false
	mu.Unlock()
	clk.Add(29 * time.Second)
	runOnce(t, w)
	mu.Lock()
	if len(crmCalls) != 1 {
		t.Errorf("CRM attempted before Retry-After passed: %v", crmCalls)
	}
	mu.Unlock()
	clk.Add(time.Second)
	for range 4 {
		runOnce(t, w)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range 3 {
		k := fmt.Sprintf("crm-%d", i)
		if want := map[bool]int{true: 2, false: 1}[i == 0]; crmCalls[k] != want {
			t.Errorf("%s attempted %d times, want %d", k, crmCalls[k], want)
		}
	}
	if items, err := st.ListOutbox(t.Context(), store.OutboxPending, store.OutboxParked); err != nil || len(items) != 0 {
		t.Errorf("outbox not drained: %+v %v", items, err)
	}
}
