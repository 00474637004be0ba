package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/config"
	"github.com/ringside/ringside/internal/loadtest"
	"github.com/ringside/ringside/internal/server"
	"github.com/ringside/ringside/internal/store"
)

// node is a server started in-process for a test, with agents alice (200), bob (201)
// and carol (202).
type node struct {
	t   *testing.T
	srv *server.Server
}

func startServer(t *testing.T, extra string) *node {
	t.Helper()
	data := t.TempDir()
	y := fmt.Sprintf("data_dir: %q\nusers:\n  - {name: alice, extensions: [\"200\"]}\n  - {name: bob, extensions: [\"201\"]}\n  - {name: carol, extensions: [\"202\"]}\n  - {name: root, extensions: [\"299\"], admin: true}\n%s",
		filepath.Join(data, "d"), extra)
	cfg, err := config.Parse(filepath.Join(data, "ringside.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, nil, server.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	}
	return &node{t: t, srv: srv}
}

func (n *node) tok(user string) string {
	n.t.Helper()
	tok, _, err := n.srv.Store().CreateToken(n.t.Context(), user, store.ScopeAgent, "test")
	if err != nil {
		n.t.Fatal(err)
	}
	return tok
}

func (n *node) do(method, path, token, body string) (int, string) {
	n.t.Helper()
	req, _ := http.NewRequestWithContext(n.t.Context(), method, n.srv.URL()+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDialTwoAsterisks: end to end, with two Asterisks (fake AMI servers) whose sections
// name the extensions they serve, POST /api/v1/dial from alice (200) reaches the one
// serving 200; bob (201), whose phone system is down, reads why in plain words (503).
// On the previous code the extensions: key was refused and the first AMI always dialled.
func TestDialTwoAsterisks(t *testing.T) {
	berlin, err := loadtest.NewFakeAMI("127.0.0.1:0", "bench")
	if err != nil {
		t.Fatal(err)
	}
	defer berlin.Close()
	munich, err := loadtest.NewFakeAMI("127.0.0.1:0", "bench")
	if err != nil {
		t.Fatal(err)
	}
	defer munich.Close()
	down := closedAddr(t)
	r := startServer(t, fmt.Sprintf(`telephony:
  - {kind: ami, name: berlin, address: %q, username: bench, secret: bench, auth: plain, extensions: ["300-399"]}
  - {kind: ami, name: hamburg, address: %q, username: bench, secret: bench, auth: plain, extensions: ["201"]}
  - {kind: ami, name: munich, address: %q, username: bench, secret: bench, auth: plain, extensions: ["200", "202"]}
`, berlin.Addr(), down, munich.Addr()))
	admin := r.tok("root")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, body := r.do("GET", "/readyz", admin, "") // the checks are for admins
		if strings.Contains(body, `"telephony/berlin":"up"`) && strings.Contains(body, `"telephony/munich":"up"`) {
			if !strings.Contains(body, `"telephony/hamburg":"down: `) && !strings.Contains(body, `"telephony/hamburg":"connecting"`) {
				t.Fatalf("readyz: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the AMI sources did not come up: %s", body)
		}
	}
	code, body := r.do("POST", "/api/v1/dial", r.tok("alice"), `{"number":"+49 30 1234567"}`)
	if code != http.StatusAccepted {
		t.Fatalf("alice's dial: %d %s", code, body)
	}
	if got := munich.Originates(); len(got) != 1 || !strings.Contains(got[0], "200") {
		t.Errorf("munich originated %q, want one call from 200", got)
	}
	if got := berlin.Originates(); len(got) != 0 {
		t.Errorf("berlin originated %q, want none (it serves 300-399)", got)
	}
	code, body = r.do("POST", "/api/v1/dial", r.tok("bob"), `{"number":"+49 30 1234567"}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "hamburg") || !strings.Contains(body, "not connected") || strings.Contains(body, "telephony:") {
		t.Errorf("bob's dial through a phone system that is down: %d %s, want 503 in plain words", code, body)
	}
}

func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
