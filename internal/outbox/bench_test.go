package outbox

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/store"
)

// BenchmarkDeliver50ms: activities delivered per second by one node with the default
// pool to a CRM that answers in 50 ms, one stream per call (reported as items/s).
func BenchmarkDeliver50ms(b *testing.B) {
	for _, workers := range []int{1, 0} {
		name := "default-pool"
		if workers == 1 {
			name = "one-at-a-time"
		}
		b.Run(name, func(b *testing.B) {
			st, err := store.Open(b.Context(), store.Config{}, b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			n := max(b.N, 50)
			if workers == 1 {
				n = max(b.N, 20)
			}
			for i := range n {
				if _, err := st.Enqueue(b.Context(), store.OutboxItem{Kind: "crm.activity", Key: fmt.Sprint("call:", i), Group: fmt.Sprint("call:", i), Payload: []byte(`{}`)}); err != nil {
					b.Fatal(err)
				}
			}
			var done atomic.Int64
			all := make(chan struct{})
			crm := func(ctx context.Context, it store.OutboxItem) error {
				time.Sleep(50 * time.Millisecond)
				if done.Add(1) == int64(n) {
					close(all)
				}
				return nil
			}
			w := New(st, "bench", map[string]Handler{"crm.activity": crm}, nil, Options{Workers: workers})
			ctx, cancel := context.WithCancel(b.Context())
			b.ResetTimer()
			start := time.Now()
			go w.Run(ctx)
			<-all
			el := time.Since(start)
			b.StopTimer()
			cancel()
			b.ReportMetric(float64(n)/el.Seconds(), "items/s")
		})
	}
}
