package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ringside/ringside/internal/call"
)

// serve mounts a hub on a test server; ?user= names the user (auth is the web layer's job).
func serve(t *testing.T, h *Hub) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := r.URL.Query().Get("user")
		h.Serve(r.Context(), w, r, u, [][]byte{[]byte(`{"type":"hello","user":"` + u + `"}`)}, nil)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func dial(t *testing.T, srv *httptest.Server, user string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/?user="+user, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if _, m, err := c.Read(t.Context()); err != nil || !strings.Contains(string(m), "hello") {
		t.Fatalf("greeting: %s %v", m, err)
	}
	return c
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, m, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return string(m)
}

func TestRecipients(t *testing.T) {
	h := NewHub(nil, Options{})
	h.SetExtensions(map[string][]string{"200": {"alice"}, "201": {"bob", "carol"}})
	c := call.Call{ID: "c", Legs: []call.Leg{{Extension: "200"}, {Extension: "201"}, {Extension: "299"}, {Extension: "x", User: "dave"}}}
	if got := h.Recipients(call.Event{Call: c, Leg: &c.Legs[1]}); strings.Join(got, ",") != "bob,carol" {
		t.Fatalf("leg event: %v", got)
	}
	if got := h.Recipients(call.Event{Call: c, Leg: &c.Legs[3]}); strings.Join(got, ",") != "dave" {
		t.Fatalf("user leg: %v", got)
	}
	if got := h.Recipients(call.Event{Call: c}); strings.Join(got, ",") != "alice,bob,carol,dave" {
		t.Fatalf("call event: %v", got)
	}
}

func TestTwoTabsAndIsolation(t *testing.T) {
	h := NewHub(nil, Options{})
	srv := serve(t, h)
	a1, a2, b := dial(t, srv, "alice"), dial(t, srv, "alice"), dial(t, srv, "bob")
	if h.Connected() != 3 || !h.Online("alice") {
		t.Fatalf("connected %d", h.Connected())
	}
	if n := h.Send("alice", []byte(`{"n":1}`)); n != 2 {
		t.Fatalf("sent to %d connections", n)
	}
	if read(t, a1) != `{"n":1}` || read(t, a2) != `{"n":1}` {
		t.Fatal("both tabs must get the message")
	}
	h.Send("bob", []byte(`{"n":2}`))
	if m := read(t, b); m != `{"n":2}` {
		t.Fatalf("bob got %s", m)
	}
}

// A client that stops reading is dropped, and the others still get their messages.
func TestSlowClientDropped(t *testing.T) {
	h := NewHub(nil, Options{SendBuffer: 4, WriteTimeout: 200 * time.Millisecond})
	srv := serve(t, h)
	slow := dial(t, srv, "slow") // never reads again
	fast := dial(t, srv, "fast")
	big := []byte(`{"pad":"` + strings.Repeat("x", 256<<10) + `"}`)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			h.Send("slow", big)
			if h.Dropped() > 0 {
				return
			}
		}
	})
	for i := range 50 {
		h.Send("fast", []byte(`{"i":`+string(rune('0'+i%10))+`}`))
		read(t, fast)
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for h.Online("slow") {
		if time.Now().After(deadline) {
			t.Fatalf("slow client still connected; dropped=%d", h.Dropped())
		}
		h.Send("slow", big)
		time.Sleep(10 * time.Millisecond)
	}
	if h.Dropped() == 0 {
		t.Fatal("no drop counted")
	}
	_ = slow
}

func TestShutdownClosesConnections(t *testing.T) {
	h := NewHub(nil, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Serve(ctx, w, r, "alice", [][]byte{[]byte(`{"type":"hello"}`)}, nil)
	}))
	defer srv.Close()
	c, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	read(t, c)
	cancel()
	rctx, rcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer rcancel()
	if _, _, err := c.Read(rctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("close status %v (%v)", websocket.CloseStatus(err), err)
	}
}

// An attached connection outlives its HTTP handler and ends with the hub.
func TestAttachOutlivesHandlerAndEndsWithShutdown(t *testing.T) {
	h := NewHub(nil, Options{})
	returned := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.Attach(w, r, "alice", [][]byte{[]byte(`{"type":"hello"}`)}, nil); err != nil {
			t.Error(err)
		}
		returned <- struct{}{}
	}))
	defer srv.Close()
	c, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if m := read(t, c); m != `{"type":"hello"}` {
		t.Fatalf("greeting %s", m)
	}
	<-returned
	h.Send("alice", []byte(`{"n":1}`))
	if m := read(t, c); m != `{"n":1}` {
		t.Fatalf("after the handler returned: %s", m)
	}
	h.Shutdown()
	rctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, _, err := c.Read(rctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("close status %v (%v)", websocket.CloseStatus(err), err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.Connected() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections left after shutdown", h.Connected())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The write timeout is per write: a client that reads keeps its connection for longer
// than the timeout, however many messages it gets; one that stops reading is dropped
// once a write stalls that long, though its queue never filled.
func TestWriteTimeoutPerWrite(t *testing.T) {
	h := NewHub(nil, Options{SendBuffer: 1000, WriteTimeout: 200 * time.Millisecond})
	srv := serve(t, h)
	stalled := dial(t, srv, "stalled") // never reads again
	reader := dial(t, srv, "reader")
	for i := range 60 {
		h.Send("reader", []byte(`{"i":`+string(rune('0'+i%10))+`}`))
		read(t, reader)
		time.Sleep(10 * time.Millisecond) // 600 ms in all: three write timeouts
	}
	if !h.Online("reader") || h.Dropped() != 0 {
		t.Fatalf("a client that reads was dropped (online %v, dropped %d)", h.Online("reader"), h.Dropped())
	}
	big := []byte(`{"pad":"` + strings.Repeat("x", 256<<10) + `"}`)
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; h.Online("stalled"); n++ {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled client is still connected after %d messages; dropped=%d", n, h.Dropped())
		}
		if n < 200 {
			h.Send("stalled", big) // 50 MB at most: more than the sockets buffer, less than the queue
		}
		time.Sleep(5 * time.Millisecond)
	}
	if h.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1 (the stalled client)", h.Dropped())
	}
	_ = stalled
}
