package call

import "time"

// EventType names an event of the public API (stream messages, rules, webhooks).
type EventType string

// Event types. Their names are part of the public contract.
const (
	EvRinging     EventType = "call.ringing"      // a leg rings (inbound, internal)
	EvDialing     EventType = "call.dialing"      // a local phone dials out (outbound)
	EvAnswered    EventType = "call.answered"     // a leg talks
	EvWithdrawn   EventType = "call.withdrawn"    // a leg stops ringing: another answered, or the caller gave up
	EvTransferred EventType = "call.transferred"  // the call moves to another extension
	EvEnded       EventType = "call.ended"        // the call ended (answered, or not)
	EvMissed      EventType = "call.missed"       // an inbound call ended with no leg answered
	EvNotAnswered EventType = "call.not_answered" // an outbound call ended unanswered
)

// State is the state of a call or a leg.
type State string

// States of calls and legs.
const (
	Ringing  State = "ringing"
	Dialing  State = "dialing"
	Answered State = "answered"
	Ended    State = "ended"
)

// Remote is the remote party as the rest of Ringside sees it.
type Remote struct {
	Raw      string `json:"raw"`
	Number   string `json:"number,omitempty"` // E.164 when it parses
	Name     string `json:"name,omitempty"`
	Withheld bool   `json:"withheld,omitempty"`
}

// Leg is one local extension's part in a call.
type Leg struct {
	Extension  string    `json:"extension"`
	User       string    `json:"user,omitempty"`
	State      State     `json:"state"`
	RingingAt  time.Time `json:"ringing_at,omitzero"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	Cause      string    `json:"cause,omitempty"`
}

// Call is a snapshot of one call: safe to keep and to hand to other goroutines.
type Call struct {
	// ID is Ringside's own id of the call, given at first sight: unique across sources
	// and over time. The journal, the CRM activity and webhooks are keyed by it.
	ID string `json:"id"`
	// PbxID is the phone system's id of the call (unique only within Source, and only
	// for a while: a PBX may reuse it).
	PbxID      string    `json:"pbx_id,omitempty"`
	Source     string    `json:"source,omitempty"`
	Direction  Direction `json:"direction"`
	State      State     `json:"state"`
	Remote     Remote    `json:"remote"`
	DID        string    `json:"did,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	AnsweredBy string    `json:"answered_by,omitempty"` // extension that answered (last one, after transfers)
	Cause      string    `json:"cause,omitempty"`
	Missed     bool      `json:"missed,omitempty"`
	Legs       []Leg     `json:"legs"`
}

// Duration is the talk time: from answer to end (or to now for calls in progress).
func (c Call) Duration(now time.Time) time.Duration {
	if c.AnsweredAt.IsZero() {
		return 0
	}
	end := c.EndedAt
	if end.IsZero() {
		end = now
	}
	return end.Sub(c.AnsweredAt)
}

// An Event is what the tracker tells the rest of Ringside.
type Event struct {
	Type EventType `json:"type"`
	Call Call      `json:"call"`
	// Leg is the leg concerned, for per-leg events (ringing, dialing, answered,
	// withdrawn, transferred); nil for call-level events (ended, missed, not_answered).
	Leg *Leg `json:"leg,omitempty"`
	// From is the extension a transfer came from (call.transferred).
	From string    `json:"from,omitempty"`
	Time time.Time `json:"time"`
	// Resync marks an event caused by a resynchronisation (a reconnect, or another node
	// taking over the phone system): the call may have been popped already, so agents'
	// pages update the card without notifying or opening anything again.
	Resync bool `json:"resync,omitempty"`
}
