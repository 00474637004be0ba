//go:build !windows

// Package cluster holds the tests of several `ringside serve` processes: nodes sharing one
// PostgreSQL database and a nats-server, all on 127.0.0.1, with a fake Asterisk manager
// and a fake Dataverse as their peers.
package cluster

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/testenv"
)

// binary is the built `ringside` (testenv.Binary).
func binary(t *testing.T) string { return testenv.Binary(t) }

// proc is one `ringside serve` process.
type proc struct {
	name string
	url  string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// env is what a test's nodes share.
type env struct {
	t      *testing.T
	bin    string
	dsn    string
	yaml   string // config shared by every node (store, cluster, crm, telephony)
	tokens map[string]string
}

// provision adds users (name → extension) with agent tokens, a pbx token, and records
// of the built-in directory to the shared store.
func (e *env) provision(users map[string]string, recs []crm.Record) {
	t := e.t
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{Driver: "postgres", DSN: e.dsn}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SetPasswordCost(4)
	e.tokens = map[string]string{}
	for u, ext := range users {
		if _, err := st.AddUser(t.Context(), store.User{Name: u, Extensions: []string{ext}, Email: u + "@example.com"}, "pw-"+u+"-long-enough"); err != nil {
			t.Fatal(err)
		}
		tok, _, err := st.CreateToken(t.Context(), u, "agent", "test")
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u] = tok
	}
	tok, _, err := st.CreateToken(t.Context(), "", "pbx", "test")
	if err != nil {
		t.Fatal(err)
	}
	e.tokens[""] = tok
	if len(recs) > 0 {
		if _, err := st.PutRecords(t.Context(), recs); err != nil {
			t.Fatal(err)
		}
	}
}

// start runs a node and waits until it answers /healthz.
func (e *env) start(name string) *proc {
	t := e.t
	t.Helper()
	dir := t.TempDir()
	port := testenv.FreePort(t)
	cfg := filepath.Join(dir, "ringside.yaml")
	// Every node has a metrics token: the tests read /metrics and /readyz's checks
	// with it, as an operator's monitoring would.
	y := fmt.Sprintf("listen: 127.0.0.1:%d\ndata_dir: %s\nlog_level: info\nweb: {metrics_token_env: RINGSIDE_TEST_METRICS_TOKEN}\n", port, dir) + e.yaml
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, url: fmt.Sprintf("http://127.0.0.1:%d", port), log: filepath.Join(dir, "serve.log"), done: make(chan struct{})}
	lf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(e.bin, "serve", "--config", cfg)
	p.cmd.Env = append(os.Environ(), "RINGSIDE_TEST_NODE_DSN="+e.dsn, "RINGSIDE_TEST_DYN_SECRET=secret", "RINGSIDE_TEST_CLUSTER_SECRET=a-shared-secret-for-the-cluster-tests",
		"RINGSIDE_TEST_METRICS_TOKEN="+metricsToken)
	p.cmd.Stdout, p.cmd.Stderr = lf, lf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); lf.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("log of %s:\n%s", p.name, tail(string(b), 40))
		}
	})
	eventually(t, 60*time.Second, name+" healthy", func() (bool, error) {
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.log)
			t.Fatalf("%s exited:\n%s", name, b)
		default:
		}
		resp, err := http.Get(p.url + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == 200, nil
	})
	return p
}

func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// metricsToken is every node's web.metrics_token.
const metricsToken = "a-metrics-token-for-the-cluster-tests"

// operate GETs path (/metrics, /readyz) with the metrics token.
func (p *proc) operate(path string) (int, string, error) {
	req, err := http.NewRequest("GET", p.url+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// metric reads one sample from the node's /metrics ("" when absent).
func (p *proc) metric(name string) string {
	_, b, err := p.operate("/metrics")
	if err != nil {
		return ""
	}
	for l := range strings.SplitSeq(b, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}

// holds reports whether the node runs the AMI source (it holds the lease and is
// connected).
func (p *proc) holds() bool { return p.metric(`ringside_source_up{source="ami"}`) == "1" }

func tail(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

type msg = testenv.Msg

type agent struct{ *testenv.Stream }

func (e *env) connect(p *proc, user string) *agent {
	t := e.t
	t.Helper()
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(p.url, "http")+"/api/v1/stream",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + e.tokens[user]}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	ws.SetReadLimit(1 << 20)
	a := &agent{testenv.ReadStream(t, ws)}
	return a
}

func (a *agent) until(t *testing.T, d time.Duration, what string, ok func(msg) bool) []msg {
	t.Helper()
	return a.Until(t, d, what, ok)
}

// pops counts the pops of the call the phone system calls pbxID, failing the test when
// that call's messages carry more than one Ringside id (the call lost its identity).
func pops(t *testing.T, ms []msg, pbxID string) int {
	t.Helper()
	n, ids := testenv.PbxPops(ms, pbxID)
	if len(ids) > 1 {
		t.Errorf("call %s appeared under %d Ringside ids %v: %+v", pbxID, len(ids), ids, ms)
	}
	return n
}

// eventually polls another process's state until cond holds.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	testenv.Eventually(t, d, what, cond)
}

func jane() []crm.Record {
	return []crm.Record{{Ref: crm.Ref{Entity: crm.Contact, ID: "jane"}, FirstName: "Jane", LastName: "Doe", Name: "Jane Doe",
		Company: "ACME", Country: "DE", Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "+49 30 9876543"}}}}
}
