package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/rules"
	"github.com/ringside/ringside/internal/store"
)

type item struct {
	sig  call.Signal
	recv time.Time
}

// shard is the owner of its calls: only its goroutine (run) touches tr and calls.
type shard struct {
	p     *Pipeline
	in    chan item
	tr    *call.Tracker
	calls map[string]*owned // by Ringside's call id

	mu     sync.Mutex // guards box only: messages to the owner
	box    []func()
	notify chan struct{}
}

// owned is what the owner knows of one call besides the tracker's state.
type owned struct {
	c       call.Call // newest snapshot
	number  phone.Number
	matches []crm.Match
	lookup  string // done, pending, failed, skipped
	asking  bool   // a lookup is under way
	holding bool   // events wait for the lookup (until the pop timeout)
	held    []heldEvent
	timer   *time.Timer
	seq     uint64
	last    *rules.Input // the last rule event, for rules that hold only after a late lookup
	log     *logRequest  // a log_activity waiting for the lookup
	endedAt time.Time
	minted  bool // a new call of this process: the journal holds nothing of it before its first snapshot
}

type heldEvent struct {
	ev   call.Event
	recv time.Time
}

func newShard(p *Pipeline) *shard {
	return &shard{p: p, in: make(chan item, p.o.QueueLen), tr: call.NewTracker(p.o.Tracker),
		calls: map[string]*owned{}, notify: make(chan struct{}, 1)}
}

// post hands f to the owner; it never blocks.
func (sh *shard) post(f func()) {
	sh.mu.Lock()
	sh.box = append(sh.box, f)
	sh.mu.Unlock()
	select {
	case sh.notify <- struct{}{}:
	default:
	}
}

func (sh *shard) runBox() {
	sh.mu.Lock()
	box := sh.box
	sh.box = nil
	sh.mu.Unlock()
	for _, f := range box {
		f()
	}
}

func (sh *shard) run(ctx context.Context) {
	tick := time.NewTicker(sh.p.o.ExpireEvery)
	defer tick.Stop()
	for {
		select {
		case it := <-sh.in:
			sh.signal(it)
		case <-sh.notify:
			sh.runBox()
		case <-tick.C:
			sh.expire()
		case <-ctx.Done():
			sh.drain()
			return
		}
	}
}

// drain applies every signal already queued, and pops calls still waiting for the CRM
// as pending (with their logs, so that nothing acknowledged is lost).
func (sh *shard) drain() {
	sh.applyQueued()
	sh.runBox()
	for _, o := range sh.calls {
		if o.holding {
			sh.release(o)
		}
		if o.log != nil {
			sh.journal(o, o.log)
			o.log = nil
		}
	}
}

// applyQueued applies the signals already in the queue.
func (sh *shard) applyQueued() {
	for {
		select {
		case it := <-sh.in:
			sh.signal(it)
		default:
			return
		}
	}
}

func (sh *shard) signal(it item) {
	evs := sh.tr.Handle(it.sig)
	if it.sig.Kind == call.SigResynced {
		// The ends of calls the phone system no longer has: each of its own call.
		for _, ev := range evs {
			o := sh.calls[ev.Call.ID]
			if o == nil {
				o = &owned{c: ev.Call, lookup: "skipped"}
				sh.calls[ev.Call.ID] = o
			}
			sh.event(o, ev, it.recv)
		}
		return
	}
	var c call.Call
	switch {
	case len(evs) > 0:
		c = evs[len(evs)-1].Call
	case it.sig.Remote.Number != "":
		// No event, but the signal may have brought the caller's number (late caller ID).
		var ok bool
		if c, ok = sh.tr.Current(it.sig.Source, it.sig.CallID); !ok {
			return
		}
	default:
		return
	}
	o := sh.calls[c.ID]
	if o == nil {
		o = &owned{c: c, minted: true}
		sh.calls[c.ID] = o
	}
	sh.noteNumber(o, c)
	for _, ev := range evs {
		sh.event(o, ev, it.recv)
	}
}

