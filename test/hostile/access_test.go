package hostile

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/testenv"
)

// cut is how soon access must end: the "within a second".
const cut = time.Second

func callIDs(t *testing.T, body string) []string {
	t.Helper()
	var r struct {
		Calls []struct {
			Call struct {
				ID    string `json:"id"`
				PbxID string `json:"pbx_id"`
			} `json:"call"`
			ID    string `json:"id"`
			PbxID string `json:"pbx_id"`
		} `json:"calls"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("calls: %v\n%s", err, body)
	}
	var out []string
	for _, c := range r.Calls {
		for _, id := range []string{c.Call.ID, c.Call.PbxID, c.ID, c.PbxID} {
			if id != "" {
				out = append(out, id)
			}
		}
	}
	return out
}

// TestCrossAgentList: a call routed to alice on bob's extension is alice's: bob's list
// does not show it (the single view already said 404), and a call on bob's extension
// for nobody in particular is bob's.
func TestCrossAgentList(t *testing.T) {
	n := start(t, "", map[string]string{"alice": "200", "bob": "201"})
	n.event(t, `{"event":"ringing","call_id":"xa-alice","from":"+4930123456","extension":"201","user":"alice"}`)
	n.event(t, `{"event":"ended","call_id":"xa-alice"}`)
	n.event(t, `{"event":"ringing","call_id":"xa-bob","from":"+4930123457","extension":"201"}`)
	n.event(t, `{"event":"ended","call_id":"xa-bob"}`)
	list := func(user string) string {
		var ids []string
		testenv.Eventually(t, 5*time.Second, "the journal", func() (bool, error) {
			_, body := do(t, nil, "GET", n.url+"/api/v1/calls", n.tokens[user], "", "")
			ids = callIDs(t, body)
			return len(ids) > 0, nil
		})
		return strings.Join(ids, " ")
	}
	if got := list("bob"); strings.Contains(got, "xa-alice") || !strings.Contains(got, "xa-bob") {
		t.Errorf("bob's list: %s; want xa-bob and not alice's call", got)
	}
	if got := list("alice"); !strings.Contains(got, "xa-alice") || strings.Contains(got, "xa-bob") {
		t.Errorf("alice's list: %s; want xa-alice only", got)
	}
}

// TestLogoutCutsStream: logging out closes the page's open stream within a second.
func TestLogoutCutsStream(t *testing.T) {
	n := start(t, "", map[string]string{"bob": "201"})
	c := from("127.0.0.1")
	csrf := login(t, c, n.url, "bob", password("bob"))
	a := n.connect(t, "", c)
	code, body := do(t, c, "POST", n.url+"/logout", "", "application/x-www-form-urlencoded", url.Values{"csrf": {csrf}}.Encode())
	if code != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", code, body)
	}
	a.closedWithin(t, cut, "logout")
}

// TestSessionExpiryCutsStream: a stream opened with a session ends when the session does.
func TestSessionExpiryCutsStream(t *testing.T) {
	n := start(t, "web:\n  session_ttl: 2s\n", map[string]string{"bob": "201"})
	c := from("127.0.0.1")
	login(t, c, n.url, "bob", password("bob"))
	a := n.connect(t, "", c)
	a.closedWithin(t, 2*time.Second+cut, "session expiry")
}

// other opens the server's store as a second process would (the CLI).
func (n *node) other(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{}, n.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestRevokeCutsStream: revoking a token (as `ringside tokens revoke` does, from another
// process) closes its open streams within a second and refuses it from then on.
func TestRevokeCutsStream(t *testing.T) {
	n := start(t, "", map[string]string{"alice": "200", "bob": "201"})
	a := n.connect(t, n.tokens["alice"], nil)
	b := n.connect(t, n.tokens["bob"], nil)
	if code, body := do(t, nil, "GET", n.url+"/api/v1/me", n.tokens["alice"], "", ""); code != 200 {
		t.Fatalf("me: %d %s", code, body)
	}
	st := n.other(t)
	toks, err := st.ListTokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.User == "alice" {
			if err := st.RevokeToken(t.Context(), tok.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	a.closedWithin(t, cut, "token revoke")
	if code, _ := do(t, nil, "GET", n.url+"/api/v1/me", n.tokens["alice"], "", ""); code != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", code)
	}
	select {
	case <-b.Done():
		t.Errorf("bob's stream was closed by alice's revoke")
	default:
	}
}

// TestPasswordChangeEndsSessions: a new password ends the user's sessions and their
// streams.
func TestPasswordChangeEndsSessions(t *testing.T) {
	n := start(t, "", map[string]string{"bob": "201"})
	c := from("127.0.0.1")
	login(t, c, n.url, "bob", password("bob"))
	a := n.connect(t, "", c)
	if err := n.other(t).SetPassword(t.Context(), "bob", "a-new-password-for-bob"); err != nil {
		t.Fatal(err)
	}
	a.closedWithin(t, cut, "password change")
	if code, _ := do(t, c, "GET", n.url+"/api/v1/me", "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("the old session after a password change: %d, want 401", code)
	}
}

// TestDisableUser: disabling a user closes every stream (token and session), refuses
// their tokens and logins; enabling lets them back in.
func TestDisableUser(t *testing.T) {
	n := start(t, "", map[string]string{"bob": "201"})
	c := from("127.0.0.1")
	login(t, c, n.url, "bob", password("bob"))
	s := n.connect(t, "", c)
	a := n.connect(t, n.tokens["bob"], nil)
	st := n.other(t)
	if err := st.DisableUser(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	a.closedWithin(t, cut, "disable (token stream)")
	s.closedWithin(t, cut, "disable (session stream)")
	if code, _ := do(t, nil, "GET", n.url+"/api/v1/me", n.tokens["bob"], "", ""); code != http.StatusUnauthorized {
		t.Errorf("a disabled user's token: %d, want 401", code)
	}
	if code, _ := do(t, from("127.0.0.6"), "POST", n.url+"/login", "", "application/x-www-form-urlencoded",
		url.Values{"user": {"bob"}, "password": {password("bob")}}.Encode()); code != http.StatusUnauthorized {
		t.Errorf("a disabled user's login: %d, want 401", code)
	}
	if err := st.EnableUser(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "bob's token to work again", func() (bool, error) {
		code, _ := do(t, nil, "GET", n.url+"/api/v1/me", n.tokens["bob"], "", "")
		return code == 200, nil
	})
	b := n.connect(t, n.tokens["bob"], nil)
	if err := st.RemoveUser(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	b.closedWithin(t, cut, "remove")
	if code, _ := do(t, nil, "GET", n.url+"/api/v1/me", n.tokens["bob"], "", ""); code != http.StatusUnauthorized {
		t.Errorf("a removed user's token: %d, want 401", code)
	}
}
