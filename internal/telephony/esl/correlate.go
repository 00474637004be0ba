package esl

import (
	"bytes"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/cause"
)

// A leg is one FreeSWITCH channel, bound to its call when it was created.
type leg struct {
	uuid      string
	call      *callState
	ext       string // the local extension, "" for trunk and helper channels
	local     bool
	a         bool // the call's first channel
	announced bool // a ringing/dialing signal named this leg
	answered  bool
	ended     bool
}

// callState is the connector's view of one conversation. Its id is the A leg's Unique-ID.
type callState struct {
	id         string
	dir        call.Direction
	remote     call.Party
	did        string
	aLeg       *leg
	legs       []*leg
	originExt  string // the local phone that placed the call (outbound, internal)
	aCaller    call.Party
	answered   bool
	aHangingUp bool
	aCause     string
	aDisp      string
	aDial      string
	bridgeDest string // the A leg's destination at its last bridge
	held       *call.Signal
	lastCause  string
	// farAnswered: a trunk leg of an inbound call answered (a forward to the outside).
	farAnswered bool
}

// correlator turns decoded events into call signals. It is not safe for concurrent use:
// the connection's reader goroutine owns it.
type correlator struct {
	source  string
	ext     *regexp.Regexp
	trunks  []string
	emit    func(call.Signal)
	dialNum func(dialID string) (string, bool) // the number of one of our own dials
	legs    map[string]*leg
	calls   map[string]*callState
	resync  bool // signals are replayed from a resynchronisation
	recent  map[string]struct{}
	recentQ []string
	nheld   int // calls with a held end: most of the time none, and nothing to scan
}

const maxRecent = 4096

func newCorrelator(source string, ext *regexp.Regexp, trunks []string, emit func(call.Signal)) *correlator {
	return &correlator{
		source: source, ext: ext, trunks: trunks, emit: emit,
		legs: map[string]*leg{}, calls: map[string]*callState{}, recent: map[string]struct{}{},
	}
}

func (co *correlator) send(c *callState, s call.Signal) {
	s.Source = co.source
	s.CallID = c.id
	if s.Direction == call.Unknown {
		s.Direction = c.dir
	}
	if s.Remote == (call.Party{}) {
		s.Remote = c.remote
	}
	if s.DID == "" {
		s.DID = c.did
	}
	s.Resync = co.resync
	co.emit(s)
}

// eventTime is the event's own timestamp (Event-Date-Timestamp, microseconds).
func eventTime(e *event) time.Time {
	us, ok := atoi(e.get(fTimestamp))
	if !ok || us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(int64(us)).UTC()
}

// handle applies one event.
func (co *correlator) handle(e *event) {
	switch string(e.get(fEventName)) {
	case "CHANNEL_CREATE":
		co.create(e, eventTime(e), false)
	case "CHANNEL_ANSWER":
		if l := co.legs[string(e.get(fUniqueID))]; l != nil {
			co.answer(l, eventTime(e))
		}
	case "CHANNEL_BRIDGE":
		if l := co.legs[string(e.get(fUniqueID))]; l != nil && l.a {
			l.call.bridgeDest = string(e.get(fDestination))
		}
	case "CHANNEL_UNBRIDGE":
		co.unbridge(e)
	case "CHANNEL_HANGUP_COMPLETE":
		co.hangup(e)
	}
}

// classify says whether a channel is a local phone, and its extension.
func (co *correlator) classify(name, dialedUser, gateway []byte) (ext string, local bool) {
	if len(gateway) > 0 {
		return "", false
	}
	var user []byte
	switch {
	case bytes.HasPrefix(name, []byte("sofia/")):
		rest := name[len("sofia/"):]
		slash := bytes.IndexByte(rest, '/')
		if slash < 0 {
			return "", false
		}
		profile := rest[:slash]
		if string(profile) == "gateway" {
			return "", false
		}
		for _, t := range co.trunks {
			if string(profile) == t {
				return "", false
			}
		}
		user = rest[slash+1:]
		user = bytes.TrimPrefix(user, []byte("sip:"))
		if at := bytes.IndexByte(user, '@'); at >= 0 {
			user = user[:at]
		}
	case bytes.HasPrefix(name, []byte("loopback/")):
		return "", false
	default:
		user = dialedUser
	}
	if len(user) == 0 || len(user) > 64 || !co.ext.Match(user) {
		return "", false
	}
	return string(user), true
}

