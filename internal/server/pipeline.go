package server

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/ringside/ringside/internal/activity"
	"github.com/ringside/ringside/internal/agent"
	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/rules"
	"github.com/ringside/ringside/internal/store"
)

// Message is one stream message: a call event with who the caller is.
type Message struct {
	Type    call.EventType `json:"type"`
	Resync  bool           `json:"resync,omitempty"` // caused by a resynchronisation: update the card, do not pop again (keep it second: see isPop)
	Recv    time.Time      `json:"-"`                // when the cause reached Ringside: the hub measures pop latency from it
	Call    call.Call      `json:"call"`
	Leg     *call.Leg      `json:"leg,omitempty"`
	From    string         `json:"from,omitempty"`
	Matches []crm.Match    `json:"matches"`
	// Lookup says how far the CRM lookup is: done, pending (the CRM is slow; a
	// call.updated follows), failed, or skipped (withheld number).
	Lookup string `json:"lookup"`
	// AnsweredByUser names the user who answered, for "answered by Bob".
	AnsweredByUser string `json:"answered_by_user,omitempty"`
	// Pop is true when a rule pops this event (ringing and dialing messages are only
	// sent when one does).
	Pop bool `json:"pop,omitempty"`
	// Actions are what the rules ask the agent's page to do (open_record,
	// open_create_form, open_activity, notify).
	Actions []rules.UIAction `json:"actions,omitempty"`
	Time    time.Time        `json:"time"`
}

// MsgUpdated is the extra stream message type sent when a pending lookup completes.
const MsgUpdated call.EventType = "call.updated"

// journal is the part of the store the pipeline writes to.
type journal interface {
	SaveCall(ctx context.Context, c call.Call, matches []crm.Match) error
	SaveCalls(ctx context.Context, entries []store.JournalEntry) error
	GetCall(ctx context.Context, id string) (store.CallRecord, error)
	AnnotateCall(ctx context.Context, id string, a store.Annotation) error
	Enqueue(ctx context.Context, it store.OutboxItem) (int64, error)
}

// pipeline runs signals through the tracker, looks callers up, evaluates the rules, pops
// to agents with the rules' UI actions, keeps the journal, and queues the rules' writes
// (call log, webhooks) through the outbox. Signals of one call are handled in order by
// one shard; writes are queued in event order by one writer, so that they are delivered
// in order per call.
type pipeline struct {
	log     *slog.Logger
	rules   *rules.Engine
	kick    func() // wakes the outbox after a write was queued
	tracker *call.Tracker
	lookup  *lookup.Service
	parser  *phone.Parser
	hub     *agent.Hub
	journal journal
	logCall bool // the directory logs activities
	agentOf func(ext string) (string, string)
	observe func(ev call.Event, recipients int, since time.Time)
	now     func() time.Time

	shards []chan item

	mu    sync.Mutex
	calls map[string]*callInfo

	jmu     sync.Mutex
	jq      map[string]snapshot // call id → latest snapshot to save
	jnotify chan struct{}

	wq chan store.OutboxItem // rule writes (webhooks) waiting for the outbox, in event order

	bg sync.WaitGroup // pending lookups, activity queueing
}

type item struct {
	sig  *call.Signal
	evs  []call.Event
	recv time.Time
}

type callInfo struct {
	remote  phone.Number
	matches []crm.Match
	state   string // done, pending, failed, skipped
	ended   bool
	seq     uint64 // events delivered
	// log is the pending log_activity request: written after the journal has the call.
	log *logRequest
	// last is the last rule event of the call, so that a late lookup answer runs the
	// rules that apply only now.
	last *rules.Input
}

type logRequest struct {
	opts rules.LogOptions
	in   rules.Input
	seq  uint64 // the event that asked: the journal must hold this snapshot or a later one
}

// snapshot is a call to save in the journal, with the number of the event that made it.
type snapshot struct {
	c   call.Call
	seq uint64
}

