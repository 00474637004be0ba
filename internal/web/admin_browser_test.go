package web_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/testenv"
)

// Browser tests of the admin console (/admin): real headless Chromium against the real
// server, as the admin gina.

// adminIn logs gina in in a new tab and opens the admin page.
func (ts *testServer) adminIn(t *testing.T, page string) context.Context {
	t.Helper()
	ctx := ts.login(t, "gina")
	ts.open(t, ctx, page)
	return ctx
}

// open navigates to an admin page and waits for its script to have run.
func (ts *testServer) open(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	run(t, ctx, chromedp.Navigate(ts.url+"/admin/"+page), chromedp.WaitVisible(`nav.admin-nav a[aria-current=page]`), waitJS(`!!(window.Ringside && window.Ringside.admin)`))
}

func evalBool(t *testing.T, ctx context.Context, expr string) bool {
	t.Helper()
	var b bool
	run(t, ctx, chromedp.Evaluate(expr, &b))
	return b
}

// TestBrowserAdminPeople: the admin adds a user (the password is shown once), is refused
// an extension another user has (naming her), edits, disables the user (whose open
// agent page loses its stream), enables, resets the password and removes the user.
func TestBrowserAdminPeople(t *testing.T) {
	ts := start(t)
	ctx := ts.adminIn(t, "people")
	run(t, ctx,
		chromedp.WaitVisible(`#people tr[data-user=alice]`),
		chromedp.Click(`#add-user summary`),
		chromedp.SendKeys(`#u-name`, "walt"),
		chromedp.SendKeys(`#u-ext`, "280"),
		chromedp.SendKeys(`#u-email`, "walt@example.com"),
		chromedp.Click(`#user-form button[type=submit]`),
		chromedp.WaitVisible(`#people tr[data-user=walt]`),
		chromedp.WaitVisible(`#secret .secret-value`),
	)
	msg := text(t, ctx, "#secret .secret-value")
	pw, ok := strings.CutPrefix(msg, "walt added. Password: ")
	if !ok || len(pw) < 12 {
		t.Fatalf("secret box = %q", msg)
	}
	if got := text(t, ctx, `#people tr[data-user=walt]`); !strings.Contains(got, "280") || !strings.Contains(got, "walt@example.com") || !strings.Contains(got, "Agent") || !strings.Contains(got, "Active") {
		t.Errorf("walt's row = %q", got)
	}
	// alice's extension is refused, naming her; nothing is stored.
	run(t, ctx,
		chromedp.SendKeys(`#u-name`, "xavier"),
		chromedp.SendKeys(`#u-ext`, "200"),
		chromedp.Click(`#user-form button[type=submit]`),
		waitJS(`document.querySelector("#user-form .form-status").textContent.indexOf("alice") >= 0`),
	)
	if got := text(t, ctx, "#user-form .form-status"); got != "Extension 200 belongs to alice already: choose another, or tick “Shared extension”." {
		t.Errorf("conflict message = %q", got)
	}
	if _, err := ts.srv.Store().GetUser(t.Context(), "xavier"); err == nil {
		t.Error("xavier was stored despite the conflict")
	}
	// Walt logs in with the password shown; his page is connected.
	walt := tab(t)
	run(t, walt,
		chromedp.Navigate(ts.url+"/"),
		chromedp.WaitVisible(`input[name=user]`),
		chromedp.SendKeys(`input[name=user]`, "walt"),
		chromedp.SendKeys(`input[name=password]`, pw),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`#conn[data-state=connected]`),
	)
	eventually(t, "walt online", func() bool { return ts.srv.Hub().Online("walt") })
	// Edit: another extension.
	run(t, ctx,
		chromedp.Click(`#people tr[data-user=walt] button.edit`),
		chromedp.WaitVisible(`#edit-form`),
		chromedp.SetValue(`#e-ext`, "281"),
		chromedp.Click(`#edit-form button[type=submit]`),
		waitJS(`(document.querySelector("#people tr[data-user=walt]")||{}).textContent.indexOf("281") >= 0`),
	)
	// Disable (two clicks): walt's stream closes and his page does not get back in.
	run(t, ctx,
		chromedp.Click(`#people tr[data-user=walt] button.disable`),
		chromedp.Click(`#people tr[data-user=walt] button.disable`),
		chromedp.WaitVisible(`#people tr[data-user=walt][data-state=disabled]`),
	)
	eventually(t, "walt's stream closed", func() bool { return !ts.srv.Hub().Online("walt") })
	// His page goes to the login form and says why, instead of retrying a stream that
	// will never take him back.
	run(t, walt, waitJS(`location.pathname == "/login" && !!document.querySelector(".error")`))
	if got := text(t, walt, ".error"); got != "Your access has ended. Log in again." {
		t.Errorf("walt's login page says %q", got)
	}
	if got := text(t, ctx, "#status"); !strings.Contains(got, "walt is disabled") {
		t.Errorf("status after disable = %q", got)
	}
	// Enable, reset the password (shown once), remove.
	run(t, ctx,
		chromedp.Click(`#people tr[data-user=walt] button.enable`),
		chromedp.WaitVisible(`#people tr[data-user=walt][data-state=active]`),
		chromedp.Click(`#people tr[data-user=walt] button.reset`),
		chromedp.Click(`#people tr[data-user=walt] button.reset`),
		waitJS(`document.querySelector("#secret .secret-value").textContent.indexOf("New password for walt") == 0`),
	)
	pw2 := strings.TrimPrefix(text(t, ctx, "#secret .secret-value"), "New password for walt: ")
	if _, err := ts.srv.Store().CheckPassword(t.Context(), "walt", pw2); err != nil {
		t.Errorf("the reset password does not log in: %v", err)
	}
	run(t, ctx,
		chromedp.Click(`#people tr[data-user=walt] button.remove`),
		chromedp.Click(`#people tr[data-user=walt] button.remove`),
		chromedp.WaitNotPresent(`#people tr[data-user=walt]`),
	)
	if _, err := ts.srv.Store().GetUser(t.Context(), "walt"); err == nil {
		t.Error("walt still stored after Remove")
	}
	// The session's API calls need the CSRF header the page carries.
	var code int
	run(t, ctx, chromedp.Evaluate(`fetch("/api/v1/admin/users", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({name: "yara", extensions: ["290"]})}).then(r => r.status)`, &code, awaitPromise))
	if code != http.StatusForbidden {
		t.Errorf("POST without the CSRF header: %d", code)
	}
	if _, err := ts.srv.Store().GetUser(t.Context(), "yara"); err == nil {
		t.Error("a user was added without the CSRF header")
	}
	for _, a := range []string{"user.add", "user.edit", "user.disable", "user.enable", "user.password", "user.remove"} {
		auditHas(t, ts, a, "walt")
	}
	// The audit page lists them.
	ts.open(t, ctx, "audit")
	run(t, ctx, chromedp.WaitVisible(`#audit tr[data-action="user.remove"]`))
	if got := text(t, ctx, `#audit tr[data-action="user.remove"]`); !strings.Contains(got, "gina") || !strings.Contains(got, "walt") || !strings.Contains(got, "127.0.0.1") {
		t.Errorf("audit row = %q", got)
	}
}

