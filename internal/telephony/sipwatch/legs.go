package sipwatch

import (
	"sort"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/cause"
)

// legBook turns the dialog-info documents of all watched extensions into call signals. It
// remembers each extension's dialogs (the legs) across subscriptions, and which legs belong
// to one call (by call-id). It is not safe for concurrent use: the Source serialises it.
type legBook struct {
	source  string
	watched map[string]bool
	grace   time.Duration // how long a call with no active leg waits before its final end
	exts    map[string]*extLegs
	calls   map[string]*callLegs
	// waiting: the extensions whose first full state since the session began has not come
	// yet; when the last one comes, the book says which calls the server has (the
	// resync mark). nil: no mark due.
	waiting map[string]bool
}

type extLegs struct {
	version     uint64
	haveVersion bool
	fresh       bool // the next document is the first of a new subscription
	legs        map[string]*legState
}

type legState struct {
	callID    string
	state     string
	confirmed bool
	// silent: the caller's side of an internal call. The callee's legs are the call's
	// legs and the caller is its remote party; the caller's dialog only keeps the call open.
	silent bool
}

type callLegs struct {
	active    int
	confirmed bool
	dir       call.Direction
	endedAt   time.Time // when the last active leg ended; zero while a leg is active
	lastCause string    // of the leg that ended last
	resync    bool
}

func newLegBook(source string, extensions []string, grace time.Duration) *legBook {
	b := &legBook{source: source, watched: map[string]bool{}, grace: grace,
		exts: map[string]*extLegs{}, calls: map[string]*callLegs{}}
	for _, e := range extensions {
		b.watched[e] = true
		b.exts[e] = &extLegs{fresh: true, legs: map[string]*legState{}}
	}
	return b
}

// startResync begins a session: once every watched extension has given its first state,
// apply adds call.SigResynced listing the calls the server has. An extension that never
// gets a subscription (unknown to the server) holds the mark back: calls Ringside
// restored are then closed by calls.max_age, never ended on a guess.
func (b *legBook) startResync() {
	b.waiting = make(map[string]bool, len(b.watched))
	for e := range b.watched {
		b.waiting[e] = true
	}
}

// subscribed tells the book that ext has a new subscription: its next document is a full
// state that may not follow the old version numbers, and is a resynchronisation.
func (b *legBook) subscribed(ext string) {
	if el := b.exts[ext]; el != nil {
		el.fresh = true
		el.haveVersion = false
	}
}

// apply takes one NOTIFY body of ext (doc nil: an empty body) received at now. It returns
// the signals, and whether the book missed something (a gap in the versions, or a partial
// state where a full one was due) so that the subscription should be refreshed.
func (b *legBook) apply(ext string, doc *dialogInfo, now time.Time) (sigs []call.Signal, gap bool) {
	el := b.exts[ext]
	if el == nil {
		return nil, false
	}
	resync := el.fresh
	if doc == nil {
		if !resync {
			return nil, false // an empty NOTIFY says nothing new
		}
		doc = &dialogInfo{Full: true}
	} else {
		if el.haveVersion && !resync && doc.Version <= el.version {
			return nil, false // repeated or out of order: RFC 4235 says discard
		}
		if !doc.Full && (resync || (el.haveVersion && doc.Version > el.version+1)) {
			gap = true
		}
		el.version, el.haveVersion = doc.Version, true
	}
	el.fresh = false
	seen := make(map[string]bool, len(doc.Dialogs))
	for i := range doc.Dialogs {
		d := &doc.Dialogs[i]
		seen[d.ID] = true
		sigs = b.applyDialog(sigs, ext, el, d, now, resync)
	}
	defer func() {
		if resync && b.waiting[ext] {
			delete(b.waiting, ext)
			if len(b.waiting) == 0 {
				b.waiting = nil
				sigs = append(sigs, b.resyncMark(now))
			}
		}
	}()
	if doc.Full {
		// Legs a full state no longer lists have ended (the server forgot them: a restart).
		var gone []string
		for id := range el.legs {
			if !seen[id] {
				gone = append(gone, id)
			}
		}
		sort.Strings(gone)
		for _, id := range gone {
			lg := el.legs[id]
			if sig := b.endLeg(ext, el, id, lg, b.defaultCause(lg), now, true); !lg.silent {
				sigs = append(sigs, sig)
			}
		}
	}
	return sigs, gap
}

