package sipwatch

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
)

// After (re)connecting, once every watched extension has given its first full state, the
// source says which calls the server has (call.SigResynced with Live), as the AMI and ESL
// connectors do: calls restored from the journal that the server no longer has end then
// (issue 13), instead of waiting for calls.max_age.
func TestResyncMark(t *testing.T) {
	f := newFakeNotifier(t)
	src, err := New("fake", Config{Server: f.addr(), Domain: "127.0.0.1", Listen: "127.0.0.1:0",
		Extensions: []string{"200", "201"}, Keepalive: -1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var sigs []call.Signal
	emit := func(s call.Signal) {
		mu.Lock()
		sigs = append(sigs, s)
		mu.Unlock()
	}
	marks := func() []call.Signal {
		mu.Lock()
		defer mu.Unlock()
		return slices.DeleteFunc(slices.Clone(sigs), func(s call.Signal) bool { return s.Kind != call.SigResynced })
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, emit) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	subs := map[string]fakeSub{}
	for range 2 {
		s, req := f.accept()
		subs[req.Recipient.User] = s
	}
	// 200 is in a call; 201 has not said anything yet: no mark.
	if r := f.notify(subs["200"], nil, dialogDoc(1, "200", "confirmed")); r.StatusCode != 200 {
		t.Fatalf("NOTIFY 200: %d", r.StatusCode)
	}
	time.Sleep(100 * time.Millisecond)
	if m := marks(); len(m) != 0 {
		t.Fatalf("a resync mark before every extension gave its state: %+v", m)
	}
	// 201's first (empty) NOTIFY completes the picture.
	if r := f.notify(subs["201"], nil, ""); r.StatusCode != 200 {
		t.Fatalf("NOTIFY 201: %d", r.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(marks()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	m := marks()
	if len(m) != 1 {
		t.Fatalf("resync marks: %+v, want one", m)
	}
	if m[0].Source != "fake" || !m[0].Resync || !slices.Equal(m[0].Live, []string{"c1@pbx"}) {
		t.Errorf("mark %+v, want source fake, Resync, Live [c1@pbx]", m[0])
	}
	// Later documents (the call ends) do not repeat it.
	if r := f.notify(subs["200"], nil, dialogDoc(2, "200", "terminated")); r.StatusCode != 200 {
		t.Fatalf("NOTIFY 200: %d", r.StatusCode)
	}
	time.Sleep(100 * time.Millisecond)
	if m := marks(); len(m) != 1 {
		t.Errorf("resync marks after a live change: %+v, want still one", m)
	}
}