// TestBrowserAdminTokens: a token made on the page (secret shown once) lets a phone
// system post events; revoked on the page, it is refused.
func TestBrowserAdminTokens(t *testing.T) {
	ts := start(t)
	ctx := ts.adminIn(t, "tokens")
	run(t, ctx,
		chromedp.Click(`#add-token summary`),
		chromedp.SendKeys(`#t-name`, "Test PBX from the page"),
		chromedp.SetValue(`#t-scope`, "pbx"),
		chromedp.Evaluate(`document.getElementById("t-scope").dispatchEvent(new Event("change"))`, nil),
		chromedp.Click(`#token-form button[type=submit]`),
		chromedp.WaitVisible(`#secret .secret-value`),
	)
	secret := text(t, ctx, "#secret .secret-value")
	secret = secret[strings.LastIndex(secret, " ")+1:]
	if !strings.HasPrefix(secret, "rs_") {
		t.Fatalf("secret box = %q", text(t, ctx, "#secret"))
	}
	post := func() int {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.url+"/api/v1/events", strings.NewReader(`{"event":"ended","call_id":"tok-none"}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != http.StatusAccepted {
		t.Fatalf("event with the new token: %d", code)
	}
	toks, _ := ts.srv.Store().ListTokens(t.Context())
	var id int64
	for _, k := range toks {
		if k.Name == "Test PBX from the page" {
			id = k.ID
		}
	}
	row := fmt.Sprintf(`#tokens tr[data-token="%d"]`, id)
	run(t, ctx,
		chromedp.WaitVisible(row),
		chromedp.Click(row+" button.revoke"),
		chromedp.Click(row+" button.revoke"),
		chromedp.WaitNotPresent(row),
	)
	if code := post(); code != http.StatusUnauthorized {
		t.Errorf("event with the revoked token: %d", code)
	}
	auditHas(t, ts, "token.create", itoa(id))
	auditHas(t, ts, "token.revoke", itoa(id))

	// An agent token for alice: a program streams with it; revoked on the page, its
	// stream closes.
	run(t, ctx,
		chromedp.SetValue(`#t-name`, "alice's dashboard"),
		chromedp.SetValue(`#t-scope`, "agent"),
		chromedp.Evaluate(`document.getElementById("t-scope").dispatchEvent(new Event("change"))`, nil),
		chromedp.SetValue(`#t-user`, "alice"),
		chromedp.Click(`#token-form button[type=submit]`),
		waitJS(`document.querySelector("#secret .secret-value").textContent.indexOf("alice's dashboard") > 0`),
	)
	secret = text(t, ctx, "#secret .secret-value")
	secret = secret[strings.LastIndex(secret, " ")+1:]
	wctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(wctx, "ws"+strings.TrimPrefix(ts.url, "http")+"/api/v1/stream",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + secret}}})
	if err != nil {
		t.Fatalf("stream with the new agent token: %v", err)
	}
	defer ws.CloseNow()
	stream := testenv.ReadStream(t, ws)
	stream.Until(t, 10*time.Second, "the greeting", func(m testenv.Msg) bool { return m.Type == "hello" })
	toks, _ = ts.srv.Store().ListTokens(t.Context())
	for _, k := range toks {
		if k.Name == "alice's dashboard" {
			id = k.ID
		}
	}
	row = fmt.Sprintf(`#tokens tr[data-token="%d"]`, id)
	run(t, ctx, chromedp.Click(row+" button.revoke"), chromedp.Click(row+" button.revoke"), chromedp.WaitNotPresent(row))
	select {
	case <-stream.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked token's stream is still open after 10 s")
	}
}

