package companion_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/companion"
	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/server"
	"github.com/ringside/ringside/internal/telephony/baresip"
	"github.com/ringside/ringside/internal/telephony/baresip/baresiptest"
)

// ringside runs the real server in-process on a free loopback port with the demo data
// (alice at 200, bob at 201, Jane Doe at +49 30 9876543) and a rule that opens the
// caller's record on the companion. It returns the base URL and a token per agent.
func ringside(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse("ringside.yaml", []byte(fmt.Sprintf(`
data_dir: %s
rules:
  - defaults
  - on: inbound.ringing
    do: [{open_record: {target: companion}}]
`, filepath.Join(dir, "data"))))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, nil, server.Options{Listen: "127.0.0.1:0", Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, u := range []string{"alice", "bob"} {
		secret, _, err := srv.Store().CreateToken(t.Context(), u, "agent", "test")
		if err != nil {
			t.Fatal(err)
		}
		tokens[u] = secret
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
	return srv.URL(), tokens
}

// stream is an agent's /api/v1/stream, as the browser page opens it.
type stream struct {
	t    *testing.T
	mu   sync.Mutex
	msgs []map[string]any
	more chan struct{}
}

func openStream(t *testing.T, base, token string) *stream {
	t.Helper()
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(base, "http")+"/api/v1/stream",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	s := &stream{t: t, more: make(chan struct{}, 1)}
	go func() {
		for {
			_, data, err := ws.Read(context.Background())
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
	t.Cleanup(func() { ws.CloseNow() })
	return s
}

// waitCall waits for a message of type typ and returns it.
func (s *stream) wait(typ string, cond func(m map[string]any) bool) map[string]any {
	s.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		for _, m := range s.msgs {
			if m["type"] == typ && (cond == nil || cond(m)) {
				s.mu.Unlock()
				return m
			}
		}
		s.mu.Unlock()
		select {
		case <-s.more:
		case <-deadline:
			s.mu.Lock()
			b, _ := json.MarshalIndent(s.msgs, "", " ")
			s.mu.Unlock()
			s.t.Fatalf("no %s; messages:\n%s", typ, b)
		}
	}
}

func (s *stream) types(callID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		if c, ok := m["call"].(map[string]any); ok && c["id"] == callID {
			out = append(out, m["type"].(string))
		}
	}
	return out
}

func callOf(m map[string]any) map[string]any { c, _ := m["call"].(map[string]any); return c }

// fakeDesktop records notifications and opened URLs.
type fakeDesktop struct {
	mu     sync.Mutex
	notes  []string
	opened []string
	more   chan struct{}
}

func (d *fakeDesktop) Notify(_ context.Context, title, body string) error {
	d.mu.Lock()
	d.notes = append(d.notes, title+" | "+body)
	d.mu.Unlock()
	d.kick()
	return nil
}

func (d *fakeDesktop) Open(_ context.Context, u string) error {
	d.mu.Lock()
	d.opened = append(d.opened, u)
	d.mu.Unlock()
	d.kick()
	return nil
}

func (d *fakeDesktop) kick() {
	select {
	case d.more <- struct{}{}:
	default:
	}
}

func (d *fakeDesktop) waitFor(t *testing.T, cond func(notes, opened []string) bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		d.mu.Lock()
		ok := cond(d.notes, d.opened)
		notes, opened := append([]string(nil), d.notes...), append([]string(nil), d.opened...)
		d.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-d.more:
		case <-deadline:
			t.Fatalf("desktop: notes %q, opened %q", notes, opened)
		}
	}
}

