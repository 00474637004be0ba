package ami

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/cause"
)

type chanKind uint8

const (
	kindOther chanKind = iota // unknown technology, Local to a number, ...
	kindPhone                 // one of our phones: a leg
	kindLocal                 // a Local/ helper channel towards one of our extensions
	kindTrunk                 // the outside world
)

// Limits on what the names and numbers of a call may hold.
const (
	maxNameBytes   = 512
	maxNumberBytes = 128
)

type channel struct {
	uid        string
	name       string
	kind       chanKind
	ext        string
	call       *callState
	originator bool   // the first channel of its call (Uniqueid == Linkedid)
	up         bool   // state Up seen
	dialStatus string // DialEnd status when this channel was dialled
	confirmed  bool   // seen in the current resynchronisation
}

type leg struct {
	chans    int
	ringing  bool
	dialing  bool
	answered bool
	ended    bool
	cause    string // best cause seen so far (from DialEnd)
}

type callState struct {
	id         string
	dir        call.Direction
	remote     call.Party
	did        string
	originExt  string // the phone that started the call (outbound, internal)
	chans      int
	legs       map[string]*leg
	announced  bool // a signal went out for this call
	answered   bool
	abandoned  bool
	dialStatus string   // the last DIALSTATUS the dialplan set
	targets    []string // extensions of the last Dial() application
	resync     bool     // signals of this call are replayed from a resynchronisation
}

// correlator turns AMI events into call signals. It is not safe for concurrent use: the
// connection's reader owns it. Its state survives reconnects.
type correlator struct {
	s      *settings
	source string
	emit   func(call.Signal)
	calls  map[string]*callState
	chans  map[string]*channel
	// resynchronisation: items of a CoreShowChannels list, and the channels hung up since
	// the request (their items may still be in the list).
	resyncing bool
	items     []resyncItem
	gone      map[string]bool
	// pbxNow is the PBX's clock as last read (the Timestamp of a Pong), for the signals
	// of a resynchronisation, whose list items carry no time. Zero: use settings.Now.
	pbxNow time.Time
	// hook sees every event first (click-to-dial follows its own channels).
	hook func(m *Message)
}

type resyncItem struct {
	uid, linked, name, state, cidNum, cidName, exten, connNum, connName string
}

func newCorrelator(s *settings, source string, emit func(call.Signal)) *correlator {
	return &correlator{s: s, source: source, emit: emit, calls: map[string]*callState{}, chans: map[string]*channel{}}
}

// handle applies one message.
func (c *correlator) handle(m *Message) {
	ev := m.Event()
	if ev == nil {
		return
	}
	if c.hook != nil {
		c.hook(m)
	}
	switch string(ev) {
	case "VarSet":
		c.varSet(m)
	case "Newexten":
		if string(m.Bytes("Application")) == "Dial" {
			c.dialApp(m)
		}
	case "Newchannel":
		c.newChannel(m)
	case "Newstate":
		c.newState(m)
	case "NewCallerid":
		c.newCallerID(m)
	case "DialBegin":
		c.dialBegin(m)
	case "DialState":
		if string(m.Bytes("DialStatus")) == "RINGING" {
			if ch := c.chans[string(m.Bytes("DestUniqueid"))]; ch != nil {
				c.ring(ch, ts(m))
			}
		}
	case "DialEnd":
		c.dialEnd(m)
	case "BridgeEnter":
		if ch := c.chans[string(m.Bytes("Uniqueid"))]; ch != nil {
			c.bridged(ch, ts(m))
		}
	case "Hangup":
		c.hangup(m)
	case "AgentConnect":
		if ch := c.chans[string(m.Bytes("DestUniqueid"))]; ch != nil && (ch.kind == kindPhone || ch.kind == kindLocal) {
			c.answerExt(ch.call, ch.ext, ts(m))
		}
	case "QueueCallerAbandon":
		if cs := c.calls[string(m.Bytes("Linkedid"))]; cs != nil {
			cs.abandoned = true
		}
	case "BlindTransfer":
		c.blindTransfer(m)
	case "AttendedTransfer":
		c.attendedTransfer(m)
	case "Pickup":
		c.pickup(m)
	case "CoreShowChannel":
		c.resyncItem(m)
	case "CoreShowChannelsComplete":
		c.endResync()
	}
}

