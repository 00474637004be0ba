//go:build !windows

package fault

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowAgent: a browser that stops reading does not slow anyone else down, and is
// disconnected after a bound.
func TestSlowAgent(t *testing.T) {
	n := startNode(t, "telephony:\n  - {kind: webhook}\n", map[string]string{"alice": "200", "bob": "201"}, nil)
	alice := n.connect(t, "alice", true, 0)
	n.connect(t, "bob", false, 4096) // connected, never reads, tiny receive buffer
	if !n.srv.Hub().Online("bob") {
		t.Fatal("bob is not online")
	}

	name := strings.Repeat("Slow Reader ", 300) // ~3.6 kB per pop
	var (
		mu      sync.Mutex
		slowest time.Duration
	)
	post := func(body string) {
		start := time.Now()
		n.post(t, body)
		mu.Lock()
		slowest = max(slowest, time.Since(start))
		mu.Unlock()
	}
	alicePops := 0
	start := time.Now()
	var droppedAfter time.Duration
	for i := 0; i < 20000; i++ {
		post(fmt.Sprintf(`{"event":"ringing","call_id":"bob-%d","from":"+49301234%04d","from_name":%q,"extension":"201"}`, i, i%10000, name))
		if i%20 == 0 {
			post(fmt.Sprintf(`{"event":"ringing","call_id":"alice-%d","from":"+49305555%04d","extension":"200"}`, i, i%10000))
			alicePops++
		}
		if !n.srv.Hub().Online("bob") {
			droppedAfter = time.Since(start)
			break
		}
	}
	if droppedAfter == 0 {
		t.Fatal("bob was never disconnected")
	}
	t.Logf("bob dropped after %s; slowest event POST %s", droppedAfter, slowest)
	if n.srv.Hub().Dropped() == 0 {
		t.Fatal("the hub does not count bob as dropped")
	}
	// Alice got every pop, bob's backlog notwithstanding.
	got := 0
	alice.until(t, 20*time.Second, "all of alice's pops", func(m msg) bool {
		if m.Type == "call.ringing" && strings.HasPrefix(m.Call.PbxID, "alice-") {
			got++
		}
		return got == alicePops
	})
	// The bound: the hub gives a stuck connection one write timeout (5s) at most once
	// its queue is full; the generous limit keeps this test steady on a busy machine.
	if droppedAfter > 60*time.Second {
		t.Fatalf("bob dropped only after %s", droppedAfter)
	}
	if slowest > 5*time.Second {
		t.Fatalf("an event POST took %s while bob hung", slowest)
	}
}
