package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/crm/builtin"
	"github.com/ringside/ringside/internal/outbox"
	"github.com/ringside/ringside/internal/rules"
	"github.com/ringside/ringside/internal/store"
)

// rig is a running server (in-process, temp data dir, the built-in directory with Jane
// Doe at 030 9876543) with agents alice (200), bob (201) and carol (202).
type rig struct {
	t    *testing.T
	srv  *Server
	base string
	pbx  string
	tok  map[string]string
	dir  *builtin.Directory
}

func newRig(t *testing.T, rulesYAML string) *rig {
	t.Helper()
	data := t.TempDir()
	y := fmt.Sprintf("data_dir: %q\nusers:\n  - {name: alice, extensions: [\"200\"]}\n  - {name: bob, extensions: [\"201\"]}\n  - {name: carol, extensions: [\"202\"]}\n%s",
		filepath.Join(data, "d"), rulesYAML)
	cfg, err := config.Parse(filepath.Join(data, "ringside.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(t.Context(), cfg, nil, Options{Listen: "127.0.0.1:0",
		Outbox: outbox.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Poll: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, srv: srv, tok: map[string]string{}}
	r.dir = srv.Directory().(*builtin.Directory)
	if err := r.dir.Seed(t.Context(), []crm.Record{{Ref: crm.Ref{Entity: crm.Contact, ID: "jane"}, Name: "Jane Doe", FirstName: "Jane", LastName: "Doe",
		Company: "ACME GmbH", Country: "DE", Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "030 9876543"}}}}); err != nil {
		t.Fatal(err)
	}
	if r.pbx, _, err = srv.Store().CreateToken(t.Context(), "", store.ScopePBX, "test"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if r.tok[u], _, err = srv.Store().CreateToken(t.Context(), u, store.ScopeAgent, "test"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	}
	r.base = srv.URL()
	// Ready says that HTTP serves and the webhook source takes events; /readyz also
	// has the store and the directory checked.
	eventually(t, "the server ready", func() bool { code, _ := r.do("GET", "/readyz", "", ""); return code == http.StatusOK })
	return r
}

func (r *rig) do(method, path, token, body string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequestWithContext(r.t.Context(), method, r.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// callID returns Ringside's id of the newest journaled call the phone system calls pbxID
// ("" while none is journaled).
func (r *rig) callID(pbxID string) string {
	recs, err := r.srv.Store().ListCalls(context.Background(), store.CallFilter{PbxID: pbxID, Limit: 1})
	if err != nil || len(recs) == 0 {
		return ""
	}
	return recs[0].Call.ID
}

// events posts phone-system events, in order.
func (r *rig) events(evs ...string) {
	r.t.Helper()
	for _, e := range evs {
		if code, body := r.do("POST", "/api/v1/events", r.pbx, e); code != http.StatusAccepted {
			r.t.Fatalf("POST %s: %d %s", e, code, body)
		}
	}
}

// eventually polls cond until it holds (the server works asynchronously; there is no
// event to wait on from outside), failing after 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// activity waits until the call's activity is complete (written at the end) and the
// outbox is idle, and returns the call's activities.
func (r *rig) activities(t *testing.T, callID string, done func(crm.Activity) bool) []crm.Activity {
	t.Helper()
	var as []crm.Activity
	var pending, parked int
	eventually(t, "the activity of "+callID, func() bool {
		var err error
		id := r.callID(callID)
		if id == "" {
			return false // not journaled yet
		}
		as, err = r.dir.Activities(t.Context(), id, nil)
		if err != nil {
			t.Fatal(err)
		}
		pending, parked, _, _ = r.srv.Store().OutboxStats(t.Context())
		if parked > 0 {
			items, _ := r.srv.Store().ListOutbox(t.Context(), store.OutboxParked)
			t.Fatalf("outbox items parked: %+v", items)
		}
		if testing.Verbose() {
			t.Logf("%s: %d pending, activities %+v", callID, pending, as)
		}
		return pending == 0 && len(as) > 0 && done(as[len(as)-1])
	})
	return as
}

func ended(a crm.Activity) bool { return !a.End.IsZero() }

// agentStream is one agent's WebSocket and what it received.
type agentStream struct {
	mu   sync.Mutex
	msgs []map[string]any
	more chan struct{}
}

func (r *rig) stream(user string) *agentStream {
	r.t.Helper()
	c, _, err := websocket.Dial(r.t.Context(), "ws"+strings.TrimPrefix(r.base, "http")+"/api/v1/stream",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + r.tok[user]}}})
	if err != nil {
		r.t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	s := &agentStream{more: make(chan struct{}, 1)}
	go func() {
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			json.Unmarshal(data, &m)
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			select {
			case s.more <- struct{}{}:
			default:
			}
		}
	}()
	r.t.Cleanup(func() { c.CloseNow() })
	s.wait(r.t, func(m map[string]any) bool { return m["type"] == "hello" })
	return s
}