// ts is the event's own time (Timestamp: seconds.micros), zero if it has none.
func ts(m *Message) time.Time {
	b := m.Bytes("Timestamp")
	if len(b) == 0 {
		return time.Time{}
	}
	secs, frac, _ := bytes.Cut(b, []byte("."))
	sec, err := strconv.ParseInt(string(secs), 10, 64)
	if err != nil {
		return time.Time{}
	}
	var ns int64
	if len(frac) > 0 && len(frac) <= 9 {
		f, err := strconv.ParseInt(string(frac), 10, 64)
		if err == nil {
			for i := len(frac); i < 9; i++ {
				f *= 10
			}
			ns = f
		}
	}
	return time.Unix(sec, ns).UTC()
}

func (c *correlator) signal(cs *callState, kind call.SignalKind, ext string, at time.Time) call.Signal {
	cs.announced = true
	return call.Signal{Source: c.source, CallID: cs.id, Kind: kind, Direction: cs.dir, Extension: ext,
		Remote: cs.remote, DID: cs.did, Time: at, Resync: cs.resync}
}

func number(b []byte) string {
	if string(b) == "<unknown>" {
		return ""
	}
	return clean(string(b), maxNumberBytes)
}

func name(b []byte) string {
	if string(b) == "<unknown>" {
		return ""
	}
	return clean(unescape(b), maxNameBytes)
}

// callFor returns the call of linkedid, creating it.
func (c *correlator) callFor(linked string) *callState {
	cs := c.calls[linked]
	if cs == nil {
		cs = &callState{id: linked, legs: map[string]*leg{}}
		c.calls[linked] = cs
	}
	return cs
}

// addChannel registers a channel described by the prefixed channel-state headers of m
// (prefix "" or "Dest").
func (c *correlator) addChannel(m *Message, prefix string) *channel {
	uid := string(m.Bytes(prefix + "Uniqueid"))
	if uid == "" {
		return nil
	}
	if ch := c.chans[uid]; ch != nil {
		return ch
	}
	if c.gone[uid] {
		return nil
	}
	linked := string(m.Bytes(prefix + "Linkedid"))
	if linked == "" {
		linked = uid
	}
	nameB := m.Bytes(prefix + "Channel")
	kind, ext := c.s.classify(nameB)
	cs := c.callFor(linked)
	ch := &channel{uid: uid, name: string(nameB), kind: kind, ext: ext, call: cs, originator: uid == linked, confirmed: true}
	c.chans[uid] = ch
	cs.chans++
	if ch.originator {
		switch kind {
		case kindTrunk:
			cs.dir = call.Inbound
			cs.remote = call.Party{Number: number(m.Bytes(prefix + "CallerIDNum")), Name: name(m.Bytes(prefix + "CallerIDName"))}
			cs.did = clean(string(m.Bytes(prefix+"Exten")), maxNumberBytes)
		case kindPhone:
			// For an internal call the remote party is the calling phone; an outbound call
			// replaces it with the dialled number.
			cs.originExt = ext
			cs.remote = call.Party{Number: number(m.Bytes(prefix + "CallerIDNum")), Name: name(m.Bytes(prefix + "CallerIDName"))}
		}
	}
	if kind == kindPhone && !ch.originator {
		l := cs.legs[ext]
		if l == nil || l.ended {
			l = &leg{}
			cs.legs[ext] = l
		}
		l.chans++
	}
	return ch
}

func (c *correlator) newChannel(m *Message) {
	ch := c.addChannel(m, "")
	if ch != nil && string(m.Bytes("ChannelState")) == "5" {
		c.ring(ch, ts(m))
	}
}

func (c *correlator) newState(m *Message) {
	ch := c.chans[string(m.Bytes("Uniqueid"))]
	if ch == nil {
		ch = c.addChannel(m, "")
		if ch == nil {
			return
		}
	}
	switch string(m.Bytes("ChannelState")) {
	case "5": // Ringing
		c.ring(ch, ts(m))
	case "6": // Up
		ch.up = true
		at := ts(m)
		switch {
		case ch.kind == kindPhone && !ch.originator:
			c.answerExt(ch.call, ch.ext, at)
		case ch.kind == kindTrunk && !ch.originator && ch.call.dir == call.Outbound:
			c.answerExt(ch.call, ch.call.originExt, at)
		}
	}
}

