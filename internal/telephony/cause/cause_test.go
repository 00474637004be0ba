package cause

import (
	"testing"

	"github.com/ringside/ringside/internal/call"
)

// TestRFC3398Pairs: a SIP status and the Q.850 value RFC 3398 translates it to (or
// from) give the same call cause.
func TestRFC3398Pairs(t *testing.T) {
	for _, p := range []struct{ sip, q850 int }{
		{480, 18}, // SIP → ISUP (8.2.6.1)
		{480, 19}, // ISUP → SIP (7.2.4.1)
		{486, 17}, {600, 17},
		{603, 21}, {403, 21},
		{404, 1}, {404, 3}, {484, 28}, {502, 27}, {503, 41}, {503, 34}, {410, 22},
	} {
		if s, q := SIP(p.sip), Q850(p.q850); s != q || s == "" {
			t.Errorf("SIP %d = %q, Q.850 %d = %q: want the same cause", p.sip, s, p.q850, q)
		}
	}
}

func TestTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"SIP 480", SIP(480), call.CauseNoAnswer},
		{"Q.850 18", Q850(18), call.CauseNoAnswer},
		{"NO_USER_RESPONSE", Name("NO_USER_RESPONSE"), call.CauseNoAnswer},
		{"SIP 408", SIP(408), call.CauseNoAnswer},
		{"SIP 487", SIP(487), call.CauseCancelled},
		{"SIP 200", SIP(200), call.CauseNormal},
		{"SIP 302", SIP(302), ""},
		{"SIP 180", SIP(180), ""},
		{"SIP 500", SIP(500), call.CauseFailed},
		{"Q.850 16", Q850(16), call.CauseNormal},
		{"Q.850 26", Q850(26), call.CauseAnsweredElsewhere},
		{"Q.850 20", Q850(20), call.CauseFailed},
		{"Q.850 0", Q850(0), ""},
		{"Q.850 127", Q850(127), ""},
		{"USER_BUSY", Name("USER_BUSY"), call.CauseBusy},
		{"unknown name", Name("ORIGINATOR_CANCEL"), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if c, ok := Q850Name("NO_ANSWER"); !ok || c != 19 {
		t.Errorf("Q850Name(NO_ANSWER) = %d, %v", c, ok)
	}
}