// TestBrowserAdminImport: a file with a bad row is previewed (the row's line number and
// column shown, Import disabled) and nothing is stored; a good file is imported; the same
// file again updates instead of adding twins.
func TestBrowserAdminImport(t *testing.T) {
	ts := start(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "kunden.csv")
	good := filepath.Join(dir, "kunden-ok.csv")
	os.WriteFile(bad, []byte("type;first_name;last_name;email;phone\ncontact;Rita;Brandt;rita@example.com;030 5558001\ncontact;Udo;Kern;;kein Anschluss\n"), 0o644)
	os.WriteFile(good, []byte("type;first_name;last_name;email;phone\ncontact;Rita;Brandt;rita@example.com;030 5558001\ncontact;Udo;Kern;;030 5558002\n"), 0o644)
	before := ts.dir.Len()
	ctx := ts.adminIn(t, "import")
	preview := func(file string) {
		t.Helper()
		run(t, ctx,
			chromedp.Evaluate(`document.getElementById("preview").hidden = true`, nil),
			chromedp.SetUploadFiles(`#i-file`, []string{file}),
			chromedp.Click(`#import-form button[type=submit]`),
			chromedp.WaitVisible(`#preview`),
		)
	}
	preview(bad)
	run(t, ctx, chromedp.WaitVisible(`#pv-errors tr[data-line="3"]`))
	if got := text(t, ctx, `#pv-errors tr[data-line="3"]`); !strings.HasPrefix(got, "3phone") {
		t.Errorf("error row = %q, want line 3, column phone", got)
	}
	if !evalBool(t, ctx, `document.getElementById("apply").disabled`) {
		t.Error("Import is enabled with an error in the file")
	}
	if got := text(t, ctx, "#pv-summary"); !strings.Contains(got, "2 rows") || !strings.Contains(got, ";") {
		t.Errorf("summary = %q", got)
	}
	run(t, ctx, chromedp.Click(`#import-cancel`), chromedp.WaitNotVisible(`#preview`))
	if ts.dir.Len() != before {
		t.Fatalf("the preview stored records: %d, want %d", ts.dir.Len(), before)
	}
	preview(good)
	run(t, ctx,
		chromedp.WaitVisible(`#pv-items tr[data-line="2"][data-action=create]`),
		chromedp.Click(`#apply`),
		waitJS(`document.getElementById("status").textContent.indexOf("Imported: 2 contacts") == 0`),
	)
	if ts.dir.Len() != before+2 {
		t.Fatalf("after import: %d records, want %d", ts.dir.Len(), before+2)
	}
	preview(good)
	run(t, ctx,
		chromedp.WaitVisible(`#pv-items tr[data-line="2"][data-action=update]`),
		chromedp.WaitVisible(`#pv-items tr[data-line="3"][data-action=update]`),
		chromedp.Click(`#apply`),
		waitJS(`document.getElementById("status").textContent.indexOf("2 updated") > 0`),
	)
	if ts.dir.Len() != before+2 {
		t.Errorf("re-import made twins: %d records, want %d", ts.dir.Len(), before+2)
	}
	auditHas(t, ts, "import.apply", "")
}