// wait returns the first message that satisfies ok, waiting for it.
func (s *agentStream) wait(t *testing.T, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		for _, m := range s.msgs {
			if ok(m) {
				s.mu.Unlock()
				return m
			}
		}
		s.mu.Unlock()
		select {
		case <-s.more:
		case <-deadline:
			t.Fatalf("timed out waiting for a stream message")
		}
	}
}

func (s *agentStream) of(callID string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, m := range s.msgs {
		if c, _ := m["call"].(map[string]any); c != nil && c["pbx_id"] == callID {
			out = append(out, m)
		}
	}
	return out
}

func msg(callID, typ string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		c, _ := m["call"].(map[string]any)
		return m["type"] == typ && c != nil && c["pbx_id"] == callID
	}
}

// actions returns the "do" of each action of a message.
func actions(m map[string]any) []string {
	var out []string
	as, _ := m["actions"].([]any)
	for _, a := range as {
		out = append(out, a.(map[string]any)["do"].(string))
	}
	return out
}

const janeNumber = "+49 30 9876543"

func ring(id, from, ext string) string {
	return fmt.Sprintf(`{"event":"ringing","call_id":%q,"from":%q,"to":"+49 30 1111","extension":%q}`, id, from, ext)
}
func answer(id, ext string) string {
	return fmt.Sprintf(`{"event":"answered","call_id":%q,"extension":%q}`, id, ext)
}
func end(id, cause string) string {
	return fmt.Sprintf(`{"event":"ended","call_id":%q,"cause":%q}`, id, cause)
}

