package esl

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ringside/ringside/internal/call"
)

// TestBackoff: while FreeSWITCH is unreachable, attempts are spaced by a doubling delay
// (0.5 s up to 30 s) with ±25 % jitter, and cancelling the context ends Run with nil.
func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var attempts []time.Time
		var states []string
		var src *Source
		cfg := Config{DialContext: func(context.Context, string, string) (net.Conn, error) {
			attempts = append(attempts, time.Now())
			if len(attempts) > 1 {
				st, reason := src.State()
				states = append(states, st+": "+reason)
			}
			if len(attempts) == 12 {
				cancel()
			}
			return nil, errors.New("connection refused")
		}}
		src, err := New("esl", cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := src.Run(ctx, func(call.Signal) {}); err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
		base := 500 * time.Millisecond
		for i := 1; i < len(attempts); i++ {
			gap := attempts[i].Sub(attempts[i-1])
			if gap < base*3/4 || gap > base*5/4 {
				t.Errorf("attempt %d came %s after the previous one, want %s ±25%%", i+1, gap, base)
			}
			base = min(2*base, 30*time.Second)
		}
		if !strings.HasPrefix(states[0], "connecting: connect: connection refused") {
			t.Errorf("state while retrying: %q", states[0])
		}
		if st, _ := src.State(); st != "down" {
			t.Errorf("state after Run: %q", st)
		}
	})
}
