//go:build linux

package reload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/testenv"
)

const before = `log_level: info
telephony:
  - kind: webhook
users:
  - {name: alice, extensions: ["200"]}
  - {name: gina, extensions: ["299"], admin: true}
rules:
  - name: before the reload
    on: inbound.ringing
    do: [pop]
  - defaults
`

// after: new rules, alice gets a second extension, debug logging, other lookup settings,
// and a key that needs a restart (outbox.workers).
const after = `log_level: debug
telephony:
  - kind: webhook
users:
  - {name: alice, extensions: ["200", "210"]}
  - {name: gina, extensions: ["299"], admin: true}
lookup:
  cache_ttl: -1s
  entity_priority: [lead, contact, account]
outbox:
  workers: 3
rules:
  - name: after the reload
    on: inbound.ringing
    do: [pop]
  - defaults
`

// broken has two mistakes; config check names both.
const broken = `log_level: debug
telephony:
  - kind: webhook
users:
  - {name: alice, extensions: ["200"]}
  - {name: gina, extensions: ["299"], admin: true}
lookup:
  entity_priority: [person]
rules:
  - name: broken
    on: inbound.ringing
    do: [pop, {frobnicate: {}}]
`

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestSIGHUPReload: the binary is built and started on a config file; the file is
// rewritten, SIGHUP is sent, and the change is observed through the API, /readyz and the
// log, with an agent's stream kept open; then a broken file changes nothing.
func TestSIGHUPReload(t *testing.T) {
	dir := t.TempDir()
	bin := testenv.Binary(t)
	cfgFile := filepath.Join(dir, "ringside.yaml")
	data := filepath.Join(dir, "data")
	if err := os.WriteFile(cfgFile, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		t.Helper()
		c := exec.Command(bin, append(args, "--config", cfgFile, "--data", data)...)
		out, err := c.Output()
		if err != nil {
			t.Fatalf("ringside %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return strings.TrimSpace(lines[len(lines)-1])
	}

	port := testenv.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var logs logBuf
	serve := exec.Command(bin, "serve", "--config", cfgFile, "--data", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	serve.Stdout, serve.Stderr = io.Discard, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	t.Cleanup(func() {
		serve.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("serve ended with %v\n%s", err, logs.String())
			}
		case <-time.After(30 * time.Second):
			serve.Process.Kill()
			t.Errorf("serve did not stop on SIGTERM")
		}
	})
	testenv.Eventually(t, 30*time.Second, "serve answers /readyz", func() (bool, error) {
		select {
		case err := <-exited:
			return false, fmt.Errorf("serve exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	// The config's users exist once serve has started: now their tokens.
	admin := cli("tokens", "create", "--user", "gina")
	alice := cli("tokens", "create", "--user", "alice")
	pbx := cli("tokens", "create", "--scope", "pbx")

	get := func(path, token string, v any) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp.StatusCode
	}
	ruleNames := func() string {
		var r struct{ Rules []struct{ Name string } }
		get("/api/v1/rules", admin, &r)
		var names []string
		for _, x := range r.Rules {
			names = append(names, x.Name)
		}
		return strings.Join(names, "|")
	}
	readyz := func() (int, string) {
		var r struct {
			Ready  bool
			Checks map[string]string
		}
		code := get("/readyz", admin, &r)
		return code, r.Checks["config"]
	}
	aliceExts := func() string {
		var r struct {
			Users []struct {
				Name       string
				Extensions []string
			}
		}
		get("/api/v1/admin/users", admin, &r)
		for _, u := range r.Users {
			if u.Name == "alice" {
				return strings.Join(u.Extensions, ",")
			}
		}
		return ""
	}
	if n := ruleNames(); !strings.HasPrefix(n, "before the reload") {
		t.Fatalf("rules at start: %q", n)
	}

	// A plain GET of the stream (no WebSocket upgrade) logs "stream not opened" at debug
	// level: not at info.
	plainStream := func() {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/api/v1/stream", nil)
		req.Header.Set("Authorization", "Bearer "+alice)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	plainStream()

	// Alice's stream, open across the reloads.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/stream", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + alice}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	msgs := make(chan map[string]any, 100)
	go func() {
		defer close(msgs)
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			json.Unmarshal(b, &m)
			msgs <- m
		}
	}()
	if m := <-msgs; m["type"] != "hello" {
		t.Fatalf("first message %v", m)
	}

	// 1. A sound file: everything reloadable is in force.
	if err := os.WriteFile(cfgFile, []byte(after), 0o600); err != nil {
		t.Fatal(err)
	}
	serve.Process.Signal(syscall.SIGHUP)
	testenv.Eventually(t, 20*time.Second, "the new rules in /api/v1/rules", func() (bool, error) {
		return strings.HasPrefix(ruleNames(), "after the reload"), nil
	})
	if got := aliceExts(); got != "200,210" {
		t.Errorf("alice's extensions after the reload: %q, want 200,210", got)
	}
	code, check := readyz()
	if code != http.StatusOK || !strings.HasPrefix(check, "ok: reloaded at") || !strings.Contains(check, "outbox") {
		t.Errorf("/readyz after a good reload: %d, config %q; want 200, ok, naming outbox as waiting for a restart", code, check)
	}
	log := logs.String()
	for _, want := range []string{"config reloaded", "need a restart", "keys=outbox"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	// The stream is still open, and the new extension reaches alice: a call to 210 pops.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", base+"/api/v1/events",
		strings.NewReader(`{"event":"ringing","call_id":"hup-1","direction":"inbound","from":"+49 30 1234567","extension":"210"}`))
	req.Header.Set("Authorization", "Bearer "+pbx)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("event: %v %v", resp, err)
	}
	deadline := time.After(15 * time.Second)
	for popped := false; !popped; {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("alice's stream closed during the reload")
			}
			popped = m["type"] == "call.ringing"
		case <-deadline:
			t.Fatal("a call to alice's new extension 210 did not reach her open stream")
		}
	}
	// log_level debug is in force: the server now writes debug lines.
	if strings.Contains(log, "stream not opened") {
		t.Errorf("a debug line at log_level info:\n%s", log)
	}
	plainStream()
	testenv.Eventually(t, 10*time.Second, "debug lines in the log after log_level: debug", func() (bool, error) {
		return strings.Contains(logs.String(), "level=DEBUG msg=\"stream not opened\""), nil
	})

	// 2. A broken file: nothing changes, every mistake is logged and shown in /readyz.
	mark := len(logs.String())
	if err := os.WriteFile(cfgFile, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	serve.Process.Signal(syscall.SIGHUP)
	testenv.Eventually(t, 20*time.Second, "/readyz says the reload failed", func() (bool, error) {
		_, check := readyz()
		return strings.HasPrefix(check, "warning:"), nil
	})
	code, check = readyz()
	if code != http.StatusOK || !strings.Contains(check, "previous config is in force") || !strings.Contains(check, "entity_priority") || !strings.Contains(check, "frobnicate") {
		t.Errorf("/readyz after a bad reload: %d, config %q; want 200 (still ready), naming both mistakes", code, check)
	}
	if n := ruleNames(); !strings.HasPrefix(n, "after the reload") {
		t.Errorf("a bad file changed the rules: %q", n)
	}
	if got := aliceExts(); got != "200,210" {
		t.Errorf("a bad file changed alice's extensions: %q", got)
	}
	tail := logs.String()[mark:]
	for _, want := range []string{"config reload failed", "ringside.yaml:", "entity_priority", "frobnicate"} {
		if !strings.Contains(tail, want) {
			t.Errorf("the log of the bad reload lacks %q:\n%s", want, tail)
		}
	}
}