// TestBrowserAdminLiveBoard: a ringing call appears on the board with who it rings at,
// shows who talks once answered, and leaves when it ends.
func TestBrowserAdminLiveBoard(t *testing.T) {
	ts := start(t)
	ctx := ts.adminIn(t, "live")
	run(t, ctx, chromedp.WaitVisible(`#live-state[data-state=connected]`))
	ts.event(t, map[string]any{"event": "ringing", "call_id": "board-1", "from": "+49 30 9876543", "from_name": "ACME Reception", "extension": "201"})
	card := `#board li[data-pbx-id="board-1"]`
	run(t, ctx, chromedp.WaitVisible(card+`[data-state=ringing]`), waitJS(`document.querySelector('#board li[data-pbx-id="board-1"] .timer').textContent.indexOf(":") > 0`))
	if got := text(t, ctx, card); !strings.Contains(got, "Ringing") || !strings.Contains(got, "ACME Reception") || !strings.Contains(got, "at bob (201)") {
		t.Errorf("ringing card = %q", got)
	}
	ts.event(t, map[string]any{"event": "answered", "call_id": "board-1", "extension": "201"})
	run(t, ctx, chromedp.WaitVisible(card+`[data-state=answered]`))
	if got := text(t, ctx, card); !strings.Contains(got, "Talking") || !strings.Contains(got, "with bob (201)") {
		t.Errorf("answered card = %q", got)
	}
	ts.event(t, map[string]any{"event": "ended", "call_id": "board-1"})
	run(t, ctx, chromedp.WaitNotPresent(card))
}

// TestBrowserAdminOutbox: a parked write shows with the destination's error; Retry queues
// it again (a new run of attempts begins, and the worker tries it anew), Drop removes it.
func TestBrowserAdminOutbox(t *testing.T) {
	ts := start(t)
	st := ts.srv.Store()
	id, err := st.Enqueue(t.Context(), store.OutboxItem{Kind: "crm.retired", Key: "admin-outbox-test"})
	if err != nil {
		t.Fatal(err)
	}
	parked := func() store.OutboxItem {
		var it store.OutboxItem
		eventually(t, "the item parked", func() bool {
			it, _ = st.GetOutboxItem(t.Context(), id)
			return it.State == store.OutboxParked
		})
		return it
	}
	first := parked()
	ctx := ts.adminIn(t, "outbox")
	row := fmt.Sprintf(`#outbox tr[data-item="%d"]`, id)
	run(t, ctx, chromedp.Click(`#parked-only`), chromedp.WaitVisible(row+`[data-state=parked]`))
	if got := text(t, ctx, row); !strings.Contains(got, `no handler for kind "crm.retired"`) || !strings.Contains(got, "Parked") {
		t.Errorf("parked row = %q", got)
	}
	run(t, ctx, chromedp.Click(row+" button.retry"), waitJS(fmt.Sprintf(`document.getElementById("status").textContent == "Item %d queued again."`, id)))
	auditHas(t, ts, "outbox.retry", itoa(id))
	eventually(t, "the retried item tried again", func() bool {
		it, _ := st.GetOutboxItem(t.Context(), id)
		return it.Since.After(first.Since) && it.Attempts >= 1 && it.State == store.OutboxParked
	})
	run(t, ctx, chromedp.Click(`#refresh`), chromedp.WaitVisible(row), chromedp.Click(row+" button.drop"), chromedp.Click(row+" button.drop"), chromedp.WaitNotPresent(row))
	if _, err := st.GetOutboxItem(t.Context(), id); err == nil {
		t.Error("the dropped item is still stored")
	}
	auditHas(t, ts, "outbox.drop", itoa(id))
}

