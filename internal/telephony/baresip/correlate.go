package baresip

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/cause"
)

// Message is one JSON object baresip sends over ctrl_tcp: an event ("event":true) or
// the reply to a command ("response":true). Every field is untrusted.
type Message struct {
	Event      bool   `json:"event"`
	Response   bool   `json:"response"`
	Type       string `json:"type"`
	Class      string `json:"class"`
	AccountAOR string `json:"accountaor"`
	Direction  string `json:"direction"`
	PeerURI    string `json:"peeruri"`
	PeerName   string `json:"peerdisplayname"`
	ID         string `json:"id"`
	Param      string `json:"param"`
	OK         bool   `json:"ok"`
	Data       string `json:"data"`
	Token      string `json:"token"`
}

// ParseMessage decodes one netstring payload.
func ParseMessage(b []byte) (Message, error) {
	var m Message
	err := json.Unmarshal(b, &m)
	return m, err
}

// Limits on untrusted text in signals.
const (
	maxNumber = 128
	maxName   = 256
	maxID     = 256
)

// clean makes s valid UTF-8 without control characters and at most n bytes long.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// UserOf returns the user part of a SIP or tel URI ("sip:+4930@host:5060;x" → "+4930").
func UserOf(uri string) string {
	u := strings.TrimSpace(uri)
	u = strings.TrimPrefix(strings.TrimSuffix(u, ">"), "<")
	for _, p := range []string{"sip:", "sips:", "tel:"} {
		if len(u) >= len(p) && strings.EqualFold(u[:len(p)], p) {
			u = u[len(p):]
			break
		}
	}
	if i := strings.IndexByte(u, '@'); i >= 0 {
		u = u[:i]
	} else if strings.Contains(uri, "sip") {
		// sip:host only: there is no user.
		if i := strings.IndexAny(u, ";?"); i >= 0 {
			u = u[:i]
		}
		if !strings.ContainsAny(u, "0123456789") || strings.Contains(u, ".") {
			return ""
		}
	}
	if i := strings.IndexAny(u, ";?"); i >= 0 {
		u = u[:i]
	}
	if d, err := url.PathUnescape(u); err == nil {
		u = d
	}
	return u
}

// legState is what the correlator remembers of one call of the softphone.
type legState struct {
	outgoing    bool
	established bool
}

// correlator turns baresip's events into call signals for one softphone. It is not safe
// for concurrent use: the connection's reader owns it.
type correlator struct {
	cfg    Config
	source string
	emit   func(call.Signal)
	calls  map[string]*legState
	// lastDial is the peer of the most recent outgoing call that has no id yet (baresip
	// 1.0 reports no CALL_OUTGOING: the first outgoing event lacks the id).
	lastDial string
}

func newCorrelator(cfg Config, source string, emit func(call.Signal)) *correlator {
	return &correlator{cfg: cfg, source: source, emit: emit, calls: map[string]*legState{}}
}

func (c *correlator) extension(m Message) string {
	if c.cfg.Extension != "" {
		return c.cfg.Extension
	}
	return clean(UserOf(m.AccountAOR), maxNumber)
}

func (c *correlator) inboundDirection(number string) call.Direction {
	if c.cfg.Incoming == "internal" {
		return call.Internal
	}
	if n := c.cfg.InternalMaxDigits; n > 0 && number != "" && len(number) <= n && strings.Trim(number, "0123456789") == "" {
		return call.Internal
	}
	return call.Inbound
}

// handle applies one event.
func (c *correlator) handle(m Message) {
	if !m.Event || m.Class != "call" && m.Type != "CALL_LOCAL_SDP" {
		return
	}
	outgoing := m.Direction == "outgoing"
	if m.ID == "" {
		if outgoing {
			c.lastDial = m.PeerURI
		}
		return
	}
	id := clean(m.ID, maxID)
	st := c.calls[id]
	base := call.Signal{Source: c.source, CallID: id, Extension: c.extension(m), Time: c.cfg.Now(),
		Remote: call.Party{Number: clean(UserOf(m.PeerURI), maxNumber), Name: clean(m.PeerName, maxName)}}
	if st == nil {
		switch m.Type {
		case "CALL_INCOMING", "CALL_RINGING", "CALL_PROGRESS", "CALL_ESTABLISHED", "CALL_CLOSED", "CALL_ANSWERED":
		default:
			return
		}
		if m.Type == "CALL_INCOMING" {
			outgoing = false
		}
		st = &legState{outgoing: outgoing}
		c.calls[id] = st
		first := base
		if outgoing {
			first.Kind, first.Direction = call.SigDialing, call.Outbound
			if m.PeerURI == c.lastDial {
				c.lastDial = ""
			}
		} else {
			first.Kind, first.Direction = call.SigRinging, c.inboundDirection(base.Remote.Number)
		}
		c.emit(first)
	}
	dir := call.Outbound
	if !st.outgoing {
		dir = c.inboundDirection(base.Remote.Number)
	}
	base.Direction = dir
	switch m.Type {
	case "CALL_ESTABLISHED":
		if st.established {
			return
		}
		st.established = true
		s := base
		s.Kind = call.SigAnswered
		c.emit(s)
	case "CALL_CLOSED":
		delete(c.calls, id)
		s := base
		s.Kind, s.Cause = call.SigEnded, Cause(m.Param, st.outgoing, st.established)
		c.emit(s)
		s.Extension = ""
		c.emit(s)
	}
}

// Cause maps the param of CALL_CLOSED (a reason text or a SIP status line) to a call
// cause.
func Cause(param string, outgoing, established bool) string {
	if established {
		return call.CauseNormal
	}
	p := strings.ToLower(strings.TrimSpace(param))
	code := 0
	if len(p) >= 3 {
		code, _ = strconv.Atoi(p[:3])
	}
	if c := cause.SIP(code); code >= 300 && c != "" {
		return c // the table every connector shares
	}
	switch {
	case strings.Contains(p, "timed out"):
		return call.CauseNoAnswer
	case strings.Contains(p, "reset by user"):
		// The person at this softphone hung up before anyone talked.
		if outgoing {
			return call.CauseCancelled
		}
		return call.CauseRejected
	case strings.Contains(p, "reset by peer"):
		if outgoing {
			return call.CauseRejected
		}
		return call.CauseCancelled
	}
	return call.CauseFailed
}