func (b *legBook) applyDialog(sigs []call.Signal, ext string, el *extLegs, d *dialog, now time.Time, resync bool) []call.Signal {
	lg := el.legs[d.ID]
	if lg == nil {
		if d.State == "terminated" {
			return sigs // the end of a leg we never saw: nothing to tell
		}
		callID := d.CallID
		if callID == "" {
			callID = ext + ":" + d.ID
		}
		c := b.calls[callID]
		if c == nil {
			c = &callLegs{dir: b.direction(d)}
			b.calls[callID] = c
		}
		lg = &legState{callID: callID, silent: c.dir == call.Internal && d.Direction == "initiator"}
		el.legs[d.ID] = lg
		c.active++
		c.endedAt = time.Time{}
	}
	c := b.calls[lg.callID]
	add := func(sig call.Signal) {
		if !lg.silent {
			sigs = append(sigs, sig)
		}
	}
	sig := call.Signal{
		Source:    b.source,
		CallID:    lg.callID,
		Direction: c.dir,
		Extension: ext,
		Remote:    remoteParty(d.Remote),
		Time:      now,
		Resync:    resync,
	}
	switch d.State {
	case "trying", "proceeding", "early":
		if lg.state != "" {
			break // still ringing (a second early NOTIFY, another fork's tags)
		}
		sig.Kind = call.SigRinging
		if d.Direction == "initiator" {
			sig.Kind = call.SigDialing
		}
		add(sig)
	case "confirmed":
		if lg.confirmed {
			break
		}
		lg.confirmed, c.confirmed = true, true
		sig.Kind = call.SigAnswered
		add(sig)
	case "terminated":
		cause := mapCause(d.Event, d.Code)
		if cause == "" {
			cause = b.defaultCause(lg)
		}
		add(b.endLeg(ext, el, d.ID, lg, cause, now, resync))
		return sigs
	}
	lg.state = d.State
	return sigs
}

// endLeg forgets a leg and returns its end signal.
func (b *legBook) endLeg(ext string, el *extLegs, id string, lg *legState, cause string, now time.Time, resync bool) call.Signal {
	delete(el.legs, id)
	c := b.calls[lg.callID]
	c.active--
	if c.active <= 0 {
		c.active = 0
		c.endedAt = now
		c.resync = resync
	}
	if !lg.silent {
		c.lastCause = cause
	}
	return call.Signal{Source: b.source, CallID: lg.callID, Kind: call.SigEnded, Direction: c.dir,
		Extension: ext, Cause: cause, Time: now, Resync: resync}
}

// resyncMark lists the calls the book holds: every one has a leg on a watched extension
// now, or ends within the grace period (due sends its end).
func (b *legBook) resyncMark(now time.Time) call.Signal {
	live := make([]string, 0, len(b.calls))
	for id := range b.calls {
		live = append(live, id)
	}
	sort.Strings(live)
	return call.Signal{Source: b.source, Kind: call.SigResynced, Live: live, Time: now, Resync: true}
}

// defaultCause is the cause of a leg that ended without a reason: see the README.
func (b *legBook) defaultCause(lg *legState) string {
	switch {
	case lg.confirmed:
		return call.CauseNormal
	case b.calls[lg.callID].confirmed:
		return call.CauseAnsweredElsewhere
	}
	return call.CauseNoAnswer
}

// due returns the final end of every call whose legs all ended at least grace ago.
func (b *legBook) due(now time.Time) []call.Signal {
	var ids []string
	for id, c := range b.calls {
		if c.active == 0 && !c.endedAt.IsZero() && now.Sub(c.endedAt) >= b.grace {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var sigs []call.Signal
	for _, id := range ids {
		c := b.calls[id]
		cause := call.CauseNormal
		if !c.confirmed {
			cause = c.lastCause
			if cause == "" || cause == call.CauseAnsweredElsewhere {
				cause = call.CauseNoAnswer
			}
		}
		sigs = append(sigs, call.Signal{Source: b.source, CallID: id, Kind: call.SigEnded,
			Direction: c.dir, Cause: cause, Time: c.endedAt.Add(b.grace), Resync: c.resync})
		delete(b.calls, id)
	}
	return sigs
}

// next returns when due has something to return, or zero.
func (b *legBook) next() time.Time {
	var t time.Time
	for _, c := range b.calls {
		if c.active == 0 && !c.endedAt.IsZero() {
			if at := c.endedAt.Add(b.grace); t.IsZero() || at.Before(t) {
				t = at
			}
		}
	}
	return t
}

func (b *legBook) direction(d *dialog) call.Direction {
	if b.watched[uriUser(d.Remote.Identity)] {
		return call.Internal
	}
	switch d.Direction {
	case "initiator":
		return call.Outbound
	case "recipient":
		return call.Inbound
	}
	return call.Unknown
}

// mapCause maps RFC 4235's termination reasons onto call causes ("" when none is given).
// A SIP status given with the reason decides, through the table of package cause (so 480
// is no answer, as in every connector); without one the reason does.
func mapCause(event string, code int) string {
	switch event {
	case "rejected", "error", "timeout", "cancelled":
		if c := cause.SIP(code); c != "" && c != call.CauseNormal {
			return c
		}
	}
	switch event {
	case "cancelled":
		return call.CauseCancelled
	case "rejected":
		return call.CauseRejected
	case "timeout":
		return call.CauseNoAnswer
	case "error":
		return call.CauseFailed
	case "local-bye", "remote-bye", "replaced":
		return call.CauseNormal
	}
	return ""
}

// remoteParty is the other side of a dialog as the tracker wants it (raw and untrusted).
func remoteParty(p participant) call.Party {
	number := uriUser(p.Identity)
	if number == "" {
		number = uriUser(p.Target)
	}
	name := p.IdentityDisplay
	if name == "" && p.TargetDisplay != number {
		name = p.TargetDisplay
	}
	return call.Party{Number: number, Name: name}
}
