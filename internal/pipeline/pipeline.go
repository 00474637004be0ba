// Package pipeline turns what phone systems report into pops, journal entries and CRM
// writes.
//
// # The flow
//
// A connector hands a call.Signal to Emit. Emit routes it by (source, the phone system's
// call id) to one of a fixed number of shards and returns; it blocks only while that
// shard's queue is full (backpressure from the journal or the agents, never from the CRM).
// Each shard is one goroutine, the call's owner: it holds a call.Tracker of its own and a
// small record per call (caller matches, lookup state, the last rule input), and it alone
// changes them, in order: signals, lookup results, the pop timeout, expiry, restore. There
// is no lock over call state.
//
// The first time a call's number is known (first signal, or a later one: late caller ID),
// the owner asks the lookup service. A cached answer is used at once. Otherwise the request
// runs on its own goroutine (the lookup service coalesces one number's requests and bounds
// the CRM requests in flight, lookup.max_in_flight), and the owner holds that call's events
// (only that call's) until the answer is posted back to it as a message, or until
// lookup.pop_timeout, a timer message to itself: then the pop goes out "lookup: pending"
// and call.updated follows with the answer, running the rules that now hold.
//
// Every change of a call makes a snapshot with a per-call sequence number. The journal
// writer (one goroutine, batching) keeps only the newest snapshot of each call, so an older
// one is never written after a newer one; the activity a log_activity rule asks for is
// queued once the journal holds the snapshot that asked (and the lookup has answered), and
// built from the journal.
//
// # The call id
//
// The tracker gives every call Ringside's own id at first sight (UUID v7: unique across
// sources and over time): call.Call.ID, the key of the journal, the CRM activity, the
// outbox group and webhooks. The phone system's id stays in Call.PbxID with Call.Source.
// A phone system id seen again after its call ended (and the tracker's linger passed)
// starts a new call.
//
// # Restart and shutdown
//
// Run first restores the journal's calls not ended into their owners, so that their later
// signals (or a connector's resync) continue them. A connector that resyncs (AMI, ESL) ends
// its resync with call.SigResynced listing the calls the phone system has: Emit hands it
// to every owner, and the source's other calls end with the cause end_not_seen. A
// restored call whose end never comes is closed after calls.max_age, end_not_seen too.
// In a cluster, the calls of a source run under a lease are restored by the node that
// takes the lease (Adopt) and forgotten by the one that gives it up (Release). When Run's context ends,
// each shard applies every signal already queued (the webhook answered 202 for them),
// pops held calls as pending, and the journal and the writes are flushed before Run
// returns. After a kill -9, what the journal holds is restored: signals of the last moments
// before the kill (the writer batches, 5 ms) may be lost, but never a call's end without
// the activity it asked for (one transaction).
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ringside/ringside/internal/activity"
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
	// Actions are what the rules ask the agent's page to do.
	Actions []rules.UIAction `json:"actions,omitempty"`
	Time    time.Time        `json:"time"`
}

// MsgUpdated is the extra stream message type sent when a pending lookup completes.
const MsgUpdated call.EventType = "call.updated"

// Hub is the part of the agent hub the pipeline sends to.
type Hub interface {
	Recipients(ev call.Event) []string
	UsersAt(ext string) []string
	SendSince(user string, msg []byte, since time.Time) int
}

// Journal is the part of the store the pipeline writes to and restores from.
type Journal interface {
	SaveCalls(ctx context.Context, entries []store.JournalEntry) error
	OpenCalls(ctx context.Context) ([]store.CallRecord, error)
	Enqueue(ctx context.Context, it store.OutboxItem) (int64, error)
}

// Options are what a pipeline needs. Lookup, Parser, Hub and Journal are required.
type Options struct {
	Log     *slog.Logger
	Rules   *rules.Engine // nil: the default rules
	Lookup  *lookup.Service
	Parser  *phone.Parser
	Hub     Hub
	Journal Journal
	// Tracker configures each shard's tracker (Parse defaults to Parser.Parse, NewID to
	// UUID v7).
	Tracker call.TrackerConfig
	// LogCalls says the CRM takes phone-call activities.
	LogCalls bool
	// AgentOf names the user (and email) at an extension.
	AgentOf func(ext string) (string, string)
	// Observe is told of every event delivered (metrics).
	Observe func(ev call.Event, recipients int, since time.Time)
	// Kick wakes the outbox after a write was queued.
	Kick func()
	// Shards is the number of owner goroutines. Default 8.
	Shards int
	// QueueLen bounds each shard's signal queue. Default 256.
	QueueLen int
	// ExpireEvery is how often owners expire calls. Default 1s.
	ExpireEvery time.Duration
	// Leased tells the sources that one node of a cluster runs at a time (under a
	// lease). Their calls in progress are not restored at start but when this node takes
	// the source (Adopt), and forgotten when it gives the source up (Release). Nil: none.
	Leased func(source string) bool
}

