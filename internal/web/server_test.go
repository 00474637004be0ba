package web_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/crm/builtin"
	"github.com/ringside/ringside/internal/server"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/testenv"
)

// The tests of this file and browser_test.go share one real server (internal/server, on
// 127.0.0.1:0, with a temp data dir) and one headless Chromium per test binary; every test
// uses its own call ids and numbers. This is package web_test so that it may import
// internal/server, which imports internal/web.

var update = flag.Bool("update", false, "rewrite docs/agent.png from the screenshot test")

const password = "correct horse battery"

// The agents of the shared server.
var agents = []config.User{
	{Name: "alice", Extensions: []string{"200"}},
	{Name: "bob", Extensions: []string{"201"}},
	{Name: "carol", Extensions: []string{"202"}},
	{Name: "dana", Extensions: []string{"203"}, Email: "dana@example.com"},
	{Name: "erin", Extensions: []string{"204"}},
	{Name: "fred", Extensions: []string{"205"}},
	{Name: "gina", Extensions: []string{"206"}, Admin: true},
	{Name: "hanna", Extensions: []string{"207"}}, // layout and accessibility tests

}

// rulesYAML gives erin and fred configured rules; everyone else has the defaults.
const rulesYAML = `rules:
  - name: erin gets a notice instead of a card
    on: inbound.ringing
    when: {users: [erin]}
    do: [{notify: {title: "Call for the team", text: "{{.Name}}"}}, stop]
  - name: fred files unknown callers as accounts
    on: inbound.ringing
    when: {users: [fred], match: unmatched}
    do: [pop, {open_create_form: {entity: account}}, stop]
  - name: fred's notes
    on: inbound.answered
    when: {users: [fred]}
    do: [{open_activity: {subject: "Support call with {{.Name}}"}}, stop]
  - defaults
`

// Records of the built-in directory.
var (
	janeDoe    = crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: "t-jane"}, Name: "Jane Doe", FirstName: "Jane", LastName: "Doe", Company: "ACME GmbH", Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "030 9876543"}}, Country: "DE"}
	maxMuster  = crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: "t-max"}, Name: "Max Muster", FirstName: "Max", LastName: "Muster", Company: "Muster GmbH", Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "+49 40 5550100"}}}
	musterGmbH = crm.Record{Ref: crm.Ref{Entity: crm.Account, ID: "t-muster"}, Name: "Muster GmbH", Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "040 555 01 00"}}, Country: "DE"}
	oleHansen  = crm.Record{Ref: crm.Ref{Entity: crm.Lead, ID: "t-ole"}, Name: "Ole Hansen", FirstName: "Ole", LastName: "Hansen", Company: "Nordwind AG", Phones: []crm.Phone{{Field: crm.FieldMobile, Raw: "0171 2345678"}}, Country: "DE"}
)

type testServer struct {
	url    string
	pbx    string
	srv    *server.Server
	dir    *builtin.Directory
	tokens map[string]string // agent tokens by user
}

var shared struct {
	once    sync.Once
	ts      *testServer
	err     error
	stop    context.CancelFunc
	done    chan error
	dataDir string

	bonce   sync.Once
	browser context.Context
	bstop   []context.CancelFunc
	berr    error
	profile string
}