// TestBrowserAdminSystems: the phone system's state in words, and "Test connections".
func TestBrowserAdminSystems(t *testing.T) {
	ts := start(t)
	ctx := ts.adminIn(t, "systems")
	row := `#systems tr[data-part="telephony/webhook"]`
	ts.event(t, map[string]any{"event": "ringing", "call_id": "sys-page-1", "from": "+49 30 1234567", "extension": "209"})
	run(t, ctx, chromedp.WaitVisible(row+`[data-up="1"]`), chromedp.Click(`#refresh`),
		waitJS(`(document.querySelector('#systems tr[data-part="telephony/webhook"] td.events')||{}).textContent > "0"`))
	// Part, state, details, since when, events in the last minute, the last event.
	var cells []string
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll('#systems tr[data-part="telephony/webhook"] td')).map(td => td.textContent)`, &cells))
	if len(cells) != 6 || cells[0] != "telephony/webhook" || cells[1] != "Up" || cells[2] != "" || !regexp.MustCompile(`\d`).MatchString(cells[3]) || cells[4] < "1" || !regexp.MustCompile(`\d:\d\d`).MatchString(cells[5]) {
		t.Errorf("phone system row = %q", cells)
	}
	var head []string
	run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll('#systems th')).map(th => th.textContent)`, &head))
	if strings.Join(head, "|") != "Part|State|Details|Since|Events (last minute)|Last event" {
		t.Errorf("columns %q", head)
	}
	run(t, ctx, chromedp.Click(`#check`), waitJS(`document.getElementById("check-verdict").getAttribute("data-kind") == "ok"`))
	if got := text(t, ctx, "#check-verdict"); got != "Every phone system and the CRM answered." {
		t.Errorf("check = %q", got)
	}
}

// TestBrowserAdminStats: the chart (the server's SVG as an image), the agents' table
// with their names, and the CSV download of the same range.
func TestBrowserAdminStats(t *testing.T) {
	ts := start(t)
	seedHistory(t, ts, "astat", "207", 6)
	ctx := ts.adminIn(t, "stats")
	run(t, ctx, ready("stats"), waitJS(`Array.from(document.querySelectorAll("#st-agents tbody tr")).some(function(r){return r.textContent.indexOf("hanna (207)") == 0})`))
	var w int
	run(t, ctx, chromedp.Evaluate(`document.getElementById("chart").naturalWidth`, &w))
	if w < 100 {
		t.Errorf("chart %d px wide", w)
	}
	var csv string
	run(t, ctx, chromedp.Evaluate(`fetch(document.getElementById("csv").href).then(function(r){return r.text().then(function(b){return r.headers.get("Content-Type") + "\n" + b})})`, &csv, awaitPromise))
	if !strings.HasPrefix(csv, "text/csv") || !strings.Contains(csv, "section,key,calls_in") || !strings.Contains(csv, "agent,207,") {
		t.Errorf("CSV download: %.400s", csv)
	}
}

