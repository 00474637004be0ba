package sipwatch

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/ringside/ringside/internal/call"
)

// TestCauseSIP480AndQ850_18: a dialog that ends rejected with 480 (Temporarily
// Unavailable, RFC 3398: Q.850 18 "no user responding") is a call nobody answered, as in
// every other connector (see internal/telephony/cause). Today sipwatch says rejected.
func TestCauseSIP480AndQ850_18(t *testing.T) {
	for _, tc := range []struct {
		event string
		code  int
		want  string
	}{
		{"rejected", 480, call.CauseNoAnswer},
		{"error", 480, call.CauseNoAnswer},
		{"rejected", 408, call.CauseNoAnswer},
		{"rejected", 486, call.CauseBusy},
		{"rejected", 603, call.CauseRejected},
		{"rejected", 487, call.CauseCancelled},
		{"rejected", 404, call.CauseFailed},
	} {
		if got := mapCause(tc.event, tc.code); got != tc.want {
			t.Errorf("mapCause(%q, %d) = %q, want %q", tc.event, tc.code, got, tc.want)
		}
	}

	// The real capture of a missed call (Kamailio 5.6), its end now carrying a 480.
	data, err := os.ReadFile("testdata/inbound_missed/notify.sip")
	if err != nil {
		t.Fatal(err)
	}
	data = withBody(t, data, []byte("<state>terminated</state>"), []byte(`<state event="rejected" code="480">terminated</state>`))
	var ends int
	for _, s := range replay(t, data, []string{"200", "201"}) {
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

// withBody replaces old by new in a capture of SIP messages and fixes the Content-Length
// of the messages it changed.
func withBody(t *testing.T, data, old, new []byte) []byte {
	t.Helper()
	if !bytes.Contains(data, old) {
		t.Fatalf("capture lacks %q", old)
	}
	var out bytes.Buffer
	cl := regexp.MustCompile(`(?m)^Content-Length: *(\d+)\r$`)
	for len(data) > 0 {
		end := bytes.Index(data, []byte("\r\n\r\n"))
		head := data[:end+4]
		loc := cl.FindSubmatchIndex(head)
		n, _ := strconv.Atoi(string(head[loc[2]:loc[3]]))
		body := bytes.ReplaceAll(data[end+4:end+4+n], old, new)
		head = append(append(append([]byte{}, head[:loc[2]]...), strconv.Itoa(len(body))...), head[loc[3]:]...)
		out.Write(head)
		out.Write(body)
		data = data[end+4+n:]
	}
	return out.Bytes()
}
