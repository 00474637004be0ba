package esl

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/ringside/ringside/internal/call"
)

// TestBackoff: while FreeSWITCH is unreachable the source keeps trying (the waits are
// package reconnect's, tested there), says down with the reason while it does, and
// cancelling the context ends Run with nil and the state down: stopped.
func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		attempts := 0
		var states []string
		var src *Source
		cfg := Config{DialContext: func(context.Context, string, string) (net.Conn, error) {
			attempts++
			if attempts > 1 {
				st, reason := src.State()
				states = append(states, st+": "+reason)
			}
			if attempts == 12 {
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
		if attempts != 12 {
			t.Errorf("%d attempts, want 12", attempts)
		}
		for i, st := range states {
			if !strings.HasPrefix(st, "down: connect: connection refused") {
				t.Errorf("state while retrying (attempt %d): %q", i+2, st)
			}
		}
		if st, reason := src.State(); st != "down" || reason != "stopped" {
			t.Errorf("state after Run: %q %q", st, reason)
		}
		if got := src.Stats().Reconnects; got != 11 {
			t.Errorf("Reconnects = %d, want 11", got)
		}
	})
}
