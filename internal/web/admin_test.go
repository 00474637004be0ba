package web_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/store"
)

// do calls the API as user (agent token; "" for none) and returns the status and body.
func (ts *testServer) do(t *testing.T, user, method, path, ctype, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, ts.url+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+ts.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// adminEndpoints are every /api/v1/admin route, with a harmless request.
var adminEndpoints = []struct{ method, path, ctype, body string }{
	{"GET", "/api/v1/admin/users", "", ""},
	{"GET", "/api/v1/admin/tokens", "", ""},
	{"POST", "/api/v1/admin/tokens", "application/json", `{"name":"x","scope":"pbx"}`},
	{"POST", "/api/v1/admin/users", "application/json", `{"name":"mallory","extensions":["666"]}`},
	{"PATCH", "/api/v1/admin/users/alice", "application/json", `{"admin":true}`},
	{"DELETE", "/api/v1/admin/users/bob", "", ""},
	{"POST", "/api/v1/admin/users/bob/disable", "", ""},
	{"POST", "/api/v1/admin/users/bob/enable", "", ""},
	{"POST", "/api/v1/admin/users/bob/password", "", ""},
	{"POST", "/api/v1/admin/tokens/999999/revoke", "", ""},
	{"GET", "/api/v1/admin/stats", "", ""},
	{"POST", "/api/v1/admin/import/preview", "text/csv", "type,last_name,phone\ncontact,Nobody,030 1\n"},
	{"POST", "/api/v1/admin/import", "text/csv", "type,last_name,phone\ncontact,Nobody,030 1\n"},
	{"GET", "/api/v1/admin/audit", "", ""},
	{"GET", "/api/v1/admin/live", "", ""},
	{"GET", "/api/v1/admin/systems", "", ""},
	{"POST", "/api/v1/admin/systems/check", "", ""},
}

// TestAdminAPIForbidden: agents get 403 and strangers 401 on every admin endpoint, and
// nothing changes.
func TestAdminAPIForbidden(t *testing.T) {
	ts := start(t)
	before := ts.dir.Len()
	for _, e := range adminEndpoints {
		if code, body, _ := ts.do(t, "alice", e.method, e.path, e.ctype, e.body); code != http.StatusForbidden || !strings.Contains(body, "administrators only") {
			t.Errorf("alice %s %s: %d %s", e.method, e.path, code, body)
		}
		if code, _, _ := ts.do(t, "", e.method, e.path, e.ctype, e.body); code != http.StatusUnauthorized {
			t.Errorf("no token %s %s: %d", e.method, e.path, code)
		}
	}
	if ts.dir.Len() != before {
		t.Fatal("a forbidden import stored records")
	}
}

func TestAdminUsersAndTokens(t *testing.T) {
	ts := start(t)
	code, body, _ := ts.do(t, "gina", "GET", "/api/v1/admin/users", "", "")
	var us struct {
		Users []struct {
			Name       string   `json:"name"`
			Extensions []string `json:"extensions"`
			Admin      bool     `json:"admin"`
			Connected  bool     `json:"connected"`
		} `json:"users"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &us) != nil || len(us.Users) < len(agents) {
		t.Fatalf("users: %d %s", code, body)
	}
	for _, u := range us.Users {
		if u.Name == "gina" && !u.Admin || u.Name == "alice" && (u.Admin || u.Extensions[0] != "200") {
			t.Errorf("user %+v", u)
		}
	}
	// A token made for this test is listed, revoked (audited), and refused afterwards.
	secret, tok, err := ts.srv.Store().CreateToken(t.Context(), "alice", "agent", "to revoke")
	if err != nil {
		t.Fatal(err)
	}
	ts.tokens["alice-spare"] = secret
	if code, _, _ := ts.do(t, "alice-spare", "GET", "/api/v1/me", "", ""); code != 200 {
		t.Fatalf("spare token: %d", code)
	}
	code, body, _ = ts.do(t, "gina", "GET", "/api/v1/admin/tokens", "", "")
	if code != 200 || !strings.Contains(body, `"to revoke"`) || strings.Contains(body, secret) {
		t.Fatalf("tokens: %d %s", code, body)
	}
	path := "/api/v1/admin/tokens/" + itoa(tok.ID) + "/revoke"
	if code, body, _ := ts.do(t, "gina", "POST", path, "", ""); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, _, _ := ts.do(t, "alice-spare", "GET", "/api/v1/me", "", ""); code != http.StatusUnauthorized {
		t.Errorf("revoked token still works: %d", code)
	}
	if code, _, _ := ts.do(t, "gina", "POST", path, "", ""); code != http.StatusNotFound {
		t.Errorf("second revoke: %d", code)
	}
	if code, body, _ := ts.do(t, "gina", "POST", "/api/v1/admin/tokens/abc/revoke", "", ""); code != 400 || !strings.Contains(body, "id") {
		t.Errorf("bad id: %d %s", code, body)
	}
	auditHas(t, ts, "token.revoke", itoa(tok.ID))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// auditHas checks that the audit log names action on target, by gina, from loopback.
func auditHas(t *testing.T, ts *testServer, action, target string) {
	t.Helper()
	code, body, _ := ts.do(t, "gina", "GET", "/api/v1/admin/audit?limit=50", "", "")
	var a struct {
		Entries []store.AuditEntry `json:"entries"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &a) != nil {
		t.Fatalf("audit: %d %s", code, body)
	}
	for _, e := range a.Entries {
		if e.Action == action && e.Target == target && e.Actor == "gina" && e.Remote == "127.0.0.1" && time.Since(e.At) < time.Hour {
			return
		}
	}
	t.Errorf("audit log has no %s %s by gina: %s", action, target, body)
}

// TestAdminImport: the preview shows the bad row and stores nothing; applying a file
// with a bad row is refused (422) whole; the corrected file imports; importing it again
// updates instead of adding twins.
func TestAdminImport(t *testing.T) {
	ts := start(t)
	bad := "type;first_name;last_name;email;phone\n" +
		"contact;Lena;Vogt;lena@example.com;030 5557001\n" +
		"contact;Tim;Roth;;not-a-number\n"
	before := ts.dir.Len()
	code, body, _ := ts.do(t, "gina", "POST", "/api/v1/admin/import/preview", "text/csv", bad)
	var p struct {
		Errors []struct {
			Line    int    `json:"line"`
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
		Items []struct {
			Line   int    `json:"line"`
			Action string `json:"action"`
		} `json:"items"`
		Result struct {
			Separator string `json:"separator"`
		} `json:"result"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &p) != nil {
		t.Fatalf("preview: %d %s", code, body)
	}
	if len(p.Errors) != 1 || p.Errors[0].Line != 3 || p.Errors[0].Field != "phone" || p.Result.Separator != ";" ||
		len(p.Items) != 2 || p.Items[0].Action != "create" || p.Items[1].Action != "error" {
		t.Fatalf("preview: %s", body)
	}
	if code, body, _ := ts.do(t, "gina", "POST", "/api/v1/admin/import", "text/csv", bad); code != http.StatusUnprocessableEntity || !strings.Contains(body, "not-a-number") {
		t.Fatalf("bad apply: %d %s", code, body)
	}
	if ts.dir.Len() != before {
		t.Fatal("records stored from a refused file")
	}
	good := strings.Replace(bad, "not-a-number", "030 5557002", 1)
	for i, want := range []string{`"contacts":2`, `"updated":2`} {
		code, body, _ := ts.do(t, "gina", "POST", "/api/v1/admin/import", "text/csv", good)
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("import %d: %d %s", i+1, code, body)
		}
	}
	if ts.dir.Len() != before+2 {
		t.Errorf("twins: %d records, want %d", ts.dir.Len(), before+2)
	}
	auditHas(t, ts, "import.apply", "")
}

// TestAdminStats: the figures of calls in the journal, as JSON, CSV and SVG; bad
// parameters name the field.
func TestAdminStats(t *testing.T) {
	ts := start(t)
	day := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC) // a day no other test writes calls on
	var es []store.JournalEntry
	for i, wait := range []int{2, 4, 0} {
		c := call.Call{ID: "stats-" + itoa(int64(i)), Direction: call.Inbound, State: call.Ended, Remote: call.Remote{Raw: "x", Number: "+4930999" + itoa(int64(i))},
			DID: "+49305550", StartedAt: day.Add(9*time.Hour + time.Duration(i)*time.Minute), Legs: []call.Leg{{Extension: "200", User: "alice"}}}
		if wait > 0 {
			c.AnsweredAt, c.AnsweredBy = c.StartedAt.Add(time.Duration(wait)*time.Second), "200"
			c.EndedAt = c.AnsweredAt.Add(time.Minute)
		} else {
			c.Missed, c.EndedAt = true, c.StartedAt.Add(30*time.Second)
		}
		es = append(es, store.JournalEntry{Call: c})
	}
	if err := ts.srv.Store().SaveCalls(t.Context(), es); err != nil {
		t.Fatal(err)
	}
	q := "/api/v1/admin/stats?from=2024-02-29&to=2024-03-01"
	code, body, _ := ts.do(t, "gina", "GET", q, "", "")
	if code != 200 || !strings.Contains(body, `"total":{"calls_in":3,"calls_out":0,"answered":2,"missed":1,"missed_not_called_back":1,"answer_avg_s":3,"answer_p90_s":4,"talk_s":120}`) {
		t.Fatalf("json: %d %s", code, body)
	}
	code, body, h := ts.do(t, "gina", "GET", q+"&format=csv", "", "")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.Contains(body, "agent,alice,3,0,2,1,1,3.0,4.0,120.0") {
		t.Fatalf("csv: %d %s", code, body)
	}
	code, body, h = ts.do(t, "gina", "GET", q+"&format=svg&lang=de", "", "")
	if code != 200 || h.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, "angenommen: 2") {
		t.Fatalf("svg: %d %s", code, body)
	}
	for _, bad := range []struct{ q, field string }{
		{"?from=yesterday", "from"}, {"?tz=Mars/Olympus", "tz"}, {"?step=week", "step"}, {"?format=pdf", "format"},
		{"?from=2024-03-01&to=2024-02-01", "from"},
	} {
		if code, body, _ := ts.do(t, "gina", "GET", "/api/v1/admin/stats"+bad.q, "", ""); code != 400 || !strings.Contains(body, bad.field) {
			t.Errorf("%s: %d %s", bad.q, code, body)
		}
	}
}

// TestAdminLiveBoard: a call appears on the admins' live stream while it rings, shows
// its state when answered, and leaves when it ends.
func TestAdminLiveBoard(t *testing.T) {
	ts := start(t)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.url+"/api/v1/admin/live", nil)
	req.Header.Set("Authorization", "Bearer "+ts.tokens["gina"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live: %s", resp.Status)
	}
	boards := make(chan []call.Call, 100)
	go func() {
		defer close(boards)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var b struct {
				Calls []call.Call `json:"calls"`
			}
			if json.Unmarshal([]byte(data), &b) == nil {
				boards <- b.Calls
			}
		}
	}()
	// waitFor reads boards until one satisfies ok (generous: the board polls each second).
	waitFor := func(what string, ok func([]call.Call) bool) {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case b, open := <-boards:
				if !open {
					t.Fatalf("stream closed waiting for %s", what)
				}
				if ok(b) {
					return
				}
			case <-deadline:
				t.Fatalf("no board with %s", what)
			}
		}
	}
	find := func(b []call.Call) *call.Call {
		for i := range b {
			if pbxID(b[i]) == "live-1" {
				return &b[i]
			}
		}
		return nil
	}
	ts.event(t, map[string]any{"event": "ringing", "call_id": "live-1", "from": "+49 30 9876543", "extension": "201"})
	waitFor("live-1 ringing", func(b []call.Call) bool { c := find(b); return c != nil && c.State == call.Ringing })
	ts.event(t, map[string]any{"event": "answered", "call_id": "live-1", "extension": "201"})
	waitFor("live-1 answered", func(b []call.Call) bool { c := find(b); return c != nil && c.State == call.Answered })
	ts.event(t, map[string]any{"event": "ended", "call_id": "live-1"})
	waitFor("live-1 gone", func(b []call.Call) bool { return find(b) == nil })
}

func TestAdminSystems(t *testing.T) {
	ts := start(t)
	// The test server's only phone system is a webhook source and its CRM the built-in
	// directory: nothing to connect to, nothing can fail.
	if code, body, _ := ts.do(t, "gina", "POST", "/api/v1/admin/systems/check", "", ""); code != 200 || body != `{"ok":true,"problems":[]}`+"\n" {
		t.Errorf("check: %d %s", code, body)
	}
	type sys struct {
		Name             string    `json:"name"`
		Up               bool      `json:"up"`
		State            string    `json:"state"`
		Since            time.Time `json:"since"`
		LastEvent        time.Time `json:"last_event"`
		EventsLastMinute *int      `json:"events_last_minute"`
		Sync             *struct {
			Ready bool `json:"ready"`
		} `json:"sync"`
	}
	systems := func() map[string]sys {
		t.Helper()
		var out struct{ Systems []sys }
		if code := ts.get(t, "gina", "/api/v1/admin/systems", &out); code != 200 {
			t.Fatalf("systems: %d", code)
		}
		m := map[string]sys{}
		for _, s := range out.Systems {
			m[s.Name] = s
		}
		return m
	}
	before := systems()
	hook, st := before["telephony/webhook"], before["store"]
	if !hook.Up || hook.State != "up" || hook.EventsLastMinute == nil || hook.Since.IsZero() || !st.Up {
		t.Fatalf("systems: %+v", before)
	}
	// Each phone system says since when it is in its state, how many events it sent in
	// the last minute and when the last came.
	t0 := time.Now()
	for i := range 3 {
		ts.event(t, map[string]any{"event": "ringing", "call_id": fmt.Sprintf("sys-%d", i), "from": "+49 30 1234567", "extension": "209"})
	}
	after := systems()["telephony/webhook"]
	if after.EventsLastMinute == nil || *after.EventsLastMinute < *hook.EventsLastMinute+3 {
		t.Errorf("events in the last minute: %v before, %v after three events", *hook.EventsLastMinute, after.EventsLastMinute)
	}
	if after.LastEvent.Before(t0.Add(-time.Second)) || after.LastEvent.After(time.Now().Add(time.Second)) {
		t.Errorf("last event %v, want about %v", after.LastEvent, t0)
	}
	if !after.Since.Equal(hook.Since) {
		t.Errorf("since changed from %v to %v while the source stayed up", hook.Since, after.Since)
	}
	// The built-in directory has no index to sync: no sync progress for it.
	if c := systems()["crm"]; !c.Up || c.Sync != nil {
		t.Errorf("crm: %+v", c)
	}
}

// pbxID is the phone system's id of c (c.ID is Ringside's own).
func pbxID(c call.Call) string { return c.PbxID }