func newPipeline(log *slog.Logger, tr *call.Tracker, lk *lookup.Service, parser *phone.Parser, hub *agent.Hub, j journal, logCall bool, shards int) *pipeline {
	if shards <= 0 {
		shards = 8
	}
	p := &pipeline{log: log, tracker: tr, lookup: lk, parser: parser, hub: hub, journal: j, logCall: logCall,
		now: time.Now, calls: map[string]*callInfo{}, jq: map[string]snapshot{}, jnotify: make(chan struct{}, 1),
		wq: make(chan store.OutboxItem, 1024), kick: func() {}}
	if e, err := rules.New(&config.Config{}, rules.Options{}); err == nil {
		p.rules = e // the defaults, until server.build sets the configured rules
	}
	for range shards {
		p.shards = append(p.shards, make(chan item, 256))
	}
	return p
}

func callKey(source, id string) string { return source + "\x00" + id }

func (p *pipeline) shard(key string) chan item {
	h := fnv.New32a()
	h.Write([]byte(key))
	return p.shards[h.Sum32()%uint32(len(p.shards))]
}

// Emit takes a signal from a source. It blocks while the signal's shard is full
// (backpressure) and never drops a signal.
func (p *pipeline) Emit(s call.Signal) {
	s2 := s
	p.shard(callKey(s.Source, s.CallID)) <- item{sig: &s2, recv: p.now()}
}

// Run handles signals until ctx ends, then drains what was queued.
func (p *pipeline) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, ch := range p.shards {
		wg.Go(func() {
			for {
				select {
				case it := <-ch:
					p.handle(ctx, it)
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Go(func() { p.runJournal(ctx) })
	wg.Go(func() { p.runWrites(ctx) })
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				evs := p.tracker.Expire()
				// Route expiry events through their call's shard to keep per-call order.
				byCall := map[string][]call.Event{}
				for _, e := range evs {
					k := callKey(e.Call.Source, e.Call.ID)
					byCall[k] = append(byCall[k], e)
				}
				for k, es := range byCall {
					select {
					case p.shard(k) <- item{evs: es, recv: p.now()}:
					case <-ctx.Done():
						return
					}
				}
				p.forgetEnded()
			case <-ctx.Done():
				return
			}
		}
	})
	wg.Wait()
	p.bg.Wait()
	p.flushJournal(context.WithoutCancel(ctx))
	p.drainWrites(context.WithoutCancel(ctx))
	return nil
}

func (p *pipeline) handle(ctx context.Context, it item) {
	evs := it.evs
	if it.sig != nil {
		evs = p.tracker.Handle(*it.sig)
	}
	for _, ev := range evs {
		p.deliver(ctx, ev, it.recv)
	}
}

func (p *pipeline) info(ctx context.Context, c call.Call) *callInfo {
	key := callKey(c.Source, c.ID)
	p.mu.Lock()
	ci := p.calls[key]
	p.mu.Unlock()
	if ci != nil {
		return ci
	}
	ci = &callInfo{remote: p.parser.Parse(c.Remote.Raw)}
	if c.Remote.Raw == "" {
		ci.remote.Withheld = true
	}
	if !ci.remote.Lookupable() {
		ci.state = "skipped"
	} else {
		lctx, cancel := context.WithTimeout(ctx, p.lookup.Config().PopTimeout)
		res, err := p.lookup.Lookup(lctx, ci.remote)
		cancel()
		switch {
		case err == nil:
			ci.matches, ci.state = res.Matches, "done"
		case lctx.Err() != nil && ctx.Err() == nil:
			ci.state = "pending"
			p.bg.Go(func() { p.finishLookup(context.WithoutCancel(ctx), c, ci) })
		default:
			ci.state = "failed"
			p.log.Warn("caller lookup failed", "call_id", c.ID, "err", err)
		}
	}
	p.mu.Lock()
	if old := p.calls[key]; old != nil {
		ci = old
	} else {
		p.calls[key] = ci
	}
	p.mu.Unlock()
	return ci
}

