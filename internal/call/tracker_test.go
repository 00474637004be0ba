package call

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// brief renders an event as "type ext state cause" for compact expectations.
func brief(e Event) string {
	s := string(e.Type)
	if e.Leg != nil {
		s += " " + e.Leg.Extension + " " + string(e.Leg.State)
		if e.Leg.Cause != "" {
			s += " " + e.Leg.Cause
		}
	} else {
		s += " " + string(e.Call.State)
		if e.Call.Missed {
			s += " missed"
		}
	}
	if e.From != "" {
		s += " from " + e.From
	}
	return s
}

func sig(kind SignalKind, ext string) Signal {
	return Signal{Source: "t", CallID: "c1", Kind: kind, Extension: ext, Remote: Party{Number: "+49301234567", Name: "ACME"}}
}

func TestTrackerSequences(t *testing.T) {
	out := func(s Signal) Signal { s.Direction = Outbound; return s }
	ended := func(ext, cause string) Signal { s := sig(SigEnded, ext); s.Cause = cause; return s }
	xfer := func(from, to string) Signal { s := sig(SigTransferred, from); s.TransferTo = to; return s }
	tests := []struct {
		name string
		in   []Signal
		want []string
	}{
		{"ring group answered by 201", []Signal{sig(SigRinging, "200"), sig(SigRinging, "201"), sig(SigRinging, "202"), sig(SigAnswered, "201"), sig(SigEnded, "")},
			[]string{"call.ringing 200 ringing", "call.ringing 201 ringing", "call.ringing 202 ringing", "call.answered 201 answered",
				"call.withdrawn 200 ended answered_elsewhere", "call.withdrawn 202 ended answered_elsewhere", "call.ended ended"}},
		{"missed: caller gives up", []Signal{sig(SigRinging, "200"), sig(SigRinging, "201"), ended("", CauseCancelled)},
			[]string{"call.ringing 200 ringing", "call.ringing 201 ringing", "call.withdrawn 200 ended cancelled", "call.withdrawn 201 ended cancelled", "call.ended ended missed", "call.missed ended missed"}},
		{"duplicates and a second ended", []Signal{sig(SigRinging, "200"), sig(SigRinging, "200"), sig(SigAnswered, "200"), sig(SigAnswered, "200"), sig(SigEnded, ""), sig(SigEnded, ""), sig(SigRinging, "200")},
			[]string{"call.ringing 200 ringing", "call.answered 200 answered", "call.ended ended"}},
		{"answered before ringing", []Signal{sig(SigAnswered, "200"), sig(SigRinging, "200"), sig(SigEnded, "200")},
			[]string{"call.answered 200 answered", "call.ended ended"}},
		{"end of an unknown call", []Signal{sig(SigEnded, "")}, nil},
		{"outbound not answered", []Signal{out(sig(SigDialing, "200")), out(ended("", CauseBusy))},
			[]string{"call.dialing 200 dialing", "call.withdrawn 200 ended busy", "call.ended ended", "call.not_answered ended"}},
		{"outbound answered by remote", []Signal{out(sig(SigDialing, "200")), out(sig(SigAnswered, "")), out(sig(SigEnded, "200"))},
			[]string{"call.dialing 200 dialing", "call.answered 200 answered", "call.ended ended"}},
		{"blind transfer", []Signal{sig(SigRinging, "200"), sig(SigAnswered, "200"), xfer("200", "201"), sig(SigEnded, "200"), sig(SigRinging, "201"), sig(SigAnswered, "201"), sig(SigEnded, "201")},
			[]string{"call.ringing 200 ringing", "call.answered 200 answered", "call.transferred 201 ringing from 200", "call.ringing 201 ringing", "call.answered 201 answered", "call.ended ended"}},
		{"legs end one by one with no cause", []Signal{sig(SigRinging, "200"), sig(SigRinging, "201"), sig(SigEnded, "200"), sig(SigEnded, "201")},
			[]string{"call.ringing 200 ringing", "call.ringing 201 ringing", "call.withdrawn 200 ended no_answer", "call.withdrawn 201 ended no_answer", "call.ended ended missed", "call.missed ended missed"}},
		{"busy leg waits for the queue", []Signal{sig(SigRinging, "200"), ended("200", CauseBusy), sig(SigRinging, "201"), sig(SigAnswered, "201"), sig(SigEnded, "")},
			[]string{"call.ringing 200 ringing", "call.withdrawn 200 ended busy", "call.ringing 201 ringing", "call.answered 201 answered", "call.ended ended"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(TrackerConfig{})
			var got []string
			for _, s := range tc.in {
				for _, e := range tr.Handle(s) {
					got = append(got, brief(e))
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

func TestTrackerExpiry(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tr := NewTracker(TrackerConfig{Now: func() time.Time { return now }, MaxAge: time.Hour, Linger: time.Minute, LegGrace: 3 * time.Second})
	tr.Handle(sig(SigRinging, "200"))
	s := sig(SigEnded, "200")
	s.Cause = CauseBusy
	tr.Handle(s)
	if evs := tr.Expire(); len(evs) != 0 {
		t.Fatalf("ended before the grace: %v", evs)
	}
	now = now.Add(3 * time.Second)
	evs := tr.Expire()
	if len(evs) != 2 || evs[0].Type != EvEnded || evs[1].Type != EvMissed || evs[0].Call.Cause != CauseBusy {
		t.Fatalf("after grace: %+v", evs)
	}
	// A call that never ends is ended after MaxAge, then forgotten after Linger.
	s2 := sig(SigRinging, "201")
	s2.CallID = "c2"
	tr.Handle(s2)
	now = now.Add(time.Hour)
	evs = tr.Expire()
	if len(evs) != 3 || evs[1].Type != EvEnded || evs[1].Call.Cause != CauseEndNotSeen {
		t.Fatalf("expired: %+v", evs)
	}
	now = now.Add(time.Minute)
	tr.Expire()
	if n := tr.Len(); n != 0 {
		t.Fatalf("%d calls still held", n)
	}
}

func TestTrackerRemoteIsSanitised(t *testing.T) {
	tr := NewTracker(TrackerConfig{MaxNameBytes: 100})
	s := sig(SigRinging, "200")
	s.Remote.Name = "<img src=x onerror=alert(1)>\x00\x1b[31m\xff\xfe" + strings.Repeat("é", 200)
	evs := tr.Handle(s)
	name := evs[0].Call.Remote.Name
	if len(name) > 100 || strings.ContainsAny(name, "\x00\x1b") || !strings.HasPrefix(name, "<img src=x onerror=alert(1)>") || strings.ContainsRune(name, 0xff) {
		t.Fatalf("name %q", name)
	}
	if !strings.Contains(name, "\uFFFD") {
		t.Fatalf("invalid UTF-8 not replaced: %q", name)
	}
}

func TestTrackerConcurrentCalls(t *testing.T) {
	tr := NewTracker(TrackerConfig{})
	done := make(chan int)
	for g := 0; g < 8; g++ {
		go func() {
			n := 0
			for i := 0; i < 200; i++ {
				id := string(rune('a'+g)) + "-" + strings.Repeat("x", i%5) + string(rune('0'+i%10)) + string(rune('A'+i/10))
				for _, k := range []SignalKind{SigRinging, SigAnswered, SigEnded} {
					s := sig(k, "200")
					s.CallID = id
					n += len(tr.Handle(s))
				}
			}
			done <- n
		}()
	}
	total := 0
	for g := 0; g < 8; g++ {
		total += <-done
	}
	if total != 8*200*3 {
		t.Fatalf("got %d events, want %d", total, 8*200*3)
	}
}

func TestResyncEventsAreMarked(t *testing.T) {
	tr := NewTracker(TrackerConfig{})
	s := sig(SigAnswered, "200")
	s.Resync = true
	evs := tr.Handle(s)
	if len(evs) != 1 || evs[0].Type != EvAnswered || !evs[0].Resync {
		t.Fatalf("resync of an unknown call in progress: %+v", evs)
	}
	// The same state again (another reconnect) says nothing new.
	if evs := tr.Handle(s); len(evs) != 0 {
		t.Fatalf("second resync: %+v", evs)
	}
	if evs := tr.Handle(sig(SigEnded, "")); len(evs) != 1 || evs[0].Resync {
		t.Fatalf("live end after resync: %+v", evs)
	}
}

// TestTrackerForget: a source given up (another node runs it now) takes its calls in
// progress with it, unended; other sources' calls and ended calls stay; a restored call
// is held once.
func TestTrackerForget(t *testing.T) {
	tr := NewTracker(TrackerConfig{})
	a := sig(SigRinging, "200")
	a.Source, a.CallID = "ami", "a1"
	b := a
	b.Source = "esl"
	done := a
	done.CallID = "a2"
	tr.Handle(a)
	tr.Handle(b)
	tr.Handle(done)
	done.Kind = SigEnded
	tr.Handle(done)
	got := tr.Forget("ami")
	if len(got) != 1 || got[0].PbxID != "a1" || got[0].State != Ringing {
		t.Fatalf("forgot %+v, want a1 ringing", got)
	}
	if _, ok := tr.Current("ami", "a1"); ok {
		t.Error("a1 still held")
	}
	if _, ok := tr.Current("esl", "a1"); !ok {
		t.Error("the other source's call was forgotten")
	}
	if _, ok := tr.Current("ami", "a2"); !ok {
		t.Error("the ended call was forgotten before its linger")
	}
	if !tr.Restore(got[0]) || tr.Restore(got[0]) {
		t.Error("Restore: want true once, then false")
	}
}

// TestTrackerReconcile: a source's resync lists the calls the phone system has; the
// source's other calls in progress end, end not seen; other sources' calls stay.
func TestTrackerReconcile(t *testing.T) {
	tr := NewTracker(TrackerConfig{})
	for _, k := range []struct{ src, id string }{{"ami", "a"}, {"ami", "b"}, {"esl", "a"}} {
		s := sig(SigRinging, "200")
		s.Source, s.CallID = k.src, k.id
		tr.Handle(s)
	}
	evs := tr.Handle(Signal{Source: "ami", Kind: SigResynced, Live: []string{"b"}})
	var got []string
	for _, e := range evs {
		got = append(got, e.Call.PbxID+" "+brief(e))
		if !e.Resync {
			t.Errorf("event %s not marked resync", brief(e))
		}
	}
	want := []string{"a call.withdrawn 200 ended end_not_seen", "a call.ended ended missed", "a call.missed ended missed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, k := range []struct{ src, id string }{{"ami", "b"}, {"esl", "a"}} {
		if c, _ := tr.Current(k.src, k.id); c.State != Ringing {
			t.Errorf("%s/%s: %s, want ringing", k.src, k.id, c.State)
		}
	}
}
