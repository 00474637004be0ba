package agent

import (
	"testing"
	"time"
)

func TestForwardAndWritten(t *testing.T) {
	written := make(chan time.Time, 4)
	h := NewHub(nil, Options{Written: func(m []byte, since time.Time) {
		if string(m) == `{"n":1}` {
			written <- since
		}
	}})
	srv := serve(t, h)
	a := dial(t, srv, "alice")

	type fwd struct {
		user, msg string
		since     time.Time
	}
	forwarded := make(chan fwd, 4)
	h.SetForward(func(u string, m []byte, since time.Time) { forwarded <- fwd{u, string(m), since} })
	since := time.Now().Add(-time.Millisecond)
	if n := h.SendSince("alice", []byte(`{"n":1}`), since); n != 0 {
		t.Fatalf("a forwarded message is not delivered here (%d)", n)
	}
	f := <-forwarded
	if f.user != "alice" || f.msg != `{"n":1}` || !f.since.Equal(since) {
		t.Fatalf("forwarded %+v", f)
	}
	// What the cluster brings back is delivered locally, and its write is reported with
	// the original time.
	if n := h.Deliver(f.user, []byte(f.msg), f.since); n != 1 {
		t.Fatalf("delivered to %d", n)
	}
	if m := read(t, a); m != `{"n":1}` {
		t.Fatal(m)
	}
	if got := <-written; !got.Equal(since) {
		t.Fatalf("written since %v", got)
	}
	// Without a forward, Send delivers here; messages without a time are not reported.
	h.SetForward(nil)
	if n := h.Send("alice", []byte(`{"n":2}`)); n != 1 {
		t.Fatalf("sent to %d", n)
	}
	if m := read(t, a); m != `{"n":2}` {
		t.Fatal(m)
	}
	select {
	case <-written:
		t.Fatal("a message without a time was reported")
	default:
	}
}