// create binds a new channel to its call and reports a ringing or dialing phone. answered
// is set by resync for channels that already talk: they are not announced as ringing.
func (co *correlator) create(e *event, at time.Time, answered bool) *leg {
	uuid := string(e.get(fUniqueID))
	if uuid == "" || co.legs[uuid] != nil {
		return nil
	}
	if _, gone := co.recent[uuid]; gone && co.resync {
		// A snapshot taken before this channel's hangup reached us.
		return nil
	}
	ext, local := co.classify(e.get(fChannelName), e.get(fDialedUser), e.get(fGateway))
	l := &leg{uuid: uuid, ext: ext, local: local}
	var c *callState
	other := string(e.get(fOtherLeg))
	if p := co.legs[other]; other != "" && p != nil {
		c = p.call
	} else if p := co.legs[string(e.get(fOtherLoopback))]; p != nil {
		// The far end of a loopback pair belongs to the call of its near end.
		c = p.call
	} else {
		cu := string(e.get(fChannelCallUUID))
		if cu == "" || cu == uuid {
			cu = string(e.get(fVarCallUUID))
		}
		if cu != "" && cu != uuid {
			if p := co.legs[cu]; p != nil {
				c = p.call
			} else if c = co.calls[cu]; c == nil {
				// A leg we never saw (connected mid-call): the call keeps its A leg's id.
				c = &callState{id: cu, dir: call.Unknown}
				co.calls[cu] = c
			}
		} else if other != "" {
			if c = co.calls[other]; c == nil {
				c = &callState{id: other, dir: call.Unknown}
				co.calls[other] = c
			}
		}
	}
	co.legs[uuid] = l
	if c == nil {
		// The first channel of a conversation.
		c = &callState{id: uuid, aLeg: l, did: sanitizeField(e.get(fDestination))}
		co.calls[uuid] = c
		l.a, l.call = true, c
		c.legs = append(c.legs, l)
		caller := call.Party{Number: sanitizeField(e.get(fCallerNumber)), Name: sanitizeField(e.get(fCallerName))}
		c.aCaller = caller
		switch {
		case bytes.HasPrefix(e.get(fChannelName), []byte("loopback/")):
			// A helper channel that starts a conversation: its phones tell the rest.
		case local && (len(e.get(fDialID)) > 0 || (string(e.get(fCallDirection)) == "outbound" && other == "")):
			// Placed by an originate (ours or another client's): the phone rings first to
			// dial the remote party; the origination caller ID names that party.
			c.dir, c.originExt = call.Outbound, ext
			c.remote = caller
			if n, ok := co.lookupDial(string(e.get(fDialID))); ok {
				c.remote = call.Party{Number: n}
			}
			c.did = ""
			l.announced = true
			co.send(c, call.Signal{Kind: call.SigDialing, Extension: ext, Time: at})
		case local:
			c.originExt = ext
			c.did = ""
		default:
			c.dir, c.remote = call.Inbound, caller
			// The call exists before any phone rings (and even when none can).
			co.send(c, call.Signal{Kind: call.SigRinging, Time: at})
		}
		return l
	}
	l.call = c
	c.legs = append(c.legs, l)
	if local {
		if c.dir == call.Unknown && c.originExt != "" {
			c.dir, c.remote = call.Internal, c.aCaller
		} else if c.dir == call.Unknown {
			c.dir = call.Inbound
			c.remote = call.Party{Number: sanitizeField(e.get(fCallerNumber)), Name: sanitizeField(e.get(fCallerName))}
		}
		if c.held != nil {
			// An answered phone hung up while the caller lived on, and now another phone
			// is called for the same caller: a blind transfer.
			h := *c.held
			c.held = nil
			co.nheld--
			if h.Extension != ext {
				co.send(c, call.Signal{Kind: call.SigTransferred, Extension: h.Extension, TransferTo: ext, Time: at})
			}
			co.send(c, h)
		}
		if c.dir == call.Outbound {
			return l
		}
		l.announced = true // by its ringing, or (resync of a talking phone) by its answer
		if !answered {
			co.send(c, call.Signal{Kind: call.SigRinging, Extension: ext, Time: at})
		}
		return l
	}
	// A trunk (or helper) channel.
	if bytes.HasPrefix(e.get(fChannelName), []byte("loopback/")) {
		return l
	}
	switch c.dir {
	case call.Unknown:
		if c.originExt == "" {
			c.dir = call.Inbound
			return l
		}
		c.dir = call.Outbound
		c.remote = call.Party{Number: sanitizeField(e.get(fDestination))}
		if a := c.aLeg; a != nil {
			a.announced = true
		}
		co.send(c, call.Signal{Kind: call.SigDialing, Extension: c.originExt, Time: at})
	case call.Outbound:
		if c.remote.Number == "" {
			c.remote.Number = sanitizeField(e.get(fDestination))
		}
	default:
		// The caller goes to an outside number (forward, transfer out): the phone that
		// had the call is done with it.
		co.flushHeld(c)
	}
	return l
}