// noteNumber starts the lookup when the call's number is first known.
func (sh *shard) noteNumber(o *owned, c call.Call) {
	if o.lookup != "" && o.lookup != "skipped" {
		return
	}
	n := sh.p.o.Parser.Parse(c.Remote.Raw)
	if c.Remote.Raw == "" {
		n.Withheld = true
	}
	if !n.Lookupable() {
		o.lookup = "skipped"
		return
	}
	first := o.lookup == "" // nothing popped yet: the events wait for the answer
	o.number = n
	if ms, ok := sh.p.o.Lookup.Cached(n); ok {
		o.matches, o.lookup = ms, "done"
		if !first {
			sh.updated(o)
		}
		return
	}
	o.lookup, o.asking, o.holding = "pending", true, first
	id, lk, lctx := c.ID, sh.p.o.Lookup, sh.p.lctx
	go func() {
		res, err := lk.Lookup(lctx, n)
		sh.post(func() { sh.answered(id, res.Matches, err) })
	}()
	if first {
		o.timer = time.AfterFunc(lk.Config().PopTimeout, func() { sh.post(func() { sh.popTimeout(id) }) })
	}
}

// answered applies a lookup's answer (on the owner).
func (sh *shard) answered(id string, ms []crm.Match, err error) {
	o := sh.calls[id]
	if o == nil || !o.asking {
		return
	}
	o.asking = false
	if o.timer != nil {
		o.timer.Stop()
	}
	if err != nil {
		o.lookup = "failed"
		sh.p.log.Warn("caller lookup failed", "call_id", id, "err", err)
	} else {
		o.matches, o.lookup = ms, "done"
	}
	if o.holding {
		sh.release(o) // the pops go out with the answer
		if o.log != nil {
			sh.journal(o, o.log)
			o.log = nil
		}
		return
	}
	sh.updated(o)
}

// popTimeout lets a call's held events go out "lookup pending" (on the owner).
func (sh *shard) popTimeout(id string) {
	if o := sh.calls[id]; o != nil && o.holding {
		sh.release(o)
	}
}

func (sh *shard) release(o *owned) {
	o.holding = false
	held := o.held
	o.held = nil
	for _, h := range held {
		sh.deliver(o, h.ev, h.recv)
	}
}

func (sh *shard) event(o *owned, ev call.Event, recv time.Time) {
	if o.holding {
		o.held = append(o.held, heldEvent{ev, recv})
		return
	}
	sh.deliver(o, ev, recv)
}

// deliver pops ev to the agents, runs the rules and journals the call.
func (sh *shard) deliver(o *owned, ev call.Event, recv time.Time) {
	p := sh.p
	o.c = ev.Call
	if ev.Call.State == call.Ended && o.endedAt.IsZero() {
		o.endedAt = time.Now()
	}
	matches := o.matches
	if matches == nil {
		matches = []crm.Match{}
	}
	msg := Message{Type: ev.Type, Resync: ev.Resync, Recv: recv, Call: ev.Call, Leg: ev.Leg, From: ev.From, Matches: matches, Lookup: o.lookup, Time: ev.Time}
	if ev.Call.AnsweredBy != "" {
		if us := p.o.Hub.UsersAt(ev.Call.AnsweredBy); len(us) > 0 {
			msg.AnsweredByUser = us[0]
		}
	}
	rcpt := p.o.Hub.Recipients(ev)
	in := rules.Input{Event: rules.EventOf(ev), Type: ev.Type, Call: ev.Call, Leg: ev.Leg, From: ev.From,
		Matches: matches, Lookup: o.lookup, Users: rcpt, Time: ev.Time}
	in.Agent, in.AgentEmail = p.agentFor(ev)
	res := p.rules.Evaluate(&in)
	if in.Event != "" {
		last := in
		o.last = &last
	}
	sent := p.send(rcpt, msg, &in, res, nil, rules.Popable(ev.Type) && in.Event != "")
	if p.o.Observe != nil {
		p.o.Observe(ev, sent, recv)
	}
	sh.write(o, &in, res)
}

