package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/testenv"
)

// receiver is a webhook receiver that records what it got, per call, in order.
type receiver struct {
	mu     sync.Mutex
	delay  time.Duration
	down   bool
	byCall map[string][]string // call id → events, in the order received (accepted ones)
	keys   map[string]int      // delivery id → times accepted
	srv    *httptest.Server
}

func newReceiver(t *testing.T, delay time.Duration, down bool) *receiver {
	r := &receiver{delay: delay, down: down, byCall: map[string][]string{}, keys: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if r.delay > 0 {
			select {
			case <-time.After(r.delay):
			case <-req.Context().Done():
				return
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var ev struct {
			Event string `json:"event"`
			Call  struct {
				ID string `json:"id"`
			} `json:"call"`
		}
		json.Unmarshal(body, &ev)
		r.byCall[ev.Call.ID] = append(r.byCall[ev.Call.ID], ev.Event)
		r.keys[req.Header.Get("X-Ringside-Delivery")]++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// complete says how many calls have all of want, in order, and nothing else.
func (r *receiver) complete(want []string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, evs := range r.byCall {
		if strings.Join(evs, " ") == strings.Join(want, " ") {
			n++
		}
	}
	return n
}

// startServe runs ringside serve in-process with the config file cfg and returns the
// base URL.
func startServe(t *testing.T, cfg string) string {
	t.Helper()
	base, _ := startServeLog(t, cfg)
	return base
}

// startServeLog is startServe that also returns a function reading the server's log
// so far.
func startServeLog(t *testing.T, cfg string) (string, func() string) {
	t.Helper()
	port := testenv.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var serveErr bytes.Buffer
	var mu sync.Mutex
	go func() {
		done <- run(ctx, env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &lockedWriter{w: &serveErr, mu: &mu}, getenv: testGetenv},
			[]string{"serve", "--config", cfg, "--listen", fmt.Sprintf("127.0.0.1:%d", port)})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			mu.Lock()
			t.Errorf("serve exited %d:\n%s", code, serveErr.String())
			mu.Unlock()
		}
	})
	waitUntil(t, 20*time.Second, "the server to come up", func() bool {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return base, func() string {
		mu.Lock()
		defer mu.Unlock()
		return serveErr.String()
	}
}

// testGetenv passes the tests' own variables (RINGSIDE_TEST_*, e.g. a CRM secret) and
// nothing else of the environment to the server.
func testGetenv(k string) string {
	if strings.HasPrefix(k, "RINGSIDE_TEST_") {
		return os.Getenv(k)
	}
	return ""
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Three webhook receivers, 100 calls: the fine receiver gets every event of every call
// in order without waiting for the slow or the dead one; the dead one's items park after
// the (shortened) max age, and once it is back, ringside outbox retry --all delivers
// each exactly once, in order.
func TestEndToEndWebhookReceivers(t *testing.T) {
	fine, slow, dead := newReceiver(t, 0, false), newReceiver(t, 2*time.Second, false), newReceiver(t, 0, true)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	secret := filepath.Join(dir, "hook.secret")
	os.WriteFile(secret, []byte("s3cret"), 0o600)
	hooks := ""
	for _, r := range []*receiver{fine, slow, dead} {
		hooks += fmt.Sprintf("{webhook: {url: %q, secret_file: %q, timeout: 10s}}, ", r.srv.URL+"/hook", secret)
	}
	cfgFile := filepath.Join(dir, "ringside.yaml")
	rules := ""
	for _, ev := range []string{"inbound.ringing", "inbound.answered", "inbound.ended"} {
		rules += fmt.Sprintf("  - on: %s\n    do: [%s]\n", ev, strings.TrimSuffix(hooks, ", "))
	}
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir: %s\nlog_level: error\noutbox: {max_age: 3s}\nrules:\n%s", data, rules)), 0o600)
	pbx := lastLine(cli(t, "", "tokens", "create", "--scope", "pbx", "--config", cfgFile))
	cli(t, "", "users", "add", "alice", "--extension", "200", "--config", cfgFile)
	base := startServe(t, cfgFile)
	c := client{t: t, base: base}

	const calls = 100
	for i := range calls {
		id := fmt.Sprintf("wh-%03d", i)
		c.event(pbx, `{"event":"ringing","call_id":"`+id+`","direction":"inbound","from":"+49 30 9876543","extension":"200"}`)
		c.event(pbx, `{"event":"answered","call_id":"`+id+`","extension":"200"}`)
		c.event(pbx, `{"event":"ended","call_id":"`+id+`","cause":"normal"}`)
	}
	want := []string{"inbound.ringing", "inbound.answered", "inbound.ended"}
	waitUntil(t, 120*time.Second, "the fine receiver to get every event of every call", func() bool { return fine.complete(want) == calls })
	// It did not wait for the slow receiver (2 s a delivery, at most half the pool: it
	// needs well over 30 s for its 300), nor for the dead one.
	if n := slow.complete(want); n == calls {
		t.Errorf("the slow receiver already has all %d calls: the fine one may have waited for it", n)
	}
	if got := dead.complete(want); got != 0 {
		t.Fatalf("the dead receiver accepted %d calls", got)
	}

	// The dead receiver's streams park after the max age (3 s here): the head of each.
	parkedDead := func() int {
		out := cli(t, "", "outbox", "list", "--parked", "--config", cfgFile)
		return strings.Count(out, "webhook:"+dead.srv.URL+"/hook ")
	}
	waitUntil(t, 120*time.Second, "the dead receiver's 100 streams to park", func() bool { return parkedDead() == calls })
	// It comes back; an admin retries everything parked.
	dead.mu.Lock()
	dead.down = false
	dead.mu.Unlock()
	if out := cli(t, "", "outbox", "retry", "--all", "--config", cfgFile); !strings.Contains(out, "retrying 100 parked items") {
		t.Errorf("retry --all said %q", out)
	}
	waitUntil(t, 120*time.Second, "the dead receiver to get every event", func() bool { return dead.complete(want) == calls })
	dead.mu.Lock()
	defer dead.mu.Unlock()
	if len(dead.keys) != 3*calls {
		t.Errorf("%d distinct deliveries, want %d", len(dead.keys), 3*calls)
	}
	for k, n := range dead.keys {
		if n != 1 {
			t.Errorf("delivery %s accepted %d times", k, n)
		}
	}
}
