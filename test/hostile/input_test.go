package hostile

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/companion"
	"github.com/ringside/ringside/internal/testenv"
)

// TestInputAtEdges: each hostile input is answered 400 with the field named.
func TestInputAtEdges(t *testing.T) {
	n := start(t, "", map[string]string{"alice": "200"})
	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"call id with CR/LF", "POST", "/api/v1/events", `{"event":"ringing","call_id":"a\r\nb","from":"+4930123456","extension":"200"}`, "call_id"},
		{"call id with NUL", "POST", "/api/v1/events", `{"event":"ringing","call_id":"a\u0000b","from":"+4930123456","extension":"200"}`, "call_id"},
		{"extension with control", "POST", "/api/v1/events", `{"event":"ringing","call_id":"ok-1","from":"+4930123456","extension":"20\u00070"}`, "extension"},
		{"user with newline", "POST", "/api/v1/events", `{"event":"ringing","call_id":"ok-2","from":"+4930123456","user":"ali\nce"}`, "user"},
		{"form call id with CR", "POST", "/api/v1/events", "event=newCall&callId=a%0Db&from=030123&user%5B%5D=200", "callId"},
		{"dial number with CR/LF", "POST", "/api/v1/dial", `{"number":"+49 30 1234567\r\nAction: Originate"}`, "number"},
		{"dial number with NUL", "POST", "/api/v1/dial", `{"number":"030 1234567\u0000"}`, "number"},
		{"dial number with ;ext=", "POST", "/api/v1/dial", `{"number":"0301234567;ext=99"}`, "number"},
		{"dial number with letters", "POST", "/api/v1/dial", `{"number":"0800 FLOWERS"}`, "number"},
		{"before far in the future", "GET", "/api/v1/calls?before=9999-01-01T00:00:00Z", "", "before"},
		{"before far in the past", "GET", "/api/v1/calls?before=0001-01-01T00:00:00Z", "", "before"},
		{"call id path with control", "GET", "/api/v1/calls/a%0Ab", "", "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, ctype := n.tokens["alice"], "application/json"
			if strings.HasPrefix(tc.path, "/api/v1/events") {
				tok = n.tokens[""]
				if !strings.HasPrefix(tc.body, "{") {
					ctype = "application/x-www-form-urlencoded"
				}
			}
			code, body := do(t, nil, tc.method, n.url+tc.path, tok, ctype, tc.body)
			if code != http.StatusBadRequest || !strings.Contains(errorOf(body), `"`+tc.field+`"`) {
				t.Errorf("%s %s: %d %s; want 400 naming %q", tc.method, tc.path, code, body, tc.field)
			}
		})
	}
}

// TestTimesClamped: an event time far off is clamped to now, not stored as given.
func TestTimesClamped(t *testing.T) {
	n := start(t, "", map[string]string{"alice": "200"})
	n.event(t, `{"event":"ringing","call_id":"tc-1","from":"+4930123456","extension":"200","time":"2300-01-01T00:00:00Z"}`)
	n.event(t, `{"event":"ended","call_id":"tc-1","time":"2300-01-01T00:01:00Z"}`)
	var started time.Time
	testenv.Eventually(t, 5*time.Second, "the journal entry", func() (bool, error) {
		_, body := do(t, nil, "GET", n.url+"/api/v1/calls", n.tokens["alice"], "", "")
		var r struct {
			Calls []struct {
				Call struct {
					StartedAt time.Time `json:"started_at"`
				} `json:"call"`
			} `json:"calls"`
		}
		json.Unmarshal([]byte(body), &r)
		if len(r.Calls) == 0 {
			return false, nil
		}
		started = r.Calls[0].Call.StartedAt
		return true, nil
	})
	if d := time.Since(started); d > time.Hour || d < -time.Hour {
		t.Errorf("a call from the year 2300 was journaled at %s", started)
	}
}

