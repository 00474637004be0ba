package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
)

// SaveCalls on both backends: a batch larger than one statement's chunk, a call given
// twice (the last wins), legs replaced (a leg's user filled in later leaves no stale
// row: the leg rule of Viewer sees it by name only), and Then writing an annotation and
// an outbox item in the same transaction.
func TestSaveCalls(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
		mk := func(i int, state call.State, legs ...call.Leg) call.Call {
			return call.Call{ID: fmt.Sprintf("sc-%03d", i), PbxID: fmt.Sprint(i), Source: "pbx", Direction: call.Inbound,
				State: state, StartedAt: t0.Add(time.Duration(i) * time.Second), Remote: call.Remote{Raw: "+49 30 1234567", Number: "+49301234567"}, Legs: legs}
		}
		var es []JournalEntry
		for i := range 450 {
			es = append(es, JournalEntry{Call: mk(i, call.Ringing, call.Leg{Extension: "200"})})
		}
		es = append(es, JournalEntry{Call: mk(7, call.Answered, call.Leg{Extension: "200"}, call.Leg{Extension: "201", User: "bob"})})
		if err := st.SaveCalls(ctx, es); err != nil {
			t.Fatal(err)
		}
		recs, err := st.ListCalls(ctx, CallFilter{Limit: 1000})
		if err != nil || len(recs) != 450 {
			t.Fatalf("%d calls journaled, %v; want 450", len(recs), err)
		}
		if r, _ := st.GetCall(ctx, "sc-007"); r.Call.State != call.Answered || len(r.Call.Legs) != 2 {
			t.Errorf("the call given twice: %+v", r.Call)
		}
		// Leg 200 of call 7 becomes alice's: bob's view and alice's follow.
		annotated := false
		err = st.SaveCalls(ctx, []JournalEntry{{
			Call: mk(7, call.Ended, call.Leg{Extension: "200", User: "alice"}, call.Leg{Extension: "201", User: "bob"}),
			Then: func(rec CallRecord) (Annotation, []OutboxItem) {
				annotated = rec.Call.State == call.Ended
				subject := "Call with " + rec.Call.Legs[0].User
				return Annotation{LogSubject: &subject}, []OutboxItem{{Kind: "activity", Key: "call:sc-007", Group: "call:sc-007"}}
			},
		}})
		if err != nil || !annotated {
			t.Fatalf("SaveCalls with Then: %v (Then saw the ended call: %v)", err, annotated)
		}
		carol := Viewer{User: "carol", Extensions: []string{"200"}}
		got, err := st.ListCalls(ctx, CallFilter{Viewer: &carol, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range got {
			if r.Call.ID == "sc-007" {
				t.Errorf("carol (extension 200) sees call 7, whose leg on 200 is alice's")
			}
		}
		if len(got) != 449 {
			t.Errorf("carol sees %d calls, want 449", len(got))
		}
		r, err := st.GetCall(ctx, "sc-007")
		if err != nil || r.LogSubject != "Call with alice" {
			t.Errorf("annotation: %q, %v", r.LogSubject, err)
		}
		items, err := st.ListOutbox(ctx)
		if err != nil || len(items) != 1 || items[0].Key != "call:sc-007" {
			t.Errorf("outbox: %+v, %v", items, err)
		}
		// A Then whose outbox item cannot be written undoes the whole transaction.
		err = st.SaveCalls(ctx, []JournalEntry{{Call: mk(8, call.Ended, call.Leg{Extension: "200"}),
			Then: func(CallRecord) (Annotation, []OutboxItem) { return Annotation{}, []OutboxItem{{}} }}})
		if err == nil {
			t.Fatal("an outbox item without a kind was accepted")
		}
		if r, _ := st.GetCall(ctx, "sc-008"); r.Call.State != call.Ringing {
			t.Errorf("call 8 is %s after a failed transaction, want still ringing", r.Call.State)
		}
	})
}

// What each LegsHeld writes of a call's legs, on both backends (one call at a time, and
// in a batch, which PostgreSQL writes with one statement per kind): LegsNone and
// LegsUnknown leave exactly the call's legs; LegsSame leaves the rows as they were,
// which shows that it writes none.
func TestSaveCallsLegsHeld(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		mk := func(id string, legs ...call.Leg) call.Call {
			return call.Call{ID: id, PbxID: id, Source: "pbx", Direction: call.Inbound, State: call.Ringing,
				StartedAt: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC), Legs: legs}
		}
		sees := func(user, ext, id string) bool {
			t.Helper()
			recs, err := st.ListCalls(ctx, CallFilter{Viewer: &Viewer{User: user, Extensions: []string{ext}}, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if r.Call.ID == id {
					return true
				}
			}
			return false
		}
		for _, batch := range []bool{false, true} {
			id := fmt.Sprintf("legs-%v", batch)
			save := func(e JournalEntry) {
				t.Helper()
				es := []JournalEntry{e}
				if batch {
					es = append(es, JournalEntry{Call: mk(id+"-other", call.Leg{Extension: "300"}), Legs: LegsUnknown})
				}
				if err := st.SaveCalls(ctx, es); err != nil {
					t.Fatal(err)
				}
			}
			save(JournalEntry{Call: mk(id, call.Leg{Extension: "200"}), Legs: LegsNone})
			if !sees("carol", "200", id) {
				t.Fatalf("batch %v: LegsNone did not write the leg on 200", batch)
			}
			// The leg becomes alice's, but the writer says the journal has it as it is:
			// nothing is written, so carol (on 200) still sees the call.
			save(JournalEntry{Call: mk(id, call.Leg{Extension: "200", User: "alice"}), Legs: LegsSame})
			if !sees("carol", "200", id) || sees("alice", "", id) {
				t.Fatalf("batch %v: LegsSame wrote the legs", batch)
			}
			save(JournalEntry{Call: mk(id, call.Leg{Extension: "200", User: "alice"}, call.Leg{Extension: "201"}), Legs: LegsUnknown})
			if sees("carol", "200", id) || !sees("alice", "", id) || !sees("dave", "201", id) {
				t.Fatalf("batch %v: LegsUnknown did not replace the legs", batch)
			}
			if r, err := st.GetCall(ctx, id); err != nil || len(r.Call.Legs) != 2 {
				t.Fatalf("batch %v: %+v, %v", batch, r.Call.Legs, err)
			}
		}
	})
}
