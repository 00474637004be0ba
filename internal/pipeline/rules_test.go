package pipeline

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/agent"
	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/rules"
	"github.com/ringside/ringside/internal/store"
)

// slowDir answers a lookup only when its test releases it.
type slowDir struct {
	release chan struct{}
	matches []crm.Match
}

func (d *slowDir) Lookup(ctx context.Context, _ phone.Number) ([]crm.Match, error) {
	select {
	case <-d.release:
		return d.matches, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (d *slowDir) Get(context.Context, crm.Ref) (crm.Record, error) {
	return crm.Record{}, crm.ErrNotFound
}

// memJournal is the journal in memory.
type memJournal struct {
	mu    sync.Mutex
	calls map[string]store.CallRecord
	items []store.OutboxItem
}

func (j *memJournal) SaveCall(_ context.Context, c call.Call, m []crm.Match) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls[c.ID] = store.CallRecord{Call: c, Matches: m}
	return nil
}
func (j *memJournal) SaveCalls(ctx context.Context, es []store.JournalEntry) error {
	for _, e := range es {
		j.SaveCall(ctx, e.Call, e.Matches)
	}
	return nil
}
func (j *memJournal) GetCall(_ context.Context, id string) (store.CallRecord, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.calls[id], nil
}
func (j *memJournal) AnnotateCall(_ context.Context, id string, a store.Annotation) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	rec := j.calls[id]
	if a.LogSubject != nil {
		rec.LogSubject = *a.LogSubject
	}
	if a.LogOwner != nil {
		rec.LogOwner = *a.LogOwner
	}
	j.calls[id] = rec
	return nil
}

func (j *memJournal) OpenCalls(context.Context) ([]store.CallRecord, error) { return nil, nil }
func (j *memJournal) Enqueue(_ context.Context, it store.OutboxItem) (int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.items = append(j.items, it)
	return int64(len(j.items)), nil
}

// TestSlowLookupRunsRulesLate: with the CRM slower than the pop timeout, the pop goes out
// "pending" without the unknown-caller actions; once the CRM says nobody has the number,
// call.updated carries them (once), and a webhook for unknown callers is queued then.
func TestSlowLookupRunsRulesLate(t *testing.T) {
	t.Setenv("RINGSIDE_TEST_HOOK_SECRET", "x")
	cfg, err := config.Parse("ringside.yaml", []byte(`rules:
  - on: inbound.ringing
    when: {match: unmatched}
    do: [{webhook: {url: "http://127.0.0.1:1/", secret_env: RINGSIDE_TEST_HOOK_SECRET}}]
  - on: inbound.ringing
    when: {users: [alice]}
    do: [{notify: {title: "for alice"}}]
  - defaults
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := rules.New(cfg, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	parser, _ := phone.NewParser(phone.Config{DefaultRegion: "DE", MinSuffixDigits: 8})
	dir := &slowDir{release: make(chan struct{})}
	lk, err := lookup.New(dir, lookup.Config{PopTimeout: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hub := agent.NewHub(nil, agent.Options{})
	hub.SetExtensions(map[string][]string{"200": {"alice"}, "201": {"bob"}})
	msgs := make(chan Message, 16)
	hub.SetForward(func(user string, b []byte, _ time.Time) {
		var m Message
		json.Unmarshal(b, &m)
		m.From = user // who got it (From is unused by ringing and updates)
		msgs <- m
	})
	j := &memJournal{calls: map[string]store.CallRecord{}}
	p := New(Options{Log: slog.New(slog.DiscardHandler), Rules: eng, Lookup: lk, Parser: parser, Hub: hub, Journal: j, LogCalls: true, Shards: 2})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	p.Emit(call.Signal{Source: "webhook", CallID: "s-1", Kind: call.SigRinging, Extension: "200", Remote: call.Party{Number: "+44 20 7946 0958"}})
	p.Emit(call.Signal{Source: "webhook", CallID: "s-1", Kind: call.SigRinging, Extension: "201"})
	got := map[string]Message{}
	for range 2 {
		m := <-msgs
		got[m.From] = m
	}
	a, b := got["alice"], got["bob"]
	if a.Type != call.EvRinging || a.Lookup != "pending" || !a.Pop || !slices.Equal(dos(a), []string{"notify"}) || !b.Pop || len(b.Actions) != 0 {
		t.Fatalf("pops: alice %+v, bob %+v", a, b)
	}
	close(dir.release)
	got = map[string]Message{}
	for range 2 {
		m := <-msgs
		got[m.From] = m
	}
	for _, u := range []string{"alice", "bob"} {
		m := got[u]
		if m.Type != MsgUpdated || m.Lookup != "done" || !slices.Equal(dos(m), []string{"open_create_form"}) {
			t.Errorf("%s's update: %+v", u, m)
		}
	}
	cancel()
	<-done
	var kinds []string
	for _, it := range j.items {
		kinds = append(kinds, it.Kind)
	}
	if !slices.Equal(kinds, []string{rules.WebhookKind}) {
		t.Errorf("queued %v", kinds)
	}
}

func dos(m Message) []string {
	var out []string
	for _, a := range m.Actions {
		out = append(out, a.Do)
	}
	return out
}
