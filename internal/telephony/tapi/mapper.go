package tapi

import (
	"strconv"
	"time"

	"github.com/ringside/ringside/internal/call"
)

// Mapper turns TAPI call-state and call-info messages into call signals. It is
// platform-independent: the Windows layer feeds it what lineGetMessage and
// lineGetCallInfo return. It is not safe for concurrent use (the message loop owns it).
type Mapper struct {
	source string
	ext    func(line uint32) string
	now    func() time.Time
	emit   func(call.Signal)
	calls  map[uint32]*tcall // by call handle
}

type tcall struct {
	id        string
	ext       string
	dir       call.Direction
	remote    call.Party
	announced bool // ringing or dialing sent
	answered  bool
	ended     bool
	busy      bool
}

// NewMapper returns a mapper; ext gives the extension of a line device (its configured
// extension), now the clock (TAPI messages carry no time).
func NewMapper(source string, ext func(line uint32) string, now func() time.Time, emit func(call.Signal)) *Mapper {
	if now == nil {
		now = time.Now
	}
	return &Mapper{source: source, ext: ext, now: now, emit: emit, calls: map[uint32]*tcall{}}
}

// Direction maps dwOrigin to a call direction.
func Direction(origin uint32) call.Direction {
	switch {
	case origin&OriginOutbound != 0:
		return call.Outbound
	case origin&OriginInternal != 0:
		return call.Internal
	default:
		return call.Inbound
	}
}

// remoteOf picks the other party: the caller of an incoming call, the called (or
// connected) party of an outgoing one.
func remoteOf(dir call.Direction, info CallInfo) call.Party {
	p := info.Caller
	if dir == call.Outbound {
		p = info.Called
		if p.Number == "" {
			p = info.Connected
		}
	}
	r := call.Party{Number: p.Number, Name: p.Name}
	if p.Withheld() {
		r.Number = "anonymous"
	}
	return r
}

func (m *Mapper) get(h uint32, info CallInfo) *tcall {
	c := m.calls[h]
	if c == nil {
		c = &tcall{id: "h" + strconv.FormatUint(uint64(h), 16)}
		if info.CallID != 0 {
			c.id = strconv.FormatUint(uint64(info.LineDeviceID), 10) + "-" + strconv.FormatUint(uint64(info.CallID), 10)
		}
		if m.ext != nil {
			c.ext = m.ext(info.LineDeviceID)
		}
		c.dir = Direction(info.Origin)
		m.calls[h] = c
	}
	if r := remoteOf(c.dir, info); r.Number != "" || r.Name != "" {
		if c.remote.Number == "" || c.remote.Number == "anonymous" && r.Number != "anonymous" {
			c.remote.Number = r.Number
		}
		if c.remote.Name == "" {
			c.remote.Name = r.Name
		}
	}
	return c
}

func (m *Mapper) signal(c *tcall, kind call.SignalKind, resync bool) call.Signal {
	return call.Signal{Source: m.source, CallID: c.id, Kind: kind, Direction: c.dir, Extension: c.ext,
		Remote: c.remote, Time: m.now(), Resync: resync}
}

// announce sends ringing (incoming) or dialing (outgoing) once.
func (m *Mapper) announce(c *tcall, resync bool) {
	if c.announced {
		return
	}
	c.announced = true
	if c.dir == call.Outbound {
		m.emit(m.signal(c, call.SigDialing, resync))
	} else {
		m.emit(m.signal(c, call.SigRinging, resync))
	}
}

// CallState applies LINE_CALLSTATE for call handle h (dwParam1 state, dwParam2 detail)
// with the call's current LINECALLINFO. It reports whether the handle is idle and must
// be deallocated (lineDeallocateCall).
func (m *Mapper) CallState(h uint32, state, detail uint32, info CallInfo) (idle bool) {
	return m.apply(h, state, detail, info, false)
}

// Resync applies the state of a call found when the line was opened (lineGetNewCalls and
// lineGetCallStatus): signals carry Resync so the tracker does not pop it again.
func (m *Mapper) Resync(h uint32, state, detail uint32, info CallInfo) (idle bool) {
	return m.apply(h, state, detail, info, true)
}