// TestBrowserAdminForbidden: an agent gets the 403 page on every admin page (and 403
// from the admin API in her session); a stranger is sent to the login.
func TestBrowserAdminForbidden(t *testing.T) {
	ts := start(t)
	ctx := ts.login(t, "carol")
	for _, p := range []string{"", "/people", "/tokens", "/systems", "/live", "/stats", "/import", "/outbox", "/audit"} {
		var code int
		run(t, ctx, chromedp.Evaluate(fmt.Sprintf(`fetch("/admin%s").then(r => r.status)`, p), &code, awaitPromise))
		if code != http.StatusForbidden {
			t.Errorf("carol GET /admin%s: %d", p, code)
		}
	}
	run(t, ctx, chromedp.Navigate(ts.url+"/admin/people"), chromedp.WaitVisible(`#forbidden-h`))
	if got := text(t, ctx, "main"); !strings.Contains(got, "Administrators only") || strings.Contains(got, "People") {
		t.Errorf("403 page = %q", got)
	}
	var code int
	run(t, ctx, chromedp.Evaluate(`fetch("/api/v1/admin/users", {headers: {"X-CSRF-Token": "x"}}).then(r => r.status)`, &code, awaitPromise))
	if code != http.StatusForbidden {
		t.Errorf("carol's session GET /api/v1/admin/users: %d", code)
	}
	anon := tab(t)
	var loc string
	run(t, anon, chromedp.Navigate(ts.url+"/admin/stats"), chromedp.WaitVisible(`#login-user`), chromedp.Location(&loc))
	if !strings.HasSuffix(loc, "/login?next=%2Fadmin%2Fstats") {
		t.Errorf("a stranger lands on %s", loc)
	}
	// After the login she is on the page she asked for.
	run(t, anon,
		chromedp.SendKeys(`input[name=user]`, "gina"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`#stats-form`),
	)
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// seedAdmin gives the admin pages something to show: calls for the statistics, a call
// ringing and one talking for the live board, a parked write.
func seedAdmin(t *testing.T, ts *testServer, prefix string) (cleanup func()) {
	t.Helper()
	seedHistory(t, ts, prefix, "207", 12)
	ring, talk := prefix+"-ring", prefix+"-talk"
	ts.event(t, map[string]any{"event": "ringing", "call_id": ring, "from": "+49 89 4445510", "from_name": "Dr. Hans Huber", "extension": "204"})
	ts.event(t, map[string]any{"event": "ringing", "call_id": talk, "from": "+49 40 5550100", "extension": "205"})
	ts.event(t, map[string]any{"event": "answered", "call_id": talk, "extension": "205"})
	if _, err := ts.srv.Store().Enqueue(t.Context(), store.OutboxItem{Kind: "crm.retired", Key: prefix + "-item"}); err != nil {
		t.Fatal(err)
	}
	return func() {
		ts.event(t, map[string]any{"event": "ended", "call_id": ring, "cause": "cancelled"})
		ts.event(t, map[string]any{"event": "ended", "call_id": talk})
	}
}

// ready waits for the page's data (a table row, a card, the chart).
func ready(page string) chromedp.Action {
	switch page {
	case "live":
		return waitJS(`document.querySelectorAll("#board li").length >= 2`)
	case "stats":
		return waitJS(`document.getElementById("chart").complete && document.getElementById("chart").naturalWidth > 0 && document.querySelectorAll("#st-agents tbody tr").length > 0`)
	case "import":
		return chromedp.WaitVisible(`#import-form`)
	default:
		return waitJS(fmt.Sprintf(`document.querySelectorAll("#%s tbody tr").length > 0`, page))
	}
}

// TestBrowserAdminLayout: every admin page at 320, 768 and 1280 px without horizontal
// scrolling, and without serious or critical axe-core (WCAG 2.1 AA) violations.
func TestBrowserAdminLayout(t *testing.T) {
	ts := start(t)
	defer seedAdmin(t, ts, "alay")()
	ctx := ts.login(t, "gina")
	for _, p := range []string{"people", "tokens", "systems", "live", "stats", "import", "outbox", "audit"} {
		ts.open(t, ctx, p)
		run(t, ctx, ready(p))
		for _, w := range []int64{320, 768, 1280} {
			run(t, ctx, chromedp.EmulateViewport(w, 800), chromedp.Sleep(100*time.Millisecond))
			overflow(t, ctx, "admin/"+p, w)
		}
		if p == "people" {
			run(t, ctx, chromedp.Click(`#add-user summary`))
		}
		for _, v := range axe(t, ctx) {
			t.Errorf("admin/%s: %s", p, v)
		}
	}
	// The 403 page too.
	agent := ts.login(t, "hanna")
	run(t, agent, chromedp.Navigate(ts.url+"/admin"), chromedp.WaitVisible(`#forbidden-h`))
	for _, v := range axe(t, agent) {
		t.Errorf("403 page: %s", v)
	}
}

// TestBrowserAdminGerman: with Accept-Language de, no English text of the catalogue shows
// on any admin page.
func TestBrowserAdminGerman(t *testing.T) {
	ts := start(t)
	defer seedAdmin(t, ts, "ade")()
	ctx := tab(t)
	run(t, ctx, network.Enable(), network.SetExtraHTTPHeaders(network.Headers{"Accept-Language": "de-DE,de;q=0.9"}))
	ts.loginIn(t, ctx, "gina")
	english := englishOnly("common", "admin")
	check := func(ctx context.Context, page string) {
		t.Helper()
		var body string
		run(t, ctx, chromedp.Evaluate(`document.body.innerText + " " + Array.from(document.querySelectorAll("[placeholder],[title],[aria-label],img[alt]")).map(function(e){return (e.placeholder||"")+" "+(e.title||"")+" "+(e.getAttribute("aria-label")||"")+" "+(e.alt||"")}).join(" ") + " " + document.title`, &body))
		for _, s := range english {
			if strings.Contains(body, s) {
				t.Errorf("%s: English text %q on a German page", page, s)
			}
		}
	}
	for _, p := range []string{"people", "tokens", "systems", "live", "stats", "import", "outbox", "audit"} {
		ts.open(t, ctx, p)
		run(t, ctx, ready(p))
		if p == "people" {
			run(t, ctx, chromedp.Click(`#add-user summary`), chromedp.Click(`#people tr[data-user=alice] button.edit`), chromedp.WaitVisible(`#edit-form`))
		}
		check(ctx, "admin/"+p)
	}
	agent := tab(t)
	run(t, agent, network.Enable(), network.SetExtraHTTPHeaders(network.Headers{"Accept-Language": "de-DE,de;q=0.9"}))
	ts.loginIn(t, agent, "hanna")
	run(t, agent, chromedp.Navigate(ts.url+"/admin"), chromedp.WaitVisible(`#forbidden-h`))
	check(agent, "the 403 page")
	ts.open(t, ctx, "stats")
	run(t, ctx, ready("stats"))
	var svg string
	run(t, ctx, chromedp.Evaluate(`fetch(document.getElementById("chart").src).then(r => r.text())`, &svg, awaitPromise))
	if !strings.Contains(svg, "angenommen:") || strings.Contains(svg, "answered:") {
		t.Errorf("the German chart: %.300s", svg)
	}
}

// TestBrowserAdminScreenshot takes the README's pictures of the admin console at 1280 px
// (the people, live board and statistics pages); -update writes docs/admin-*.png.
func TestBrowserAdminScreenshot(t *testing.T) {
	ts := start(t)
	defer seedAdmin(t, ts, "ashot")()
	ctx := ts.login(t, "gina")
	shots := map[string][]byte{}
	for _, p := range []string{"people", "live", "stats", "import"} {
		ts.open(t, ctx, p)
		run(t, ctx, chromedp.EmulateViewport(1280, 800), ready(p))
		if p == "import" {
			file := filepath.Join(t.TempDir(), "kunden.csv")
			os.WriteFile(file, []byte("type;first_name;last_name;company;email;phone\ncontact;Jane;Doe;ACME GmbH;jane@example.com;030 9876543\ncontact;Petra;Lindner;Lindner KG;petra@example.com;089 7771234\nlead;Udo;Kern;;;kein Anschluss\naccount;;;Nordwind AG;;040 5551234\n"), 0o644)
			run(t, ctx, chromedp.SetUploadFiles(`#i-file`, []string{file}), chromedp.Click(`#import-form button[type=submit]`), chromedp.WaitVisible(`#pv-errors`))
		}
		var png []byte
		run(t, ctx, chromedp.Sleep(300*time.Millisecond), chromedp.Evaluate(`document.activeElement && document.activeElement.blur && document.activeElement.blur()`, nil), chromedp.CaptureScreenshot(&png))
		if len(png) == 0 {
			t.Fatalf("empty screenshot of %s", p)
		}
		shots["admin-"+p+".png"] = png
	}
	for name, png := range shots {
		if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(filepath.Join(testenv.RepoRoot(t), "docs", name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