// TestDefaultRules runs each default behaviour end to end: a call through the webhook
// source, the pops and actions on the agents' streams, and the one activity in the CRM.
func TestDefaultRules(t *testing.T) {
	r := newRig(t, "")
	alice, bob, carol := r.stream("alice"), r.stream("bob"), r.stream("carol")
	jane := crm.Ref{Entity: crm.Contact}

	t.Run("matched call", func(t *testing.T) {
		r.events(ring("m-1", janeNumber, "200"), answer("m-1", "200"))
		pop := alice.wait(t, msg("m-1", "call.ringing"))
		if pop["pop"] != true || len(actions(pop)) != 0 || pop["lookup"] != "done" {
			t.Errorf("pop %v, actions %v", pop["pop"], pop["actions"])
		}
		if m := pop["matches"].([]any); len(m) != 1 || m[0].(map[string]any)["name"] != "Jane Doe" {
			t.Errorf("matches %v", m)
		}
		jane.ID = pop["matches"].([]any)[0].(map[string]any)["id"].(string)
		ans := alice.wait(t, msg("m-1", "call.answered"))
		if got := actions(ans); !slices.Equal(got, []string{"open_activity"}) {
			t.Errorf("answered actions %v", got)
		}
		r.events(end("m-1", "normal"))
		as := r.activities(t, "m-1", ended)
		a := as[0]
		if len(as) != 1 || a.Direction != "inbound" || a.Number != "+49309876543" || a.Regarding == nil || *a.Regarding != jane ||
			a.Agent != "alice" || !slices.Equal(a.Agents, []string{"alice"}) || a.Missed || a.Open || a.Subject != "Incoming call from Jane Doe (ACME GmbH)" {
			t.Errorf("activities %+v", as)
		}
	})

	t.Run("unknown caller", func(t *testing.T) {
		r.events(ring("u-1", "+44 20 7946 0958", "201"))
		pop := bob.wait(t, msg("u-1", "call.ringing"))
		as, _ := pop["actions"].([]any)
		if pop["pop"] != true || len(as) != 1 {
			t.Fatalf("pop %v actions %v", pop["pop"], pop["actions"])
		}
		want := map[string]any{"do": "open_create_form", "entity": "lead", "prefill": map[string]any{"phone": "+442079460958"}}
		if diff := cmp.Diff(want, as[0]); diff != "" {
			t.Errorf("create form (-want +got):\n%s", diff)
		}
		r.events(end("u-1", "cancelled"))
		r.activities(t, "u-1", ended)
	})

	t.Run("answered with notes", func(t *testing.T) {
		r.events(ring("n-1", janeNumber, "200"), answer("n-1", "200"))
		alice.wait(t, msg("n-1", "call.answered"))
		eventually(t, "the notes saved", func() bool {
			code, _ := r.do("POST", "/api/v1/activities", r.tok["alice"], `{"call_id":"`+r.callID("n-1")+`","notes":"wants a quote"}`)
			return code == http.StatusAccepted // 404 until the journal has the call
		})
		r.events(end("n-1", "normal"))
		as := r.activities(t, "n-1", ended)
		if len(as) != 1 || !strings.HasPrefix(as[0].Notes, "alice · ") || !strings.HasSuffix(as[0].Notes, "\nwants a quote") || as[0].Agent != "alice" || as[0].Duration < 0 {
			t.Errorf("activities %+v", as)
		}
	})

	t.Run("answered without notes", func(t *testing.T) {
		r.events(ring("w-1", janeNumber, "200"), answer("w-1", "200"), end("w-1", "normal"))
		as := r.activities(t, "w-1", ended)
		if len(as) != 1 || as[0].Notes != "" || as[0].Missed {
			t.Errorf("activities %+v", as)
		}
	})

	t.Run("missed", func(t *testing.T) {
		r.events(ring("x-1", janeNumber, "200"), end("x-1", "cancelled"))
		alice.wait(t, msg("x-1", "call.missed"))
		as := r.activities(t, "x-1", ended)
		if len(as) != 1 || !as[0].Missed || !as[0].Open || as[0].Agent != "alice" || as[0].Subject != "Missed call from Jane Doe (ACME GmbH)" {
			t.Errorf("activities %+v", as)
		}
	})

	t.Run("outbound not answered", func(t *testing.T) {
		r.events(`{"event":"dialing","call_id":"o-1","to":"030 9876543","extension":"200"}`, end("o-1", "no_answer"))
		pop := alice.wait(t, msg("o-1", "call.dialing"))
		if pop["pop"] != true || len(pop["matches"].([]any)) != 1 {
			t.Errorf("dialing pop %v", pop)
		}
		alice.wait(t, msg("o-1", "call.not_answered"))
		as := r.activities(t, "o-1", ended)
		if len(as) != 1 || as[0].Direction != "outbound" || as[0].Missed || as[0].Subject != "Unanswered call to Jane Doe (ACME GmbH)" || as[0].Regarding == nil {
			t.Errorf("activities %+v", as)
		}
	})

	t.Run("ring group", func(t *testing.T) {
		r.events(ring("g-1", janeNumber, "200"), ring("g-1", janeNumber, "201"), ring("g-1", janeNumber, "202"),
			ring("g-1", janeNumber, "201"), // a repeated event
			answer("g-1", "201"), answer("g-1", "201"), end("g-1", "normal"), end("g-1", "normal"))
		for _, s := range []*agentStream{alice, bob, carol} {
			s.wait(t, msg("g-1", "call.ringing"))
			s.wait(t, msg("g-1", "call.ended"))
		}
		if got := actions(bob.wait(t, msg("g-1", "call.answered"))); !slices.Equal(got, []string{"open_activity"}) {
			t.Errorf("bob's answered actions %v", got)
		}
		as := r.activities(t, "g-1", ended)
		if len(as) != 1 || as[0].Agent != "bob" || !slices.Equal(as[0].Agents, []string{"bob"}) {
			t.Errorf("activities %+v", as)
		}
		if n := len(bob.of("g-1")); n != 3 { // ringing, answered, ended: the repeats changed nothing
			t.Errorf("bob got %d messages", n)
		}
	})

	t.Run("transfer", func(t *testing.T) {
		r.events(ring("t-1", janeNumber, "200"), answer("t-1", "200"),
			`{"event":"transferred","call_id":"t-1","extension":"200","transfer_to":"201"}`)
		pop := bob.wait(t, msg("t-1", "call.ringing"))
		if pop["pop"] != true {
			t.Errorf("transfer target not popped: %v", pop)
		}
		r.events(answer("t-1", "201"), `{"event":"ended","call_id":"t-1","extension":"200"}`)
		if got := actions(bob.wait(t, msg("t-1", "call.answered"))); !slices.Equal(got, []string{"open_activity"}) {
			t.Errorf("the open activity is not handed to bob: %v", got)
		}
		r.events(end("t-1", "normal"))
		as := r.activities(t, "t-1", ended)
		if len(as) != 1 || as[0].Agent != "bob" || !slices.Equal(as[0].Agents, []string{"alice", "bob"}) {
			t.Errorf("activities %+v", as)
		}
	})
}

