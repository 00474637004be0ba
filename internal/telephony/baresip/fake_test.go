package baresip

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/telephony/telephonytest"
)

// fakeBaresip accepts control connections one after the other; each is handed to the
// next script.
func fakeBaresip(t *testing.T, scripts ...func(c net.Conn, r *NetstringReader)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for _, script := range scripts {
			c, err := l.Accept()
			if err != nil {
				return
			}
			script(c, NewNetstringReader(c, 0))
			c.Close()
		}
		// Later connections are held open and ignored.
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	return l.Addr().String()
}

func send(c net.Conn, v any) {
	b, _ := json.Marshal(v)
	c.Write(AppendNetstring(nil, b))
}

// reply answers the next command with ok.
func reply(t *testing.T, c net.Conn, r *NetstringReader) map[string]string {
	b, err := r.Next()
	if err != nil {
		return nil
	}
	var cmd map[string]string
	json.Unmarshal(b, &cmd)
	send(c, map[string]any{"response": true, "ok": cmd["command"] != "nosuch", "data": "\x1b[31mcommand not found\x1b[;m", "token": cmd["token"]})
	return cmd
}

// TestGarbageAndDisappearing: a softphone that sends garbage or goes away does not stop
// the source: it reconnects and goes on.
func TestGarbageAndDisappearing(t *testing.T) {
	inc := map[string]any{"event": true, "type": "CALL_INCOMING", "class": "call", "accountaor": "sip:200@x",
		"direction": "incoming", "peeruri": "sip:+4930111@x", "id": "c1"}
	addr := fakeBaresip(t,
		func(c net.Conn, r *NetstringReader) {
			c.Write([]byte("12:not json at all,"))
			c.Write([]byte("xx:broken"))
		},
		func(c net.Conn, r *NetstringReader) { c.Write([]byte("999999999:")) },
		func(c net.Conn, r *NetstringReader) { reply(t, c, r); send(c, inc) }, // then vanishes mid-call
		func(c net.Conn, r *NetstringReader) {
			reply(t, c, r)
			closed := inc
			closed["type"], closed["param"] = "CALL_CLOSED", "Connection reset by peer"
			send(c, closed)
			if cmd := reply(t, c, r); cmd["command"] != "dial" || cmd["params"] != "sip:0301234@pbx" {
				t.Errorf("dial command = %v", cmd)
			}
			reply(t, c, r) // nosuch: refused
			for {          // hold the connection until the source goes
				if _, err := r.Next(); err != nil {
					return
				}
			}
		},
	)
	src, err := New("b", Config{Address: addr, DialURI: "sip:{number}@pbx", ReplyTimeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := telephonytest.NewRecorder()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, rec.Emit) }()
	sigs := rec.WaitFor(t, 20*time.Second, func(s []call.Signal) bool { return len(s) >= 3 })
	if sigs[0].Kind != call.SigRinging || sigs[1].Kind != call.SigRinging || sigs[2].Kind != call.SigEnded {
		// After the reconnect, the correlator is new: CALL_CLOSED of a call it never saw
		// brings its own ringing (the tracker ignores the duplicate).
		t.Errorf("signals %+v", sigs)
	}
	for {
		err := src.Dial(ctx, "", "0301234")
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "not connected") {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // between reconnects: nothing to wait on
	}
	_, err = src.command(ctx, "nosuch", "")
	if err == nil || !strings.Contains(err.Error(), "refused: command not found") {
		t.Errorf("refused command: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if st, _ := src.State(); st != "down" {
		t.Errorf("state %s after stop", st)
	}
}