func (co *correlator) lookupDial(id string) (string, bool) {
	if id == "" || co.dialNum == nil {
		return "", false
	}
	return co.dialNum(id)
}

// answer reports a phone answering (inbound, internal), or the remote party answering an
// outbound call (reported for the dialing phone).
func (co *correlator) answer(l *leg, at time.Time) {
	if l.answered || l.ended {
		return
	}
	l.answered = true
	c := l.call
	switch {
	case l.a:
		// FreeSWITCH answering the caller, or the agent picking up for a click-to-dial:
		// neither is the conversation starting.
	case c.dir == call.Outbound:
		if !c.answered && c.originExt != "" {
			c.answered = true
			co.send(c, call.Signal{Kind: call.SigAnswered, Extension: c.originExt, Time: at})
		}
	case l.local:
		c.answered = true
		co.send(c, call.Signal{Kind: call.SigAnswered, Extension: l.ext, Time: at})
	default:
		c.farAnswered = true // forwarded to the outside, and answered there
	}
}

func (co *correlator) unbridge(e *event) {
	l := co.legs[string(e.get(fUniqueID))]
	if l == nil || !l.a {
		return
	}
	c := l.call
	if len(e.get(fHangupCause)) > 0 {
		c.aHangingUp = true
		co.flushHeld(c)
		return
	}
	if dest := string(e.get(fDestination)); dest != c.bridgeDest {
		return // transferred: keep the old phone's end until we see where the caller goes
	}
	co.flushHeld(c)
}

func (co *correlator) flushHeld(c *callState) {
	if h := c.held; h != nil {
		c.held = nil
		co.nheld--
		co.send(c, *h)
	}
}

func (co *correlator) hangup(e *event) {
	l := co.legs[string(e.get(fUniqueID))]
	if l == nil || l.ended {
		return
	}
	at := eventTime(e)
	cause := string(e.get(fHangupCause))
	c := l.call
	c.lastCause = cause
	if l.a {
		c.aHangingUp = true
		c.aCause, c.aDisp, c.aDial = cause, string(e.get(fOriginateDisposition)), string(e.get(fDialStatus))
		co.unreached(c, e.get(fDialedUser), at)
	}
	co.endLeg(l, mapCause(cause), at)
}

// unreached reports the phone a call was meant for when FreeSWITCH never created its leg
// (an unregistered user: bridge fails at once). variable_dialed_user on the A leg's hangup
// names it; it rings and ends in the same instant, as Asterisk reports such a dial.
func (co *correlator) unreached(c *callState, dialed []byte, at time.Time) {
	if c.dir == call.Outbound || c.answered || len(dialed) == 0 || len(dialed) > 64 || !co.ext.Match(dialed) {
		return
	}
	for _, o := range c.legs {
		if o.local && !o.a {
			return // a phone was called: its own leg reported it
		}
	}
	ext := string(dialed)
	if ext == c.originExt {
		return
	}
	if c.dir == call.Unknown {
		c.dir, c.remote = call.Internal, c.aCaller
	}
	co.send(c, call.Signal{Kind: call.SigRinging, Extension: ext, Time: at})
	co.send(c, call.Signal{Kind: call.SigEnded, Extension: ext, Cause: co.callCause(c), Time: at})
}

