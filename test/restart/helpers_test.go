//go:build !windows

// Package restart holds Ringside's process tests: a real `ringside serve` (the built
// binary, SQLite in its data folder) killed with SIGKILL or stopped with SIGTERM while
// calls are in progress, and started again. Its peers run in the test process on
// 127.0.0.1: the Dataverse fake as the CRM and a webhook receiver, both counting what
// they are sent.
package restart

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/testenv"
)

// site is one installation: a data folder and config that successive processes share.
type site struct {
	t      *testing.T
	dir    string
	cfg    string
	url    string
	tokens map[string]string // user → agent token; "" → pbx token
	crm    *dataversetest.Server
	hooks  *receiver
}

// newSite writes the config (the phone system of telephony, "" for a webhook source;
// Dynamics CRM; the default rules plus a webhook on every inbound end, missed or not; and
// extra) and adds
// alice at extension 200 with an agent token.
func newSite(t *testing.T, telephony, extra string) *site {
	t.Helper()
	s := &site{t: t, dir: t.TempDir(), tokens: map[string]string{}}
	s.crm = dataversetest.New(t, dataversetest.Options{})
	s.crm.Put("contact", map[string]any{"firstname": "Jane", "lastname": "Doe", "telephone1": "+49 30 9876543"})
	s.hooks = newReceiver(t)
	secret := filepath.Join(s.dir, "hook.secret")
	if err := os.WriteFile(secret, []byte("a-webhook-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.cfg = filepath.Join(s.dir, "ringside.yaml")
	y := fmt.Sprintf(`data_dir: %s
listen: 127.0.0.1:%d
log_level: info
crm: {kind: dynamics, url: %q, authority: %q, tenant_id: tenant, client_id: client, client_secret_env: RINGSIDE_TEST_DYN_SECRET}
telephony:
  - %s
rules:
  - defaults
  - on: [inbound.ended, inbound.missed]
    do: [{webhook: {url: %q, secret_file: %q}}]
`, s.dir, port, s.crm.URL, s.crm.URL, cmp.Or(telephony, "{kind: webhook}"), s.hooks.srv.URL+"/hook", secret) + extra
	if err := os.WriteFile(s.cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	st := s.store()
	defer st.Close()
	st.SetPasswordCost(4)
	if _, err := st.AddUser(t.Context(), store.User{Name: "alice", Extensions: []string{"200"}, Email: "alice@example.com"}, "pw-alice-long-enough"); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.tokens["alice"], _, err = st.CreateToken(t.Context(), "alice", "agent", "test"); err != nil {
		t.Fatal(err)
	}
	if s.tokens[""], _, err = st.CreateToken(t.Context(), "", "pbx", "test"); err != nil {
		t.Fatal(err)
	}
	return s
}

// store opens the site's SQLite journal (while no process runs, or to read).
func (s *site) store() *store.Store {
	s.t.Helper()
	st, err := store.Open(s.t.Context(), store.Config{}, s.dir, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

// proc is one `ringside serve` process of a site.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	code int
}

// start runs serve on the site and waits until it answers /healthz.
func (s *site) start() *proc {
	t := s.t
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(s.dir, "serve.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "--- start %s\n", time.Now().Format(time.RFC3339Nano))
	p := &proc{cmd: exec.Command(testenv.Binary(t), "serve", "--config", s.cfg), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "RINGSIDE_TEST_DYN_SECRET=secret")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(s.dir, "serve.log"))
			t.Logf("serve log:\n%s", b)
		}
	})
	testenv.Eventually(t, 60*time.Second, "serve to answer /healthz", func() (bool, error) {
		select {
		case <-p.done:
			b, _ := os.ReadFile(filepath.Join(s.dir, "serve.log"))
			t.Fatalf("serve exited:\n%s", b)
		default:
		}
		resp, err := http.Get(s.url + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return p
}

// stop sends sig and waits for the exit (a generous bound: a stop that hangs fails).
func (p *proc) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still running 30 s after %v", sig)
	}
	return p.code
}

// post sends a native call event and returns the status.
func (s *site) post(body string) (int, error) {
	req, _ := http.NewRequestWithContext(s.t.Context(), "POST", s.url+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.tokens[""])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (s *site) mustPost(body string) {
	s.t.Helper()
	code, err := s.post(body)
	if err != nil || code != http.StatusAccepted {
		s.t.Fatalf("POST /api/v1/events %s: %d %v", body, code, err)
	}
}

// calls asks the API (as alice) for the journal entries of the phone system's call pbx.
func (s *site) calls(pbx string) ([]store.CallRecord, error) {
	req, _ := http.NewRequestWithContext(s.t.Context(), "GET", s.url+"/api/v1/calls?pbx_id="+pbx, nil)
	req.Header.Set("Authorization", "Bearer "+s.tokens["alice"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v struct {
		Calls []store.CallRecord `json:"calls"`
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET /api/v1/calls: %s %s", resp.Status, b)
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v.Calls, err
}

// connect opens user's stream and reads it in the background (the greeting included).
func (s *site) connect(user string) *testenv.Stream {
	t := s.t
	t.Helper()
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(s.url, "http")+"/api/v1/stream",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + s.tokens[user]}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	ws.SetReadLimit(1 << 20)
	return testenv.ReadStream(t, ws)
}

// receiver is a webhook receiver that counts every delivery it accepts.
type receiver struct {
	mu         sync.Mutex
	byCall     map[string][]string // Ringside call id → events, in the order accepted
	deliveries map[string]int      // X-Ringside-Delivery → times accepted
	srv        *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{byCall: map[string][]string{}, deliveries: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var ev struct {
			Event string `json:"event"`
			Call  struct {
				ID string `json:"id"`
			} `json:"call"`
		}
		json.NewDecoder(req.Body).Decode(&ev)
		r.mu.Lock()
		r.byCall[ev.Call.ID] = append(r.byCall[ev.Call.ID], ev.Event)
		r.deliveries[req.Header.Get("X-Ringside-Delivery")]++
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) events(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.byCall[id]...)
}

// repeated returns the deliveries accepted more than once.
func (r *receiver) repeated() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k, n := range r.deliveries {
		if n != 1 {
			out = append(out, fmt.Sprintf("%s×%d", k, n))
		}
	}
	return out
}

// writes counts the CRM writes (POST, PATCH, DELETE) whose path contains a key.
type writes struct {
	mu  sync.Mutex
	all []string
}

func (w *writes) add(method, path string) {
	w.mu.Lock()
	w.all = append(w.all, method+" "+path)
	w.mu.Unlock()
}

func (w *writes) of(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, x := range w.all {
		if strings.Contains(strings.ToLower(x), strings.ToLower(key)) {
			n++
		}
	}
	return n
}