// Pipeline runs calls. Build it with New, run it with Run.
type Pipeline struct {
	o      Options
	log    *slog.Logger
	rules  *rules.Engine
	shards []*shard

	jmu     sync.Mutex
	jq      map[string]snapshot // call id → newest snapshot to save
	fmu     sync.Mutex          // one journal write at a time: batches land in the order taken
	jlegs   map[string]string   // call in progress → its legs as journaled (legsKey); under fmu
	jforget []string            // calls whose owner gave them up (Release): out of jlegs at the next write; under jmu
	jnotify chan struct{}

	wq chan store.OutboxItem // rule writes (webhooks), in event order

	running chan struct{} // closed while Run runs (after the restore)
	stopped chan struct{} // closed when the owners have returned
	lctx    context.Context
}

// New builds a pipeline; it starts nothing.
func New(o Options) *Pipeline {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Shards <= 0 {
		o.Shards = 8
	}
	if o.QueueLen <= 0 {
		o.QueueLen = 256
	}
	if o.ExpireEvery <= 0 {
		o.ExpireEvery = time.Second
	}
	if o.Kick == nil {
		o.Kick = func() {}
	}
	if o.Tracker.Parse == nil {
		o.Tracker.Parse = o.Parser.Parse
	}
	if o.Tracker.NewID == nil {
		o.Tracker.NewID = newID
	}
	p := &Pipeline{o: o, log: o.Log, rules: o.Rules, jq: map[string]snapshot{}, jlegs: map[string]string{}, jnotify: make(chan struct{}, 1),
		wq: make(chan store.OutboxItem, 1024), running: make(chan struct{}), stopped: make(chan struct{}), lctx: context.Background()}
	if p.rules == nil {
		p.rules, _ = rules.New(&config.Config{}, rules.Options{})
	}
	for range o.Shards {
		p.shards = append(p.shards, newShard(p))
	}
	return p
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// Rules returns the rules in force.
func (p *Pipeline) Rules() *rules.Engine { return p.rules }

// shardOf routes a call by its source and the phone system's id (FNV-1a, no allocation).
func (p *Pipeline) shardOf(source, pbxID string) *shard {
	h := uint32(2166136261)
	for i := 0; i < len(source); i++ {
		h = (h ^ uint32(source[i])) * 16777619
	}
	h = (h ^ 0) * 16777619
	for i := 0; i < len(pbxID); i++ {
		h = (h ^ uint32(pbxID[i])) * 16777619
	}
	return p.shards[h%uint32(len(p.shards))]
}

// Emit takes a signal from a source. It blocks while the call's shard queue is full
// (backpressure) and never drops a signal; it never waits for the CRM.
func (p *Pipeline) Emit(s call.Signal) {
	if s.Kind == call.SigResynced {
		// It concerns every call of the source, on every owner: each gets it after the
		// signals the source emitted before it.
		for _, sh := range p.shards {
			sh.in <- item{sig: s, recv: time.Now()}
		}
		return
	}
	p.shardOf(s.Source, s.CallID).in <- item{sig: s, recv: time.Now()}
}

// Sync applies the signals already acknowledged (queued to the owners) and writes the
// journal now, instead of at the writer's next batch: for a request that must see what a
// signal the phone system sent a moment ago did (notes saved right after the answer). It
// returns when that is done, when ctx ends, or at once when the pipeline is not running.
// Events held for a lookup (until lookup.pop_timeout) are not applied by it.
func (p *Pipeline) Sync(ctx context.Context) error {
	select {
	case <-p.running:
	default:
		return nil
	}
	var wg sync.WaitGroup
	for _, sh := range p.shards {
		wg.Add(1)
		sh.post(func() {
			sh.applyQueued()
			wg.Done()
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait() // an owner that stops runs its box while draining
		close(done)
	}()
	select {
	case <-done:
	case <-p.stopped:
		return nil // Run flushes what the owners applied
	case <-ctx.Done():
		return fmt.Errorf("pipeline: sync: %w", ctx.Err())
	}
	p.flushJournal(context.WithoutCancel(ctx))
	return nil
}

// Run restores the calls in progress from the journal, then handles signals until ctx
// ends; then it applies what was queued, flushes the journal and the writes, and returns.
func (p *Pipeline) Run(ctx context.Context) error {
	lctx, lcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer lcancel()
	p.lctx = lctx
	p.restore(context.WithoutCancel(ctx)) // a stop right after the start still restores
	close(p.running)
	bg := context.WithoutCancel(ctx)
	var owners, rest sync.WaitGroup
	for _, sh := range p.shards {
		owners.Go(func() { sh.run(ctx) })
	}
	jctx, jstop := context.WithCancel(bg)
	rest.Go(func() { p.runJournal(jctx) })
	rest.Go(func() { p.runWrites(jctx) })
	owners.Wait() // every owner drained its queue
	close(p.stopped)
	jstop()
	rest.Wait()
	// What was acknowledged is journaled before the process exits: a store that refuses
	// gets a few more tries.
	for i := 0; !p.flushJournal(bg) && i < 5; i++ {
		time.Sleep(journalRetryMin << i)
	}
	p.drainWrites(bg)
	return nil
}

// restore gives the journal's calls not ended back to their owners.
func (p *Pipeline) restore(ctx context.Context) {
	recs, err := p.o.Journal.OpenCalls(ctx)
	if err != nil {
		p.log.Error("reading calls in progress from the journal; none restored", "err", err)
		return
	}
	n := 0
	for _, r := range recs {
		if p.o.Leased != nil && p.o.Leased(r.Call.Source) {
			continue // the node that takes the source adopts them
		}
		if p.shardOf(r.Call.Source, r.Call.PbxID).restore(r) {
			n++
		}
	}
	if n > 0 {
		p.log.Info("calls in progress restored from the journal", "calls", n)
	}
}

// Adopt takes back the journal's calls in progress of source, for a node that has just
// taken the source over (a cluster's lease: the node that ran it may have died
// mid-call). The source's signals and its resync then continue those calls under their
// Ringside ids instead of starting new ones. It returns once every owner holds them, so
// call it before the source runs. It returns how many calls were taken back.
func (p *Pipeline) Adopt(ctx context.Context, source string) (int, error) {
	recs, err := p.o.Journal.OpenCalls(ctx)
	if err != nil {
		return 0, fmt.Errorf("pipeline: reading the calls in progress of %s: %w", source, err)
	}
	by := map[*shard][]store.CallRecord{}
	for _, r := range recs {
		if r.Call.Source == source {
			sh := p.shardOf(r.Call.Source, r.Call.PbxID)
			by[sh] = append(by[sh], r)
		}
	}
	done := make(chan int, len(by))
	for sh, rs := range by {
		sh.post(func() {
			k := 0
			for _, r := range rs {
				if sh.restore(r) {
					k++
				}
			}
			done <- k
		})
	}
	n := 0
	for range by {
		select {
		case k := <-done:
			n += k
		case <-ctx.Done():
			return n, ctx.Err()
		case <-p.stopped:
			return n, errors.New("pipeline: stopped")
		}
	}
	return n, nil
}

// Release forgets the calls in progress of source without ending them: this node gave
// the source up (it lost the lease), and the node that takes it over adopts them from
// the journal. Signals the source emitted before it stopped are applied first. It
// returns once every owner forgot them (at once when the pipeline has stopped).
func (p *Pipeline) Release(source string) {
	done := make(chan struct{}, len(p.shards))
	for _, sh := range p.shards {
		sh.post(func() {
			ids := sh.forget(source)
			p.jmu.Lock()
			p.jforget = append(p.jforget, ids...)
			p.jmu.Unlock()
			done <- struct{}{}
		})
	}
	for range p.shards {
		select {
		case <-done:
		case <-p.stopped:
			return
		}
	}
}

// Active is a call in progress with what is known of its caller.
type Active struct {
	Call    call.Call
	Matches []crm.Match
	Lookup  string
}

// Active returns the calls in progress with their callers, asking each owner (for the
// stream greeting). Before Run, it reads the trackers.
func (p *Pipeline) Active() []Active {
	select {
	case <-p.running:
	default:
		var out []Active
		for _, sh := range p.shards {
			for _, c := range sh.tr.Active() {
				out = append(out, Active{Call: c, Lookup: "pending"})
			}
		}
		return out
	}
	replies := make(chan []Active, len(p.shards))
	for _, sh := range p.shards {
		sh.post(func() { replies <- sh.active() })
	}
	var out []Active
	timeout := time.After(2 * time.Second)
	for range p.shards {
		select {
		case a := <-replies:
			out = append(out, a...)
		case <-timeout: // an owner stopped: answer with what came
			return out
		}
	}
	return out
}

// ActiveCalls returns snapshots of the calls in progress (admin live board, greeting).
func (p *Pipeline) ActiveCalls() []call.Call {
	var out []call.Call
	for _, sh := range p.shards {
		out = append(out, sh.tr.Active()...)
	}
	return out
}

// Tracked returns the number of calls the trackers hold (in progress or lingering).
func (p *Pipeline) Tracked() int {
	n := 0
	for _, sh := range p.shards {
		n += sh.tr.Len()
	}
	return n
}

// send delivers msg to the recipients with their UI actions. A popable message goes only
// to the users a rule pops it for (or has UI actions for: then with "pop": false). With
// before (a late lookup answer), only rules that did not hold before run. It returns how
// many users were sent the message.
func (p *Pipeline) send(rcpt []string, msg Message, in *rules.Input, res rules.Result, before *rules.Input, popable bool) int {
	if len(rcpt) == 0 {
		return 0
	}
	if !p.rules.PerUser() || in.Event == "" {
		// Every recipient gets the same pop and actions: render and encode them once.
		m, ok := p.render(msg, res, in, popable)
		if !ok {
			return 0
		}
		b, err := json.Marshal(m)
		if err != nil {
			p.log.Error("encoding stream message", "call_id", in.Call.ID, "err", err)
			return 0
		}
		for _, u := range rcpt {
			p.o.Hub.SendSince(u, b, m.Recv)
		}
		return len(rcpt)
	}
	encoded := map[string][]byte{} // by pop and actions: most users share one encoding
	sent := 0
	for _, u := range rcpt {
		one := *in
		one.Users = []string{u}
		r := p.rules.Evaluate(&one)
		if before != nil {
			was := *before
			was.Users = one.Users
			r = r.Without(p.rules.Evaluate(&was))
		}
		m, ok := p.render(msg, r, in, popable)
		if !ok {
			continue
		}
		key := ""
		if m.Pop || len(m.Actions) > 0 {
			k, _ := json.Marshal(struct {
				Pop bool
				A   []rules.UIAction
			}{m.Pop, m.Actions})
			key = string(k)
		}
		b := encoded[key]
		if b == nil {
			var err error
			if b, err = json.Marshal(m); err != nil {
				p.log.Error("encoding stream message", "call_id", in.Call.ID, "err", err)
				return sent
			}
			encoded[key] = b
		}
		p.o.Hub.SendSince(u, b, m.Recv)
		sent++
	}
	return sent
}

// render gives msg the pop and UI actions of r; false when a popable message has
// neither (the user is not sent it).
func (p *Pipeline) render(msg Message, r rules.Result, in *rules.Input, popable bool) (Message, bool) {
	msg.Pop = r.Pop()
	acts, err := r.UI(in)
	if err != nil {
		p.log.Warn("rule action failed", "call_id", in.Call.ID, "event", in.Event, "err", err)
	}
	msg.Actions = acts
	return msg, !popable || msg.Pop || len(acts) > 0
}

// agentFor names the agent of an event: the user at its leg, else the one who answered.
func (p *Pipeline) agentFor(ev call.Event) (string, string) {
	if p.o.AgentOf == nil {
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
	return p.o.AgentOf(ext)
}

// queueWebhooks hands the webhooks of res to the writer, in event order.
func (p *Pipeline) queueWebhooks(in *rules.Input, res rules.Result) {
	items, err := res.Webhooks(in)
	if err != nil {
		p.log.Error("rule action failed", "call_id", in.Call.ID, "event", in.Event, "err", err)
	}
	for _, it := range items {
		p.wq <- it
	}
}

// runWrites puts the rules' writes into the outbox, in the order they were made.
func (p *Pipeline) runWrites(ctx context.Context) {
	for {
		select {
		case it := <-p.wq:
			p.enqueue(context.WithoutCancel(ctx), it)
		case <-ctx.Done():
			return
		}
	}
}

func (p *Pipeline) drainWrites(ctx context.Context) {
	for {
		select {
		case it := <-p.wq:
			p.enqueue(ctx, it)
		default:
			return
		}
	}
}

func (p *Pipeline) enqueue(ctx context.Context, it store.OutboxItem) {
	if _, err := p.o.Journal.Enqueue(ctx, it); err != nil {
		p.log.Error("rule action not queued", "kind", it.Kind, "key", it.Key, "err", err)
		return
	}
	p.o.Kick()
}

// logRequest is a log_activity a rule asked for.
type logRequest struct {
	opts rules.LogOptions
	in   rules.Input
}

// snapshot is a call to save, with the number of the change that made it and, when the
// call is to be logged, the request.
type snapshot struct {
	c       call.Call
	matches []crm.Match
	seq     uint64
	log     *logRequest
	tries   int  // journal writes the store refused
	fresh   bool // the call's first snapshot: the journal holds nothing of it yet
}

// queueJournal asks the writer to save sn unless it holds a newer snapshot of the call.
func (p *Pipeline) queueJournal(sn snapshot) {
	p.jmu.Lock()
	if old, ok := p.jq[sn.c.ID]; ok {
		if old.seq > sn.seq {
			sn = old // never happens from one owner; kept as the rule
		}
		if sn.log == nil {
			sn.log = old.log
		}
		sn.fresh = sn.fresh || old.fresh
	}
	p.jq[sn.c.ID] = sn
	p.jmu.Unlock()
	select {
	case p.jnotify <- struct{}{}:
	default:
	}
}

// journalLinger is how long the journal writer gathers changes before it writes them in
// one transaction. Under load the cost of a transaction (SQLite: its WAL frames and locks)
// is shared by every call that changed in the window instead of paid per signal; the pops
// never wait for it (they are sent by the owners), and what was acknowledged is drained
// at shutdown as before.
const journalLinger = 5 * time.Millisecond

// Journal retries: a write the store refused (locked, full, failing disk) is tried again
// after a growing wait; a call's snapshot that fails on its own this many times is given
// up (and said so in the log), so that one bad entry cannot stop the journal.
const (
	journalRetryMin = 100 * time.Millisecond
	journalRetryMax = 5 * time.Second
	journalMaxTries = 20
)

func (p *Pipeline) runJournal(ctx context.Context) {
	t := time.NewTimer(0)
	<-t.C
	var retry <-chan time.Time
	wait := journalRetryMin
	for {
		select {
		case <-p.jnotify:
			t.Reset(journalLinger)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		case <-retry:
		case <-ctx.Done():
			return
		}
		retry = nil
		if p.flushJournal(context.WithoutCancel(ctx)) {
			wait = journalRetryMin
		} else {
			retry = time.After(wait)
			wait = min(2*wait, journalRetryMax)
		}
	}
}

// flushJournal writes the newest snapshot of every call that changed in one transaction,
// each with the activity it asks for (journaled together: a kill cannot leave a call's
// end without its CRM write). When the store refuses, each call is tried on its own, and
// what still fails goes back to the queue for the next try. It reports whether
// everything was written.
func (p *Pipeline) flushJournal(ctx context.Context) bool {
	p.fmu.Lock()
	defer p.fmu.Unlock()
	p.jmu.Lock()
	q, forget := p.jq, p.jforget
	p.jq, p.jforget = map[string]snapshot{}, nil
	p.jmu.Unlock()
	defer func() {
		for _, id := range forget {
			delete(p.jlegs, id)
		}
	}()
	if len(q) == 0 {
		return true
	}
	entries := make([]store.JournalEntry, 0, len(q))
	snaps := make([]snapshot, 0, len(q))
	logs := false
	for _, sn := range q {
		e := store.JournalEntry{Call: sn.c, Matches: sn.matches, Legs: p.legsHeld(sn)}
		if sn.log != nil {
			e.Then = p.logThen(sn.c.ID, sn.log)
			logs = true
		}
		entries = append(entries, e)
		snaps = append(snaps, sn)
	}
	err := p.o.Journal.SaveCalls(ctx, entries)
	if err == nil {
		for _, e := range entries {
			p.journaledLegs(e.Call)
		}
		if logs {
			p.o.Kick()
		}
		return true
	}
	p.log.Warn("journal write failed; trying each call on its own", "calls", len(entries), "err", err)
	ok := true
	for i, e := range entries {
		if err := p.o.Journal.SaveCalls(ctx, []store.JournalEntry{e}); err != nil {
			ok = false
			p.requeue(snaps[i], err)
			continue
		}
		p.journaledLegs(e.Call)
		if e.Then != nil {
			p.o.Kick()
		}
	}
	return ok
}

// legsHeld says what the journal holds of sn's call's legs (under fmu): the store then
// writes only what changed. A call's first snapshot has none; one this writer has
// journaled has those it wrote; of any other (restored, adopted, a write given up) the
// writer knows nothing, and the store replaces them.
func (p *Pipeline) legsHeld(sn snapshot) store.LegsHeld {
	if k, ok := p.jlegs[sn.c.ID]; ok {
		if k == legsKey(sn.c) {
			return store.LegsSame
		}
		return store.LegsUnknown
	}
	if sn.fresh {
		return store.LegsNone
	}
	return store.LegsUnknown
}

// journaledLegs notes the legs of c as written (under fmu); an ended call is forgotten.
func (p *Pipeline) journaledLegs(c call.Call) {
	if c.State == call.Ended {
		delete(p.jlegs, c.ID)
		return
	}
	p.jlegs[c.ID] = legsKey(c)
}

// legsKey is what the journal keeps of c's legs: their extensions and users.
func legsKey(c call.Call) string {
	var b strings.Builder
	for _, l := range c.Legs {
		b.WriteString(l.Extension)
		b.WriteByte(0)
		b.WriteString(l.User)
		b.WriteByte(0)
	}
	return b.String()
}

// requeue gives a snapshot the store refused back to the writer, unless a newer one of
// the call is waiting (which then takes over its activity request).
func (p *Pipeline) requeue(sn snapshot, err error) {
	sn.tries++
	if sn.tries >= journalMaxTries {
		p.log.Error("journal write failed; this state of the call is not journaled", "call_id", sn.c.ID, "tries", sn.tries, "logged", sn.log != nil, "err", err)
		delete(p.jlegs, sn.c.ID) // its next write, if any, replaces the legs
		return
	}
	p.log.Warn("journal write failed; will retry", "call_id", sn.c.ID, "tries", sn.tries, "err", err)
	p.jmu.Lock()
	defer p.jmu.Unlock()
	if cur, ok := p.jq[sn.c.ID]; ok {
		if cur.log == nil {
			cur.log = sn.log
			p.jq[sn.c.ID] = cur
		}
		return
	}
	p.jq[sn.c.ID] = sn
}

// logThen returns what journaling call id does besides saving it, when a rule asked for
// its phone-call activity: the rule's choices (subject, owner of a missed call) annotate
// the journal entry, from which the activity is built when it is delivered, and the
// activity is queued. Every write of a call has the call's key, so the CRM keeps one
// activity per call. It runs inside the journal's transaction and does no I/O.
func (p *Pipeline) logThen(id string, req *logRequest) func(store.CallRecord) (store.Annotation, []store.OutboxItem) {
	return func(rec store.CallRecord) (store.Annotation, []store.OutboxItem) {
		a := activity.Build(rec, p.o.AgentOf, time.Now())
		subject, agent := a.Subject, a.Agent
		in := req.in
		in.Call, in.Matches, in.Agent, in.AgentEmail = rec.Call, rec.Matches, a.Agent, a.AgentEmail
		if err := req.opts.Apply(&a, &in); err != nil {
			p.log.Warn("rule action failed; default subject used", "call_id", id, "err", err)
		}
		var ann store.Annotation
		if a.Subject != subject {
			ann.LogSubject = &a.Subject
		}
		if a.Agent != agent {
			ann.LogOwner = &a.Agent
		}
		return ann, []store.OutboxItem{activity.Item(id)}
	}
}
