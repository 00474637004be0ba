//go:build !windows

package fault

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/activity"
	"github.com/ringside/ringside/internal/crm/dynamics"
	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
)

// TestCRMDownOrThrottling: while Dynamics answers 503 or 429, pops still go out (from the
// local phone index), and after it recovers every call's activity is in the CRM exactly
// once.
func TestCRMDownOrThrottling(t *testing.T) {
	tests := []struct {
		name  string
		fault dataversetest.Fault
	}{
		{"down", dataversetest.Fault{Status: http.StatusServiceUnavailable, Count: 40}},
		{"throttling", dataversetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", Count: 40}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := dataversetest.New(t, dataversetest.Options{})
			fake.Put("contact", map[string]any{"firstname": "Jane", "lastname": "Doe", "telephone1": "+49 30 9876543"})
			t.Setenv("RINGSIDE_TEST_DYN_SECRET", "secret")
			n := startNode(t, fmt.Sprintf("crm: {kind: dynamics, url: %q, authority: %q, tenant_id: tenant, client_id: client, client_secret_env: RINGSIDE_TEST_DYN_SECRET}\ntelephony:\n  - {kind: webhook}\n", fake.URL, fake.URL),
				map[string]string{"alice": "200"}, nil)
			a := n.connect(t, "alice", true, 0)
			// The phone index is synced (the adapter reports ready) before the CRM fails.
			eventually(t, 30*time.Second, "the phone index synced", func() (bool, error) {
				r, ok := n.srv.Directory().(interface{ Ready() bool })
				return ok && r.Ready(), nil
			})

			fake.Fail(tc.fault) // from now on the CRM fails every request, for a while
			const calls = 5
			ids := make([]string, calls) // Ringside's ids, from the pops
			for i := range calls {
				pbx := fmt.Sprintf("crm-%s-%d", tc.name, i)
				n.post(t, fmt.Sprintf(`{"event":"ringing","call_id":%q,"from":"+49 30 9876543","extension":"200"}`, pbx))
				got := a.until(t, 10*time.Second, "pop", func(m msg) bool { return m.Type == "call.ringing" && m.Call.PbxID == pbx })
				p := got[len(got)-1]
				ids[i] = p.Call.ID
				// From the local index; a pop without it would say "pending" and follow up.
				if len(p.Matches) == 0 || p.Matches[0].Name != "Jane Doe" || p.Lookup != "done" {
					t.Fatalf("pop without the caller while the CRM is down: %+v", p)
				}
				n.post(t, fmt.Sprintf(`{"event":"answered","call_id":%q,"extension":"200"}`, pbx))
				n.post(t, fmt.Sprintf(`{"event":"ended","call_id":%q}`, pbx))
				a.until(t, 10*time.Second, "end", func(m msg) bool { return m.Type == "call.ended" && m.Call.ID == ids[i] })
			}
			// Every activity arrives once the faults are used up, exactly once.
			eventually(t, 60*time.Second, "all activities in the CRM", func() (bool, error) {
				if len(fake.Records("phonecall")) >= calls {
					return true, nil
				}
				return false, outboxState(t, n, fake)
			})
			for _, id := range ids {
				if _, ok := fake.Record("phonecall", dynamics.ActivityID(activity.Key(id))); !ok {
					t.Errorf("no phonecall for %s", id)
				}
			}
			if got := len(fake.Records("phonecall")); got != calls {
				t.Fatalf("%d phonecalls, want %d", got, calls)
			}
			pending, parked, _, err := n.st.OutboxStats(t.Context())
			if err != nil || parked != 0 {
				t.Fatalf("outbox: pending %d parked %d %v", pending, parked, err)
			}
		})
	}
}

// outboxState says where the outbox and the CRM stand, for a failure message.
func outboxState(t *testing.T, n *node, fake *dataversetest.Server) error {
	items, err := n.st.ListOutbox(t.Context())
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d phonecalls in the CRM; %d CRM requests; outbox:", len(fake.Records("phonecall")), len(fake.Requests()))
	for _, it := range items {
		fmt.Fprintf(&b, "\n  #%d %s %s attempts %d next %s claimed until %s error %q",
			it.ID, it.Group, it.State, it.Attempts, it.NextAt.Format(time.StampMilli), it.ClaimedUntil.Format(time.StampMilli), it.LastError)
	}
	return errors.New(b.String())
}
