package companion

import (
	"time"

	"github.com/ringside/ringside/internal/call"
)

// Message types of the companion protocol (GET /api/v1/companion, one JSON object per
// WebSocket text message). See README.md.
const (
	// Server → companion.
	TypeHello  = "companion.hello" // the session id and the user's extensions
	TypeDial   = "dial"            // place a call on the local phone
	TypeAnswer = "answer"          // answer the local phone's ringing call
	TypeHangup = "hangup"          // hang up (or reject) the local phone's call
	// Companion → server.
	TypeSignal = "signal"      // a call signal of the local phone
	TypeResult = "dial_result" // the outcome of dial, answer or hangup
	TypeStatus = "status"      // the local phone's connection state
)

// Hello is the server's greeting to a companion (after the stream's own "hello").
type Hello struct {
	Type       string   `json:"type"`
	Session    string   `json:"session"`
	User       string   `json:"user"`
	Extensions []string `json:"extensions"`
}

// Request is a dial, answer or hangup request. Session names the companion connection
// that must act (a user may run several; the others ignore it).
type Request struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Session   string `json:"session"`
	Number    string `json:"number,omitempty"`
	Extension string `json:"extension,omitempty"`
	CallID    string `json:"call_id,omitempty"`
}

// Result answers a Request; Error is "" when the phone took it.
type Result struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Error string `json:"error"`
}

// Status reports the local phone's connection.
type Status struct {
	Type   string `json:"type"`
	Phone  string `json:"phone"` // connecting, connected, down
	Reason string `json:"reason,omitempty"`
}

// Remote is the remote party of a signal.
type Remote struct {
	Number string `json:"number,omitempty"`
	Name   string `json:"name,omitempty"`
}

// Signal is a call signal of the local phone, as the companion sends it. The server
// builds the call.Signal from it: Source "companion:<user>", the call id in the user's
// namespace, and an extension that must be one of the user's.
type Signal struct {
	Type      string          `json:"type"`
	Kind      call.SignalKind `json:"kind"`
	CallID    string          `json:"call_id"`
	Direction call.Direction  `json:"direction,omitempty"`
	Extension string          `json:"extension,omitempty"`
	Remote    Remote          `json:"remote"`
	Cause     string          `json:"cause,omitempty"`
	Time      time.Time       `json:"time"`
	Resync    bool            `json:"resync,omitempty"`
}

// SignalOf converts a call.Signal for the wire.
func SignalOf(s call.Signal) Signal {
	return Signal{Type: TypeSignal, Kind: s.Kind, CallID: s.CallID, Direction: s.Direction, Extension: s.Extension,
		Remote: Remote{Number: s.Remote.Number, Name: s.Remote.Name}, Cause: s.Cause, Time: s.Time, Resync: s.Resync}
}

// Pop is what the companion reads of a stream message (the same messages as
// /api/v1/stream).
type Pop struct {
	Type   string `json:"type"`
	Resync bool   `json:"resync"`
	Pop    bool   `json:"pop"`
	Call   *struct {
		ID        string `json:"id"`
		Direction string `json:"direction"`
		Remote    struct {
			Raw      string `json:"raw"`
			Number   string `json:"number"`
			Name     string `json:"name"`
			Withheld bool   `json:"withheld"`
		} `json:"remote"`
	} `json:"call"`
	Matches []struct {
		Entity  string `json:"entity"`
		Name    string `json:"name"`
		Company string `json:"company"`
		URL     string `json:"url"`
	} `json:"matches"`
	Actions []struct {
		Do     string `json:"do"`
		URL    string `json:"url"`
		Target string `json:"target"`
		Title  string `json:"title"`
		Text   string `json:"text"`
	} `json:"actions"`
}