func (c *correlator) newCallerID(m *Message) {
	ch := c.chans[string(m.Bytes("Uniqueid"))]
	if ch == nil || !ch.originator || ch.kind != kindTrunk || ch.call.announced {
		return
	}
	// The caller's number may be completed before any phone rings.
	ch.call.remote = call.Party{Number: number(m.Bytes("CallerIDNum")), Name: name(m.Bytes("CallerIDName"))}
}

// ring makes a phone's leg ring.
func (c *correlator) ring(ch *channel, at time.Time) {
	if ch.kind != kindPhone || ch.originator {
		return
	}
	cs := ch.call
	l := cs.legs[ch.ext]
	if l == nil || l.ringing || l.answered || l.ended {
		return
	}
	if cs.dir == call.Unknown && cs.originExt != "" {
		cs.dir = call.Internal
	}
	l.ringing = true
	c.emit(c.signal(cs, call.SigRinging, ch.ext, at))
}

func (c *correlator) answerExt(cs *callState, ext string, at time.Time) {
	if ext == "" {
		return
	}
	l := cs.legs[ext]
	if l == nil {
		if ext != cs.originExt {
			return // a Local helper towards an extension whose phone we have not seen
		}
		l = &leg{}
		cs.legs[ext] = l
	}
	if l.answered || l.ended {
		return
	}
	l.answered = true
	cs.answered = true
	c.emit(c.signal(cs, call.SigAnswered, ext, at))
}

func (c *correlator) dialBegin(m *Message) {
	src := c.chans[string(m.Bytes("Uniqueid"))]
	if src == nil && m.Has("Uniqueid") {
		src = c.addChannel(m, "")
	}
	dst := c.chans[string(m.Bytes("DestUniqueid"))]
	if dst == nil {
		dst = c.addChannel(m, "Dest")
	}
	if dst == nil {
		return
	}
	at := ts(m)
	cs := dst.call
	switch {
	case dst.kind == kindPhone:
		c.ring(dst, at)
	case dst.kind == kindTrunk && src != nil && src.call == cs && cs.originExt != "" && src.ext == cs.originExt:
		// One of our phones dials out.
		if cs.dir == call.Unknown {
			cs.dir = call.Outbound
			num := m.Bytes("Exten")
			if len(num) == 0 || string(num) == "s" {
				num = m.Bytes("DestCallerIDNum")
			}
			cs.remote = call.Party{Number: number(num)}
		}
		if cs.dir != call.Outbound {
			return
		}
		l := cs.legs[cs.originExt]
		if l == nil {
			l = &leg{}
			cs.legs[cs.originExt] = l
		}
		if l.dialing || l.answered || l.ended {
			return
		}
		l.dialing = true
		c.emit(c.signal(cs, call.SigDialing, cs.originExt, at))
	}
}

func (c *correlator) dialEnd(m *Message) {
	dst := c.chans[string(m.Bytes("DestUniqueid"))]
	if dst == nil {
		return
	}
	status := string(m.Bytes("DialStatus"))
	dst.dialStatus = status
	cs := dst.call
	if dst.kind == kindTrunk && cs.dir == call.Outbound {
		cs.dialStatus = status
	}
	if status != "ANSWER" {
		return
	}
	at := ts(m)
	switch {
	case dst.kind == kindPhone && !dst.originator:
		c.answerExt(cs, dst.ext, at)
	case dst.kind == kindTrunk && cs.dir == call.Outbound:
		c.answerExt(cs, cs.originExt, at)
	}
}

func (c *correlator) bridged(ch *channel, at time.Time) {
	cs := ch.call
	switch {
	case ch.kind == kindPhone && !ch.originator:
		c.answerExt(cs, ch.ext, at)
	case cs.dir == call.Outbound && (ch.kind == kindTrunk || ch.originator) && cs.legs[cs.originExt] != nil && cs.legs[cs.originExt].dialing:
		c.answerExt(cs, cs.originExt, at)
	}
}