func TestMain(m *testing.M) {
	flag.Parse()
	// Every /api/v1 answer the tests get through http.DefaultClient is checked against
	// docs/openapi.json (openapi_test.go).
	http.DefaultClient.Transport = checker
	code := m.Run()
	if code == 0 {
		code = checker.Report(os.Stderr)
	}
	for i := len(shared.bstop) - 1; i >= 0; i-- {
		shared.bstop[i]()
	}
	if shared.stop != nil {
		shared.stop()
		<-shared.done
	}
	for _, d := range []string{shared.dataDir, shared.profile} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

// start returns the shared server, starting it on first use.
func start(t *testing.T) *testServer {
	t.Helper()
	shared.once.Do(func() { shared.ts, shared.err = startServer() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.ts
}

func startServer() (*testServer, error) {
	dir, err := os.MkdirTemp("", "ringside-web-test-")
	if err != nil {
		return nil, err
	}
	shared.dataDir = dir
	ts, stop, done, err := launch(dir, nil)
	if err != nil {
		return nil, err
	}
	shared.stop, shared.done = stop, done
	return ts, nil
}

// launch starts a server on 127.0.0.1:0 with the test agents and records in dataDir
// (mod changes its config, e.g. to use PostgreSQL); stop it with stop, then read done.
func launch(dir string, mod func(*config.Config)) (*testServer, context.CancelFunc, chan error, error) {
	cfg, err := config.Parse("ringside.yaml", []byte(rulesYAML))
	if err != nil {
		return nil, nil, nil, err
	}
	cfg.DataDir = dir
	cfg.LogLevel = "error"
	cfg.Users = agents
	if mod != nil {
		mod(cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, nil, server.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	st := srv.Store()
	st.SetPasswordCost(bcrypt.MinCost)
	ts := &testServer{srv: srv, tokens: map[string]string{}}
	for _, a := range agents {
		if err := st.SetPassword(ctx, a.Name, password); err != nil {
			cancel()
			return nil, nil, nil, err
		}
		if ts.tokens[a.Name], _, err = st.CreateToken(ctx, a.Name, "agent", "test"); err != nil {
			cancel()
			return nil, nil, nil, err
		}
	}
	if ts.pbx, _, err = st.CreateToken(ctx, "", "pbx", "test"); err != nil {
		cancel()
		return nil, nil, nil, err
	}
	d, ok := srv.Directory().(*builtin.Directory)
	if !ok {
		cancel()
		return nil, nil, nil, fmt.Errorf("the default directory is %T, not the built-in one", srv.Directory())
	}
	ts.dir = d
	if err := d.Seed(ctx, []crm.Record{janeDoe, maxMuster, musterGmbH, oleHansen}); err != nil {
		cancel()
		return nil, nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return nil, nil, nil, fmt.Errorf("server stopped: %v", err)
	}
	ts.url = srv.URL()
	return ts, cancel, done, nil
}

// event posts one native webhook event with the pbx token.
func (ts *testServer) event(t *testing.T, ev map[string]any) {
	t.Helper()
	b, _ := json.Marshal(ev)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.url+"/api/v1/events", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ts.pbx)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/events %s: %s %s", b, resp.Status, body)
	}
}

// get calls the API as user (agent token) and decodes the JSON answer into v.
func (ts *testServer) get(t *testing.T, user, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+ts.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

// browser returns the shared headless Chromium, starting it on first use (a missing
// Chromium skips the test locally and fails it in CI).
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := testenv.LookPath(t, "chromium", "chromium")
	shared.bonce.Do(func() {
		dir, err := os.MkdirTemp("", "ringside-chromium-")
		if err != nil {
			shared.berr = err
			return
		}
		shared.profile = dir
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(exe),
			chromedp.UserDataDir(dir),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.WindowSize(1200, 760),
		}
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		shared.bstop = append(shared.bstop, acancel, bcancel)
		if err := chromedp.Run(bctx); err != nil {
			shared.berr = fmt.Errorf("starting chromium: %w", err)
			return
		}
		shared.browser = bctx
	})
	if shared.berr != nil {
		t.Fatal(shared.berr)
	}
	return shared.browser
}

// tab opens a new tab in a fresh browser context (its own cookies) for the test.
func tab(t *testing.T) context.Context {
	t.Helper()
	bctx := browser(t)
	// chromedp.WithNewBrowserContext asks for a tab without a window, which Chromium's
	// headless mode refuses ("no browser is open"): create the context and a windowed
	// target here, and attach to it.
	exec := cdp.WithExecutor(bctx, chromedp.FromContext(bctx).Browser)
	id, err := target.CreateBrowserContext().WithDisposeOnDetach(true).Do(exec)
	if err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	tid, err := target.CreateTarget("about:blank").WithBrowserContextID(id).WithNewWindow(true).Do(exec)
	if err != nil {
		t.Fatalf("new tab: %v", err)
	}
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithTargetID(tid))
	t.Cleanup(func() {
		cancel()
		target.DisposeBrowserContext(id).Do(exec)
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("attaching to the tab: %v", err)
	}
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// login opens a tab, logs user in through the login form and waits for the live stream.
func (ts *testServer) login(t *testing.T, user string) context.Context {
	t.Helper()
	ctx := tab(t)
	ts.loginIn(t, ctx, user)
	return ctx
}

// loginIn logs user in in the tab ctx.
func (ts *testServer) loginIn(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	run(t, ctx,
		chromedp.Navigate(ts.url+"/"),
		chromedp.WaitVisible(`input[name=user]`),
		chromedp.SendKeys(`input[name=user]`, user),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`#conn[data-state=connected]`),
	)
}

// post calls the API as user (agent token) with a JSON body.
func (ts *testServer) post(t *testing.T, user, path, body string) int {
	t.Helper()
	// Without cancel: cleanups use it after the test's context is done.
	req, _ := http.NewRequestWithContext(context.WithoutCancel(t.Context()), "POST", ts.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ts.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func run(t *testing.T, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var page string
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		chromedp.Run(dctx, chromedp.Evaluate(`document.body ? document.body.innerText : ""`, &page))
		t.Fatalf("browser: %v\npage text:\n%s", err, page)
	}
}

// waitJS waits until the JavaScript expression is true.
func waitJS(expr string) chromedp.Action {
	return chromedp.Poll(expr, nil, chromedp.WithPollingInterval(50*time.Millisecond))
}

// text returns the textContent of the first element matching the CSS selector.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var s string
	run(t, ctx, chromedp.Evaluate(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel), &s))
	return s
}

// cardSel selects the card of the call the phone system calls pbxID.
func cardSel(pbxID string) string { return "#call-" + cid(pbxID) }

// cid returns Ringside's id of the call the phone system calls pbxID (the newest), waiting
// until the journal has it: the page and the API know calls by Ringside's id.
func cid(pbxID string) string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, err := shared.ts.srv.Store().ListCalls(context.Background(), store.CallFilter{PbxID: pbxID, Limit: 1})
		if err == nil && len(recs) > 0 {
			return recs[0].Call.ID
		}
		if time.Now().After(deadline) {
			panic("no journal entry for pbx id " + pbxID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func at(base time.Time, d time.Duration) string { return base.Add(d).UTC().Format(time.RFC3339Nano) }

// eventually polls cond (state written asynchronously: the journal, the outbox) until it
// holds, for at most 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