// TestConfiguredRules: a configured list with the defaults, a rule that stops before the
// pop (the page gets the notification without the card), and the owner of missed calls.
func TestConfiguredRules(t *testing.T) {
	r := newRig(t, `rules:
  - name: no pops for carol
    on: inbound.ringing
    when: {users: [carol]}
    do: [{notify: {title: "Call for the team", text: "{{.Name}}"}}, stop]
  - name: missed calls go to the support queue
    on: inbound.missed
    do: [{log_activity: {owner: support-queue, subject: "Call back {{.Name}} ({{.Number}})"}}]
  - defaults
`)
	alice, carol := r.stream("alice"), r.stream("carol")
	r.events(ring("c-1", janeNumber, "200"), ring("c-1", janeNumber, "202"), end("c-1", "cancelled"))
	m := carol.wait(t, msg("c-1", "call.ringing"))
	as, _ := m["actions"].([]any)
	if m["pop"] != nil || len(as) != 1 || as[0].(map[string]any)["title"] != "Call for the team" || as[0].(map[string]any)["text"] != "Jane Doe" {
		t.Errorf("carol's ringing: pop %v actions %v", m["pop"], m["actions"])
	}
	if m := alice.wait(t, msg("c-1", "call.ringing")); m["pop"] != true {
		t.Errorf("alice's ringing not popped: %v", m)
	}
	acts := r.activities(t, "c-1", ended)
	if len(acts) != 1 || acts[0].Agent != "support-queue" || !acts[0].Open || acts[0].Subject != "Call back Jane Doe (+49309876543)" {
		t.Errorf("activities %+v", acts)
	}
}

