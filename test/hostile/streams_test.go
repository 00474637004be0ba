package hostile

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/companion"
	"github.com/ringside/ringside/internal/testenv"
)

// TestStreamFlood: one agent token opens 500 streams. Only the per-user cap is accepted,
// the rest are refused with a reason, and another agent's pop still arrives within a
// second.
func TestStreamFlood(t *testing.T) {
	raiseFileLimit(t, 4096)
	n := start(t, "", map[string]string{"alice": "200", "bob": "201"})
	bob := n.connect(t, n.tokens["bob"], nil)

	var accepted, refused atomic.Int64
	var reasonOnce sync.Once
	reason := ""
	var wg sync.WaitGroup
	work := make(chan int)
	var mu sync.Mutex
	var open []*websocket.Conn
	for range 25 {
		wg.Go(func() {
			for range work {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				ws, resp, err := dialStream(ctx, n.url, n.tokens["alice"], nil)
				cancel()
				if err != nil {
					if resp == nil {
						t.Errorf("stream refused without an HTTP answer: %v", err)
						continue
					}
					refused.Add(1)
					b, _ := io.ReadAll(resp.Body)
					reasonOnce.Do(func() { reason = resp.Status + " " + string(b) })
					continue
				}
				accepted.Add(1)
				mu.Lock()
				open = append(open, ws)
				mu.Unlock()
			}
		})
	}
	for i := range 500 {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Cleanup(func() {
		for _, ws := range open {
			ws.CloseNow()
		}
	})
	t.Logf("500 streams for one token: %d accepted, %d refused (%s)", accepted.Load(), refused.Load(), reason)
	if accepted.Load() > 10 {
		t.Errorf("%d streams accepted for one user; the cap is 10", accepted.Load())
	}
	if !strings.HasPrefix(reason, "429") || !strings.Contains(reason, "streams") {
		t.Errorf("a refused stream should say why with 429: %q", reason)
	}

	t0 := time.Now()
	n.event(t, `{"event":"ringing","call_id":"sf-1","from":"+4930123456","extension":"201"}`)
	bob.Until(t, time.Second, "bob's pop within a second", func(m testenv.Msg) bool { return m.Type == "call.ringing" && m.Call.ID != "" })
	t.Logf("bob's pop after %s", time.Since(t0).Round(time.Millisecond))
}

// TestCompanionCaps: companion connections per user are capped, and the signal rate
// counts per user, not per connection.
func TestCompanionCaps(t *testing.T) {
	n := start(t, "", map[string]string{"alice": "200"})
	var conns []*websocket.Conn
	refused := 0
	for range 5 {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.url, "http")+"/api/v1/companion",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + n.tokens["alice"]}}})
		cancel()
		if err != nil {
			if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("companion refused without a 429: %v", err)
			}
			refused++
			continue
		}
		t.Cleanup(func() { ws.CloseNow() })
		conns = append(conns, ws)
	}
	if len(conns) > 2 {
		t.Fatalf("%d companion connections accepted for one user; the cap is 2", len(conns))
	}
	// Two connections, 60 signals each within a second: at most 50 a second per user.
	for _, ws := range conns {
		for i := range 60 {
			b, _ := json.Marshal(companion.Signal{Type: companion.TypeSignal, Kind: "ringing", CallID: "c" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Extension: "200"})
			ws.Write(t.Context(), websocket.MessageText, b)
		}
	}
	// A negative check: watch the journal for two seconds; it must never hold more than
	// the per-user cap of open calls.
	count := func() int {
		_, body := do(t, nil, "GET", n.url+"/api/v1/calls?limit=1000", n.tokens["alice"], "", "")
		var r struct {
			Calls []any `json:"calls"`
		}
		json.Unmarshal([]byte(body), &r)
		return len(r.Calls)
	}
	most := 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		most = max(most, count())
		if most > 32 {
			break
		}
	}
	t.Logf("calls journaled from 2 companions x 60 signals: %d", most)
	if most == 0 || most > 32 {
		t.Errorf("%d calls from one user's companions; open calls per user are capped at 32", most)
	}
}
