package rules

import (
	"slices"
	"strings"

	"github.com/ringside/ringside/internal/call"
)

// Events rules can name in `on`. Their names are part of the public contract.
const (
	InboundRinging      = "inbound.ringing"
	InboundAnswered     = "inbound.answered"
	InboundMissed       = "inbound.missed"
	InboundEnded        = "inbound.ended"
	OutboundDialing     = "outbound.dialing"
	OutboundAnswered    = "outbound.answered"
	OutboundNotAnswered = "outbound.not_answered"
	OutboundEnded       = "outbound.ended"
	InternalDialing     = "internal.dialing"
	InternalRinging     = "internal.ringing"
	InternalAnswered    = "internal.answered"
	InternalMissed      = "internal.missed"
	InternalEnded       = "internal.ended"
	CallTransferred     = "call.transferred"
)

// Events lists every event name, in documentation order.
var Events = []string{
	InboundRinging, InboundAnswered, InboundMissed, InboundEnded,
	OutboundDialing, OutboundAnswered, OutboundNotAnswered, OutboundEnded,
	InternalDialing, InternalRinging, InternalAnswered, InternalMissed, InternalEnded,
	CallTransferred,
}

// EventOf names the rule event of a tracker event, or "" when rules do not see it
// (call.withdrawn; call.ended of an unanswered call, which is inbound.missed or
// outbound.not_answered instead).
func EventOf(ev call.Event) string {
	dir := string(ev.Call.Direction)
	if dir == "" {
		dir = string(call.Inbound)
	}
	switch ev.Type {
	case call.EvRinging:
		if ev.Call.Direction == call.Outbound {
			return "" // a transfer target of an outgoing call: popped, but no rule event
		}
		return dir + ".ringing"
	case call.EvDialing:
		if ev.Call.Direction == call.Inbound {
			return ""
		}
		return dir + ".dialing"
	case call.EvAnswered:
		return dir + ".answered"
	case call.EvTransferred:
		return CallTransferred
	case call.EvEnded:
		if ev.Call.AnsweredAt.IsZero() {
			return ""
		}
		return dir + ".ended"
	case call.EvMissed:
		if ev.Call.Direction == call.Outbound {
			return OutboundNotAnswered
		}
		return dir + ".missed"
	case call.EvNotAnswered:
		return OutboundNotAnswered
	}
	return ""
}

// Popable reports whether a stream message of this type is a pop that the `pop` action
// decides on: ringing and dialing. Other messages (answered, withdrawn, ended, …) keep a
// card that is already shown up to date and are always sent.
func Popable(t call.EventType) bool { return t == call.EvRinging || t == call.EvDialing }

// validEvent reports whether s is an event or a wildcard (inbound.*, outbound.*,
// internal.*, *) naming at least one event.
func validEvent(s string) bool {
	if s == "*" {
		return true
	}
	if p, ok := strings.CutSuffix(s, ".*"); ok {
		return p == "inbound" || p == "outbound" || p == "internal" || p == "call"
	}
	return slices.Contains(Events, s)
}

// eventMatches reports whether pattern (an event or a wildcard) takes event.
func eventMatches(pattern, event string) bool {
	if pattern == "*" || pattern == event {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, ".*"); ok {
		return strings.HasPrefix(event, p+".")
	}
	return false
}

// expand returns the events a list of patterns takes.
func expand(patterns []string) []string {
	var out []string
	for _, e := range Events {
		for _, p := range patterns {
			if eventMatches(p, e) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}