func (c *correlator) varSet(m *Message) {
	switch string(m.Bytes("Variable")) {
	case "DIALSTATUS":
		ch := c.chans[string(m.Bytes("Uniqueid"))]
		if ch == nil {
			return
		}
		v := string(m.Bytes("Value"))
		if v == "" {
			return
		}
		cs := ch.call
		cs.dialStatus = v
		if v == "CHANUNAVAIL" || v == "CONGESTION" {
			c.unreachable(cs, ts(m))
		}
	}
}

// dialApp remembers which phones a Dial() application is about to ring: a phone without a
// contact never gets a channel, and only DIALSTATUS tells.
func (c *correlator) dialApp(m *Message) {
	ch := c.chans[string(m.Bytes("Uniqueid"))]
	if ch == nil {
		return
	}
	data := m.Bytes("AppData")
	if i := bytes.IndexByte(data, ','); i >= 0 {
		data = data[:i]
	}
	cs := ch.call
	cs.targets = cs.targets[:0]
	for t := range bytes.SplitSeq(data, []byte("&")) {
		if k, ext := c.s.classify(t); k == kindPhone && len(cs.targets) < 32 {
			cs.targets = append(cs.targets, ext)
		}
	}
}

// unreachable reports the phones a Dial() could not reach at all (no channel was made).
func (c *correlator) unreachable(cs *callState, at time.Time) {
	for _, ext := range cs.targets {
		if cs.legs[ext] != nil || ext == cs.originExt {
			continue
		}
		cs.legs[ext] = &leg{ended: true}
		if cs.dir == call.Unknown {
			continue
		}
		c.emit(c.signal(cs, call.SigRinging, ext, at))
		s := c.signal(cs, call.SigEnded, ext, at)
		s.Cause = call.CauseFailed
		c.emit(s)
	}
	cs.targets = cs.targets[:0]
}

func (c *correlator) hangup(m *Message) {
	uid := string(m.Bytes("Uniqueid"))
	ch := c.chans[uid]
	if ch == nil {
		return
	}
	code, _ := strconv.Atoi(string(m.Bytes("Cause")))
	c.removeChannel(ch, code, ts(m))
	if c.resyncing {
		c.markGone(uid)
	}
}

func (c *correlator) markGone(uid string) {
	if c.gone == nil {
		c.gone = map[string]bool{}
	}
	c.gone[uid] = true
}

// removeChannel ends a channel (hangup cause code; -1 when it vanished while we were not
// connected) and, with it, its leg and perhaps its call.
func (c *correlator) removeChannel(ch *channel, code int, at time.Time) {
	delete(c.chans, ch.uid)
	cs := ch.call
	cs.chans--
	ext := ""
	switch {
	case ch.kind == kindPhone && !ch.originator:
		ext = ch.ext
	case ch.kind == kindPhone && ch.originator && cs.legs[ch.ext] != nil:
		ext = ch.ext
	}
	if l := cs.legs[ext]; ext != "" && l != nil && !l.ended {
		if !ch.originator {
			l.chans--
		}
		if l.chans <= 0 {
			l.ended = true
			if l.ringing || l.dialing || l.answered {
				s := c.signal(cs, call.SigEnded, ext, at)
				s.Cause = legCause(cs, ch, l, code)
				c.emit(s)
			} else if ch.kind == kindPhone && !ch.originator && cs.announced {
				// Never rang (busy at once): still say what happened to it.
				s := c.signal(cs, call.SigEnded, ext, at)
				s.Cause = legCause(cs, ch, l, code)
				c.emit(s)
			}
		}
	}
	if cs.chans > 0 {
		return
	}
	delete(c.calls, cs.id)
	if !cs.announced {
		return
	}
	s := c.signal(cs, call.SigEnded, "", at)
	s.Cause = callCause(cs, ch, code)
	c.emit(s)
}

