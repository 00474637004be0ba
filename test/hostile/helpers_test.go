// Package hostile holds Ringside's hostile-client tests: a real `ringside serve` (in-process
// or the built binary) on 127.0.0.1, attacked over real sockets the way an outsider or a
// curious agent would. SECURITY.md lists the attacks and what each test shows.
package hostile

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/server"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/testenv"
)

// password is every test user's password.
func password(user string) string { return "pw-" + user + "-long-enough" }

// node is a server for one test.
type node struct {
	srv    *server.Server // nil for a binary
	st     *store.Store
	url    string
	dir    string
	tokens map[string]string // user → agent token; "" → pbx token
}

// provision adds users (name → extension) with agent tokens and a pbx token to the store
// of data dir dir.
func provision(t *testing.T, cfg *config.Config, users map[string]string) map[string]string {
	t.Helper()
	st, err := store.Open(t.Context(), cfg.Store, cfg.DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	toks := map[string]string{}
	for u, ext := range users {
		if _, err := st.AddUser(t.Context(), store.User{Name: u, Extensions: []string{ext}}, password(u)); err != nil {
			t.Fatal(err)
		}
		tok, _, err := st.CreateToken(t.Context(), u, "agent", "test")
		if err != nil {
			t.Fatal(err)
		}
		toks[u] = tok
	}
	tok, _, err := st.CreateToken(t.Context(), "", "pbx", "test")
	if err != nil {
		t.Fatal(err)
	}
	toks[""] = tok
	return toks
}

func parseConfig(t *testing.T, dir, yaml string) *config.Config {
	t.Helper()
	y := fmt.Sprintf("data_dir: %s\nlisten: 127.0.0.1:0\nlog_level: warn\n", dir) + yaml
	path := filepath.Join(dir, "ringside.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// start runs a server in-process with the config yaml (data_dir and listen filled in)
// and the users given (name → extension).
func start(t *testing.T, yaml string, users map[string]string) *node {
	t.Helper()
	dir := t.TempDir()
	cfg := parseConfig(t, dir, yaml)
	n := &node{dir: dir, tokens: provision(t, cfg, users)}
	srv, err := server.New(t.Context(), cfg, nil, server.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Run(ctx); err != nil {
			t.Errorf("server: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-srv.Ready():
	case <-done:
		t.Fatal("server stopped at start")
	}
	n.srv, n.url, n.st = srv, srv.URL(), srv.Store()
	// Ready means listening; the phone-system sources start right after.
	testenv.Eventually(t, 10*time.Second, "the server to be ready", func() (bool, error) {
		code, _ := do(t, nil, "GET", n.url+"/readyz", "", "", "")
		return code == http.StatusOK, nil
	})
	return n
}

// binary is the built `ringside` (testenv.Binary).
func binary(t *testing.T) string { return testenv.Binary(t) }

// startBinary runs the built binary with the open-files limit set to nofile (as a
// small VM or container would give it).
func startBinary(t *testing.T, yaml string, users map[string]string, nofile int) *node {
	t.Helper()
	dir := t.TempDir()
	port := testenv.FreePort(t)
	cfg := parseConfig(t, dir, yaml)
	n := &node{dir: dir, tokens: provision(t, cfg, users), url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" serve --config "$1" --listen "$2"`, nofile),
		binary(t), filepath.Join(dir, "ringside.yaml"), fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			t.Logf("serve log:\n%s", b)
		}
	})
	testenv.Eventually(t, 30*time.Second, "the server to answer /healthz", func() (bool, error) {
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			t.Fatalf("serve exited:\n%s", b)
		default:
		}
		resp, err := http.Get(n.url + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == 200, nil
	})
	return n
}

// from returns an HTTP client whose connections come from the loopback address ip.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// do sends a request and returns the status and body.
func do(t *testing.T, c *http.Client, method, u, token, ctype, body string) (int, string) {
	t.Helper()
	code, b, _ := doH(t, c, method, u, token, ctype, body, nil)
	return code, b
}

func doH(t *testing.T, c *http.Client, method, u, token, ctype, body string, hdr http.Header) (int, string, http.Header) {
	t.Helper()
	if c == nil {
		c = from("127.0.0.1")
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// event posts a native call event with the pbx token and wants 202.
func (n *node) event(t *testing.T, body string) {
	t.Helper()
	if code, resp := do(t, nil, "POST", n.url+"/api/v1/events", n.tokens[""], "application/json", body); code != http.StatusAccepted {
		t.Fatalf("event %s: %d %s", body, code, resp)
	}
}

// dialStream opens the stream with a bearer token or the cookies of jar.
func dialStream(ctx context.Context, base, token string, c *http.Client) (*websocket.Conn, *http.Response, error) {
	opt := &websocket.DialOptions{HTTPClient: c}
	if token != "" {
		opt.HTTPHeader = http.Header{"Authorization": {"Bearer " + token}}
	}
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/stream", opt)
}

// agent is an open stream whose messages are read in the background.
type agent struct {
	ws *websocket.Conn
	*testenv.Stream
}

func (n *node) connect(t *testing.T, token string, c *http.Client) *agent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, _, err := dialStream(ctx, n.url, token, c)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	if _, b, err := ws.Read(ctx); err != nil || !strings.Contains(string(b), `"hello"`) {
		t.Fatalf("greeting: %s %v", b, err)
	}
	return &agent{ws: ws, Stream: testenv.ReadStream(t, ws)}
}

// closedWithin fails unless the stream ends within d.
func (a *agent) closedWithin(t *testing.T, d time.Duration, what string) {
	t.Helper()
	start := time.Now()
	select {
	case <-a.Done():
	case <-time.After(d):
		t.Fatalf("%s: the open stream was still open %s later", what, d)
	}
	t.Logf("%s: stream closed after %s", what, time.Since(start).Round(time.Millisecond))
}

var csrfRe = regexp.MustCompile(`name="csrf-token" content="([^"]+)"|data-csrf="([^"]+)"`)

// login logs user in through the login form with c (which keeps the cookie) and returns
// the CSRF token of the agent page.
func login(t *testing.T, c *http.Client, base, user, pw string) string {
	t.Helper()
	code, body, _ := doH(t, c, "POST", base+"/login", "", "application/x-www-form-urlencoded",
		url.Values{"user": {user}, "password": {pw}, "next": {"/"}}.Encode(), nil)
	if code != http.StatusSeeOther {
		t.Fatalf("login %s: %d %s", user, code, body)
	}
	_, page := do(t, c, "GET", base+"/", "", "", "")
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the agent page:\n%s", page)
	}
	return m[1] + m[2]
}

// field returns the error message of a JSON error answer.
func errorOf(body string) string {
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.Error
}
