package esl

import (
	"testing"

	"github.com/ringside/ringside/internal/call"
)

// TestCauseSIP480AndQ850_18: FreeSWITCH turns a SIP 480 into NO_USER_RESPONSE (Q.850
// 18); on a leg, as the A leg's cause and as an originate disposition it is a call nobody
// answered, as in every other connector.
func TestCauseSIP480AndQ850_18(t *testing.T) {
	co := &correlator{}
	for _, tc := range []struct {
		name string
		got  string
	}{
		{"leg", mapCause("NO_USER_RESPONSE")},
		{"A leg's cause", co.callCause(&callState{aCause: "NO_USER_RESPONSE"})},
		{"originate disposition", co.callCause(&callState{aDisp: "NO_USER_RESPONSE"})},
		{"last cause", co.callCause(&callState{lastCause: "NO_USER_RESPONSE"})},
	} {
		if tc.got != call.CauseNoAnswer {
			t.Errorf("%s NO_USER_RESPONSE: %q, want %q", tc.name, tc.got, call.CauseNoAnswer)
		}
	}
}