// legCause maps an ended leg onto the call.Cause words. A hangup cause that says what
// happened (busy, no answer, rejected, taken elsewhere; the table in package cause) wins;
// then the Dial status; then a failure cause.
func legCause(cs *callState, ch *channel, l *leg, code int) string {
	if l.answered {
		return call.CauseNormal
	}
	if ch.originator {
		return outboundCause(cs.dialStatus, code)
	}
	if c := decisive(code); c != "" {
		return c
	}
	switch ch.dialStatus {
	case "BUSY":
		return call.CauseBusy
	case "NOANSWER":
		return call.CauseNoAnswer
	case "CHANUNAVAIL", "CONGESTION":
		return call.CauseFailed
	case "CANCEL":
		if cs.answered {
			return call.CauseAnsweredElsewhere
		}
		return call.CauseCancelled
	}
	if cause.Q850(code) == call.CauseFailed {
		return call.CauseFailed
	}
	if code == 0 {
		if cs.answered {
			return call.CauseAnsweredElsewhere
		}
		return call.CauseNoAnswer
	}
	if cs.answered {
		return call.CauseAnsweredElsewhere
	}
	return call.CauseCancelled
}

// decisive is the cause of a hangup code that says what happened to an unanswered call
// by itself: busy, no answer, rejected, answered elsewhere ("" otherwise).
func decisive(code int) string {
	switch c := cause.Q850(code); c {
	case call.CauseBusy, call.CauseNoAnswer, call.CauseRejected, call.CauseAnsweredElsewhere:
		return c
	}
	return ""
}

// dialCause is the cause a DIALSTATUS names ("" for none or another).
func dialCause(status string) string {
	switch status {
	case "BUSY":
		return call.CauseBusy
	case "NOANSWER":
		return call.CauseNoAnswer
	case "CHANUNAVAIL", "CONGESTION":
		return call.CauseFailed
	case "CANCEL":
		return call.CauseCancelled
	}
	return ""
}

func outboundCause(status string, code int) string {
	if c := dialCause(status); c != "" && c != call.CauseCancelled {
		return c
	}
	switch c := cause.Q850(code); c {
	case call.CauseBusy, call.CauseNoAnswer, call.CauseRejected, call.CauseFailed:
		return c
	}
	return call.CauseCancelled
}

// callCause is the cause of a whole call, decided when its last channel goes.
func callCause(cs *callState, last *channel, code int) string {
	switch {
	case cs.answered:
		return call.CauseNormal
	case cs.abandoned:
		return call.CauseAbandoned
	case cs.dir == call.Outbound:
		return outboundCause(cs.dialStatus, code)
	}
	if c := dialCause(cs.dialStatus); c != "" {
		return c
	}
	switch c := cause.Q850(code); c {
	case call.CauseBusy, call.CauseNoAnswer, call.CauseRejected, call.CauseFailed:
		return c
	}
	return call.CauseCancelled
}

func (c *correlator) blindTransfer(m *Message) {
	if string(m.Bytes("Result")) != "Success" {
		return
	}
	from := c.chans[string(m.Bytes("TransfererUniqueid"))]
	if from == nil || from.kind != kindPhone {
		return
	}
	to := string(m.Bytes("Extension"))
	if !c.s.isLocalExtension(to) {
		return
	}
	// The transferee's call is the one that moves; it is the transferer's call too.
	cs := from.call
	if t := c.chans[string(m.Bytes("TransfereeUniqueid"))]; t != nil {
		cs = t.call
	}
	s := c.signal(cs, call.SigTransferred, from.ext, ts(m))
	s.TransferTo = to
	c.emit(s)
}

// attendedTransfer: the transferer (OrigTransferer) talks to the caller in one call and to
// the target (SecondTransferer's peer, TransferTarget) in another; after the transfer the
// caller talks to the target. The target's channel joins the caller's call.
func (c *correlator) attendedTransfer(m *Message) {
	if string(m.Bytes("Result")) != "Success" {
		return
	}
	from := c.chans[string(m.Bytes("OrigTransfererUniqueid"))]
	if from == nil || from.kind != kindPhone {
		return
	}
	target := c.chans[string(m.Bytes("TransferTargetUniqueid"))]
	if target == nil || target.kind != kindPhone {
		return
	}
	cs := from.call
	at := ts(m)
	s := c.signal(cs, call.SigTransferred, from.ext, at)
	s.TransferTo = target.ext
	c.emit(s)
	c.moveChannel(target, cs)
	c.answerExt(cs, target.ext, at)
}

