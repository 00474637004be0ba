package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAdminPeopleAPI: people and tokens managed through the admin API on the shared
// (SQLite) server; admin_people_pg_test.go runs the same on PostgreSQL.
func TestAdminPeopleAPI(t *testing.T) {
	peopleAPI(t, start(t), "sq")
}

type userJSON struct {
	Name       string   `json:"name"`
	Extensions []string `json:"extensions"`
	Email      string   `json:"email"`
	Admin      bool     `json:"admin"`
	Disabled   bool     `json:"disabled"`
}

// peopleAPI adds, edits, disables, enables, resets and removes a user, creates tokens,
// and checks every refusal names its field; p keeps the names apart between servers.
func peopleAPI(t *testing.T, ts *testServer, p string) {
	dave, ext := p+"-dave", p+"210"
	var added struct {
		User     userJSON `json:"user"`
		Password string   `json:"password"`
	}
	code, body, _ := ts.do(t, "gina", "POST", "/api/v1/admin/users", "application/json", `{"name":"`+dave+`","extensions":["`+ext+`"],"email":"dave@example.com"}`)
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &added) != nil || added.User.Name != dave || len(added.Password) < 12 ||
		added.User.Extensions[0] != ext || added.User.Email != "dave@example.com" {
		t.Fatalf("add: %d %s", code, body)
	}
	if _, err := ts.srv.Store().CheckPassword(t.Context(), dave, added.Password); err != nil {
		t.Errorf("the password shown does not log in: %v", err)
	}
	auditHas(t, ts, "user.add", dave)

	// Refusals name the field (and for a taken extension, its owner).
	for _, c := range []struct {
		body  string
		code  int
		field string
		more  string
	}{
		{`{"name":"` + p + `-erin"}`, 400, "extensions", "needs an extension"},
		{`{"name":"","extensions":["1"]}`, 400, "name", "required"},
		{`{"name":"a\u0007b","extensions":["1"]}`, 400, "name", ""},
		{`{"name":"x y","extensions":["1"]}`, 400, "name", ""},
		{`{"name":"` + p + `-f","extensions":["1\n2"]}`, 400, "extensions", ""},
		{`{"name":"` + p + `-f","extensions":["1"],"email":"not an address"}`, 400, "email", ""},
		{`{"name":"` + p + `-f","extensions":["1"],"password":"short"}`, 400, "password", "8"},
		{`{"name":"` + p + `-f","extensions":["1"],"colour":"red"}`, 400, "colour", ""},
		{`{"name":"` + dave + `","extensions":["` + p + `299"]}`, 409, "name", "exists"},
		{`{"name":"` + p + `-f","extensions":["200"]}`, 409, "extensions", "alice"},
	} {
		code, body, _ := ts.do(t, "gina", "POST", "/api/v1/admin/users", "application/json", c.body)
		if code != c.code || !strings.Contains(body, c.field) || !strings.Contains(body, c.more) {
			t.Errorf("add %s: %d %s, want %d naming %s", c.body, code, body, c.code, c.field)
		}
	}
	if _, err := ts.srv.Store().GetUser(t.Context(), p+"-f"); err == nil {
		t.Error("a refused user was stored")
	}
	// Shared on purpose: both see the calls of 200. An admin needs no extension.
	code, body, _ = ts.do(t, "gina", "POST", "/api/v1/admin/users", "application/json", `{"name":"`+p+`-frontdesk","extensions":["200"],"shared":true,"password":"front desk 1"}`)
	if code != 201 || strings.Contains(body, `"password"`) {
		t.Errorf("shared add: %d %s", code, body)
	}
	if code, body, _ := ts.do(t, "gina", "POST", "/api/v1/admin/users", "application/json", `{"name":"`+p+`-boss","admin":true}`); code != 201 {
		t.Errorf("admin without extension: %d %s", code, body)
	}

	// Edit: extensions and email; a taken extension is refused naming the owner.
	path := "/api/v1/admin/users/" + url.PathEscape(dave)
	var edited struct {
		User userJSON `json:"user"`
	}
	code, body, _ = ts.do(t, "gina", "PATCH", path, "application/json", `{"extensions":["`+ext+`","`+p+`211"],"email":"d@example.com"}`)
	if code != 200 || json.Unmarshal([]byte(body), &edited) != nil || len(edited.User.Extensions) != 2 || edited.User.Email != "d@example.com" {
		t.Fatalf("edit: %d %s", code, body)
	}
	auditHas(t, ts, "user.edit", dave)
	if code, body, _ := ts.do(t, "gina", "PATCH", path, "application/json", `{"extensions":["201"]}`); code != 409 || !strings.Contains(body, "bob") || !strings.Contains(body, `"field":"extensions"`) {
		t.Errorf("edit to bob's extension: %d %s", code, body)
	}
	if code, body, _ := ts.do(t, "gina", "PATCH", path, "application/json", `{"extensions":[]}`); code != 400 || !strings.Contains(body, "extensions") {
		t.Errorf("edit to no extension: %d %s", code, body)
	}
	if code, body, _ := ts.do(t, "gina", "PATCH", "/api/v1/admin/users/"+p+"-nobody", "application/json", `{"email":""}`); code != 404 || !strings.Contains(body, "name") {
		t.Errorf("edit of nobody: %d %s", code, body)
	}

	// A token for dave works until dave is disabled, and again once enabled.
	var made struct {
		Token struct {
			ID int64 `json:"id"`
		} `json:"token"`
		Secret string `json:"secret"`
	}
	code, body, _ = ts.do(t, "gina", "POST", "/api/v1/admin/tokens", "application/json", `{"name":"dave's laptop","scope":"agent","user":"`+dave+`","expires_days":30}`)
	if code != 201 || json.Unmarshal([]byte(body), &made) != nil || !strings.HasPrefix(made.Secret, "rs_") {
		t.Fatalf("create token: %d %s", code, body)
	}
	auditHas(t, ts, "token.create", itoa(made.Token.ID))
	ts.tokens[dave] = made.Secret
	if code, _, _ := ts.do(t, dave, "GET", "/api/v1/me", "", ""); code != 200 {
		t.Fatalf("new token: %d", code)
	}
	var list struct {
		Tokens []struct {
			ID         int64     `json:"id"`
			LastUsedAt time.Time `json:"last_used_at"`
		} `json:"tokens"`
	}
	code, body, _ = ts.do(t, "gina", "GET", "/api/v1/admin/tokens", "", "")
	if code != 200 || !strings.Contains(body, `"dave's laptop"`) || strings.Contains(body, made.Secret) || json.Unmarshal([]byte(body), &list) != nil {
		t.Errorf("token list: %d %s", code, body)
	}
	for _, k := range list.Tokens {
		if k.ID == made.Token.ID && time.Since(k.LastUsedAt) > time.Hour {
			t.Errorf("the token just used was last used at %v", k.LastUsedAt)
		}
	}
	if u, err := ts.srv.Store().GetUser(t.Context(), dave); err != nil || time.Since(u.LastSeenAt) > time.Hour {
		t.Errorf("dave, who just used his token, was last seen at %v (%v)", u.LastSeenAt, err)
	}
	for _, c := range []struct{ body, field string }{
		{`{"scope":"agent","user":"alice"}`, "name"},
		{`{"name":"x","scope":"admin","user":"alice"}`, "scope"},
		{`{"name":"x","scope":"agent"}`, "user"},
		{`{"name":"x","scope":"pbx","user":"alice"}`, "user"},
		{`{"name":"x","scope":"agent","user":"` + p + `-nobody"}`, "user"},
		{`{"name":"x","scope":"pbx","expires_days":5000}`, "expires_days"},
	} {
		if code, body, _ := ts.do(t, "gina", "POST", "/api/v1/admin/tokens", "application/json", c.body); code != 400 || !strings.Contains(body, `"field":"`+c.field+`"`) {
			t.Errorf("token %s: %d %s", c.body, code, body)
		}
	}
	if code, body, _ := ts.do(t, "gina", "POST", path+"/disable", "", ""); code != 200 || !strings.Contains(body, `"disabled":true`) {
		t.Fatalf("disable: %d %s", code, body)
	}
	auditHas(t, ts, "user.disable", dave)
	if code, _, _ := ts.do(t, dave, "GET", "/api/v1/me", "", ""); code != http.StatusUnauthorized {
		t.Errorf("a disabled user's token: %d", code)
	}
	if _, err := ts.srv.Store().CheckPassword(t.Context(), dave, added.Password); err == nil {
		t.Error("a disabled user logs in")
	}
	if code, body, _ := ts.do(t, "gina", "POST", path+"/enable", "", ""); code != 200 || strings.Contains(body, `"disabled":true`) {
		t.Fatalf("enable: %d %s", code, body)
	}
	auditHas(t, ts, "user.enable", dave)
	if code, _, _ := ts.do(t, dave, "GET", "/api/v1/me", "", ""); code != 200 {
		t.Errorf("an enabled user's token: %d", code)
	}

	// Reset password: the new one (made here) works, the old one not.
	var reset struct {
		Password string `json:"password"`
	}
	code, body, _ = ts.do(t, "gina", "POST", path+"/password", "", "")
	if code != 200 || json.Unmarshal([]byte(body), &reset) != nil || reset.Password == "" || reset.Password == added.Password {
		t.Fatalf("reset: %d %s", code, body)
	}
	if _, err := ts.srv.Store().CheckPassword(t.Context(), dave, reset.Password); err != nil {
		t.Errorf("the new password: %v", err)
	}
	if _, err := ts.srv.Store().CheckPassword(t.Context(), dave, added.Password); err == nil {
		t.Error("the old password still works")
	}
	auditHas(t, ts, "user.password", dave)
	if code, body, _ := ts.do(t, "gina", "POST", path+"/password", "application/json", `{"password":"1234"}`); code != 400 || !strings.Contains(body, `"field":"password"`) {
		t.Errorf("short password: %d %s", code, body)
	}

	// An admin cannot lock herself out.
	for _, c := range []struct{ method, path, body, field string }{
		{"POST", "/api/v1/admin/users/gina/disable", "", "name"},
		{"DELETE", "/api/v1/admin/users/gina", "", "name"},
		{"PATCH", "/api/v1/admin/users/gina", `{"admin":false}`, "admin"},
	} {
		ctype := ""
		if c.body != "" {
			ctype = "application/json"
		}
		if code, body, _ := ts.do(t, "gina", c.method, c.path, ctype, c.body); code != 409 || !strings.Contains(body, `"field":"`+c.field+`"`) {
			t.Errorf("%s %s: %d %s", c.method, c.path, code, body)
		}
	}

	// Remove: gone from the list, its token refused, a second remove is 404.
	if code, body, _ := ts.do(t, "gina", "DELETE", path, "", ""); code != 204 {
		t.Fatalf("remove: %d %s", code, body)
	}
	auditHas(t, ts, "user.remove", dave)
	if code, body, _ := ts.do(t, "gina", "GET", "/api/v1/admin/users", "", ""); code != 200 || strings.Contains(body, `"`+dave+`"`) {
		t.Errorf("after remove: %d %s", code, body)
	}
	if code, _, _ := ts.do(t, dave, "GET", "/api/v1/me", "", ""); code != http.StatusUnauthorized {
		t.Errorf("a removed user's token: %d", code)
	}
	if code, _, _ := ts.do(t, "gina", "DELETE", path, "", ""); code != 404 {
		t.Errorf("second remove: %d", code)
	}
	for _, n := range []string{p + "-frontdesk", p + "-boss"} {
		ts.do(t, "gina", "DELETE", "/api/v1/admin/users/"+n, "", "")
	}
}
