package sipwatch

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/telephonytest"
)

// fakeNotifier is a SIP server on a UDP socket, played by the test: it answers SUBSCRIBEs
// and sends NOTIFYs, so that the Source's answers can be checked without a real peer.
type fakeNotifier struct {
	t       *testing.T
	conn    net.PacketConn
	msgs    chan received
	cseq    int
	expires string // granted in 200 OK; default 600
}

type received struct {
	msg  sip.Message
	from net.Addr
}

func newFakeNotifier(t *testing.T) *fakeNotifier {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNotifier{t: t, conn: c, msgs: make(chan received, 64), cseq: 1}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, addr, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
			if err != nil {
				continue
			}
			f.msgs <- received{m, addr}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return f
}

func (f *fakeNotifier) addr() string { return f.conn.LocalAddr().String() }

// next waits for the next request (responses skipped when wantResponse is false) or
// response of the Source.
func (f *fakeNotifier) next(wantResponse bool) received {
	f.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-f.msgs:
			if _, ok := r.msg.(*sip.Response); ok == wantResponse {
				return r
			}
		case <-deadline:
			f.t.Fatalf("nothing received (want response: %v)", wantResponse)
		}
	}
}

// subscription is what the fake knows of the Source's subscription dialog.
type fakeSub struct {
	callID, fromTag, toTag, ext string
	contact                     string
	to                          net.Addr
}

