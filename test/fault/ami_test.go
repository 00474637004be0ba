//go:build !windows

package fault

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/loadtest"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/testenv"
)

func seedCaller(st *store.Store) {
	_, _ = st.PutRecords(context.Background(), []crm.Record{{Ref: crm.Ref{Entity: crm.Contact, ID: "jane"}, FirstName: "Jane", LastName: "Doe",
		Name: "Jane Doe", Company: "ACME", Country: "DE", Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "+49 30 9876543"}}}})
}

// TestAMIDropMidCall: the connection to Asterisk breaks while a call is in progress and
// comes back. The call is still tracked, popped once, and logged once.
func TestAMIDropMidCall(t *testing.T) {
	dir := testenv.Capture(t, "asterisk-ami")
	sc, err := loadtest.LoadScenario(dir, "inbound_answered")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// endWhileDown: the call ends while the connection is down (the resync closes it);
		// otherwise it ends after the reconnect.
		endWhileDown bool
	}{
		{"call goes on after the reconnect", false},
		{"call ends while the connection is down", true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake, err := loadtest.NewFakeAMI("127.0.0.1:0", "bench")
			if err != nil {
				t.Fatal(err)
			}
			defer fake.Close()
			n := startNode(t, fmt.Sprintf("telephony:\n  - {kind: ami, address: %q, username: bench, secret: bench, auth: plain}\n", fake.Addr()),
				map[string]string{"alice": "200"}, seedCaller)
			if err := fake.WaitLogin(t.Context()); err != nil {
				t.Fatal(err)
			}
			a := n.connect(t, "alice", true, 0)
			ring, rest := sc.Call(i, "200", "+49309876543", time.Now())
			pbx := fmt.Sprintf("%d.0", 2000000000+i) // Asterisk's Linkedid
			fake.Play(ring)
			got := a.until(t, 10*time.Second, "pop", func(m msg) bool { return m.Type == "call.ringing" })
			p := got[len(got)-1]
			if p.Call.PbxID != pbx || p.Call.ID == "" || p.Call.ID == pbx || len(p.Matches) == 0 || p.Matches[0].Name != "Jane Doe" {
				t.Fatalf("pop %+v", p)
			}
			id := p.Call.ID // Ringside's id: the journal's and the activity's key

			fake.Drop()
			if tc.endWhileDown {
				// Asterisk goes on without us: the call is answered and hung up.
				fake.Play(rest)
			}
			if err := fake.WaitLogin(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !tc.endWhileDown {
				fake.Play(rest)
			}
			more := a.until(t, 15*time.Second, "end of the call", func(m msg) bool {
				return m.Call.PbxID == pbx && (m.Type == "call.ended" || m.Type == "call.missed")
			})
			got = append(got, more...)
			if p := pops(t, got, pbx); p != 1 {
				t.Fatalf("popped %d times: %+v", p, got)
			}
			if tc.endWhileDown && fake.Channels() != 0 {
				t.Fatalf("%d channels left in the fake", fake.Channels())
			}
			eventually(t, 15*time.Second, "the activity logged", func() (bool, error) {
				acts, err := n.st.Activities(t.Context(), id, nil)
				return len(acts) == 1, err
			})
			rec, err := n.st.GetCall(t.Context(), id)
			if err != nil || rec.Call.State != "ended" {
				t.Fatalf("journal: %+v %v", rec.Call, err)
			}
			// Once more after the outbox has had time for a second delivery: still one.
			n.srv.Hub() // keep the server referenced until here
			acts, _ := n.st.Activities(t.Context(), id, nil)
			if len(acts) != 1 {
				t.Fatalf("%d activities", len(acts))
			}
		})
	}
}