// TestWebhookDelivery: a receiver that fails twice gets every event of a call once, in
// order, each signed.
func TestWebhookDelivery(t *testing.T) {
	t.Setenv("RINGSIDE_TEST_HOOK_SECRET", "s3cret")
	var mu sync.Mutex
	var requests int
	var delivered []rules.WebhookEvent
	bad := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		mu.Lock()
		defer mu.Unlock()
		requests++
		if !rules.Verify([]byte("s3cret"), body, req.Header.Get(rules.SignatureHeader)) {
			bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if requests <= 2 {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var ev rules.WebhookEvent
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(rules.DeliveryHeader) || ev.Event != req.Header.Get(rules.EventHeader) {
			bad++
		}
		delivered = append(delivered, ev)
	}))
	defer recv.Close()
	r := newRig(t, fmt.Sprintf(`rules:
  - on: ["inbound.*"]
    do: [{webhook: {url: %q, secret_env: RINGSIDE_TEST_HOOK_SECRET, timeout: 2s}}]
  - defaults
`, recv.URL+"/hook"))
	r.events(ring("h-1", janeNumber, "200"), answer("h-1", "200"), end("h-1", "normal"))
	r.activities(t, "h-1", ended)
	eventually(t, "three deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) >= 3
	})
	pending, parked, _, _ := r.srv.Store().OutboxStats(t.Context())
	mu.Lock()
	defer mu.Unlock()
	var got []string
	ids := map[string]bool{}
	for _, ev := range delivered {
		got = append(got, ev.Event)
		if ids[ev.ID] {
			t.Errorf("delivered twice: %s", ev.ID)
		}
		ids[ev.ID] = true
		if ev.Call.PbxID != "h-1" || ev.Call.ID == "h-1" {
			t.Errorf("webhook of call %q (pbx id %q)", ev.Call.ID, ev.Call.PbxID)
		}
	}
	if !slices.Equal(got, []string{rules.InboundRinging, rules.InboundAnswered, rules.InboundEnded}) || requests != 5 || bad != 0 || pending != 0 || parked != 0 {
		t.Errorf("delivered %v in %d requests (%d bad); outbox pending %d parked %d", got, requests, bad, pending, parked)
	}
	if m := delivered[0].Matches; len(m) != 1 || m[0].Name != "Jane Doe" {
		t.Errorf("matches in the webhook: %+v", m)
	}
}

// TestWebhookRefused: a 4xx answer parks the delivery for an admin.
func TestWebhookRefused(t *testing.T) {
	t.Setenv("RINGSIDE_TEST_HOOK_SECRET", "s3cret")
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Error(w, "no such hook", http.StatusNotFound)
	}))
	defer recv.Close()
	r := newRig(t, fmt.Sprintf("rules:\n  - on: inbound.missed\n    do: [{webhook: {url: %q, secret_env: RINGSIDE_TEST_HOOK_SECRET}}]\n", recv.URL))
	r.events(ring("p-1", janeNumber, "200"), end("p-1", "cancelled"))
	var items []store.OutboxItem
	eventually(t, "the delivery parked", func() bool {
		items, _ = r.srv.Store().ListOutbox(t.Context(), store.OutboxParked)
		return len(items) == 1
	})
	if it := items[0]; it.Kind != rules.WebhookKind || !strings.Contains(it.LastError, "404") {
		t.Errorf("parked %+v", it)
	}
	// Without a log_activity rule the call is not logged.
	if as, _ := r.dir.Activities(t.Context(), r.callID("p-1"), nil); len(as) != 0 {
		t.Errorf("activities %+v", as)
	}
}

func TestCheckReportsRules(t *testing.T) {
	cfg, err := config.Parse("ringside.yaml", []byte("rules:\n  - on: inbound.ringin\n    do: [pop]\n  - on: inbound.ringing\n    do: [{notify: {text: \"{{.Nme}}\"}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = Check(t.Context(), cfg)
	for _, want := range []string{`ringside.yaml:2: rules[0].on: unknown event "inbound.ringin"`, `ringside.yaml:5: rules[1].do[0]: notify: text: template:`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check: %v\nwant %q", err, want)
		}
	}
}
