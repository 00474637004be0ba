package web_test

import (
	"net/http"
	"testing"
)

// TestAdminPagesNeedASession: the console's pages are for browser sessions: a bearer
// token (even an admin's) or nothing is sent to the login with the page to come back
// to; an unknown page is 404.
func TestAdminPagesNeedASession(t *testing.T) {
	ts := start(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct{ user, path, loc string }{
		{"", "/admin", "/login?next=%2Fadmin%2Fpeople"},
		{"gina", "/admin/outbox", "/login?next=%2Fadmin%2Foutbox"},
		{"alice", "/admin/audit", "/login?next=%2Fadmin%2Faudit"},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.url+c.path, nil)
		if c.user != "" {
			req.Header.Set("Authorization", "Bearer "+ts.tokens[c.user])
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != c.loc {
			t.Errorf("%s GET %s: %d %q", c.user, c.path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if code, _, _ := ts.do(t, "gina", "GET", "/admin/secrets", "", ""); code != http.StatusNotFound {
		t.Errorf("unknown admin page: %d", code)
	}
}