// pickup: a phone (Channel) picks up a call ringing elsewhere (Target*).
func (c *correlator) pickup(m *Message) {
	picker := c.chans[string(m.Bytes("Uniqueid"))]
	target := c.chans[string(m.Bytes("TargetUniqueid"))]
	if picker == nil || target == nil || picker.kind != kindPhone {
		return
	}
	cs := target.call
	c.moveChannel(picker, cs)
	if l := cs.legs[picker.ext]; l != nil && !l.ringing && !l.answered {
		l.ringing = true // picked up, never rang: no pop, straight to answered
	}
	c.answerExt(cs, picker.ext, ts(m))
}

// moveChannel makes ch a leg of call cs (transfers and pickups join two conversations).
func (c *correlator) moveChannel(ch *channel, cs *callState) {
	old := ch.call
	if old == cs {
		return
	}
	old.chans--
	if l := old.legs[ch.ext]; l != nil && !ch.originator {
		l.chans--
		if l.chans <= 0 {
			l.ended = true // it lives on in cs
		}
	}
	if old.chans <= 0 {
		delete(c.calls, old.id)
		if old.announced {
			s := c.signal(old, call.SigEnded, "", time.Time{})
			s.Cause = call.CauseNormal
			c.emit(s)
		}
	}
	ch.call, ch.originator = cs, false
	cs.chans++
	if ch.kind == kindPhone {
		l := cs.legs[ch.ext]
		if l == nil || l.ended {
			l = &leg{}
			cs.legs[ch.ext] = l
		}
		l.chans++
	}
}

// beginResync starts a resynchronisation: every channel known now must show up in the
// CoreShowChannels list, or it ended while we were not looking.
func (c *correlator) beginResync() {
	c.resyncing = true
	c.items = c.items[:0]
	c.gone = nil
	for _, ch := range c.chans {
		ch.confirmed = false
	}
}

func (c *correlator) resyncItem(m *Message) {
	if !c.resyncing {
		c.beginResync() // a list we did not ask for (a replay): its channels are as good
		for _, ch := range c.chans {
			ch.confirmed = true
		}
	}
	uid := string(m.Bytes("Uniqueid"))
	if ch := c.chans[uid]; ch != nil {
		ch.confirmed = true
		return
	}
	if c.gone[uid] || len(c.items) > 100000 {
		return
	}
	c.items = append(c.items, resyncItem{
		uid: uid, linked: string(m.Bytes("Linkedid")), name: string(m.Bytes("Channel")),
		state: string(m.Bytes("ChannelState")), cidNum: string(m.Bytes("CallerIDNum")),
		cidName: string(m.Bytes("CallerIDName")), exten: string(m.Bytes("Exten")),
		connNum: string(m.Bytes("ConnectedLineNum")), connName: string(m.Bytes("ConnectedLineName")),
	})
}

