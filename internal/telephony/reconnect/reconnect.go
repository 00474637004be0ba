// Package reconnect is the one reconnect loop of the connectors: it runs a connection,
// and when it ends starts it again after a backoff with jitter, resets the backoff once a
// connection has been up for a stable period, stops for good on a fatal error (a refused
// password), and reports the state words every source shares (telephony.Stater):
// connecting, up, down with why, failed with why.
package reconnect

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/telephony"
)

// Policy is how a Loop waits between connections. Zero fields take the defaults.
type Policy struct {
	// Min is the wait after the first failure. Default 500ms.
	Min time.Duration
	// Max caps the wait; it doubles from Min up to Max. Default 30s.
	Max time.Duration
	// Jitter spreads each wait by ± this fraction, so that many clients do not reconnect
	// in step. Default 0.25; negative means none.
	Jitter float64
	// Stable is how long a connection must have been up for the next failure to count as
	// a new fault (the wait starts again from Min). Default 30s.
	Stable time.Duration
}

// Defaults of Policy.
const (
	DefaultMin    = 500 * time.Millisecond
	DefaultMax    = 30 * time.Second
	DefaultJitter = 0.25
	DefaultStable = 30 * time.Second
)

func (p Policy) withDefaults() Policy {
	if p.Min <= 0 {
		p.Min = DefaultMin
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	p.Max = max(p.Max, p.Min)
	if p.Jitter == 0 {
		p.Jitter = DefaultJitter
	}
	p.Jitter = min(max(p.Jitter, 0), 1)
	if p.Stable <= 0 {
		p.Stable = DefaultStable
	}
	return p
}

// Delay is the wait before retry n (0 after the first failure) for a random r in [0, 1):
// Min doubled n times, capped at Max, spread by ±Jitter.
func (p Policy) Delay(n int, r float64) time.Duration {
	p = p.withDefaults()
	d := p.Min
	for i := 0; i < n && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	return time.Duration(float64(d) * (1 - p.Jitter + 2*p.Jitter*r))
}

// A fatalError is one that retrying cannot fix.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// Fatal marks err as one that retrying cannot fix (the phone system refuses the
// credentials, the platform has no such interface): the Loop stops and returns it.
// errors.Is and errors.As still see err. Fatal(nil) is nil.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return &fatalError{err}
}

// IsFatal reports whether err was marked with Fatal.
func IsFatal(err error) bool {
	var fe *fatalError
	return errors.As(err, &fe)
}

// Options are the parts tests replace. Every field is optional.
type Options struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends (false). Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) bool
	// Rand returns a number in [0, 1) for the jitter. Default math/rand/v2.
	Rand func() float64
	// Log gets a warning per reconnect. Default: discarded.
	Log *slog.Logger
}

// A Loop runs one source's connections and holds its state. Build it with New; Run it
// once. Its methods are safe for concurrent use.
type Loop struct {
	p   Policy
	opt Options

	mu      sync.Mutex
	state   string
	reason  string
	upSince time.Time
	retries int
}

// New returns a Loop whose state is down: not started.
func New(p Policy, opt Options) *Loop {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Sleep == nil {
		opt.Sleep = sleep
	}
	if opt.Rand == nil {
		opt.Rand = rand.Float64
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &Loop{p: p.withDefaults(), opt: opt, state: telephony.StateDown, reason: "not started"}
}

// State reports the source's state (telephony.Stater): connecting, up, down or failed,
// with why for the last two.
func (l *Loop) State() (string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state, l.reason
}

// Retries returns how many connections were started after the first.
func (l *Loop) Retries() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.retries
}

// Up says that the connection now works (logged in, subscribed): the state becomes up,
// and the stable period starts.
func (l *Loop) Up() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != telephony.StateUp {
		l.upSince = l.opt.Now()
	}
	l.state, l.reason = telephony.StateUp, ""
}

// Down says that the connection, though not ended, does not work right now (a source
// that keeps trying within one connection, such as sipwatch's subscriptions).
func (l *Loop) Down(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state, l.reason = telephony.StateDown, reason
}

// Fail says that the source stopped for good for a reason the Loop did not see (a part
// it depends on gave up).
func (l *Loop) Fail(reason string) { l.set(telephony.StateFailed, reason) }

func (l *Loop) set(state, reason string) {
	l.mu.Lock()
	l.state, l.reason = state, reason
	l.mu.Unlock()
}

// Run calls connect until ctx ends, and returns nil then. connect runs one connection:
// it calls Up once the connection works, and returns when it ends (nil or an error: the
// loop retries after a backoff) or with an error marked Fatal, which Run returns after
// setting the state to failed. The state is connecting until the first connection is up
// or fails; down with the error while waiting to retry (and while retrying).
func (l *Loop) Run(ctx context.Context, connect func(ctx context.Context) error) error {
	n := 0
	first := true
	for {
		if first {
			l.set(telephony.StateConnecting, "")
		}
		err := connect(ctx)
		if ctx.Err() != nil {
			l.set(telephony.StateDown, "stopped")
			return nil
		}
		if IsFatal(err) {
			l.set(telephony.StateFailed, err.Error())
			return err
		}
		if err == nil {
			err = errors.New("connection closed")
		}
		l.mu.Lock()
		if !l.upSince.IsZero() && l.opt.Now().Sub(l.upSince) >= l.p.Stable {
			n = 0 // it was up for a while: this is a new fault
		}
		l.upSince = time.Time{}
		l.state, l.reason = telephony.StateDown, err.Error()
		l.mu.Unlock()
		first = false
		d := l.p.Delay(n, l.opt.Rand())
		n++
		l.opt.Log.Warn("reconnecting", "err", err, "in", d.Round(time.Millisecond))
		if !l.opt.Sleep(ctx, d) {
			l.set(telephony.StateDown, "stopped")
			return nil
		}
		l.mu.Lock()
		l.retries++
		l.mu.Unlock()
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

var _ telephony.Stater = (*Loop)(nil)