func post(t *testing.T, base, token, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startCompanion runs the companion for token with the baresip backend on b.
func startCompanion(t *testing.T, base, token string, bcfg baresip.Config, desk companion.Desktop) *companion.Companion {
	t.Helper()
	c, err := companion.New(companion.Config{Server: base, Token: token, Phone: "baresip", Baresip: bcfg}, nil, companion.Options{Desktop: desk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("companion: %v", err)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, _ := c.State()
		ph, _ := c.Phone().State()
		if st == "up" && ph == "up" {
			return c
		}
		if time.Now().After(deadline) {
			r1, r2 := "", ""
			_, r1 = c.State()
			_, r2 = c.Phone().State()
			t.Fatalf("companion %s (%s), phone %s (%s)", st, r1, ph, r2)
		}
		time.Sleep(10 * time.Millisecond) // no change notification for states; poll briefly
	}
}

// TestCompanionInbound: sipp calls the agent's baresip; the companion forwards the
// events; the agent's page gets the pop with the caller (matched in the CRM) before
// answering, the companion shows a notification and opens the record, the page answers
// through the companion, the caller hangs up.
func TestCompanionInbound(t *testing.T) {
	b := baresiptest.Start(t)
	base, tokens := ringside(t)
	page := openStream(t, base, tokens["alice"])
	bob := openStream(t, base, tokens["bob"])
	desk := &fakeDesktop{more: make(chan struct{}, 1)}
	startCompanion(t, base, tokens["alice"], baresip.Config{Address: b.Ctrl}, desk)

	caller := baresiptest.Call(t, "uac.xml", b.SIP, b.User)
	ring := page.wait("call.ringing", nil)
	c := callOf(ring)
	id, _ := c["id"].(string)
	remote, _ := c["remote"].(map[string]any)
	pbx, _ := c["pbx_id"].(string)
	if remote["raw"] != "+49309876543" || c["direction"] != "inbound" || !strings.HasPrefix(pbx, "alice:") || c["source"] != "companion:alice" || id == "" {
		t.Errorf("ringing pop: %v", ring)
	}
	if ms, _ := ring["matches"].([]any); len(ms) == 0 {
		page.wait("call.updated", func(m map[string]any) bool { ms, _ := m["matches"].([]any); return len(ms) > 0 })
	}
	desk.waitFor(t, func(notes, opened []string) bool { return len(notes) > 0 && len(opened) > 0 })
	if !strings.HasPrefix(desk.notes[0], "Call from +49309876543") || desk.opened[0] != base+"/crm/contact/demo-jane-doe" {
		t.Errorf("desktop: notes %q, opened %q", desk.notes, desk.opened)
	}

	if code, body := post(t, base, tokens["alice"], "/api/v1/companion/answer", `{"call_id":"`+id+`"}`); code != http.StatusAccepted {
		t.Fatalf("answer: %d %s", code, body)
	}
	page.wait("call.answered", nil)
	page.wait("call.ended", nil)
	got := strings.Join(page.types(id), ",")
	if !strings.HasPrefix(got, "call.ringing,") || !strings.Contains(got, "call.answered") || !strings.HasSuffix(got, "call.ended") {
		t.Errorf("alice's messages for %s: %s", id, got)
	}
	if err := caller.Wait(t.Context()); err != nil {
		t.Error(err)
	}
	if n := len(bob.types(id)); n != 0 {
		t.Errorf("bob got %d messages about alice's softphone", n)
	}
	if code, _ := post(t, base, tokens["bob"], "/api/v1/companion/hangup", `{}`); code != http.StatusConflict {
		t.Errorf("hangup without a companion: %d, want 409", code)
	}
}

// TestCompanionClickToDial: POST /api/v1/dial goes to the agent's companion (no PBX
// dialer is configured), baresip dials sipp, sipp answers; the page sees dialing and
// answered; the page hangs up through the companion.
func TestCompanionClickToDial(t *testing.T) {
	b := baresiptest.Start(t)
	base, tokens := ringside(t)
	page := openStream(t, base, tokens["alice"])
	if code, body := post(t, base, tokens["alice"], "/api/v1/dial", `{"number":"201"}`); code != http.StatusNotImplemented {
		t.Errorf("dial without a companion: %d %s, want 501", code, body)
	}
	callee := baresiptest.Answer(t, "uas.xml")
	startCompanion(t, base, tokens["alice"], baresip.Config{Address: b.Ctrl, DialURI: "sip:{number}@" + callee.Addr},
		&fakeDesktop{more: make(chan struct{}, 1)})

	if code, body := post(t, base, tokens["alice"], "/api/v1/dial", `{"number":"201"}`); code != http.StatusAccepted {
		t.Fatalf("dial: %d %s", code, body)
	}
	d := page.wait("call.dialing", nil)
	id, _ := callOf(d)["id"].(string)
	if remote, _ := callOf(d)["remote"].(map[string]any); remote["raw"] != "201" || callOf(d)["direction"] != "outbound" {
		t.Errorf("dialing: %v", d)
	}
	page.wait("call.answered", nil)
	if code, body := post(t, base, tokens["alice"], "/api/v1/companion/hangup", `{}`); code != http.StatusAccepted {
		t.Fatalf("hangup: %d %s", code, body)
	}
	page.wait("call.ended", nil)
	if got := strings.Join(page.types(id), ","); !strings.HasPrefix(got, "call.dialing,") || !strings.HasSuffix(got, "call.ended") {
		t.Errorf("messages for %s: %s", id, got)
	}
	if err := callee.Wait(t.Context()); err != nil {
		t.Error(err)
	}
}

// TestCompanionUntrusted: an agent token speaks only for its own extensions; the server
// refuses the rest, and other agents see nothing.
func TestCompanionUntrusted(t *testing.T) {
	base, tokens := ringside(t)
	alice := openStream(t, base, tokens["alice"])
	bob := openStream(t, base, tokens["bob"])
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(base, "http")+"/api/v1/companion",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tokens["alice"]}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	for {
		_, b, err := ws.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var h companion.Hello
		json.Unmarshal(b, &h)
		if h.Type == companion.TypeHello {
			if h.User != "alice" || strings.Join(h.Extensions, ",") != "200" || h.Session == "" {
				t.Errorf("hello %+v", h)
			}
			break
		}
	}
	for _, m := range []string{
		`{"type":"signal","kind":"ringing","call_id":"x1","direction":"inbound","extension":"201","remote":{"number":"+4930111"}}`,
		`{"type":"signal","kind":"ringing","call_id":"x1","direction":"inbound","extension":"","remote":{"number":"+4930111"}}`,
		`{"type":"signal","kind":"transferred","call_id":"x1","extension":"200"}`,
		`{"type":"signal","kind":"ringing","call_id":"x1\u0000","extension":"200"}`,
		`not json`,
		`{"type":"signal","kind":"ringing","call_id":"x2","direction":"sideways","extension":"200"}`,
		`{"type":"signal","kind":"ringing","call_id":"x2","direction":"inbound","extension":"200","remote":{"number":"+4930222","name":"\u003cb\u003eMallory"},"cause":"DROP TABLE"}`,
	} {
		if err := ws.Write(t.Context(), websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	ring := alice.wait("call.ringing", nil)
	if id := callOf(ring)["pbx_id"]; id != "alice:x2" {
		t.Errorf("alice's pop is for pbx id %v, want alice:x2 (the refused signals must not pop)", id)
	}
	bob.mu.Lock()
	for _, m := range bob.msgs {
		if m["type"] != "hello" {
			t.Errorf("bob got %v", m)
		}
	}
	bob.mu.Unlock()
	// The pbx token of a phone system, or no token, cannot open a companion.
	if _, resp, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(base, "http")+"/api/v1/companion", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %v", err)
	}
}

// TestCompanionCheck: `ringside agent --check` against the real server and baresip.
func TestCompanionCheck(t *testing.T) {
	b := baresiptest.Start(t)
	base, tokens := ringside(t)
	c, err := companion.New(companion.Config{Server: base, Token: tokens["alice"], Phone: "baresip:" + b.Ctrl}, nil, companion.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := c.Check(t.Context(), &out); err != nil {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "server    ok: "+base+" as alice, extensions [200]") || !strings.Contains(out.String(), "phone     ok: baresip: ") {
		t.Errorf("check said:\n%s", out.String())
	}
	bad, _ := companion.New(companion.Config{Server: base, Token: "wrong", Phone: "baresip:127.0.0.1:1"}, nil, companion.Options{})
	out.Reset()
	err = bad.Check(t.Context(), &out)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "phone (baresip)") {
		t.Errorf("check with a wrong token and no phone: %v", err)
	}
}

// TestCompanionMissed: the caller gives up while the softphone rings: a missed call.
func TestCompanionMissed(t *testing.T) {
	b := baresiptest.Start(t)
	base, tokens := ringside(t)
	page := openStream(t, base, tokens["alice"])
	startCompanion(t, base, tokens["alice"], baresip.Config{Address: b.Ctrl}, &fakeDesktop{more: make(chan struct{}, 1)})
	caller := baresiptest.Call(t, "uac_cancel.xml", b.SIP, b.User)
	id, _ := callOf(page.wait("call.ringing", nil))["id"].(string)
	m := page.wait("call.missed", nil)
	if c := callOf(m); c["id"] != id || c["missed"] != true || c["cause"] != "cancelled" {
		t.Errorf("missed: %v", m)
	}
	if got := page.types(id); got[0] != "call.ringing" || slices.Contains(got, "call.answered") {
		t.Errorf("messages for %s: %v", id, got)
	}
	if err := caller.Wait(t.Context()); err != nil {
		t.Error(err)
	}
}
