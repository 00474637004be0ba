package sipwatch

import (
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
)

func doc(version uint64, full bool, ds ...dialog) *dialogInfo {
	return &dialogInfo{Version: version, Full: full, Dialogs: ds}
}

func dlg(id, callID, dir, state string) dialog {
	return dialog{ID: id, CallID: callID, Direction: dir, State: state,
		Remote: participant{Identity: "sip:+4930123@pbx", IdentityDisplay: "Jane"}}
}

type brief struct {
	Kind   call.SignalKind
	CallID string
	Ext    string
	Cause  string
	Resync bool
}

func briefs(sigs []call.Signal) []brief {
	var out []brief
	for _, s := range sigs {
		out = append(out, brief{s.Kind, s.CallID, s.Extension, s.Cause, s.Resync})
	}
	return out
}

func sameBriefs(t *testing.T, got []call.Signal, want ...brief) {
	t.Helper()
	g := briefs(got)
	if len(g) != len(want) {
		t.Fatalf("got %+v\nwant %+v", g, want)
	}
	for i := range want {
		if g[i] != want[i] {
			t.Fatalf("signal %d: got %+v\nwant %+v\n(all %+v)", i, g[i], want[i], g)
		}
	}
}

// A (re)subscription that finds a call in progress replays it as Resync; a later full
// state without it ends it, also as Resync (the end was not seen live).
func TestLegBookResync(t *testing.T) {
	b := newLegBook("s", []string{"200"}, time.Second)
	t0 := replayBase
	sigs, gap := b.apply("200", doc(5, true, dlg("a", "c1", "recipient", "confirmed")), t0)
	if gap {
		t.Error("gap on a full state")
	}
	sameBriefs(t, sigs, brief{call.SigAnswered, "c1", "200", "", true})
	if s := sigs[0]; s.Remote.Number != "+4930123" || s.Remote.Name != "Jane" || s.Direction != call.Inbound || !s.Time.Equal(t0) {
		t.Errorf("signal %+v", s)
	}
	// Live: nothing new.
	sigs, _ = b.apply("200", doc(6, true, dlg("a", "c1", "recipient", "confirmed")), t0)
	sameBriefs(t, sigs)
	// The server restarts: a new subscription, an empty first NOTIFY.
	b.subscribed("200")
	sigs, _ = b.apply("200", nil, t0.Add(time.Second))
	sameBriefs(t, sigs, brief{call.SigEnded, "c1", "200", call.CauseNormal, true})
	if got := b.due(t0.Add(1500 * time.Millisecond)); len(got) != 0 {
		t.Errorf("call ended before the grace: %+v", got)
	}
	sameBriefs(t, b.due(t0.Add(2*time.Second)), brief{call.SigEnded, "c1", "", call.CauseNormal, true})
	if !b.next().IsZero() || len(b.calls) != 0 {
		t.Errorf("book not empty: %+v", b.calls)
	}
	// A new subscription's first document may restart the versions.
	b.subscribed("200")
	sigs, _ = b.apply("200", doc(1, true, dlg("b", "c2", "recipient", "early")), t0)
	sameBriefs(t, sigs, brief{call.SigRinging, "c2", "200", "", true})
	sigs, _ = b.apply("200", doc(2, true, dlg("b", "c2", "recipient", "terminated")), t0)
	sameBriefs(t, sigs, brief{call.SigEnded, "c2", "200", call.CauseNoAnswer, false})
}

func TestLegBookVersions(t *testing.T) {
	b := newLegBook("s", []string{"200"}, time.Second)
	b.apply("200", nil, replayBase)                                 // empty first NOTIFY
	if sigs, _ := b.apply("200", nil, replayBase); len(sigs) != 0 { // a later empty one says nothing
		t.Errorf("empty NOTIFY: %+v", sigs)
	}
	sigs, gap := b.apply("200", doc(3, false, dlg("a", "c1", "recipient", "early")), replayBase)
	if len(sigs) != 1 || gap {
		t.Errorf("first partial after an empty full state: %+v gap %v", sigs, gap)
	}
	if _, gap = b.apply("200", doc(5, false, dlg("a", "c1", "recipient", "confirmed")), replayBase); !gap {
		t.Error("version 4 missing, no gap reported")
	}
	if sigs, _ := b.apply("200", doc(4, false, dlg("a", "c1", "recipient", "terminated")), replayBase); len(sigs) != 0 {
		t.Errorf("older document applied: %+v", sigs)
	}
	if sigs, _ := b.apply("200", doc(5, false, dlg("a", "c1", "recipient", "terminated")), replayBase); len(sigs) != 0 {
		t.Errorf("repeated version applied: %+v", sigs)
	}
	b.subscribed("200")
	if _, gap := b.apply("200", doc(1, false), replayBase); !gap {
		t.Error("partial state as the first document of a subscription: no refresh asked")
	}
	if sigs, _ := b.apply("999", doc(1, true, dlg("a", "c", "", "early")), replayBase); sigs != nil {
		t.Errorf("unwatched extension: %+v", sigs)
	}
}

