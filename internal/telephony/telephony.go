// Package telephony declares what a phone-system connector is: a Source of call signals,
// optionally a Dialer, the state words every source reports (Stater), and the
// extensions a source serves (Extensions). Each connector lives in its own folder below
// this one; the kit they share is in reconnect (the reconnect loop and the states) and
// cause (Q.850 and SIP codes to call causes).
package telephony

import (
	"context"
	"errors"

	"github.com/ringside/ringside/internal/call"
)

// A Source reports what one phone system does.
type Source interface {
	// Run connects, reconnects after transient faults, and passes every signal to emit
	// until ctx is done. It returns nil when ctx ends, and an error only when it cannot
	// go on (for example, the PBX rejects the credentials).
	Run(ctx context.Context, emit func(call.Signal)) error
}

// A Dialer places calls (click-to-dial). Sources that can, implement it too.
type Dialer interface {
	// Dial makes the phone on extension call number. It returns when the phone system
	// has accepted or refused the request; errors are said in the user's terms.
	Dial(ctx context.Context, extension, number string) error
}

// A Stater reports the state of a source's connection, for /readyz and metrics.
type Stater interface {
	// State is one of the state words (StateConnecting, StateUp, StateDown, StateFailed),
	// with why for down and failed.
	State() (state string, reason string)
}

// The state words every source reports (Describe joins a word and its reason).
const (
	// StateConnecting: the first connection is being made.
	StateConnecting = "connecting"
	// StateUp: connected, following calls.
	StateUp = "up"
	// StateDown: not connected; the reason says why, and the source keeps trying
	// (or was stopped: "stopped", or not started yet: "not started").
	StateDown = "down"
	// StateFailed: stopped for good; the reason says why (a refused password).
	StateFailed = "failed"
)

// Describe is a state as /readyz shows it: "up", "connecting", "down: why", "failed: why".
func Describe(state, reason string) string {
	if reason == "" {
		return state
	}
	return state + ": " + reason
}

// ErrDialUnsupported says that a phone system cannot place calls for us.
var ErrDialUnsupported = errors.New("telephony: this phone system cannot place calls")

// ErrDialUnavailable says that the phone system that would place the call is not
// connected right now (on this node, or on the node of a cluster that runs it). Trying
// again later may work.
var ErrDialUnavailable = errors.New("telephony: the phone system is not connected right now")