// accept waits for a SUBSCRIBE and answers it 200 OK; it returns the dialog.
func (f *fakeNotifier) accept() (fakeSub, *sip.Request) {
	f.t.Helper()
	r := f.next(false)
	req := r.msg.(*sip.Request)
	if req.Method != sip.SUBSCRIBE {
		f.t.Fatalf("got %s, want SUBSCRIBE", req.Method)
	}
	if ev := req.GetHeader("Event"); ev == nil || ev.Value() != "dialog" {
		f.t.Fatalf("SUBSCRIBE without Event: dialog:\n%s", req)
	}
	if a := req.GetHeader("Accept"); a == nil || a.Value() != "application/dialog-info+xml" {
		f.t.Fatalf("SUBSCRIBE without Accept: application/dialog-info+xml:\n%s", req)
	}
	ftag, _ := req.From().Params.Get("tag")
	ttag, _ := req.To().Params.Get("tag")
	if ttag == "" {
		ttag = fmt.Sprintf("srv%d", f.cseq)
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.To().Params.Add("tag", ttag)
	exp := f.expires
	if exp == "" {
		exp = "600"
	}
	res.AppendHeader(sip.NewHeader("Expires", exp))
	res.AppendHeader(sip.NewHeader("Contact", "<sip:"+f.addr()+">"))
	f.send(res.String(), r.from)
	return fakeSub{callID: req.CallID().Value(), fromTag: ftag, toTag: ttag, ext: req.To().Address.User,
		contact: req.Contact().Address.String(), to: r.from}, req
}

func (f *fakeNotifier) send(msg string, to net.Addr) {
	f.t.Helper()
	if _, err := f.conn.WriteTo([]byte(msg), to); err != nil {
		f.t.Fatal(err)
	}
}

// notify sends a NOTIFY in the subscription and returns the Source's answer.
func (f *fakeNotifier) notify(s fakeSub, headers map[string]string, body string) *sip.Response {
	f.t.Helper()
	f.cseq++
	h := map[string]string{
		"Event":              "dialog",
		"Subscription-State": "active;expires=600",
		"Content-Type":       "application/dialog-info+xml",
		"Call-ID":            s.callID,
	}
	if body == "" {
		delete(h, "Content-Type")
	}
	for k, v := range headers {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "NOTIFY %s SIP/2.0\r\n", s.contact)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK-fake-%d\r\n", f.addr(), f.cseq)
	fmt.Fprintf(&b, "From: <sip:%s@127.0.0.1>;tag=%s\r\n", s.ext, s.toTag)
	fmt.Fprintf(&b, "To: <sip:ringside@127.0.0.1>;tag=%s\r\n", s.fromTag)
	fmt.Fprintf(&b, "CSeq: %d NOTIFY\r\nMax-Forwards: 70\r\nContact: <sip:%s>\r\n", f.cseq, f.addr())
	for k, v := range h {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	f.send(b.String(), s.to)
	return f.next(true).msg.(*sip.Response)
}

func dialogDoc(version int, ext, state string) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="%d" state="full" entity="sip:%s@127.0.0.1">
  <dialog id="d1" call-id="c1@pbx" direction="recipient"><state>%s</state>
    <remote><identity display="Jane">sip:+4930123@pbx</identity></remote></dialog>
</dialog-info>`, version, ext, state)
}

// TestNotifyAnswers checks the answer to every kind of NOTIFY, and that the subscription
// survives the bad ones.
func TestNotifyAnswers(t *testing.T) {
	f := newFakeNotifier(t)
	src, err := New("fake", Config{Server: f.addr(), Domain: "127.0.0.1", Listen: "127.0.0.1:0",
		Extensions: []string{"200"}, Keepalive: -1, MaxBodyBytes: 2048}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rec := telephonytest.NewRecorder()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, rec.Emit) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	sub, _ := f.accept()
	if r := f.notify(sub, nil, ""); r.StatusCode != 200 {
		t.Fatalf("empty first NOTIFY: %d, want 200", r.StatusCode)
	}
	if r := f.notify(sub, nil, dialogDoc(1, "200", "early")); r.StatusCode != 200 {
		t.Fatalf("early: %d, want 200", r.StatusCode)
	}
	rec.WaitFor(t, 5*time.Second, func(s []call.Signal) bool { return len(s) == 1 })

	// Each bad NOTIFY is refused, and each makes the source refresh the subscription
	// within its dialog (same Call-ID, with the to-tag) to get the full state again.
	bad := []struct {
		name    string
		headers map[string]string
		body    string
		want    int
	}{
		{"malformed XML", nil, "<dialog-info xmlns=", 400},
		{"wrong namespace", nil, `<dialog-info xmlns="urn:x" version="2" state="full"/>`, 400},
		{"invalid UTF-8", nil, "<?xml version=\"1.0\"?><dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"2\" state=\"full\" entity=\"\xff\xfe\"/>", 400},
		{"entity expansion", nil, `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="2" state="full" entity="&b;"/>`, 400},
		{"too large", nil, dialogDoc(2, "200", "confirmed") + "<!--" + strings.Repeat("x", 2048) + "-->", 413},
		{"not dialog-info", map[string]string{"Content-Type": "text/plain"}, "hello", 415},
		{"other event package", map[string]string{"Event": "presence"}, dialogDoc(2, "200", "confirmed"), 489},
	}
	for _, tc := range bad {
		r := f.notify(sub, tc.headers, tc.body)
		if r.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, r.StatusCode, tc.want)
			continue
		}
		if tc.want == 489 {
			continue // not our package: nothing to refresh
		}
		got, req := f.accept()
		if got.callID != sub.callID || got.toTag != sub.toTag {
			t.Errorf("%s: after the refusal the source made a new subscription instead of refreshing:\n%s", tc.name, req)
		}
	}
	unknown := sub
	unknown.callID = "nosuch@x"
	if r := f.notify(unknown, nil, dialogDoc(3, "200", "confirmed")); r.StatusCode != 481 {
		t.Errorf("unknown subscription: %d, want 481", r.StatusCode)
	}
	// The subscription still works.
	if r := f.notify(sub, nil, dialogDoc(3, "200", "confirmed")); r.StatusCode != 200 {
		t.Fatalf("confirmed: %d, want 200", r.StatusCode)
	}
	rec.WaitFor(t, 5*time.Second, func(s []call.Signal) bool { return len(s) == 2 && s[1].Kind == call.SigAnswered })

	// The server ends the subscription: the source makes a new one.
	if r := f.notify(sub, map[string]string{"Subscription-State": "terminated;reason=deactivated"}, ""); r.StatusCode != 200 {
		t.Fatalf("terminated: %d, want 200", r.StatusCode)
	}
	again, req := f.accept()
	if again.callID == sub.callID {
		t.Fatalf("after terminated, want a new subscription, got a refresh:\n%s", req)
	}
	// Its first NOTIFY is a full state without the call: the leg ended while unwatched.
	if r := f.notify(again, nil, ""); r.StatusCode != 200 {
		t.Fatalf("first NOTIFY of the new subscription: %d", r.StatusCode)
	}
	got := rec.WaitFor(t, 5*time.Second, func(s []call.Signal) bool { return len(s) >= 3 })
	if e := got[2]; e.Kind != call.SigEnded || e.Extension != "200" || !e.Resync || e.Cause != call.CauseNormal {
		t.Errorf("after resubscribing: %+v, want a resync end of leg 200", e)
	}
	// The new subscription's 200 OK and its first NOTIFY race (UDP): the state follows
	// the 200 OK, which may be handled a moment after the NOTIFY.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := src.State()
		if st == "up" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s, want connected", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRefreshBeforeExpiry: a subscription granted for less than asked is refreshed within
// its dialog before it runs out.
func TestRefreshBeforeExpiry(t *testing.T) {
	f := newFakeNotifier(t)
	f.expires = "2"
	src, err := New("fake", Config{Server: f.addr(), Domain: "127.0.0.1", Listen: "127.0.0.1:0",
		Extensions: []string{"200"}, Keepalive: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, func(call.Signal) {}) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	first, _ := f.accept()
	for range 2 {
		again, req := f.accept() // next() waits at most 10 s: the grant is 2 s
		if again.callID != first.callID || again.toTag != first.toTag {
			t.Fatalf("want a refresh in the same dialog, got:\n%s", req)
		}
		if e := req.GetHeader("Expires"); e == nil || e.Value() != "600" {
			t.Errorf("refresh asks for Expires %v, want the configured 600", e)
		}
	}
}