// endResync applies the list: channels we did not know join their calls (signals marked
// Resync), channels we knew that are not in it are gone.
func (c *correlator) endResync() {
	if !c.resyncing {
		return
	}
	c.resyncing = false
	now := c.pbxNow
	if now.IsZero() {
		now = c.s.Now().UTC()
	}
	// Vanished channels first: their calls end (or lose a leg).
	var lost []*channel
	for _, ch := range c.chans {
		if !ch.confirmed {
			lost = append(lost, ch)
		}
	}
	slices.SortFunc(lost, func(a, b *channel) int { return strings.Compare(a.uid, b.uid) })
	for _, ch := range lost {
		ch.call.resync = true
		c.removeChannel(ch, -1, now)
	}
	for _, ch := range c.chans {
		ch.confirmed = true
	}
	// New channels, grouped by call, originators first.
	items := c.items
	c.items = c.items[:0]
	c.gone = nil
	slices.SortStableFunc(items, func(a, b resyncItem) int {
		if a.linked != b.linked {
			return strings.Compare(a.linked, b.linked)
		}
		ao, bo := a.uid == a.linked, b.uid == b.linked
		switch {
		case ao && !bo:
			return -1
		case bo && !ao:
			return 1
		}
		return strings.Compare(a.uid, b.uid)
	})
	touched := map[*callState]bool{}
	for _, it := range items {
		if it.linked == "" || c.chans[it.uid] != nil {
			continue
		}
		kind, ext := c.s.classify([]byte(it.name))
		cs := c.callFor(it.linked)
		cs.resync = true
		ch := &channel{uid: it.uid, name: it.name, kind: kind, ext: ext, call: cs, originator: it.uid == it.linked, confirmed: true, up: it.state == "6"}
		c.chans[it.uid] = ch
		cs.chans++
		touched[cs] = true
		switch {
		case ch.originator && kind == kindTrunk:
			cs.dir = call.Inbound
			cs.remote = call.Party{Number: number([]byte(it.cidNum)), Name: name([]byte(it.cidName))}
			// it.exten is where the dialplan is now, not the number the caller dialled.
		case ch.originator && kind == kindPhone:
			cs.originExt = ext
			if cs.dir == call.Unknown {
				cs.remote = call.Party{Number: number([]byte(it.cidNum)), Name: name([]byte(it.cidName))}
			}
		case kind == kindTrunk && cs.originExt != "" && cs.dir == call.Unknown:
			cs.dir = call.Outbound
			cs.remote = call.Party{Number: number([]byte(it.cidNum)), Name: name([]byte(it.cidName))}
		case kind == kindPhone && cs.dir == call.Unknown:
			if cs.originExt != "" {
				cs.dir = call.Internal
			}
		}
		if kind == kindPhone && !ch.originator {
			l := cs.legs[ext]
			if l == nil || l.ended {
				l = &leg{}
				cs.legs[ext] = l
			}
			l.chans++
		}
	}
	// Report the state of each leg found.
	calls := make([]*callState, 0, len(touched))
	for cs := range touched {
		calls = append(calls, cs)
	}
	slices.SortFunc(calls, func(a, b *callState) int { return strings.Compare(a.id, b.id) })
	for _, cs := range calls {
		if cs.dir == call.Unknown && cs.originExt == "" {
			if cs.remote.Number == "" {
				continue // nothing we can say about it
			}
		}
		var ups, rings []string
		var trunkUp bool
		for _, ch := range c.chans {
			if ch.call != cs {
				continue
			}
			switch {
			case ch.kind == kindPhone && !ch.originator && ch.up:
				ups = append(ups, ch.ext)
			case ch.kind == kindPhone && !ch.originator:
				rings = append(rings, ch.ext)
			case ch.kind == kindTrunk && !ch.originator && ch.up:
				trunkUp = true
			}
		}
		slices.Sort(ups)
		slices.Sort(rings)
		if cs.dir == call.Outbound && cs.originExt != "" {
			if l := cs.legs[cs.originExt]; l == nil || !l.dialing {
				if l == nil {
					cs.legs[cs.originExt] = &leg{}
				}
				cs.legs[cs.originExt].dialing = true
				c.emit(c.signal(cs, call.SigDialing, cs.originExt, now))
			}
			if trunkUp {
				c.answerExt(cs, cs.originExt, now)
			}
		}
		for _, ext := range slices.Compact(ups) {
			c.answerExt(cs, ext, now)
		}
		for _, ext := range slices.Compact(rings) {
			if l := cs.legs[ext]; l != nil && !l.ringing && !l.answered {
				l.ringing = true
				c.emit(c.signal(cs, call.SigRinging, ext, now))
			}
		}
		cs.resync = false
	}
	for _, cs := range c.calls {
		cs.resync = false
	}
	// What Asterisk has now: calls Ringside holds beyond these (restored after a restart,
	// taken over from another node) ended unseen.
	live := make([]string, 0, len(c.calls))
	for id := range c.calls {
		live = append(live, id)
	}
	slices.Sort(live)
	c.emit(call.Signal{Source: c.source, Kind: call.SigResynced, Live: live, Time: now, Resync: true})
}

// abortResync gives up a resynchronisation (Asterisk refused the list): what we know stays.
func (c *correlator) abortResync() {
	c.resyncing = false
	c.items = c.items[:0]
	c.gone = nil
	for _, ch := range c.chans {
		ch.confirmed = true
	}
}
