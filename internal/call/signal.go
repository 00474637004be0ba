// Package call holds the call model and the tracker that turns what phone systems report
// (Signals) into the call events the rest of Ringside sees (Events).
package call

import "time"

// Direction is a call's direction as the organisation sees it.
type Direction string

// Directions of a call.
const (
	Unknown  Direction = ""
	Inbound  Direction = "inbound"  // outside → us
	Outbound Direction = "outbound" // us → outside
	Internal Direction = "internal" // extension to extension
)

// SignalKind says what a phone system reported about a call or one of its legs.
type SignalKind string

// Signal kinds a telephony source emits.
const (
	// SigRinging: a local phone (Extension) rings for an inbound or internal call.
	SigRinging SignalKind = "ringing"
	// SigDialing: a local phone (Extension) places an outbound call to Remote.
	SigDialing SignalKind = "dialing"
	// SigAnswered: the leg on Extension talks to the remote party. Without Extension, the
	// remote party answered an outbound call.
	SigAnswered SignalKind = "answered"
	// SigEnded: the leg on Extension ended (stopped ringing or hung up); without
	// Extension, the whole call ended.
	SigEnded SignalKind = "ended"
	// SigTransferred: the call moves from Extension to TransferTo.
	SigTransferred SignalKind = "transferred"
	// SigResynced: the source finished a resynchronisation with the phone system (after a
	// connect); Live lists the CallIDs of every call the phone system has now. Calls of
	// the source that Ringside holds and that are not in it ended while nobody was looking
	// (across a restart, a takeover): they end now with CauseEndNotSeen. CallID is empty.
	SigResynced SignalKind = "resynced"
)

// End causes. A connector maps its own causes onto these; anything else stays as given.
const (
	CauseNormal            = "normal"
	CauseBusy              = "busy"
	CauseNoAnswer          = "no_answer"
	CauseCancelled         = "cancelled" // the caller gave up while ringing
	CauseRejected          = "rejected"
	CauseFailed            = "failed"    // unreachable, congestion, not found
	CauseAbandoned         = "abandoned" // gave up in a queue
	CauseAnsweredElsewhere = "answered_elsewhere"
)

// Party is the remote side of a call as a phone system reported it. Everything in it is
// untrusted input: a caller sets the name and often the number to anything.
type Party struct {
	Number string // as received (raw), "" or "anonymous" when withheld
	Name   string // display name, as received
}

// A Signal is one thing a telephony source saw. Sources only emit signals; the Tracker
// alone decides what they mean for the call.
type Signal struct {
	Source     string     // name of the emitting source (config name or kind)
	CallID     string     // the source's id for the whole conversation (stable for its life)
	Kind       SignalKind // what happened
	Direction  Direction  // as the organisation sees it; Unknown if the source cannot tell
	Extension  string     // the local phone (leg) concerned; "" for the call as a whole
	User       string     // optional: route the leg to this user name instead of by extension
	Remote     Party      // the remote party (on the first signal of a call at least)
	DID        string     // optional: the number or queue the caller dialled
	Cause      string     // with SigEnded: one of the Cause constants or the source's own word
	TransferTo string     // with SigTransferred: the extension that gets the call
	Time       time.Time  // when it happened at the source; zero = now
	// Live is, with SigResynced, the CallIDs of the calls the phone system has now.
	Live []string `json:",omitempty"`
	// Resync marks a signal replayed from a resynchronisation (e.g. after a reconnect):
	// the tracker applies it without emitting events for states it already knew.
	Resync bool
}
