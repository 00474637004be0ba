package reconnect

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/telephony"
)

// fakeClock is the Loop's clock in tests: Sleep records the wait and moves time on.
type fakeClock struct {
	now    time.Time
	waits  []time.Duration
	onWait func(n int) bool // false: ctx ended during the wait
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) bool {
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	if c.onWait != nil {
		return c.onWait(len(c.waits))
	}
	return true
}

func TestDelayJitterBounds(t *testing.T) {
	p := Policy{Min: time.Second, Max: 8 * time.Second, Jitter: 0.25}
	for n, base := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second} {
		lo, hi := p.Delay(n, 0), p.Delay(n, 0.999999)
		if lo != base*3/4 {
			t.Errorf("Delay(%d, 0) = %s, want %s", n, lo, base*3/4)
		}
		if hi > base*5/4 || hi < base*5/4-time.Millisecond {
			t.Errorf("Delay(%d, ~1) = %s, want just under %s", n, hi, base*5/4)
		}
		for _, r := range []float64{0.1, 0.5, 0.9} {
			if d := p.Delay(n, r); d < lo || d > hi {
				t.Errorf("Delay(%d, %v) = %s outside [%s, %s]", n, r, d, lo, hi)
			}
		}
	}
	if d := (Policy{Jitter: -1}).Delay(0, 0.9); d != DefaultMin {
		t.Errorf("no jitter: Delay = %s, want %s", d, DefaultMin)
	}
	if d := (Policy{}).Delay(100, 0.5); d != DefaultMax {
		t.Errorf("Delay(100) = %s, want the cap %s", d, DefaultMax)
	}
}

// TestLoop: failed connections back off doubling within the jitter bounds; a connection
// that stayed up for the stable period resets the backoff, a shorter one does not; a
// fatal error stops the loop at once and says failed; the state words are the shared
// ones all along.
func TestLoop(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	l := New(Policy{Min: time.Second, Max: 60 * time.Second, Jitter: 0.25, Stable: time.Minute},
		Options{Now: clk.Now, Sleep: clk.Sleep, Rand: func() float64 { return 0.5 }})
	if st, r := l.State(); st != telephony.StateDown || r != "not started" {
		t.Fatalf("before Run: %q %q", st, r)
	}
	refused := errors.New("connection refused")
	var states []string
	// Attempts: 3 failures, up for 10 s, 1 failure, up for 2 minutes (stable), failure,
	// then a refused password.
	script := []func(ctx context.Context) error{
		func(context.Context) error { return refused },
		func(context.Context) error { return refused },
		func(context.Context) error { return refused },
		func(context.Context) error {
			l.Up()
			clk.now = clk.now.Add(10 * time.Second)
			return errors.New("reset")
		},
		func(context.Context) error { return refused },
		func(context.Context) error { l.Up(); clk.now = clk.now.Add(2 * time.Minute); return nil },
		func(context.Context) error { return refused },
		func(context.Context) error { return Fatal(fmt.Errorf("login: %w", errBadPassword)) },
		func(context.Context) error { t.Fatal("connected again after a fatal error"); return nil },
	}
	i := 0
	err := l.Run(ctx, func(ctx context.Context) error {
		st, r := l.State()
		states = append(states, telephony.Describe(st, r))
		i++
		return script[i-1](ctx)
	})
	if !errors.Is(err, errBadPassword) || !IsFatal(err) {
		t.Fatalf("Run = %v, want the fatal error", err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, // failures
		8 * time.Second,  // up 10 s < stable: not reset
		16 * time.Second, // failure
		time.Second,      // up 2 min ≥ stable: reset
		2 * time.Second}  // failure
	if fmt.Sprint(clk.waits) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", clk.waits, want)
	}
	wantStates := []string{"connecting", "down: connection refused", "down: connection refused", "down: connection refused",
		"down: reset", "down: connection refused", "down: connection closed", "down: connection refused"}
	if fmt.Sprint(states) != fmt.Sprint(wantStates) {
		t.Errorf("states seen by each attempt:\n got %q\nwant %q", states, wantStates)
	}
	if st, r := l.State(); st != telephony.StateFailed || r != "login: bad password" {
		t.Errorf("after a fatal error: %q %q, want failed: login: bad password", st, r)
	}
	if l.Retries() != 7 {
		t.Errorf("Retries = %d, want 7", l.Retries())
	}
}

var errBadPassword = errors.New("bad password")

// TestLoopStops: cancelling during a wait or a connection ends Run with nil and says
// down: stopped.
func TestLoopStops(t *testing.T) {
	for _, during := range []string{"wait", "connection"} {
		t.Run(during, func(t *testing.T) {
			clk := &fakeClock{now: time.Now()}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			clk.onWait = func(int) bool { return during != "wait" }
			l := New(Policy{}, Options{Now: clk.Now, Sleep: clk.Sleep})
			n := 0
			err := l.Run(ctx, func(ctx context.Context) error {
				n++
				if during == "connection" && n == 2 {
					l.Up()
					cancel()
					<-ctx.Done()
					return ctx.Err()
				}
				return errors.New("refused")
			})
			if err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			if st, r := l.State(); st != telephony.StateDown || r != "stopped" {
				t.Errorf("state %q %q, want down: stopped", st, r)
			}
		})
	}
}

func TestFatal(t *testing.T) {
	if Fatal(nil) != nil {
		t.Error("Fatal(nil) != nil")
	}
	base := errors.New("x")
	err := fmt.Errorf("wrapped: %w", Fatal(base))
	if !IsFatal(err) || !errors.Is(err, base) {
		t.Errorf("IsFatal/Is lost through wrapping: %v", err)
	}
	if IsFatal(base) {
		t.Error("IsFatal(plain error)")
	}
}
