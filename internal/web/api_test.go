package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// browserClient logs user in through the login form, as a browser does, and returns the
// client (with the session cookie) and the page's CSRF token.
func browserClient(t *testing.T, ts *testServer, user, pw string) (*http.Client, string, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(ts.url+"/login", url.Values{"user": {user}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`data-csrf="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		return c, "", resp.StatusCode
	}
	return c, string(m[1]), resp.StatusCode
}

func TestSessionCookieAndCSRF(t *testing.T) {
	ts := start(t)
	c, csrf, code := browserClient(t, ts, "dana", password)
	if code != 200 || csrf == "" {
		t.Fatalf("login: %d, csrf %q", code, csrf)
	}
	u, _ := url.Parse(ts.url)
	var session *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "ringside_session" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	post := func(token string) int {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.url+"/api/v1/me/settings", strings.NewReader(`{"open_record_on_ring":"off"}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("X-CSRF-Token", token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusForbidden},
		{"wrong token", "x" + csrf, http.StatusForbidden},
		{"the page's token", csrf, http.StatusOK},
	} {
		if got := post(tc.token); got != tc.want {
			t.Errorf("%s: POST /api/v1/me/settings = %d, want %d", tc.name, got, tc.want)
		}
	}
	// Logging out needs the token too.
	resp, err := c.PostForm(ts.url+"/logout", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without the CSRF token: %d", resp.StatusCode)
	}
	// A login form posted from another site is refused.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.url+"/login", strings.NewReader(url.Values{"user": {"dana"}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site login: %d", resp.StatusCode)
	}
}

func TestLoginThrottle(t *testing.T) {
	ts := start(t)
	// Only failures count: agents logging in one after another are never throttled.
	for range 3 {
		if _, _, code := browserClient(t, ts, "bob", password); code != 200 {
			t.Fatalf("login: %d", code)
		}
	}
	for i := range 5 {
		if _, _, code := browserClient(t, ts, "mallory", "guess"+string(rune('a'+i))); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, code)
		}
	}
	if _, _, code := browserClient(t, ts, "mallory", "guess-f"); code != http.StatusTooManyRequests {
		t.Errorf("6th wrong password: %d, want 429", code)
	}
	// Other users are not affected.
	if _, _, code := browserClient(t, ts, "bob", password); code != 200 {
		t.Errorf("bob after mallory's guesses: %d", code)
	}
}

func TestCallerEndpoint(t *testing.T) {
	ts := start(t)
	var res struct {
		Number, National, International string
		Pick                            any
	}
	if code := ts.get(t, "dana", "/api/v1/caller?number="+url.QueryEscape("0049 40 5550100"), &res); code != 200 {
		t.Fatalf("GET /api/v1/caller: %d", code)
	}
	if res.Number != "+49405550100" || res.National != "040 5550100" || res.International != "+49 40 5550100" || res.Pick != nil {
		t.Errorf("caller = %+v", res)
	}
	if code := ts.get(t, "dana", "/api/v1/caller", nil); code != http.StatusBadRequest {
		t.Errorf("without a number: %d", code)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.url+"/api/v1/caller?number=1", nil)
	req.Header.Set("Authorization", "Bearer "+ts.pbx)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a pbx token: %d", resp.StatusCode)
	}
}

// TestStreamIsPerUser: bob's token opens bob's stream, which carries none of alice's calls.
func TestStreamIsPerUser(t *testing.T) {
	ts := start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.url, "http")+"/api/v1/stream",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + ts.tokens["bob"]}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	read := func() map[string]any {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := read(); m["type"] != "hello" || m["user"] != "bob" {
		t.Fatalf("greeting %v", m)
	}
	ts.event(t, map[string]any{"event": "ringing", "call_id": "stream-alice", "from": "+49 30 9876543", "extension": "200"})
	ts.event(t, map[string]any{"event": "ringing", "call_id": "stream-bob", "from": "+49 30 9876543", "extension": "201"})
	for {
		m := read()
		c, _ := m["call"].(map[string]any)
		if c == nil {
			continue
		}
		if c["pbx_id"] == "stream-alice" {
			t.Fatalf("bob's stream carries alice's call: %v", m)
		}
		if c["pbx_id"] == "stream-bob" {
			break
		}
	}
	ts.event(t, map[string]any{"event": "ended", "call_id": "stream-alice"})
	ts.event(t, map[string]any{"event": "ended", "call_id": "stream-bob"})
}
