package ami

import (
	"bytes"
	"testing"

	"github.com/ringside/ringside/internal/call"
)

// TestCauseSIP480AndQ850_18: hangup cause 18 (no user responding; SIP 480 by RFC 3398)
// is a call nobody answered on every path that maps Asterisk's causes: a phone's leg, an
// outbound call and a whole inbound call. Today the last one falls through to cancelled.
func TestCauseSIP480AndQ850_18(t *testing.T) {
	ringing := func() *leg { return &leg{ringing: true} }
	for _, tc := range []struct {
		name string
		got  string
	}{
		{"leg of a phone", legCause(&callState{dir: call.Inbound}, &channel{kind: kindPhone}, ringing(), 18)},
		{"outbound call", outboundCause("", 18)},
		{"outbound leg", legCause(&callState{dir: call.Outbound}, &channel{kind: kindPhone, originator: true}, ringing(), 18)},
		{"inbound call", callCause(&callState{dir: call.Inbound}, &channel{}, 18)},
		{"internal call", callCause(&callState{dir: call.Internal}, &channel{}, 18)},
	} {
		if tc.got != call.CauseNoAnswer {
			t.Errorf("%s ended with cause 18: %q, want %q", tc.name, tc.got, call.CauseNoAnswer)
		}
	}

	// The real capture of a call nobody answered (Asterisk 22), as a carrier that ends it
	// with 18 and a dialplan that sets no DIALSTATUS would make it.
	data := fixture(t, "inbound_missed_timeout.ami")
	data = bytes.ReplaceAll(data, []byte("DialStatus: NOANSWER"), []byte("DialStatus: "))
	data = bytes.ReplaceAll(data, []byte("Value: NOANSWER"), []byte("Value: "))
	data = bytes.ReplaceAll(data, []byte("Cause: 16\r\nCause-txt: Normal Clearing"), []byte("Cause: 18\r\nCause-txt: No user responding"))
	sigs := replay(t, testSettings(t, nil), data)
	var ends int
	for _, s := range sigs {
		if s.Kind == call.SigEnded {
			ends++
			if s.Cause != call.CauseNoAnswer {
				t.Errorf("end of %s (leg %q): cause %q, want %q", s.CallID, s.Extension, s.Cause, call.CauseNoAnswer)
			}
		}
	}
	if ends == 0 {
		t.Fatal("the replay ended no call")
	}
}
