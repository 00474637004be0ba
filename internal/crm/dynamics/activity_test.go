package dynamics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
	"github.com/ringside/ringside/internal/outbox"
	"github.com/ringside/ringside/internal/store"
)

func TestActivityID(t *testing.T) {
	a, b := ActivityID("call:c-1"), ActivityID("call:c-1")
	if a != b || !isGUID(a) || a[14] != '5' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Errorf("ActivityID = %s / %s, want one stable version-5 UUID", a, b)
	}
	if ActivityID("call:c-2") == a {
		t.Error("two keys share an id")
	}
}

func TestLogCallFields(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	contact := fake.Put("contact", map[string]any{"lastname": "Doe", "telephone1": "+49 30 9876543"})
	agent := fake.Put("systemuser", map[string]any{"fullname": "Alice", "internalemailaddress": "alice@example.com"})
	mapped := "33333333-3333-3333-3333-333333333333"
	d := newTestDirectory(t, fake, nil, func(c *Config) { c.UserMap = map[string]string{"bob": mapped} })
	ctx := t.Context()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	in := crm.Activity{
		Key: "call:c-1", CallID: "c-1", Subject: "Incoming call from Jane Doe", Notes: "wants a quote",
		Direction: "inbound", Number: "+49309876543", Regarding: &crm.Ref{Entity: crm.Contact, ID: contact},
		Agent: "alice", AgentEmail: "Alice@Example.com", Start: start, End: start.Add(4*time.Minute + 12*time.Second),
		Duration: 4*time.Minute + 12*time.Second,
	}
	if err := d.LogCall(ctx, in); err != nil {
		t.Fatal(err)
	}
	id := ActivityID(in.Key)
	got, ok := fake.Record("phonecall", id)
	if !ok {
		t.Fatalf("no phonecall %s; have %v", id, fake.Records("phonecall"))
	}
	want := map[string]any{
		"activityid": id, "subject": in.Subject, "description": "wants a quote", "phonenumber": "+49309876543",
		"directioncode": false, "actualdurationminutes": 5.0,
		"actualstart": "2026-11-25T10:00:00Z", "actualend": "2026-11-25T10:04:12Z",
		"_regardingobjectid_value": contact, "statecode": 1.0, "statuscode": 4.0,
	}
	for k, v := range want {
		if diff := cmp.Diff(v, got[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
	parties := partyMasks(got)
	if diff := cmp.Diff(map[string]float64{"/contacts(" + contact + ")": 1, "/systemusers(" + agent + ")": 2}, parties); diff != "" {
		t.Errorf("inbound parties (-want +got):\n%s", diff)
	}

	// Notes edited after save: the same record is updated (reopened, written, completed).
	in.Notes = "wants a quote by Friday"
	if err := d.LogCall(ctx, in); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Records("phonecall")); n != 1 {
		t.Fatalf("%d phonecalls after an edit, want 1", n)
	}
	got, _ = fake.Record("phonecall", id)
	if got["description"] != "wants a quote by Friday" || got["statecode"] != 1.0 {
		t.Errorf("after edit: %v", got)
	}

	// Outbound by a mapped agent: parties swap, status Made.
	out := crm.Activity{Key: "call:c-2", Direction: "outbound", Number: "+49309876543", Agent: "bob",
		Regarding: &crm.Ref{Entity: crm.Contact, ID: contact}, Start: start, Duration: 30 * time.Second}
	if err := d.LogCall(ctx, out); err != nil {
		t.Fatal(err)
	}
	got, _ = fake.Record("phonecall", ActivityID(out.Key))
	if got["directioncode"] != true || got["statuscode"] != 2.0 || got["actualdurationminutes"] != 1.0 || got["subject"] == "" {
		t.Errorf("outbound: %v", got)
	}
	if diff := cmp.Diff(map[string]float64{"/systemusers(" + mapped + ")": 1, "/contacts(" + contact + ")": 2}, partyMasks(got)); diff != "" {
		t.Errorf("outbound parties (-want +got):\n%s", diff)
	}

	// A transferred call names every agent who had it.
	xfer := crm.Activity{Key: "call:c-4", Direction: "inbound", Number: "+49309876543", Notes: "billing question",
		Agent: "bob", Agents: []string{"alice", "bob"}, Start: start, Duration: time.Minute}
	if err := d.LogCall(ctx, xfer); err != nil {
		t.Fatal(err)
	}
	got, _ = fake.Record("phonecall", ActivityID(xfer.Key))
	if got["description"] != "Handled by alice → bob\n\nbilling question" {
		t.Errorf("transferred call description: %q", got["description"])
	}

	// A missed call to call back stays open; an unknown caller has no caller party.
	missed := crm.Activity{Key: "call:c-3", Direction: "inbound", Number: "+4917012345", Missed: true, Open: true, Start: start}
	if err := d.LogCall(ctx, missed); err != nil {
		t.Fatal(err)
	}
	got, _ = fake.Record("phonecall", ActivityID(missed.Key))
	if _, has := got["statecode"]; has || got["phonecall_activity_parties"] != nil {
		t.Errorf("missed call: %v", got)
	}
}

func partyMasks(rec map[string]any) map[string]float64 {
	out := map[string]float64{}
	ps, _ := rec["phonecall_activity_parties"].([]any)
	for _, p := range ps {
		m := p.(map[string]any)
		for k, v := range m {
			if strings.HasSuffix(k, "@odata.bind") {
				out[v.(string)] = m["participationtypemask"].(float64)
			}
		}
	}
	return out
}

// TestActivityExactlyOnceThroughOutbox drives the real outbox worker and SQLite store:
// 429 with Retry-After, then 503, then a worker killed after the CRM applied the write
// but before the outbox row completed, then a restart of the store and a second worker.
// The CRM must end up with exactly one, complete phonecall.
func TestActivityExactlyOnceThroughOutbox(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	contact := fake.Put("contact", map[string]any{"lastname": "Doe", "telephone1": "+49 30 9876543"})
	dir := t.TempDir()
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, store.Config{}, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	a := crm.Activity{Key: "call:c-9", CallID: "c-9", Subject: "Incoming call from Jane Doe", Notes: "n",
		Direction: "inbound", Number: "+49309876543", Regarding: &crm.Ref{Entity: crm.Contact, ID: contact},
		Start: start, End: start.Add(90 * time.Second), Duration: 90 * time.Second}
	payload, _ := json.Marshal(a)
	if _, err := st.Enqueue(ctx, store.OutboxItem{Kind: "crm.activity", Key: a.Key, Group: "call:c-9", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	var clockMu sync.Mutex
	now := start
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	handler := func(d *Directory) outbox.Handler {
		return func(ctx context.Context, it store.OutboxItem) error {
			var a crm.Activity
			if err := json.Unmarshal(it.Payload, &a); err != nil {
				return errors.Join(outbox.ErrPermanent, err)
			}
			return d.LogCall(ctx, a)
		}
	}
	// The adapter shares the outbox's clock: a Retry-After pauses its requests for that
	// long on this clock.
	withClock := func(st IndexStore) *Directory {
		d, err := New(testConfig(fake), testParser(t), st, log, WithGetenv(testGetenv), WithClock(clock))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d1 := withClock(st)
	w1 := outbox.New(st, "node-1", map[string]outbox.Handler{"crm.activity": handler(d1)}, log,
		outbox.Options{Now: clock, Lease: time.Minute, MinBackoff: time.Second, MaxBackoff: time.Minute})

	// 1: throttled.
	fake.Fail(dataversetest.Fault{Status: 429, RetryAfter: "30", PathPrefix: "$batch"})
	if _, err := w1.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	items, _ := st.ListOutbox(ctx, store.OutboxPending)
	if len(items) != 1 || !items[0].NextAt.Equal(start.Add(30*time.Second)) || !strings.Contains(items[0].LastError, "429") {
		t.Fatalf("after 429: %+v (want next_at = now + Retry-After)", items)
	}
	// Not due yet: nothing happens.
	if n, _ := w1.RunOnce(ctx); n != 0 {
		t.Fatalf("delivered %d items before Retry-After passed", n)
	}
	// 2: server error.
	advance(30 * time.Second)
	fake.Fail(dataversetest.Fault{Status: 503, PathPrefix: "$batch"})
	if _, err := w1.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Records("phonecall")); n != 0 {
		t.Fatalf("%d phonecalls after failures", n)
	}
	// 3: the worker dies right after the CRM applied the upsert.
	advance(5 * time.Minute)
	wctx, kill := context.WithCancel(ctx)
	fake.OnWrite(func(method, path string) {
		if method == "PATCH" && strings.HasPrefix(path, "phonecalls(") {
			kill()
		}
	})
	if _, err := w1.RunOnce(wctx); err != nil {
		t.Fatal(err)
	}
	fake.OnWrite(nil)
	if n := len(fake.Records("phonecall")); n != 1 {
		t.Fatalf("%d phonecalls after the crash, want the 1 the CRM applied", n)
	}
	if items, _ := st.ListOutbox(ctx, store.OutboxPending); len(items) != 1 {
		t.Fatalf("outbox after the crash: %+v, want the item still pending", items)
	}
	// 4: restart (store reopened, new adapter and worker); the lease lapses.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(ctx, store.Config{}, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	advance(2 * time.Minute)
	d2 := withClock(st2)
	w2 := outbox.New(st2, "node-2", map[string]outbox.Handler{"crm.activity": handler(d2)}, log, outbox.Options{Now: clock})
	if n, err := w2.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("redelivery: %d items, %v", n, err)
	}
	if items, _ := st2.ListOutbox(ctx, store.OutboxPending, store.OutboxParked); len(items) != 0 {
		t.Fatalf("outbox not drained: %+v", items)
	}
	pcs := fake.Records("phonecall")
	if len(pcs) != 1 {
		t.Fatalf("%d phonecalls, want exactly 1: %v", len(pcs), pcs)
	}
	got := pcs[0]
	for k, v := range map[string]any{"activityid": ActivityID(a.Key), "subject": a.Subject, "directioncode": false,
		"actualdurationminutes": 2.0, "_regardingobjectid_value": contact, "statecode": 1.0, "statuscode": 4.0} {
		if diff := cmp.Diff(v, got[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
}

// TestActivityRejectedIsParked: a 4xx retrying cannot fix parks the item with the CRM's
// message.
func TestActivityRejectedIsParked(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, store.Config{}, t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := newTestDirectory(t, fake, st)
	// A regarding record that is not a contact/account/lead GUID the CRM knows is fine
	// for the fake; make the CRM refuse the write instead.
	// Twice: the write's change set, then the one that reopens the phonecall first.
	fake.Fail(dataversetest.Fault{Status: 400, Count: 2, Method: "POST", PathPrefix: "$batch"})
	a := crm.Activity{Key: "call:x", Direction: "inbound", Number: "+4930111"}
	payload, _ := json.Marshal(a)
	if _, err := st.Enqueue(ctx, store.OutboxItem{Kind: "crm.activity", Key: a.Key, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	w := outbox.New(st, "n", map[string]outbox.Handler{"crm.activity": func(ctx context.Context, it store.OutboxItem) error {
		var a crm.Activity
		_ = json.Unmarshal(it.Payload, &a)
		return d.LogCall(ctx, a)
	}}, log, outbox.Options{})
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	items, _ := st.ListOutbox(ctx, store.OutboxParked)
	if len(items) != 1 || !strings.Contains(items[0].LastError, "An unexpected error occurred.") {
		t.Fatalf("parked: %+v", items)
	}
}

// TestLogCallRequests counts the Dataverse requests logging a call costs (issue 14:
// Dataverse allows an application user 6,000 requests in 5 minutes, so an activity takes
// as few as the Web API allows, with no read before the write). Run with -v for the
// figures in BENCHMARKS.md.
func TestLogCallRequests(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	contact := fake.Put("contact", map[string]any{"lastname": "Doe", "telephone1": "+49 30 9876543"})
	agent := "44444444-4444-4444-4444-444444444444"
	withAgent := func(c *Config) { c.UserMap = map[string]string{"alice": agent} }
	d := newTestDirectory(t, fake, nil, withAgent)
	ctx := t.Context()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ended := crm.Activity{Key: "call:r-1", CallID: "r-1", Subject: "Incoming call from Jane Doe", Direction: "inbound",
		Number: "+49309876543", Regarding: &crm.Ref{Entity: crm.Contact, ID: contact}, Agent: "alice",
		Start: start, End: start.Add(3 * time.Minute), Duration: 3 * time.Minute}
	noted := ended
	noted.Notes = "alice · 2026-11-25 10:03 UTC\nwants a quote"
	missed := crm.Activity{Key: "call:r-2", Direction: "inbound", Number: "+4917012345", Missed: true, Open: true, Start: start}
	edited := noted
	edited.Notes += "\n\ncarol · 2026-11-25 10:09 UTC\nsent it"

	steps := []struct {
		name     string
		d        func() *Directory
		a        crm.Activity
		want     int // HTTP requests at most
		desc     string
		complete bool
	}{
		{"the call ends (phonecall created, parties, regarding, completed)", func() *Directory { return d }, ended, 1, "", true},
		{"notes saved after the call (completed phonecall updated)", func() *Directory { return d }, noted, 1, noted.Notes, true},
		{"a missed call (open phonecall created)", func() *Directory { return d }, missed, 1, "", false},
		{"notes edited after a restart (the adapter does not know it completed the phonecall)", func() *Directory { return newTestDirectory(t, fake, nil, withAgent) }, edited, 2, edited.Notes, true},
	}
	for _, s := range steps {
		before := fake.Stats()
		if err := s.d().LogCall(ctx, s.a); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		after := fake.Stats()
		reqs, ops := after.Requests-before.Requests, after.Operations-before.Operations
		t.Logf("%-85s %d request(s), %d operation(s)", s.name, reqs, ops)
		if reqs > s.want {
			t.Errorf("%s: %d requests, want at most %d (%v)", s.name, reqs, s.want, fake.Requests()[before.Requests:])
		}
		got, ok := fake.Record("phonecall", ActivityID(s.a.Key))
		if !ok {
			t.Fatalf("%s: no phonecall", s.name)
		}
		if d, _ := got["description"].(string); d != s.desc {
			t.Errorf("%s: description %q, want %q", s.name, d, s.desc)
		}
		if st, _ := got["statecode"].(float64); (st == 1) != s.complete {
			t.Errorf("%s: statecode %v, want completed=%v", s.name, got["statecode"], s.complete)
		}
	}
	if n := len(fake.Records("phonecall")); n != 2 {
		t.Errorf("%d phonecalls, want 2", n)
	}
	got, _ := fake.Record("phonecall", ActivityID(ended.Key))
	if diff := cmp.Diff(map[string]float64{"/contacts(" + contact + ")": 1, "/systemusers(" + agent + ")": 2}, partyMasks(got)); diff != "" {
		t.Errorf("parties (-want +got):\n%s", diff)
	}
	if got["_regardingobjectid_value"] != contact {
		t.Errorf("regarding %v, want %s", got["_regardingobjectid_value"], contact)
	}
}

// TestChangesetAtomic: a change set is applied all or none (the fake rolls back the
// operations before the failing one, as Dataverse does), and its error is the failing
// operation's.
func TestChangesetAtomic(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	d := newTestDirectory(t, fake, nil)
	id := ActivityID("call:atomic")
	u := d.cfg.api + "phonecalls(" + id + ")"
	err := d.changeset(t.Context(), "test",
		request{op: "write", method: "PATCH", url: u, body: map[string]any{"subject": "s", "phonenumber": "1"}},
		request{op: "bad state", method: "PATCH", url: u, header: map[string]string{"If-Match": "*"}, body: map[string]any{"statecode": 1, "statuscode": 1}})
	e, ok := errors.AsType[*Error](err)
	if !ok || e.Status != 400 || !strings.Contains(e.Message, "not a valid status code") {
		t.Fatalf("err = %v, want the second operation's 400", err)
	}
	if _, ok := fake.Record("phonecall", id); ok {
		t.Fatal("the first operation of a failed change set was kept")
	}
	if err := d.changeset(t.Context(), "test",
		request{op: "write", method: "PATCH", url: u, body: map[string]any{"subject": "s", "phonenumber": "1"}},
		request{op: "complete", method: "PATCH", url: u, header: map[string]string{"If-Match": "*"}, body: map[string]any{"statecode": 1, "statuscode": 2}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := fake.Record("phonecall", id); got["statecode"] != 1.0 || got["subject"] != "s" {
		t.Fatalf("after a good change set: %v", got)
	}
}

// TestThrottlingPausesTheCRM: Dataverse's service protection limit (here 4 requests in 5
// minutes) answers 429 with Retry-After; the whole CRM destination then waits (no more
// requests, sync and lookups included), webhooks keep being delivered, and once the
// time is up every activity is written exactly once.
func TestThrottlingPausesTheCRM(t *testing.T) {
	var clockMu sync.Mutex
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	fake := dataversetest.New(t, dataversetest.Options{RequestLimit: 4, Window: 5 * time.Minute, Now: clock})
	contact := fake.Put("contact", map[string]any{"lastname": "Doe", "telephone1": "+49 30 9876543"})
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, store.Config{}, t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SetClock(clock)
	d, err := New(testConfig(fake), testParser(t), st, log, WithGetenv(testGetenv), WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	const calls, hooks = 8, 4
	for i := range calls {
		a := crm.Activity{Key: fmt.Sprintf("call:t-%d", i), Subject: "Incoming call", Direction: "inbound", Number: "+49309876543",
			Regarding: &crm.Ref{Entity: crm.Contact, ID: contact}, Start: now, Duration: time.Minute}
		payload, _ := json.Marshal(a)
		if _, err := st.Enqueue(ctx, store.OutboxItem{Kind: "crm.activity", Key: a.Key, Group: fmt.Sprintf("call:t-%d", i), Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range hooks {
		if _, err := st.Enqueue(ctx, store.OutboxItem{Kind: "webhook", Key: fmt.Sprint(i), Group: fmt.Sprintf("webhook:http://h/ t-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	delivered := map[string]int{}
	w := outbox.New(st, "n", map[string]outbox.Handler{
		"crm.activity": func(ctx context.Context, it store.OutboxItem) error {
			var a crm.Activity
			if err := json.Unmarshal(it.Payload, &a); err != nil {
				return errors.Join(outbox.ErrPermanent, err)
			}
			return d.LogCall(ctx, a)
		},
		"webhook": func(_ context.Context, it store.OutboxItem) error {
			mu.Lock()
			delivered[it.Key]++
			mu.Unlock()
			return nil
		},
	}, log, outbox.Options{Now: clock, Workers: 1})
	for range calls + hooks {
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s := fake.Stats()
	if s.Requests != 5 || s.Throttled != 1 || len(fake.Records("phonecall")) != 4 {
		t.Fatalf("while throttled: %+v, %d phonecalls; want 4 written, 1 refused, no request after the 429", s, len(fake.Records("phonecall")))
	}
	mu.Lock()
	if len(delivered) != hooks {
		t.Errorf("webhooks delivered while the CRM waits: %v, want all %d", delivered, hooks)
	}
	mu.Unlock()
	// Every request of the application user waits, a record read included.
	if _, err := d.Get(ctx, crm.Ref{Entity: crm.Contact, ID: contact}); !errors.Is(err, crm.ErrUnavailable) {
		t.Errorf("a read during the pause: %v, want ErrUnavailable", err)
	}
	if fake.Stats().Requests != s.Requests {
		t.Errorf("a request reached the CRM during the pause")
	}
	advance(5 * time.Minute)
	for range calls {
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if items, _ := st.ListOutbox(ctx, store.OutboxPending, store.OutboxParked); len(items) != 0 {
		t.Fatalf("outbox not drained: %+v", items)
	}
	pcs := fake.Records("phonecall")
	if len(pcs) != calls {
		t.Fatalf("%d phonecalls, want %d", len(pcs), calls)
	}
	for _, pc := range pcs {
		if pc["statecode"] != 1.0 {
			t.Errorf("phonecall not completed: %v", pc)
		}
	}
	if s := fake.Stats(); s.Throttled != 1 || s.Requests != 9 {
		t.Errorf("in all: %+v, want 8 writes and the 1 refused request", s)
	}
	t.Logf("fake: %+v", fake.Stats())
}

// TestServiceProtectionErrors: the fake answers as Dataverse documents it — 429 with
// Retry-After and the error of the limit exceeded (requests in the window, concurrent
// requests) — and the adapter reads the Retry-After.
func TestServiceProtectionErrors(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	t.Run("requests in the window", func(t *testing.T) {
		fake := dataversetest.New(t, dataversetest.Options{RequestLimit: 2, Now: clock})
		d, err := New(testConfig(fake), testParser(t), newMemStore(), slog.New(slog.DiscardHandler), WithGetenv(testGetenv), WithClock(clock))
		if err != nil {
			t.Fatal(err)
		}
		ref := crm.Ref{Entity: crm.Contact, ID: fake.Put("contact", map[string]any{"lastname": "Doe"})}
		for range 2 {
			if _, err := d.Get(t.Context(), ref); err != nil {
				t.Fatal(err)
			}
		}
		_, err = d.Get(t.Context(), ref)
		ra, ok := errors.AsType[*crm.RetryAfterError](err)
		if !ok || ra.After != 5*time.Minute || !strings.Contains(err.Error(), "Number of requests exceeded the limit of 2 over time window of 300 seconds") {
			t.Fatalf("third request: %v, want a 429 with Retry-After 300", err)
		}
	})
	t.Run("concurrent requests", func(t *testing.T) {
		fake := dataversetest.New(t, dataversetest.Options{Concurrency: 1})
		d := newTestDirectory(t, fake, nil)
		ref := crm.Ref{Entity: crm.Contact, ID: fake.Put("contact", map[string]any{"lastname": "Doe"})}
		entered, release := make(chan struct{}), make(chan struct{})
		fake.OnWrite(func(string, string) { close(entered); <-release })
		done := make(chan error, 1)
		go func() {
			done <- d.LogCall(t.Context(), crm.Activity{Key: "call:busy", Direction: "inbound", Number: "+4930111", Open: true})
		}()
		<-entered
		_, err := d.Get(t.Context(), ref)
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, ok := errors.AsType[*crm.RetryAfterError](err); !ok || !strings.Contains(err.Error(), "Number of concurrent requests exceeded the limit of 1") {
			t.Fatalf("a second request at once: %v, want a 429 with Retry-After", err)
		}
		if s := fake.Stats(); s.Throttled != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}

// TestGroupCommit: writes of many calls due at once share a $batch (each call its own
// change set): while maxBatchesInFlight $batch requests are under way, the next calls'
// change sets wait and go together in the next one; a change set that fails does not
// stop the others.
func TestGroupCommit(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	d := newTestDirectory(t, fake, nil)
	ctx := t.Context()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	act := func(i int) crm.Activity {
		return crm.Activity{Key: fmt.Sprintf("call:g-%d", i), Subject: "Incoming call", Direction: "inbound", Number: "+4930111",
			Start: start, Duration: time.Minute}
	}
	// Every write waits until released: the first calls' requests stay in flight.
	release := make(chan struct{})
	fake.OnWrite(func(string, string) { <-release })
	const calls = 12
	queued := calls - maxBatchesInFlight
	errs := make(chan error, calls)
	base := fake.Stats().Requests
	for i := range calls {
		a := act(i)
		if i == calls-1 {
			// The CRM refuses this one: its regarding record does not exist.
			a.Regarding = &crm.Ref{Entity: crm.Contact, ID: "00000000-0000-0000-0000-00000000000b"}
		}
		go func() { errs <- d.LogCall(ctx, a) }()
		// Wait until it is sent or waiting, so that they are in a known order.
		waitFor(t, fmt.Sprintf("write %d sent or waiting", i), func() bool { return fake.Stats().Requests-base+d.batches.queued() >= i+1 })
	}
	if got := d.batches.queued(); got != queued {
		t.Fatalf("%d change sets waiting, want %d (the others in flight)", got, queued)
	}
	before := fake.Stats().Requests
	close(release)
	var failed int
	for range calls {
		if err := <-errs; err != nil {
			failed++
			if e, ok := errors.AsType[*Error](err); !ok || e.Status != 400 || !strings.Contains(e.Message, "Does Not Exist") {
				t.Errorf("the refused call: %v, want its own 400", err)
			}
		}
	}
	s := fake.Stats()
	t.Logf("%d calls: %d requests in flight, then %d (%+v)", calls, before-base, s.Requests-before, s)
	if failed != 1 {
		t.Errorf("%d calls failed, want only the refused one", failed)
	}
	// The waiting calls went in one $batch; the refused one then tried alone with the
	// reopening change set, and once more as a fresh write after its 404.
	if n := s.Requests - before; n != 3 {
		t.Errorf("%d requests for %d waiting calls, want them in one $batch plus the refused call's 2 own tries", n, queued)
	}
	if n := len(fake.Records("phonecall")); n != calls-1 {
		t.Errorf("%d phonecalls, want %d (all but the refused one)", n, calls-1)
	}
	for _, pc := range fake.Records("phonecall") {
		if pc["statecode"] != 1.0 {
			t.Errorf("not completed: %v", pc)
		}
	}
}

// TestGroupCommitCancel: a write given up while it waits leaves the queue, and no
// sending slot is lost.
func TestGroupCommitCancel(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	d := newTestDirectory(t, fake, nil)
	release := make(chan struct{})
	fake.OnWrite(func(string, string) { <-release })
	a := func(i int) crm.Activity {
		return crm.Activity{Key: fmt.Sprintf("call:c-%d", i), Direction: "inbound", Number: "+4930111", Duration: time.Minute}
	}
	errs := make(chan error, maxBatchesInFlight+1)
	// One write at a time, each held at the CRM before the next starts: started together,
	// two could share a $batch (group commit) and leave a sending slot free (CI hung so).
	base := fake.Stats().Requests
	for i := range maxBatchesInFlight {
		go func() { errs <- d.LogCall(t.Context(), a(i)) }()
		waitFor(t, fmt.Sprintf("write %d at the CRM", i), func() bool { return fake.Stats().Requests >= base+i+1 })
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() { errs <- d.LogCall(ctx, a(99)) }()
	waitFor(t, "the fifth write waiting for a slot", func() bool { return d.batches.queued() >= 1 })
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("the write given up: %v", err)
	}
	close(release)
	for range maxBatchesInFlight {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := d.LogCall(t.Context(), a(100)); err != nil {
		t.Fatal(err)
	}
	d.batches.mu.Lock()
	defer d.batches.mu.Unlock()
	if d.batches.inflight != 0 || len(d.batches.queue) != 0 {
		t.Errorf("after all writes: %d in flight, %d waiting", d.batches.inflight, len(d.batches.queue))
	}
	if _, ok := fake.Record("phonecall", ActivityID("call:c-99")); ok {
		t.Error("the write given up was written")
	}
}

// waitFor polls cond until it holds, failing the test (not hanging it) after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