// finishLookup waits for a slow CRM and sends call.updated with the matches.
func (p *pipeline) finishLookup(ctx context.Context, c call.Call, ci *callInfo) {
	res, err := p.lookup.Lookup(ctx, ci.remote)
	p.mu.Lock()
	if err != nil {
		ci.state = "failed"
	} else {
		ci.matches, ci.state = res.Matches, "done"
	}
	matches, state := ci.matches, ci.state
	p.mu.Unlock()
	if err != nil {
		p.log.Warn("caller lookup failed", "call_id", c.ID, "err", err)
	}
	// The latest snapshot of the call, so that the update does not undo later events.
	for _, a := range p.tracker.Active() {
		if a.ID == c.ID && a.Source == c.Source {
			c = a
		}
	}
	msg := Message{Type: MsgUpdated, Call: c, Matches: matches, Lookup: state, Time: p.now()}
	rcpt := p.hub.Recipients(call.Event{Call: c})
	// The rules of the last event again, now that the caller is known (or known to be
	// unknown): what newly applies runs now.
	p.mu.Lock()
	last, seq := ci.last, ci.seq
	p.mu.Unlock()
	var rr rules.Result
	var in rules.Input
	if last != nil && err == nil {
		in = *last
		in.Matches, in.Lookup = matches, state
		rr = p.rules.Evaluate(&in).Without(p.rules.Evaluate(last))
	}
	p.send(rcpt, msg, &in, rr, last, false)
	if len(rr.Fired) > 0 {
		p.write(context.WithoutCancel(ctx), ci, &in, rr, seq)
	}
	p.queueJournal(c, seq)
}

func (p *pipeline) deliver(ctx context.Context, ev call.Event, recv time.Time) {
	ci := p.info(ctx, ev.Call)
	p.mu.Lock()
	msg := Message{Type: ev.Type, Resync: ev.Resync, Recv: recv, Call: ev.Call, Leg: ev.Leg, From: ev.From, Matches: ci.matches, Lookup: ci.state, Time: ev.Time}
	if ev.Type == call.EvEnded || ev.Type == call.EvMissed || ev.Type == call.EvNotAnswered {
		ci.ended = true
	}
	ci.seq++
	seq := ci.seq
	p.mu.Unlock()
	if msg.Matches == nil {
		msg.Matches = []crm.Match{}
	}
	if ev.Call.AnsweredBy != "" {
		if us := p.hub.UsersAt(ev.Call.AnsweredBy); len(us) > 0 {
			msg.AnsweredByUser = us[0]
		}
	}
	rcpt := p.hub.Recipients(ev)
	in := rules.Input{Event: rules.EventOf(ev), Type: ev.Type, Call: ev.Call, Leg: ev.Leg, From: ev.From,
		Matches: msg.Matches, Lookup: msg.Lookup, Users: rcpt, Time: ev.Time}
	in.Agent, in.AgentEmail = p.agentFor(ev)
	res := p.rules.Evaluate(&in)
	if in.Event != "" {
		p.mu.Lock()
		ci.last = &in
		p.mu.Unlock()
	}
	sent := p.send(rcpt, msg, &in, res, nil, rules.Popable(ev.Type) && in.Event != "")
	if p.observe != nil {
		p.observe(ev, sent, recv)
	}
	// Writes after the pop: they never delay it.
	p.write(ctx, ci, &in, res, seq)
	p.queueJournal(ev.Call, seq)
}

