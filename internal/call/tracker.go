package call

import (
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ringside/ringside/internal/phone"
)

// TrackerConfig tunes a Tracker. Every field is optional.
type TrackerConfig struct {
	// Parse turns a raw remote number into a phone.Number (E.164, withheld). Without it
	// the raw number is kept and nothing is parsed.
	Parse func(raw string) phone.Number
	// Now is the clock for signals without a time, and for expiry. Default time.Now.
	Now func() time.Time
	// MaxAge ends calls that have seen no signal for this long (the PBX never said they
	// ended). Default 4h.
	MaxAge time.Duration
	// Linger keeps ended calls this long so that late or repeated signals are recognised
	// as such rather than starting a new call. Default 2m.
	Linger time.Duration
	// LegGrace is how long a call whose legs all stopped ringing (busy, no answer) waits
	// for another leg before it counts as ended: queues and hunt groups ring phones one
	// after another. Default 3s.
	LegGrace time.Duration
	// MaxNameBytes bounds a stored display name. Default 4096.
	MaxNameBytes int
	// NewID gives a call Ringside's own id when the tracker first sees it (the pipeline
	// uses UUID v7: unique across sources and over time). Without it a call's ID is the
	// phone system's id, as connector replays want it.
	NewID func() string
}

// CauseEndNotSeen ends a call the phone system never said was over (no signal for
// MaxAge): its end time is when Ringside gave up on it, not when it ended.
const CauseEndNotSeen = "end_not_seen"

// A Tracker turns Signals into Events. It is the one place where call semantics live. It
// is safe for concurrent use, but the pipeline gives each of its owner goroutines a
// tracker of its own; signals of one call must be handed to it in order.
//
// Calls are keyed by source and the phone system's id. A signal for an id the tracker
// does not hold (never seen, or forgotten after Linger) starts a new call with a new ID.
type Tracker struct {
	cfg   TrackerConfig
	mu    sync.Mutex
	calls map[trackKey]*tracked
}

type trackKey struct{ source, id string }

type tracked struct {
	c        Call
	seen     time.Time // last signal
	ended    time.Time // when it ended (for Linger)
	transfer bool      // a transfer is under way: the old leg's end does not end the call
	allEnded time.Time // when the last active leg ended without the call ending
}

// NewTracker returns an empty tracker.
func NewTracker(cfg TrackerConfig) *Tracker {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 4 * time.Hour
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 2 * time.Minute
	}
	if cfg.LegGrace <= 0 {
		cfg.LegGrace = 3 * time.Second
	}
	if cfg.MaxNameBytes <= 0 {
		cfg.MaxNameBytes = 4096
	}
	return &Tracker{cfg: cfg, calls: map[trackKey]*tracked{}}
}

// Len returns the number of calls held (in progress or lingering).
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.calls)
}

// Active returns snapshots of the calls in progress.
func (t *Tracker) Active() []Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Call
	for _, tc := range t.calls {
		if tc.c.State != Ended {
			out = append(out, tc.c.snapshot())
		}
	}
	return out
}

// Current returns the snapshot of the call the phone system calls pbxID, if held.
func (t *Tracker) Current(source, pbxID string) (Call, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc := t.calls[trackKey{source, pbxID}]; tc != nil {
		return tc.c.snapshot(), true
	}
	return Call{}, false
}

