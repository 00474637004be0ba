// Package telephonytest has fakes for connector and pipeline tests: a signal recorder.
package telephonytest

import (
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
)

// Recorder collects the signals a Source emits. Emit is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	signals []call.Signal
	changed chan struct{}
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{changed: make(chan struct{}, 1)} }

// Emit records s; pass it as a Source's emit function. The end-of-resync marks
// (call.SigResynced, one per connect) are not recorded: the connectors' replay goldens
// check them, and the recorder's users count calls' signals.
func (r *Recorder) Emit(s call.Signal) {
	if s.Kind == call.SigResynced {
		return
	}
	r.mu.Lock()
	r.signals = append(r.signals, s)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// Signals returns a copy of what was recorded so far.
func (r *Recorder) Signals() []call.Signal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call.Signal(nil), r.signals...)
}

// WaitFor waits until cond holds for the recorded signals, or fails the test after d.
func (r *Recorder) WaitFor(t testing.TB, d time.Duration, cond func([]call.Signal) bool) []call.Signal {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s := r.Signals()
		if cond(s) {
			return s
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("timed out after %s; signals so far: %+v", d, s)
			return nil
		}
	}
}