// updated sends call.updated after a late answer, and runs the rules that hold only now.
func (sh *shard) updated(o *owned) {
	p := sh.p
	matches := o.matches
	if matches == nil {
		matches = []crm.Match{}
	}
	msg := Message{Type: MsgUpdated, Call: o.c, Matches: matches, Lookup: o.lookup, Time: time.Now()}
	rcpt := p.o.Hub.Recipients(call.Event{Call: o.c})
	var rr rules.Result
	var in rules.Input
	if o.last != nil && o.lookup == "done" {
		in = *o.last
		in.Call, in.Matches, in.Lookup = o.c, matches, o.lookup
		rr = p.rules.Evaluate(&in).Without(p.rules.Evaluate(o.last))
	}
	p.send(rcpt, msg, &in, rr, o.last, false)
	sh.write(o, &in, rr)
}

// write queues the webhooks of res and journals the call; a log_activity waits for a
// lookup under way.
func (sh *shard) write(o *owned, in *rules.Input, res rules.Result) {
	p := sh.p
	var req *logRequest
	if opts, ok := res.Log(); ok {
		if p.o.LogCalls {
			req = &logRequest{opts: opts, in: *in}
		} else {
			p.log.Debug("log_activity: the CRM takes no activities", "call_id", in.Call.ID)
		}
	}
	p.queueWebhooks(in, res)
	if req != nil && o.asking {
		o.log, req = req, nil
	}
	if req == nil && o.log != nil && !o.asking {
		req, o.log = o.log, nil
	}
	sh.journal(o, req)
}

func (sh *shard) journal(o *owned, req *logRequest) {
	o.seq++
	sh.p.queueJournal(snapshot{c: o.c, matches: o.matches, seq: o.seq, log: req, fresh: o.minted && o.seq == 1})
}

// expire ends the calls the phone system forgot, and forgets ended calls.
func (sh *shard) expire() {
	evs := sh.tr.Expire()
	for _, ev := range evs {
		o := sh.calls[ev.Call.ID]
		if o == nil {
			o = &owned{c: ev.Call, lookup: "skipped"}
			sh.calls[ev.Call.ID] = o
		}
		sh.event(o, ev, time.Now())
	}
	linger := sh.p.o.Tracker.Linger
	if linger <= 0 {
		linger = 2 * time.Minute
	}
	for id, o := range sh.calls {
		if !o.endedAt.IsZero() && time.Since(o.endedAt) > linger && !o.asking && o.log == nil {
			delete(sh.calls, id)
		}
	}
}

// restore takes back a journaled call in progress (before the owner runs, or on the
// owner); false when the tracker holds the call already.
func (sh *shard) restore(r store.CallRecord) bool {
	if !sh.tr.Restore(r.Call) {
		return false
	}
	o := &owned{c: r.Call, matches: r.Matches, lookup: "done"}
	if n := sh.p.o.Parser.Parse(r.Call.Remote.Raw); r.Call.Remote.Raw == "" || !n.Lookupable() {
		o.lookup = "skipped"
	} else {
		o.number = n
	}
	sh.calls[r.Call.ID] = o
	return true
}

// forget drops the calls in progress of source without ending them (on the owner, after
// the source stopped): events held for a lookup go out first, so that the journal has
// them for the node that adopts the calls. It returns the ids of the calls dropped.
func (sh *shard) forget(source string) []string {
	sh.applyQueued()
	var ids []string
	for _, c := range sh.tr.Forget(source) {
		ids = append(ids, c.ID)
		o := sh.calls[c.ID]
		if o == nil {
			continue
		}
		if o.holding {
			sh.release(o)
		}
		if o.timer != nil {
			o.timer.Stop()
		}
		delete(sh.calls, c.ID)
	}
	return ids
}

// active lists the owner's calls in progress (on the owner).
func (sh *shard) active() []Active {
	var out []Active
	for _, c := range sh.tr.Active() {
		a := Active{Call: c, Lookup: "pending"}
		if o := sh.calls[c.ID]; o != nil {
			a.Matches, a.Lookup = o.matches, o.lookup
		}
		out = append(out, a)
	}
	return out
}
