// Package telephony declares what a phone-system connector is: a Source of call signals,
// and optionally a Dialer. Each connector lives in its own folder below this one.
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
	// State is "connected", "connecting" or "down", with a reason for the latter.
	State() (state string, reason string)
}

// ErrDialUnsupported says that a phone system cannot place calls for us.
var ErrDialUnsupported = errors.New("telephony: this phone system cannot place calls")
