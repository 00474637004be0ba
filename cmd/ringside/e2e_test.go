package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/testenv"
)

// cli runs a ringside command in-process, as the binary would, and returns its stdout.
func cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, args)
	if code != 0 {
		t.Fatalf("ringside %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// stream is one agent's WebSocket with the messages it received.
type stream struct {
	t    *testing.T
	user string
	mu   sync.Mutex
	msgs []map[string]any
	more chan struct{}
}

func openStream(t *testing.T, base, token, user string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/stream", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		t.Fatalf("stream for %s: %v", user, err)
	}
	c.SetReadLimit(1 << 20)
	s := &stream{t: t, user: user, more: make(chan struct{}, 1)}
	go func() {
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Errorf("%s got a message that is not JSON: %s", user, data)
				continue
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			select {
			case s.more <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	s.waitFor(func(ms []map[string]any) bool { return len(ms) > 0 && ms[0]["type"] == "hello" })
	return s
}

func (s *stream) snapshot() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.msgs...)
}

func (s *stream) waitFor(cond func([]map[string]any) bool) []map[string]any {
	s.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		ms := s.snapshot()
		if cond(ms) {
			return ms
		}
		select {
		case <-s.more:
		case <-deadline:
			b, _ := json.MarshalIndent(ms, "", " ")
			s.t.Fatalf("%s: timed out; messages so far:\n%s", s.user, b)
		}
	}
}

// types returns the message types of one call, in order.
func types(ms []map[string]any, callID string) []string {
	var out []string
	for _, m := range ms {
		if c, ok := m["call"].(map[string]any); ok && isCall(c, callID) {
			out = append(out, m["type"].(string))
		}
	}
	return out
}

// isCall reports whether c is the call id names: Ringside's id, or the phone system's.
func isCall(c map[string]any, id string) bool { return c["id"] == id || c["pbx_id"] == id }

func has(ms []map[string]any, callID, typ string) bool {
	for _, t := range types(ms, callID) {
		if t == typ {
			return true
		}
	}
	return false
}

func find(ms []map[string]any, callID, typ string) map[string]any {
	for _, m := range ms {
		if c, ok := m["call"].(map[string]any); ok && isCall(c, callID) && m["type"] == typ {
			return m
		}
	}
	return nil
}

type client struct {
	t    *testing.T
	base string
}

func (c client) do(method, path, token, ctype, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c client) event(token, body string) {
	c.t.Helper()
	if code, resp := c.do("POST", "/api/v1/events", token, "application/json", body); code != http.StatusAccepted {
		c.t.Fatalf("event %s: %d %s", body, code, resp)
	}
}

