package baresip

import (
	"bytes"
	"os"
	"strconv"
	"testing"

	"github.com/ringside/ringside/internal/call"
)

// TestCauseSIP480AndQ850_18: a call that ends with 480 Temporarily Unavailable (RFC
// 3398: Q.850 18) is a call nobody answered, as in every other connector.
func TestCauseSIP480AndQ850_18(t *testing.T) {
	for _, out := range []bool{false, true} {
		if got := Cause("480 Temporarily Unavailable", out, false); got != call.CauseNoAnswer {
			t.Errorf("Cause(480, outgoing=%v) = %q, want %q", out, got, call.CauseNoAnswer)
		}
	}
	// The real capture of an outgoing call to a busy phone (baresip 1.0 and sipp), the
	// phone now answering 480.
	data, err := os.ReadFile("testdata/out_busy/input.ns")
	if err != nil {
		t.Fatal(err)
	}
	data = renetstring(t, data, []byte("486 Busy Here"), []byte("480 Temporarily Unavailable"))
	var ends int
	for _, s := range replay(t, Config{}, data) {
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

// renetstring replaces old by new in every netstring of data.
func renetstring(t *testing.T, data, old, new []byte) []byte {
	t.Helper()
	if !bytes.Contains(data, old) {
		t.Fatalf("capture lacks %q", old)
	}
	var out []byte
	for len(bytes.TrimSpace(data)) > 0 {
		colon := bytes.IndexByte(data, ':')
		n, err := strconv.Atoi(string(bytes.TrimSpace(data[:colon])))
		if err != nil {
			t.Fatalf("netstring length %q", data[:colon])
		}
		s := bytes.ReplaceAll(data[colon+1:colon+1+n], old, new)
		out = append(append(append(strconv.AppendInt(out, int64(len(s)), 10), ':'), s...), ',')
		data = data[colon+1+n+1:]
	}
	return out
}