func (m *Mapper) apply(h uint32, state, detail uint32, info CallInfo, resync bool) bool {
	c := m.get(h, info)
	switch state {
	case StateOffering, StateAccepted:
		if c.dir == call.Outbound {
			c.dir = call.Inbound // an offered call is incoming, whatever the origin said
			c.remote = remoteOf(c.dir, info)
		}
		m.announce(c, resync)
	case StateDialing, StateProceeding, StateRingback:
		c.dir = call.Outbound
		c.remote = remoteOf(c.dir, info)
		m.announce(c, resync)
	case StateDialtone:
		// Off hook, nothing dialled yet: not a call with a remote party.
		c.dir = call.Outbound
	case StateBusy:
		c.busy = true
		if c.dir == call.Outbound {
			m.announce(c, resync)
		}
	case StateConnected, StateOnHold, StateConferenced, StateOnHoldPendConf, StateOnHoldPendTransfer:
		m.announce(c, resync)
		if !c.answered {
			c.answered = true
			m.emit(m.signal(c, call.SigAnswered, resync))
		}
	case StateDisconnected:
		m.end(c, detail, resync)
	case StateIdle:
		m.end(c, 0, resync)
		delete(m.calls, h)
		return true
	}
	return false
}

// end sends the leg's and the call's end once, if the call ever was one.
func (m *Mapper) end(c *tcall, mode uint32, resync bool) {
	if c.ended || !c.announced {
		c.ended = true
		return
	}
	c.ended = true
	s := m.signal(c, call.SigEnded, resync)
	s.Cause = Cause(mode, c.dir == call.Outbound, c.answered, c.busy)
	m.emit(s)
	s.Extension = ""
	m.emit(s)
}

// CallInfoChanged applies LINE_CALLINFO: a caller or called id that arrives late fills
// in the remote party of the next signals.
func (m *Mapper) CallInfoChanged(h uint32, info CallInfo) {
	if _, ok := m.calls[h]; ok {
		m.get(h, info)
	}
}

// Forget drops every call (the line was closed).
func (m *Mapper) Forget() { clear(m.calls) }

// Cause maps a LINEDISCONNECTMODE_ (0 when the call went idle without one) to a call
// cause.
func Cause(mode uint32, outgoing, answered, busy bool) string {
	if answered {
		return call.CauseNormal
	}
	switch {
	case mode&DisconnectBusy != 0 || busy && mode&(DisconnectNormal|DisconnectUnknown) != 0 || busy && mode == 0:
		return call.CauseBusy
	case mode&(DisconnectReject|DisconnectDoNotDisturb|DisconnectBlocked) != 0:
		return call.CauseRejected
	case mode&DisconnectPickup != 0:
		return call.CauseAnsweredElsewhere
	case mode&DisconnectForwarded != 0:
		return "forwarded"
	case mode&DisconnectNoAnswer != 0:
		return call.CauseNoAnswer
	case mode&DisconnectCancelled != 0:
		return call.CauseCancelled
	case mode&(DisconnectBadAddress|DisconnectUnreachable|DisconnectCongestion|DisconnectIncompatible|
		DisconnectUnavail|DisconnectNoDialtone|DisconnectNumberChanged|DisconnectOutOfOrder|
		DisconnectTempFailure|DisconnectQOSUnavail) != 0:
		return call.CauseFailed
	}
	// Normal, unknown or none before anyone talked: the caller gave up (incoming), or the
	// agent hung up before the answer (outgoing).
	return call.CauseCancelled
}

// Handle returns the call handle of callID, or when callID is "" the handle of the
// newest call that has not ended (for answer and hang-up from the agent page).
func (m *Mapper) Handle(callID string) (uint32, bool) {
	var best uint32
	found := false
	for h, c := range m.calls {
		if c.ended {
			continue
		}
		if callID != "" && c.id == callID {
			return h, true
		}
		if callID == "" && (!found || h > best) {
			best, found = h, true
		}
	}
	return best, found && callID == ""
}