// endLeg ends one leg and, with its last leg, the call.
func (co *correlator) endLeg(l *leg, cause string, at time.Time) {
	l.ended = true
	c := l.call
	co.remember(l.uuid)
	if l.a {
		co.flushHeld(c)
	}
	if l.local && l.announced {
		s := call.Signal{Kind: call.SigEnded, Extension: l.ext, Cause: cause, Time: at}
		if l.answered && !l.a && c.dir != call.Outbound && c.aLeg != nil && !c.aHangingUp && c.held == nil {
			// The caller lives on: this may be a transfer. The end is reported when the
			// caller's next move shows which.
			c.held = &s
			co.nheld++
		} else {
			co.send(c, s)
		}
	}
	for _, o := range c.legs {
		if !o.ended {
			return
		}
	}
	co.flushHeld(c)
	co.send(c, call.Signal{Kind: call.SigEnded, Cause: co.callCause(c), Time: at})
	for _, o := range c.legs {
		delete(co.legs, o.uuid)
	}
	delete(co.calls, c.id)
}

// callCause is the result of the whole call. The A leg's Hangup-Cause is not the dial
// result (a call nobody answered ends NORMAL_CLEARING after call_timeout).
func (co *correlator) callCause(c *callState) string {
	if c.answered || c.farAnswered {
		return call.CauseNormal
	}
	for _, d := range []string{c.aDisp, c.aDial} {
		switch d {
		case "", "SUCCESS", "failure", "INVALIDARGS", "ANSWER":
			continue
		case "NOANSWER":
			return call.CauseNoAnswer
		case "BUSY":
			return call.CauseBusy
		case "CANCEL":
			return call.CauseCancelled
		case "CHANUNAVAIL", "CONGESTION":
			return call.CauseFailed
		}
		return mapCause(d)
	}
	if c.aCause != "" {
		if m := mapCause(c.aCause); m != call.CauseNormal {
			return m
		}
		return call.CauseCancelled // the caller hung up before anyone answered
	}
	if c.lastCause != "" {
		return mapCause(c.lastCause)
	}
	return ""
}

func (co *correlator) remember(uuid string) {
	if _, ok := co.recent[uuid]; ok {
		return
	}
	co.recent[uuid] = struct{}{}
	co.recentQ = append(co.recentQ, uuid)
	if len(co.recentQ) > maxRecent {
		delete(co.recent, co.recentQ[0])
		co.recentQ = co.recentQ[1:]
	}
}

// flushHeldBefore reports the held leg ends older than t: the caller neither hung up nor
// reached another phone in time (a dialplan continuing after the bridge, say).
func (co *correlator) flushHeldBefore(t time.Time) {
	if co.nheld == 0 {
		return
	}
	for _, c := range co.calls {
		if c.held != nil && (t.IsZero() || c.held.Time.Before(t)) {
			co.flushHeld(c)
		}
	}
}

// mapCause maps a FreeSWITCH hangup cause onto the call.Cause constants: FreeSWITCH's own
// causes here, the Q.850 ones through the table of package cause.
func mapCause(c string) string {
	switch c {
	case "":
		return ""
	case "SUCCESS":
		return call.CauseNormal
	case "ALLOTTED_TIMEOUT", "PROGRESS_TIMEOUT":
		return call.CauseNoAnswer
	case "ORIGINATOR_CANCEL":
		return call.CauseCancelled
	case "LOSE_RACE", "PICKED_OFF":
		return call.CauseAnsweredElsewhere
	case "USER_NOT_REGISTERED", "GATEWAY_DOWN":
		return call.CauseFailed
	}
	if m := cause.Name(c); m != "" {
		return m
	}
	return strings.ToLower(c)
}

// sanitizeField turns an untrusted value into a string of valid UTF-8 of bounded size.
// The tracker removes control characters; here the bytes are kept.
func sanitizeField(b []byte) string {
	const maxBytes = 1024
	if len(b) > maxBytes {
		b = b[:maxBytes]
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	for len(s) > maxBytes {
		// Replacement characters made it longer: cut on a rune boundary.
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