// send delivers msg to the recipients with their UI actions. A popable message goes only
// to the users a rule pops it for (or has UI actions for: then with "pop": false, so that
// the page acts without showing the card). With before (a late lookup answer), only rules
// that did not hold before run. It returns how many users were sent the message.
func (p *pipeline) send(rcpt []string, msg Message, in *rules.Input, res rules.Result, before *rules.Input, popable bool) int {
	encoded := map[string][]byte{} // by pop and actions: most users share one encoding
	sent := 0
	for _, u := range rcpt {
		r := res
		if p.rules.PerUser() && in.Event != "" {
			one := *in
			one.Users = []string{u}
			r = p.rules.Evaluate(&one)
			if before != nil {
				was := *before
				was.Users = one.Users
				r = r.Without(p.rules.Evaluate(&was))
			}
		}
		m := msg
		m.Pop = r.Pop()
		acts, err := r.UI(in)
		if err != nil {
			p.log.Warn("rule action failed", "call_id", in.Call.ID, "event", in.Event, "err", err)
		}
		if popable && !m.Pop && len(acts) == 0 {
			continue // no rule pops it, and there is nothing for the page to do
		}
		m.Actions = acts
		key, _ := json.Marshal(struct {
			Pop bool
			A   []rules.UIAction
		}{m.Pop, acts})
		b, ok := encoded[string(key)]
		if !ok {
			var err error
			if b, err = json.Marshal(m); err != nil {
				p.log.Error("encoding stream message", "call_id", in.Call.ID, "err", err)
				return sent
			}
			encoded[string(key)] = b
		}
		p.hub.SendSince(u, b, m.Recv)
		sent++
	}
	return sent
}

// agentFor names the agent of an event: the user at its leg, else the one who answered.
func (p *pipeline) agentFor(ev call.Event) (string, string) {
	if p.agentOf == nil {
		return "", ""
	}
	ext := ev.Call.AnsweredBy
	if ev.Leg != nil {
		if ev.Leg.User != "" {
			return ev.Leg.User, ""
		}
		ext = ev.Leg.Extension
	}
	if ext == "" {
		return "", ""
	}
	return p.agentOf(ext)
}

// write queues the writing actions of res: webhooks go to the writer (in event order),
// log_activity waits for the journal to hold the call.
func (p *pipeline) write(ctx context.Context, ci *callInfo, in *rules.Input, res rules.Result, seq uint64) {
	if opts, ok := res.Log(); ok {
		if p.logCall {
			p.mu.Lock()
			ci.log = &logRequest{opts: opts, in: *in, seq: seq}
			p.mu.Unlock()
		} else {
			p.log.Debug("log_activity: the CRM takes no activities", "call_id", in.Call.ID)
		}
	}
	items, err := res.Webhooks(in)
	if err != nil {
		p.log.Error("rule action failed", "call_id", in.Call.ID, "event", in.Event, "err", err)
	}
	for _, it := range items {
		select {
		case p.wq <- it:
		case <-ctx.Done():
			p.log.Error("webhook not queued: shutting down", "call_id", in.Call.ID, "event", in.Event)
			return
		}
	}
}

// runWrites puts the rules' writes into the outbox, in the order they were made.
func (p *pipeline) runWrites(ctx context.Context) {
	for {
		select {
		case it := <-p.wq:
			p.enqueue(ctx, it)
		case <-ctx.Done():
			return
		}
	}
}

// drainWrites queues what is left at shutdown.
func (p *pipeline) drainWrites(ctx context.Context) {
	for {
		select {
		case it := <-p.wq:
			p.enqueue(ctx, it)
		default:
			return
		}
	}
}

func (p *pipeline) enqueue(ctx context.Context, it store.OutboxItem) {
	if _, err := p.journal.Enqueue(ctx, it); err != nil {
		p.log.Error("rule action not queued", "kind", it.Kind, "key", it.Key, "err", err)
		return
	}
	p.kick()
}

