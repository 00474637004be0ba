//go:build !windows

// Package fault holds Ringside's fault tests: a server in-process, real sockets on
// 127.0.0.1, and a fault injected into one of its peers (the phone system's connection,
// the CRM, an agent's browser).
package fault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/outbox"
	"github.com/ringside/ringside/internal/server"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/testenv"
)

// node is a server running in-process for one test.
type node struct {
	srv    *server.Server
	st     *store.Store // the server's store
	url    string
	tokens map[string]string // user → agent token; "" → pbx token
}

// startNode builds a server from yaml (data_dir and listen are filled in), adds the
// users (name → extension) with tokens, and runs it until the test ends.
func startNode(t *testing.T, yaml string, users map[string]string, setup func(*store.Store)) *node {
	t.Helper()
	dir := t.TempDir()
	y := fmt.Sprintf("data_dir: %s\nlisten: 127.0.0.1:0\nlog_level: warn\n", dir) + yaml
	cfg, err := config.Parse(filepath.Join(dir, "ringside.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), cfg.Store, cfg.DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.SetPasswordCost(4)
	n := &node{tokens: map[string]string{}}
	for u, ext := range users {
		if _, err := st.AddUser(t.Context(), store.User{Name: u, Extensions: []string{ext}, Email: u + "@example.com"}, "pw-"+u+"-long-enough"); err != nil {
			t.Fatal(err)
		}
		tok, _, err := st.CreateToken(t.Context(), u, "agent", "test")
		if err != nil {
			t.Fatal(err)
		}
		n.tokens[u] = tok
	}
	tok, _, err := st.CreateToken(t.Context(), "", "pbx", "test")
	if err != nil {
		t.Fatal(err)
	}
	n.tokens[""] = tok
	if setup != nil {
		setup(st)
	}
	st.Close()
	srv, err := server.New(t.Context(), cfg, nil, server.Options{Listen: "127.0.0.1:0",
		Outbox: outbox.Options{MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, Poll: 100 * time.Millisecond}})
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
	return n
}

// post sends a native call event.
func (n *node) post(t *testing.T, body string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", n.url+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+n.tokens[""])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST /api/v1/events: %s", resp.Status)
	}
}

// msg is the part of a stream message the tests look at.
type msg = testenv.Msg

// agent is a stream client that reads every message into a channel.
type agent struct {
	ws *websocket.Conn
	*testenv.Stream
}

// connect opens user's stream. rcvbuf > 0 shrinks the socket's receive buffer (a client
// that stops reading then blocks the server's writes quickly). read=false: the client
// never reads (a browser that hangs).
func (n *node) connect(t *testing.T, user string, read bool, rcvbuf int) *agent {
	t.Helper()
	d := &net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var err error
			c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
			return err
		}
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(n.url, "http")+"/api/v1/stream",
		&websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Authorization": {"Bearer " + n.tokens[user]}}})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	a := &agent{ws: ws}
	t.Cleanup(func() { ws.CloseNow() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, b, err := ws.Read(ctx); err != nil || !strings.Contains(string(b), `"hello"`) {
		t.Fatalf("greeting: %s %v", b, err)
	}
	if read {
		a.Stream = testenv.ReadStream(t, ws)
	}
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
		t.Fatalf("call %s appeared under %d Ringside ids %v: %+v", pbxID, len(ids), ids, ms)
	}
	return n
}

func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	testenv.Eventually(t, d, what, cond)
}

var errNotYet = errors.New("not yet")

var _ = sync.Mutex{}
