package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
)

// TestStatCallsCalledBack: a missed call counts as called back once a later call with
// the same number was outbound or answered — not an earlier one, not another number.
func TestStatCallsCalledBack(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) *Store) {
		st := open(t)
		t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		mk := func(id, num string, dir call.Direction, at time.Duration, answered, missed bool) JournalEntry {
			c := call.Call{ID: id, Direction: dir, Remote: call.Remote{Raw: num, Number: num}, StartedAt: t0.Add(at), Missed: missed,
				Legs: []call.Leg{{Extension: "200", User: "alice"}}}
			if answered {
				c.AnsweredAt, c.AnsweredBy = c.StartedAt.Add(time.Second), "200"
			}
			return JournalEntry{Call: c}
		}
		err := st.SaveCalls(t.Context(), []JournalEntry{
			mk("early-out", "+49301", call.Outbound, 0, true, false),
			mk("missed-a", "+49301", call.Inbound, time.Minute, false, true), // nothing after: not called back
			mk("missed-b", "+49302", call.Inbound, 2*time.Minute, false, true),
			mk("back-b", "+49302", call.Outbound, 3*time.Minute, false, false), // an attempt counts
			mk("missed-c", "+49303", call.Inbound, 4*time.Minute, false, true),
			mk("missed-c2", "+49303", call.Inbound, 5*time.Minute, false, true), // missed again: not back
			mk("other", "+49304", call.Inbound, 6*time.Minute, true, false),
		})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		if err := st.StatCalls(t.Context(), t0, t0.Add(time.Hour), func(c StatCall) error {
			if c.Missed {
				got[c.ID] = c.CalledBack
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"missed-a": false, "missed-b": true, "missed-c": false, "missed-c2": false}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("called back = %v, want %v", got, want)
		}
		legs := 0
		if err := st.StatCalls(t.Context(), t0.Add(time.Minute), t0.Add(3*time.Minute), func(c StatCall) error {
			legs += len(c.Legs)
			for _, l := range c.Legs {
				if l.User != "alice" || l.Extension != "200" {
					t.Errorf("leg %+v", l)
				}
			}
			return nil
		}); err != nil || legs != 2 {
			t.Errorf("legs in range: %d %v", legs, err)
		}
	})
}

func TestAudit(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) *Store) {
		st := open(t)
		old := time.Now().Add(-100 * 24 * time.Hour)
		for i, e := range []AuditEntry{
			{At: old, Actor: "root", Action: "user.add", Target: "zoe"},
			{Actor: "root", Action: "user.disable", Target: "dave", Remote: "192.0.2.7"},
			{Actor: "ann", Action: "token.revoke", Target: "7", Detail: "laptop"},
		} {
			if err := st.AddAudit(t.Context(), e); err != nil {
				t.Fatal(i, err)
			}
		}
		if err := st.AddAudit(t.Context(), AuditEntry{Action: "x"}); err == nil {
			t.Error("entry without actor accepted")
		}
		list, err := st.ListAudit(t.Context(), 2, 0)
		if err != nil || len(list) != 2 || list[0].Action != "token.revoke" || list[1].Remote != "192.0.2.7" {
			t.Fatalf("list: %+v %v", list, err)
		}
		rest, err := st.ListAudit(t.Context(), 10, list[1].ID)
		if err != nil || len(rest) != 1 || rest[0].Target != "zoe" || !rest[0].At.Before(time.Now().Add(-99*24*time.Hour)) {
			t.Fatalf("next page: %+v %v", rest, err)
		}
		n, err := st.PurgeAudit(t.Context(), time.Now().Add(-90*24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("purge: %d %v", n, err)
		}
		if all, _ := st.ListAudit(t.Context(), 0, 0); len(all) != 2 {
			t.Fatalf("after purge: %+v", all)
		}
	})
}
