package ami

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// originateServer answers Originate as the captures show: the Response, then the call's
// events with the capture's ActionID and RINGSIDE_DIAL_ID replaced by the client's.
func originateServer(t *testing.T, capture, captureID string) (*fakeServer, chan *action) {
	t.Helper()
	body := events(t, capture)
	resp := []byte("Response: Success\r\nActionID: " + captureID + "\r\nMessage: Originate successfully queued\r\n\r\n")
	body = bytes.Replace(body, resp, nil, 1)
	seen := make(chan *action, 1)
	fs := newFakeServer(t, func(c *fakeConn) {
		for a := range c.actions {
			if a.name != "Originate" {
				continue
			}
			seen <- a
			writeMsg(c, "Response: Success", "ActionID: "+a.id, "Message: Originate successfully queued")
			_, _ = c.Write(bytes.ReplaceAll(body, []byte(captureID), []byte(a.id)))
		}
	})
	return fs, seen
}

func connected(t *testing.T, r *running) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		r.src.mu.Lock()
		ok := r.src.cur != nil
		r.src.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("not connected")
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline
	}
}

func TestDial(t *testing.T) {
	fs, seen := originateServer(t, "click_to_dial_originate.ami", "ringside-dial-0001")
	r := run(t, fs.addr(), func(c *Config) { c.Originate.Context = "internal" })
	connected(t, r)
	if err := r.src.Dial(t.Context(), "200", "+49 (30) 111-22 33"); err != nil {
		t.Fatalf("Dial = %v", err)
	}
	a := <-seen
	want := map[string]string{"Channel": "PJSIP/200", "Context": "internal", "Exten": "+49301112233", "Priority": "1",
		"CallerID": `"+49301112233" <+49301112233>`, "Timeout": "30000", "Async": "true", "Variable": "RINGSIDE_DIAL_ID=" + a.id}
	for k, v := range want {
		if a.headers[k] != v {
			t.Errorf("Originate %s = %q, want %q", k, a.headers[k], v)
		}
	}
}

func TestDialBusy(t *testing.T) {
	fs, _ := originateServer(t, "click_to_dial_busy.ami", "ringside-dial-0002")
	r := run(t, fs.addr(), nil)
	connected(t, r)
	err := r.src.Dial(t.Context(), "203", "0049301112233")
	if !errors.Is(err, ErrBusy) || err.Error() != "extension 203 is busy" {
		t.Fatalf("Dial = %v, want extension 203 is busy", err)
	}
}

func TestDialRefused(t *testing.T) {
	fs := newFakeServer(t, func(c *fakeConn) {
		for a := range c.actions {
			writeMsg(c, "Response: Error", "ActionID: "+a.id, "Message: Permission denied")
		}
	})
	r := run(t, fs.addr(), nil)
	connected(t, r)
	if err := r.src.Dial(t.Context(), "200", "123"); err == nil || err.Error() != "ami: originate: permission denied (the AMI user needs write=originate)" {
		t.Fatalf("Dial = %v", err)
	}
}

func TestDialInput(t *testing.T) {
	src, err := New("", Config{Username: "u", Secret: "s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ext, number string }{
		{"", "123"},
		{"200\r\nAction: Logoff", "123"},
		{"200", "123\r\nAction: Logoff"},
		{"200", "abc"},
		{"200", ""},
		{"200", "+"},
	} {
		if err := src.Dial(t.Context(), tc.ext, tc.number); err == nil || errors.Is(err, ErrNotConnected) {
			t.Errorf("Dial(%q, %q) = %v, want an input error", tc.ext, tc.number, err)
		}
	}
	if err := src.Dial(t.Context(), "200", "123"); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Dial while not connected = %v", err)
	}
}

func TestDialFailureWords(t *testing.T) {
	for _, tc := range []struct {
		reason, status, cause string
		want                  error
	}{
		{"0", "BUSY", "17", ErrBusy},
		{"5", "", "", ErrBusy},
		{"3", "", "", ErrNoAnswer},
		{"0", "NOANSWER", "", ErrNoAnswer},
		{"0", "CHANUNAVAIL", "", ErrOffline},
		{"8", "", "", ErrOffline},
		{"0", "", "", ErrOffline},
	} {
		if got := dialFailure(tc.reason, tc.status, tc.cause); got != tc.want {
			t.Errorf("dialFailure(%q, %q, %q) = %v, want %v", tc.reason, tc.status, tc.cause, got, tc.want)
		}
	}
}