func TestLegBookCorrelation(t *testing.T) {
	b := newLegBook("s", []string{"200", "201"}, time.Second)
	b.apply("200", nil, replayBase)
	b.apply("201", nil, replayBase)
	var all []call.Signal
	step := func(ext string, d *dialogInfo) {
		s, _ := b.apply(ext, d, replayBase)
		all = append(all, s...)
	}
	// Internal call 200 → 201 (the caller's dialog is silent), and, on 200, a second
	// dialog without call-id (its own call).
	caller := func(state string) dialog {
		return dialog{ID: "x", CallID: "c1", Direction: "initiator", State: state, Remote: participant{Identity: "sip:201@pbx"}}
	}
	step("200", doc(1, true, caller("trying")))
	step("201", doc(1, true, dialog{ID: "y", CallID: "c1", Direction: "recipient", State: "early", Remote: participant{Identity: "sip:200@pbx"}}))
	step("200", doc(2, true, caller("early"), dlg("z", "", "recipient", "early")))
	step("201", doc(2, false, dialog{ID: "y", CallID: "c1", Direction: "recipient", State: "confirmed", Remote: participant{Identity: "sip:200@pbx"}}))
	step("200", doc(3, false, caller("terminated")))
	step("201", doc(3, false, dialog{ID: "y", CallID: "c1", State: "terminated", Remote: participant{Identity: "sip:200@pbx"}}))
	step("200", doc(4, true)) // z is gone from the full state
	sameBriefs(t, all,
		brief{call.SigRinging, "c1", "201", "", false},
		brief{call.SigRinging, "200:z", "200", "", false},
		brief{call.SigAnswered, "c1", "201", "", false},
		brief{call.SigEnded, "c1", "201", call.CauseNormal, false},
		brief{call.SigEnded, "200:z", "200", call.CauseNoAnswer, true},
	)
	if all[0].Direction != call.Internal || all[0].Remote.Number != "200" {
		t.Errorf("internal call: %+v", all[0])
	}
	sameBriefs(t, b.due(replayBase.Add(time.Hour)),
		brief{call.SigEnded, "200:z", "", call.CauseNoAnswer, true},
		brief{call.SigEnded, "c1", "", call.CauseNormal, false})
}

func TestMapCause(t *testing.T) {
	for _, tc := range []struct {
		event string
		code  int
		want  string
	}{
		{"cancelled", 0, call.CauseCancelled},
		{"rejected", 486, call.CauseBusy},
		{"rejected", 603, call.CauseRejected},
		{"timeout", 0, call.CauseNoAnswer},
		{"error", 503, call.CauseFailed},
		{"remote-bye", 0, call.CauseNormal},
		{"local-bye", 0, call.CauseNormal},
		{"replaced", 0, call.CauseNormal},
		{"", 0, ""},
		{"weird", 0, ""},
	} {
		if got := mapCause(tc.event, tc.code); got != tc.want {
			t.Errorf("mapCause(%q, %d) = %q, want %q", tc.event, tc.code, got, tc.want)
		}
	}
}

// TestPacer: however many subscriptions start at once, they go out one gap apart.
func TestPacer(t *testing.T) {
	p := newPacer(20)
	now := replayBase
	var last time.Time
	for i := range 300 {
		at := p.reserve(now)
		if want := now.Add(time.Duration(i) * 50 * time.Millisecond); !at.Equal(want) {
			t.Fatalf("reservation %d at %v, want %v", i, at.Sub(now), want.Sub(now))
		}
		last = at
	}
	// After a quiet spell there is no saved-up burst either.
	later := last.Add(time.Minute)
	if a, b := p.reserve(later), p.reserve(later); !a.Equal(later) || b.Sub(a) != 50*time.Millisecond {
		t.Errorf("after a pause: %v then %v", a.Sub(later), b.Sub(later))
	}
}