// logActivity queues the phone-call activity a log_activity rule asked for, once the
// journal holds the call (and a slow lookup has answered). Every write of a call has the
// call's key, so the CRM keeps one activity per call, whatever logs it and how often:
// the agent's notes, a ring group, a transfer chain, a repeated event.
func (p *pipeline) logActivity(ctx context.Context, c call.Call, seq uint64) {
	p.mu.Lock()
	ci := p.calls[callKey(c.Source, c.ID)]
	if ci == nil || ci.log == nil || ci.log.seq > seq || ci.state == "pending" {
		p.mu.Unlock()
		return
	}
	req := ci.log
	ci.log = nil
	p.mu.Unlock()
	rec, err := p.journal.GetCall(ctx, c.ID)
	if err != nil {
		p.log.Error("reading journal entry; call not logged", "call_id", c.ID, "err", err)
		return
	}
	a := activity.Build(rec, p.agentOf, p.now())
	subject, agent := a.Subject, a.Agent
	in := req.in
	in.Call, in.Matches, in.Agent, in.AgentEmail = rec.Call, rec.Matches, a.Agent, a.AgentEmail
	if err := req.opts.Apply(&a, &in); err != nil {
		p.log.Warn("rule action failed; default subject used", "call_id", c.ID, "err", err)
	}
	// The rule's choices go into the journal: the activity is built from it when it is
	// delivered.
	var ann store.Annotation
	if a.Subject != subject {
		ann.LogSubject = &a.Subject
	}
	if a.Agent != agent {
		ann.LogOwner = &a.Agent
	}
	if ann.LogSubject != nil || ann.LogOwner != nil {
		if err := p.journal.AnnotateCall(ctx, c.ID, ann); err != nil {
			p.log.Error("saving the rule's subject; default used", "call_id", c.ID, "err", err)
		}
	}
	if err := activity.Queue(ctx, p.journal, c.ID); err != nil {
		p.log.Error("queueing call log", "call_id", c.ID, "err", err)
		return
	}
	p.kick()
}

func (p *pipeline) forgetEnded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.calls) < 64 {
		return
	}
	active := map[string]bool{}
	for _, c := range p.tracker.Active() {
		active[callKey(c.Source, c.ID)] = true
	}
	for k, ci := range p.calls {
		if ci.ended && !active[k] && ci.state != "pending" && ci.log == nil {
			delete(p.calls, k)
		}
	}
}

// Matches returns what the pipeline knows of a call's caller (for the stream greeting).
func (p *pipeline) Matches(c call.Call) ([]crm.Match, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ci := p.calls[callKey(c.Source, c.ID)]; ci != nil {
		return ci.matches, ci.state
	}
	return nil, "pending"
}

// queueJournal asks the journal writer to save c, the snapshot of the call after its
// event number seq.
func (p *pipeline) queueJournal(c call.Call, seq uint64) {
	p.jmu.Lock()
	if old, ok := p.jq[c.ID]; !ok || old.seq <= seq {
		p.jq[c.ID] = snapshot{c: c, seq: seq}
	}
	p.jmu.Unlock()
	select {
	case p.jnotify <- struct{}{}:
	default:
	}
}

func (p *pipeline) runJournal(ctx context.Context) {
	for {
		select {
		case <-p.jnotify:
			p.flushJournal(ctx)
		case <-ctx.Done():
			return
		}
	}
}

// flushJournal writes the latest snapshot of every call that changed.
func (p *pipeline) flushJournal(ctx context.Context) {
	p.jmu.Lock()
	q := p.jq
	p.jq = map[string]snapshot{}
	p.jmu.Unlock()
	if len(q) == 0 {
		return
	}
	// One transaction for everything that changed since the last write; if it fails,
	// call by call, so that one bad entry does not keep the others out.
	entries := make([]store.JournalEntry, 0, len(q))
	snaps := make([]snapshot, 0, len(q))
	for _, sn := range q {
		matches, _ := p.Matches(sn.c)
		entries = append(entries, store.JournalEntry{Call: sn.c, Matches: matches})
		snaps = append(snaps, sn)
	}
	saved := make([]bool, len(entries))
	if err := p.journal.SaveCalls(ctx, entries); err == nil {
		for i := range saved {
			saved[i] = true
		}
	} else {
		for i, e := range entries {
			if err := p.journal.SaveCall(ctx, e.Call, e.Matches); err != nil {
				p.log.Error("journal write failed", "call_id", e.Call.ID, "err", err)
				continue
			}
			saved[i] = true
		}
	}
	if !p.logCall {
		return
	}
	for i, sn := range snaps {
		if saved[i] {
			p.logActivity(ctx, sn.c, sn.seq)
		}
	}
}