// TestDialCleaned: the phone (here the desktop companion) gets only the cleaned number.
func TestDialCleaned(t *testing.T) {
	n := start(t, "", map[string]string{"alice": "200"})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.url, "http")+"/api/v1/companion",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + n.tokens["alice"]}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	got := make(chan string, 4)
	hello := make(chan struct{})
	go func() {
		first := true
		for {
			_, b, err := ws.Read(context.WithoutCancel(t.Context()))
			if err != nil {
				return
			}
			if first {
				first = false
				close(hello) // the hub has registered the connection
			}
			var r companion.Request
			if json.Unmarshal(b, &r) == nil && r.Type == companion.TypeDial {
				got <- r.Number
				res, _ := json.Marshal(companion.Result{Type: companion.TypeResult, ID: r.ID})
				ws.Write(context.WithoutCancel(t.Context()), websocket.MessageText, res)
			}
		}
	}()
	select {
	case <-hello:
	case <-time.After(10 * time.Second):
		t.Fatal("no greeting on the companion connection")
	}
	for _, tc := range []struct{ in, want string }{
		{"+49 (30) 123 45-67", "+49301234567"},
		{"tel:+49-30-1234567", "+49301234567"},
		{"201", "201"},
	} {
		body, _ := json.Marshal(map[string]string{"number": tc.in})
		code, resp := do(t, nil, "POST", n.url+"/api/v1/dial", n.tokens["alice"], "application/json", string(body))
		if code != http.StatusAccepted {
			t.Fatalf("dial %q: %d %s", tc.in, code, resp)
		}
		select {
		case num := <-got:
			if num != tc.want {
				t.Errorf("dial %q: the phone got %q, want %q", tc.in, num, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("dial %q: the companion got nothing", tc.in)
		}
	}
}

// TestLoginNextSameOrigin: next= only ever leads to a path on this server.
func TestLoginNextSameOrigin(t *testing.T) {
	n := start(t, "", map[string]string{"alice": "200"})
	for _, next := range []string{"/\t/evil.example", "/\n/evil.example", "//evil.example", "/\\evil.example", "https://evil.example/", "/ /evil.example", "/%09/evil.example"} {
		code, body, h := doH(t, from("127.0.0.1"), "POST", n.url+"/login", "", "application/x-www-form-urlencoded",
			url.Values{"user": {"alice"}, "password": {password("alice")}, "next": {next}}.Encode(), nil)
		if code != http.StatusSeeOther {
			t.Fatalf("login: %d %s", code, body)
		}
		loc := h.Get("Location")
		u, err := url.Parse(loc)
		if err != nil || u.Host != "" || u.Scheme != "" || strings.ContainsAny(loc, "\t\r\n \\") || strings.HasPrefix(loc, "//") || strings.HasPrefix(strings.ReplaceAll(loc, "%09", ""), "//") {
			t.Errorf("next=%q led to %q", next, loc)
		}
	}
}

// TestReadyzAnonymous: /readyz tells anonymous callers up or down only; admins see the
// checks.
func TestReadyzAnonymous(t *testing.T) {
	n := start(t, "", map[string]string{"alice": "200"})
	_, body := do(t, nil, "GET", n.url+"/readyz", "", "", "")
	if strings.Contains(body, "checks") || strings.Contains(body, "store") {
		t.Errorf("anonymous /readyz: %s; want up or down only", body)
	}
	st := n.other(t)
	st.SetAdmin(t.Context(), "alice", true)
	testenv.Eventually(t, 5*time.Second, "the checks for an admin", func() (bool, error) {
		_, body := do(t, nil, "GET", n.url+"/readyz", n.tokens["alice"], "", "")
		return strings.Contains(body, "store"), nil
	})
}

// TestPBXTokenIsNotAnAgent: a pbx token bound to a user does not act as that user.
func TestPBXTokenIsNotAnAgent(t *testing.T) {
	n := start(t, "", map[string]string{"alice": "200"})
	tok, _, err := n.other(t).CreateToken(t.Context(), "alice", "pbx", "bound")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/v1/calls", "/api/v1/me", "/api/v1/lookup?number=030123"} {
		if code, body := do(t, nil, "GET", n.url+p, tok, "", ""); code != http.StatusForbidden {
			t.Errorf("GET %s with a pbx token bound to alice: %d %s; want 403", p, code, body)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if ws, _, err := dialStream(ctx, n.url, tok, nil); err == nil {
		ws.CloseNow()
		t.Errorf("a pbx token opened alice's stream")
	}
}

// TestMetricsToken: with web.metrics_token_env, /metrics needs the token, and the token
// shows /readyz's checks.
func TestMetricsToken(t *testing.T) {
	t.Setenv("RINGSIDE_TEST_METRICS_TOKEN", "a-metrics-token-for-the-test")
	n := start(t, "web:\n  metrics_token_env: RINGSIDE_TEST_METRICS_TOKEN\n", map[string]string{"alice": "200"})
	if code, _ := do(t, nil, "GET", n.url+"/metrics", "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", code)
	}
	if code, _ := do(t, nil, "GET", n.url+"/metrics", "wrong", "", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong token: %d", code)
	}
	if code, body := do(t, nil, "GET", n.url+"/metrics", "a-metrics-token-for-the-test", "", ""); code != 200 || !strings.Contains(body, "ringside_") {
		t.Errorf("/metrics with the token: %d", code)
	}
	if _, body := do(t, nil, "GET", n.url+"/readyz", "a-metrics-token-for-the-test", "", ""); !strings.Contains(body, "store") {
		t.Errorf("/readyz with the metrics token: %s", body)
	}
}