// Restore takes back a call in progress that an earlier run journaled, so that its later
// signals continue it rather than start a new call. Its last signal counts as seen at its
// latest recorded time: MaxAge runs from there. A call the tracker already holds is left
// as it is (Restore returns false).
func (t *Tracker) Restore(c Call) bool {
	if c.PbxID == "" {
		c.PbxID = c.ID
	}
	seen := c.StartedAt
	for _, at := range []time.Time{c.AnsweredAt} {
		if at.After(seen) {
			seen = at
		}
	}
	for _, l := range c.Legs {
		for _, at := range []time.Time{l.RingingAt, l.AnsweredAt, l.EndedAt} {
			if at.After(seen) {
				seen = at
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k := trackKey{c.Source, c.PbxID}
	if t.calls[k] != nil {
		return false
	}
	t.calls[k] = &tracked{c: c.snapshot(), seen: seen}
	return true
}

// Forget drops the calls in progress of source without ending them, and returns them:
// another node of a cluster runs the source now and carries them on. Ended calls stay
// (they linger as usual).
func (t *Tracker) Forget(source string) []Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Call
	for k, tc := range t.calls {
		if k.source == source && tc.c.State != Ended {
			out = append(out, tc.c.snapshot())
			delete(t.calls, k)
		}
	}
	return out
}

func (c Call) snapshot() Call {
	c.Legs = append([]Leg(nil), c.Legs...)
	return c
}

// Handle applies one signal and returns the events it causes, in order. Duplicates and
// signals that arrive out of order cause no events, or only those that still make sense.
func (t *Tracker) Handle(s Signal) []Event {
	if s.Kind == SigResynced {
		return t.reconcile(s)
	}
	if s.CallID == "" {
		return nil
	}
	now := t.cfg.Now()
	at := s.Time
	if at.IsZero() {
		at = now
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k := trackKey{s.Source, s.CallID}
	tc := t.calls[k]
	if tc == nil {
		if s.Kind == SigEnded || s.Kind == SigTransferred {
			// The end of a call we never saw: nothing to tell anyone.
			return nil
		}
		id := s.CallID
		if t.cfg.NewID != nil {
			id = t.cfg.NewID()
		}
		tc = &tracked{c: Call{ID: id, PbxID: s.CallID, Source: s.Source, Direction: s.Direction, StartedAt: at}}
		if tc.c.Direction == Unknown {
			if s.Kind == SigDialing {
				tc.c.Direction = Outbound
			} else {
				tc.c.Direction = Inbound
			}
		}
		if s.Kind == SigDialing {
			tc.c.State = Dialing
		} else {
			tc.c.State = Ringing
		}
		t.calls[k] = tc
	}
	tc.seen = now
	c := &tc.c
	if c.State == Ended {
		return nil // late or repeated signal of an ended call
	}
	t.setRemote(c, s)
	if c.DID == "" && s.DID != "" {
		c.DID = sanitize(s.DID, 256)
	}
	var evs []Event
	emit := func(typ EventType, leg *Leg) {
		e := Event{Type: typ, Call: c.snapshot(), Time: at, Resync: s.Resync}
		if leg != nil {
			l := *leg
			e.Leg = &l
		}
		evs = append(evs, e)
	}
	ext := sanitize(s.Extension, 64)
	switch s.Kind {
	case SigRinging, SigDialing:
		if ext == "" {
			break
		}
		if l := c.leg(ext); l != nil {
			if s.User != "" && l.User == "" {
				l.User = s.User
			}
			break // duplicate, or late after answer/end
		}
		st, typ := Ringing, EvRinging
		if s.Kind == SigDialing {
			st, typ = Dialing, EvDialing
		}
		c.Legs = append(c.Legs, Leg{Extension: ext, User: sanitize(s.User, 128), State: st, RingingAt: at})
		tc.allEnded = time.Time{}
		emit(typ, &c.Legs[len(c.Legs)-1])
	case SigAnswered:
		var l *Leg
		if ext == "" {
			// The remote party answered an outbound call: the dialing leg talks.
			for i := range c.Legs {
				if c.Legs[i].State == Dialing {
					l = &c.Legs[i]
					break
				}
			}
			if l == nil {
				break
			}
		} else if l = c.leg(ext); l == nil {
			c.Legs = append(c.Legs, Leg{Extension: ext, User: sanitize(s.User, 128), State: Ringing, RingingAt: at})
			l = &c.Legs[len(c.Legs)-1]
		}
		if l.State == Answered || l.State == Ended {
			break
		}
		l.State, l.AnsweredAt = Answered, at
		if c.AnsweredAt.IsZero() {
			c.AnsweredAt = at
		}
		c.State = Answered
		c.AnsweredBy = l.Extension
		tc.transfer = false
		tc.allEnded = time.Time{}
		answered := *l
		// Phones still ringing for this call stop: someone else has it.
		var withdrawn []int
		for i := range c.Legs {
			if c.Legs[i].State == Ringing && c.Legs[i].Extension != answered.Extension {
				c.Legs[i].State, c.Legs[i].EndedAt, c.Legs[i].Cause = Ended, at, CauseAnsweredElsewhere
				withdrawn = append(withdrawn, i)
			}
		}
		emit(EvAnswered, &answered)
		for _, i := range withdrawn {
			emit(EvWithdrawn, &c.Legs[i])
		}
	case SigTransferred:
		to := sanitize(s.TransferTo, 64)
		if to == "" {
			break
		}
		tc.transfer = true
		var target *Leg
		if target = c.leg(to); target == nil || target.State == Ended {
			if target == nil {
				c.Legs = append(c.Legs, Leg{Extension: to, State: Ringing, RingingAt: at})
				target = &c.Legs[len(c.Legs)-1]
			} else {
				target.State, target.RingingAt, target.EndedAt, target.Cause = Ringing, at, time.Time{}, ""
			}
			e := Event{Type: EvTransferred, Call: c.snapshot(), From: ext, Time: at, Resync: s.Resync}
			l := *target
			e.Leg = &l
			evs = append(evs, e)
			emit(EvRinging, target)
		} else {
			e := Event{Type: EvTransferred, Call: c.snapshot(), From: ext, Time: at, Resync: s.Resync}
			l := *target
			e.Leg = &l
			evs = append(evs, e)
		}
	case SigEnded:
		if ext == "" {
			t.endCall(tc, s.Cause, at, emit)
			break
		}
		l := c.leg(ext)
		if l == nil || l.State == Ended {
			break
		}
		wasRinging := l.State == Ringing || l.State == Dialing
		l.State, l.EndedAt = Ended, at
		l.Cause = s.Cause
		if wasRinging {
			if l.Cause == "" && c.AnsweredAt.IsZero() {
				l.Cause = CauseNoAnswer
			}
			emit(EvWithdrawn, l)
		}
		if c.activeLegs() > 0 {
			break
		}
		switch {
		case tc.transfer:
			// The transferring phone hung up; the target leg comes next.
		case !c.AnsweredAt.IsZero(), s.Cause == "", s.Cause == CauseNormal, s.Cause == CauseCancelled, s.Cause == CauseAbandoned:
			t.endCall(tc, s.Cause, at, emit)
		default:
			tc.allEnded = now // busy / no answer: a queue may ring the next phone
		}
	}
	if c.State == Ended {
		tc.ended = now
	}
	return evs
}

func (t *Tracker) setRemote(c *Call, s Signal) {
	if c.Remote.Raw == "" && s.Remote.Number != "" {
		raw := sanitize(s.Remote.Number, 256)
		c.Remote.Raw = raw
		if t.cfg.Parse != nil {
			n := t.cfg.Parse(raw)
			c.Remote.Number = n.E164
			c.Remote.Withheld = n.Withheld
		}
	}
	if c.Remote.Raw == "" && c.Remote.Number == "" {
		c.Remote.Withheld = true
	}
	if c.Remote.Name == "" && s.Remote.Name != "" {
		c.Remote.Name = sanitize(s.Remote.Name, t.cfg.MaxNameBytes)
	}
}

func (t *Tracker) endCall(tc *tracked, cause string, at time.Time, emit func(EventType, *Leg)) {
	c := &tc.c
	for i := range c.Legs {
		l := &c.Legs[i]
		switch l.State {
		case Ringing, Dialing:
			l.State, l.EndedAt = Ended, at
			if l.Cause == "" {
				l.Cause = cause
				if l.Cause == "" || l.Cause == CauseNormal {
					l.Cause = CauseCancelled
				}
			}
			emit(EvWithdrawn, l)
		case Answered:
			l.State, l.EndedAt = Ended, at
			if l.Cause == "" {
				l.Cause = cause
			}
		}
	}
	c.State, c.EndedAt = Ended, at
	if cause == "" {
		cause = CauseNormal
	}
	c.Cause = cause
	unanswered := c.AnsweredAt.IsZero()
	if unanswered && c.Direction != Outbound {
		c.Missed = true
	}
	emit(EvEnded, nil)
	if unanswered {
		if c.Direction == Outbound {
			emit(EvNotAnswered, nil)
		} else {
			emit(EvMissed, nil)
		}
	}
}

// Expire ends calls the phone system forgot (no signal for MaxAge), ends calls whose legs
// all stopped ringing more than LegGrace ago, forgets ended calls after Linger, and returns
// the events of the calls it ended.
func (t *Tracker) Expire() []Event {
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var evs []Event
	for k, tc := range t.calls {
		c := &tc.c
		if c.State == Ended {
			if now.Sub(tc.ended) >= t.cfg.Linger {
				delete(t.calls, k)
			}
			continue
		}
		emit := func(typ EventType, leg *Leg) {
			e := Event{Type: typ, Call: c.snapshot(), Time: now}
			if leg != nil {
				l := *leg
				e.Leg = &l
			}
			evs = append(evs, e)
		}
		switch {
		case !tc.allEnded.IsZero() && now.Sub(tc.allEnded) >= t.cfg.LegGrace:
			cause := CauseNoAnswer
			if n := len(c.Legs); n > 0 && c.Legs[n-1].Cause != "" {
				cause = c.Legs[n-1].Cause
			}
			t.endCall(tc, cause, now, emit)
			tc.ended = now
		case now.Sub(tc.seen) >= t.cfg.MaxAge:
			t.endCall(tc, CauseEndNotSeen, now, emit)
			tc.ended = now
		}
	}
	return evs
}

// reconcile ends the calls of s.Source in progress that the phone system no longer has
// (not in s.Live), with CauseEndNotSeen: their end came while nobody was looking.
func (t *Tracker) reconcile(s Signal) []Event {
	live := make(map[string]bool, len(s.Live))
	for _, id := range s.Live {
		live[id] = true
	}
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var evs []Event
	for k, tc := range t.calls {
		if k.source != s.Source || tc.c.State == Ended || live[k.id] {
			continue
		}
		c := &tc.c
		t.endCall(tc, CauseEndNotSeen, now, func(typ EventType, leg *Leg) {
			e := Event{Type: typ, Call: c.snapshot(), Time: now, Resync: true}
			if leg != nil {
				l := *leg
				e.Leg = &l
			}
			evs = append(evs, e)
		})
		tc.ended = now
	}
	return evs
}

func (c *Call) leg(ext string) *Leg {
	for i := range c.Legs {
		if c.Legs[i].Extension == ext {
			return &c.Legs[i]
		}
	}
	return nil
}

func (c *Call) activeLegs() int {
	n := 0
	for _, l := range c.Legs {
		if l.State != Ended {
			n++
		}
	}
	return n
}

// sanitize makes untrusted text safe to keep: valid UTF-8, no control characters (tabs and
// newlines become spaces), at most max bytes (cut on a rune boundary).
func sanitize(s string, max int) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f || b >= 0x80 {
			clean = false
			break
		}
	}
	if clean && len(s) <= max {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			r = ' '
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069'):
			continue // C0/C1 controls and bidi overrides that could disguise a name
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Sanitize is the tracker's cleaning of untrusted text, for other packages that store
// caller-supplied strings: valid UTF-8, no control characters, at most max bytes.
func Sanitize(s string, max int) string { return sanitize(s, max) }
