package activity

import (
	"slices"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/store"
)

func TestBuildAgents(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	users := map[string]string{"200": "alice", "201": "bob", "202": "carol"}
	agentOf := func(ext string) (string, string) { return users[ext], users[ext] + "@example.com" }
	cases := []struct {
		name       string
		c          call.Call
		agent      string
		agents     []string
		missed     bool
		subjectHas string
	}{
		{"ring group", call.Call{ID: "g", Direction: call.Inbound, AnsweredAt: at(5), AnsweredBy: "201", EndedAt: at(65), Legs: []call.Leg{
			{Extension: "200", State: call.Ended, Cause: call.CauseAnsweredElsewhere},
			{Extension: "201", State: call.Ended, AnsweredAt: at(5)},
			{Extension: "202", State: call.Ended, Cause: call.CauseAnsweredElsewhere},
		}}, "bob", []string{"bob"}, false, "Incoming call from"},
		{"transfer chain", call.Call{ID: "t", Direction: call.Inbound, AnsweredAt: at(2), AnsweredBy: "200", EndedAt: at(90), Legs: []call.Leg{
			{Extension: "202", State: call.Ended, AnsweredAt: at(40)},
			{Extension: "200", State: call.Ended, AnsweredAt: at(70), User: "alice"},
			{Extension: "201", State: call.Ended, AnsweredAt: at(2)},
		}}, "alice", []string{"bob", "carol", "alice"}, false, "Incoming call from"},
		{"missed", call.Call{ID: "m", Direction: call.Inbound, Missed: true, EndedAt: at(20), Legs: []call.Leg{
			{Extension: "200", State: call.Ended, Cause: call.CauseCancelled},
		}}, "alice", nil, true, "Missed call from"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.c.StartedAt = t0
			c.c.Remote = call.Remote{Raw: "+49 30 9876543", Number: "+49309876543"}
			rec := store.CallRecord{Call: c.c, Matches: []crm.Match{{Record: crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: "1"}, Name: "Jane Doe"}}}}
			a := Build(rec, agentOf, at(100))
			if a.Key != "call:"+c.c.ID || a.Agent != c.agent || !slices.Equal(a.Agents, c.agents) || a.Missed != c.missed || a.Open != c.missed ||
				a.Regarding == nil || a.Regarding.ID != "1" || a.Subject != c.subjectHas+" Jane Doe" {
				t.Errorf("%+v", a)
			}
		})
	}
}
