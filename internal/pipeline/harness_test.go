package pipeline

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/activity"
	"github.com/ringside/ringside/internal/agent"
	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/store"
)

// harness runs the pipeline on a real SQLite journal, with agents alice (200) and bob
// (201), and catches every stream message. start may be called again after stop: a
// restart on the same journal.
type harness struct {
	t      *testing.T
	st     *store.Store
	dir    crm.Directory
	lcfg   lookup.Config
	shards int
	msgs   chan Message
	leased func(source string) bool // Options.Leased of the next start
	wrap   func(Journal) Journal    // wraps the journal of the next start (nil: the store)

	cancel context.CancelFunc
	done   chan struct{}
	p      *Pipeline
}

func newHarness(t *testing.T, dir crm.Directory, lcfg lookup.Config, shards int) *harness {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, st: st, dir: dir, lcfg: lcfg, shards: shards, msgs: make(chan Message, 4096)}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) start() {
	h.t.Helper()
	parser, _ := phone.NewParser(phone.Config{DefaultRegion: "DE", MinSuffixDigits: 8})
	lk, err := lookup.New(h.dir, h.lcfg, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	hub := agent.NewHub(nil, agent.Options{})
	hub.SetExtensions(map[string][]string{"200": {"alice"}, "201": {"bob"}})
	hub.SetForward(func(user string, b []byte, _ time.Time) {
		var m Message
		json.Unmarshal(b, &m)
		m.From = user
		h.msgs <- m
	})
	var j Journal = h.st
	if h.wrap != nil {
		j = h.wrap(j)
	}
	h.p = New(Options{Log: slog.New(slog.DiscardHandler), Lookup: lk, Parser: parser, Hub: hub, Journal: j, LogCalls: true,
		Shards: h.shards, Tracker: call.TrackerConfig{Linger: time.Millisecond}, ExpireEvery: 5 * time.Millisecond, Leased: h.leased})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() { h.p.Run(ctx); close(h.done) }()
}

func (h *harness) emit(s call.Signal) { h.p.Emit(s) }

// stop cancels the pipeline and waits until it returned.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
	h.cancel = nil
}

// calls returns the journal, newest first.
func (h *harness) calls() []store.CallRecord {
	h.t.Helper()
	recs, err := h.st.ListCalls(context.Background(), store.CallFilter{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

// activities returns the queued CRM activity writes by call id.
func (h *harness) activities() map[string][]store.OutboxItem {
	h.t.Helper()
	items, err := h.st.ListOutbox(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string][]store.OutboxItem{}
	for _, it := range items {
		if it.Kind == activity.Kind {
			var a struct {
				CallID string `json:"call_id"`
			}
			json.Unmarshal(it.Payload, &a)
			id := a.CallID
			if id == "" {
				id = it.Key
			}
			out[id] = append(out[id], it)
		}
	}
	return out
}

// pbxOf returns the phone system's id of a call: pbx_id since Ringside gives calls their
// own ids, the id before.
func pbxOf(c call.Call) string {
	b, _ := json.Marshal(c)
	var v struct {
		ID    string `json:"id"`
		PbxID string `json:"pbx_id"`
	}
	json.Unmarshal(b, &v)
	if v.PbxID != "" {
		return v.PbxID
	}
	return v.ID
}

// next returns the next stream message, failing loudly after a generous wait.
func (h *harness) next(what string) Message {
	h.t.Helper()
	select {
	case m := <-h.msgs:
		return m
	case <-time.After(20 * time.Second):
		h.t.Fatalf("no stream message (%s) in 20 s", what)
	}
	return Message{}
}

// gate is a directory whose answers for some numbers wait until the test opens the gate;
// it counts requests that are waiting.
type gate struct {
	open    chan struct{}
	hold    func(n phone.Number) bool
	matches []crm.Match
	mu      sync.Mutex
	waiting int
}

func (d *gate) Lookup(ctx context.Context, n phone.Number) ([]crm.Match, error) {
	if d.hold == nil || d.hold(n) {
		d.mu.Lock()
		d.waiting++
		d.mu.Unlock()
		defer func() { d.mu.Lock(); d.waiting--; d.mu.Unlock() }()
		select {
		case <-d.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	ms := make([]crm.Match, len(d.matches))
	copy(ms, d.matches)
	for i := range ms {
		ms[i].Number = n.E164
	}
	return ms, nil
}

func (d *gate) Get(context.Context, crm.Ref) (crm.Record, error) {
	return crm.Record{}, crm.ErrNotFound
}

func (d *gate) blocked() int { d.mu.Lock(); defer d.mu.Unlock(); return d.waiting }

var jane = []crm.Match{{Record: crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: "jane"}, Name: "Jane Doe"}, How: phone.MatchExact}}