func TestEndToEndRingGroup(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	csv := filepath.Join(dir, "crm.csv")
	os.WriteFile(csv, []byte("type,first_name,last_name,company,email,phone,mobile,other_phone,country\n"+
		"contact,Jane,Doe,ACME GmbH,jane@acme.example,030 9876543,,,DE\n"+
		"lead,Max,Mustermann,Muster AG,,+43 1 5123456,,,AT\n"), 0o600)

	// Users, tokens and data through the CLI code paths.
	for i, u := range []string{"alice", "bob", "carol"} {
		cli(t, "correct horse battery\n", "users", "add", u, "--extension", fmt.Sprint(200+i), "--data", data, "--password-stdin")
	}
	pbx := lastLine(cli(t, "", "tokens", "create", "--scope", "pbx", "--data", data))
	tok := map[string]string{}
	for _, u := range []string{"alice", "bob", "carol"} {
		tok[u] = lastLine(cli(t, "", "tokens", "create", "--user", u, "--data", data))
	}
	if out := cli(t, "", "import", csv, "--data", data); !strings.Contains(out, "2") {
		t.Fatalf("import said %q", out)
	}
	var lk []map[string]any
	if err := json.Unmarshal([]byte(cli(t, "", "lookup", "--json", "+49 30 9876543", "--data", data)), &lk); err != nil || len(lk) != 1 || lk[0]["name"] != "Jane Doe" || lk[0]["match"] != "exact" {
		t.Fatalf("lookup --json: %v %v", lk, err)
	}

	// The server, in-process, on a free loopback port.
	port := testenv.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() {
		done <- run(ctx, env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &serveErr, getenv: func(string) string { return "" }},
			[]string{"serve", "--data", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port)})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d:\n%s", code, serveErr.String())
		}
	})
	c := client{t: t, base: base}
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/healthz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up:\n%s", serveErr.String())
		}
		select {
		case <-done:
			t.Fatalf("server exited:\n%s", serveErr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}

	st := map[string]*stream{}
	for _, u := range []string{"alice", "bob", "carol"} {
		st[u] = openStream(t, base, tok[u], u)
	}

	// A ring group of three: 201 (bob) answers.
	for _, ext := range []string{"200", "201", "202"} {
		c.event(pbx, `{"event":"ringing","call_id":"rg-1","direction":"inbound","from":"+49 (30) 987 65 43","from_name":"ACME Reception","to":"+49 30 1111","extension":"`+ext+`"}`)
	}
	c.event(pbx, `{"event":"answered","call_id":"rg-1","extension":"201"}`)
	c.event(pbx, `{"event":"ended","call_id":"rg-1","cause":"normal"}`)

	want := map[string][]string{
		"alice": {"call.ringing", "call.withdrawn", "call.ended"},
		"bob":   {"call.ringing", "call.answered", "call.ended"},
		"carol": {"call.ringing", "call.withdrawn", "call.ended"},
	}
	for u, w := range want {
		ms := st[u].waitFor(func(ms []map[string]any) bool { return has(ms, "rg-1", "call.ended") })
		if got := types(ms, "rg-1"); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("%s got %v, want %v", u, got, w)
		}
		pop := find(ms, "rg-1", "call.ringing")
		matches, _ := pop["matches"].([]any)
		if len(matches) != 1 {
			t.Fatalf("%s: pop matches %v", u, pop["matches"])
		}
		m := matches[0].(map[string]any)
		if m["name"] != "Jane Doe" || m["entity"] != "contact" || m["company"] != "ACME GmbH" || m["number"] != "030 9876543" || m["match"] != "exact" || pop["lookup"] != "done" {
			t.Errorf("%s: pop match %v (lookup %v)", u, m, pop["lookup"])
		}
		remote := pop["call"].(map[string]any)["remote"].(map[string]any)
		if remote["number"] != "+49309876543" || remote["name"] != "ACME Reception" {
			t.Errorf("%s: remote %v", u, remote)
		}
		if leg := pop["leg"].(map[string]any); leg["extension"] != fmt.Sprint(map[string]int{"alice": 200, "bob": 201, "carol": 202}[u]) {
			t.Errorf("%s: popped for leg %v", u, leg)
		}
	}
	wd := find(st["alice"].snapshot(), "rg-1", "call.withdrawn")
	if wd["answered_by_user"] != "bob" || wd["leg"].(map[string]any)["cause"] != "answered_elsewhere" {
		t.Errorf("alice's withdrawn: %v", wd)
	}

	// The journal row.
	var j struct {
		Calls []struct {
			Call struct {
				ID, Direction, State string
				AnsweredBy           string `json:"answered_by"`
				Remote               struct{ Number string }
				Legs                 []struct{ Extension, State, Cause string }
				Missed               bool
			}
			Matches []struct{ Name string }
		}
	}
	var code int
	var body string
	jdeadline := time.Now().Add(10 * time.Second)
	for {
		code, body = c.do("GET", "/api/v1/calls", tok["alice"], "", "")
		json.Unmarshal([]byte(body), &j)
		if code == 200 && len(j.Calls) == 1 && j.Calls[0].Call.AnsweredBy == "201" && len(j.Calls[0].Call.Legs) == 3 {
			break
		}
		if time.Now().After(jdeadline) {
			t.Fatalf("journal: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if jc := j.Calls[0]; jc.Call.Remote.Number != "+49309876543" || jc.Call.Missed || len(jc.Matches) != 1 || jc.Matches[0].Name != "Jane Doe" {
		t.Errorf("journal row: %s", body)
	}

	// Bob cannot see a call that rang only on alice's phone.
	c.event(pbx, `{"event":"ringing","call_id":"solo-1","from":"+44 20 7946 0958","extension":"200"}`)
	c.event(pbx, `{"event":"ended","call_id":"solo-1","cause":"cancelled"}`)
	ms := st["alice"].waitFor(func(ms []map[string]any) bool { return has(ms, "solo-1", "call.missed") })
	if got := types(ms, "solo-1"); strings.Join(got, " ") != "call.ringing call.withdrawn call.ended call.missed" {
		t.Errorf("alice's missed call: %v", got)
	}
	c.event(pbx, `{"event":"ringing","call_id":"marker","from":"1","extension":"201"}`)
	st["bob"].waitFor(func(ms []map[string]any) bool { return has(ms, "marker", "call.ringing") })
	if got := types(st["bob"].snapshot(), "solo-1"); len(got) != 0 {
		t.Errorf("bob saw alice's call: %v", got)
	}
	soloID, _ := find(ms, "solo-1", "call.missed")["call"].(map[string]any)["id"].(string)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// The journal is written beside the pops, not before them.
		code, _ := c.do("GET", "/api/v1/calls/"+soloID, tok["alice"], "", "")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice reading her call %s: %d", soloID, code)
		}
	}
	if code, body := c.do("GET", "/api/v1/calls/"+soloID, tok["bob"], "", ""); code != 404 {
		t.Errorf("bob reading alice's call: %d %s", code, body)
	}
	if _, body := c.do("GET", "/api/v1/calls", tok["bob"], "", ""); strings.Contains(body, "solo-1") {
		t.Errorf("bob's journal has alice's call: %s", body)
	}

	// Bad input.
	bad := []struct {
		token, ctype, body string
		code               int
		say                string
	}{
		{pbx, "application/json", `{"event":"ringing","extension":"200"}`, 400, "call_id"},
		{pbx, "application/json", `{"event":"exploded","call_id":"x"}`, 400, "event"},
		{pbx, "application/json", `{"event":`, 400, "malformed"},
		{pbx, "application/x-www-form-urlencoded", `event=newCall`, 400, "callId"},
		{pbx, "application/json", `{"event":"ringing","call_id":"big","extension":"200","from_name":"` + strings.Repeat("A", 70<<10) + `"}`, 413, ""},
		{"", "application/json", `{"event":"ended","call_id":"x"}`, 401, ""},
		{"rs_wrong", "application/json", `{"event":"ended","call_id":"x"}`, 401, ""},
		{tok["alice"], "application/json", `{"event":"ended","call_id":"x"}`, 403, "pbx"},
	}
	for _, b := range bad {
		if code, resp := c.do("POST", "/api/v1/events", b.token, b.ctype, b.body); code != b.code || !strings.Contains(resp, b.say) {
			t.Errorf("POST %.50s: %d %s, want %d", b.body, code, resp, b.code)
		}
	}
	if code, _ := c.do("POST", "/api/v1/events?token="+pbx, "", "application/json", `{"event":"ended","call_id":"marker"}`); code != 202 {
		t.Errorf("?token= not accepted: %d", code)
	}
	if _, body := c.do("GET", "/api/v1/calls/big", tok["alice"], "", ""); !strings.Contains(body, "no such call") {
		t.Errorf("a refused event was stored: %s", body)
	}
	// A withheld caller is never looked up, and the dial API says why it cannot dial.
	if code, body := c.do("POST", "/api/v1/dial", tok["alice"], "application/json", `{"number":"+49 30 1234567"}`); code != 501 || !strings.Contains(body, "webhook") {
		t.Errorf("dial on a webhook-only setup: %d %s", code, body)
	}
}
