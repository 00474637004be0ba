//go:build !windows

package cluster

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/activity"
	"github.com/ringside/ringside/internal/cluster/clustertest"
	"github.com/ringside/ringside/internal/crm/dynamics"
	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
	"github.com/ringside/ringside/internal/loadtest"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/testenv"
)

// TestKillLeaseHolder: two nodes share PostgreSQL and NATS. An agent on the node that
// does not hold the AMI connection gets the pops the other node produces. The holder is
// killed with SIGKILL while a call rings and an activity waits in the outbox (the CRM
// is failing); the other node takes the AMI connection over within seconds, the ringing
// call goes on without a second pop, and every activity reaches the CRM exactly once.
func TestKillLeaseHolder(t *testing.T) {
	nats := clustertest.StartNATS(t)
	dsn := clustertest.PostgresDB(t)
	sc, err := loadtest.LoadScenario(testenv.Capture(t, "asterisk-ami"), "inbound_answered")
	if err != nil {
		t.Fatal(err)
	}
	fake, err := loadtest.NewFakeAMI("127.0.0.1:0", "bench")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	dv := dataversetest.New(t, dataversetest.Options{})
	dv.Put("contact", map[string]any{"firstname": "Jane", "lastname": "Doe", "telephone1": "+49 30 9876543"})

	e := &env{t: t, bin: binary(t), dsn: dsn, yaml: fmt.Sprintf(`store: {driver: postgres, dsn_env: RINGSIDE_TEST_NODE_DSN}
cluster: {nats_url: %q, secret_env: RINGSIDE_TEST_CLUSTER_SECRET}
crm: {kind: dynamics, url: %q, authority: %q, tenant_id: tenant, client_id: client, client_secret_env: RINGSIDE_TEST_DYN_SECRET}
telephony:
  - {kind: ami, address: %q, username: bench, secret: bench, auth: plain}
`, nats.URL, dv.URL, dv.URL, fake.Addr())}
	e.provision(map[string]string{"alice": "200", "bob": "201"}, nil)
	a, b := e.start("a"), e.start("b")
	if err := fake.WaitLogin(t.Context()); err != nil {
		t.Fatal(err)
	}
	var holder, other *proc
	eventually(t, 30*time.Second, "a lease holder", func() (bool, error) {
		switch {
		case a.holds() && !b.holds():
			holder, other = a, b
		case b.holds() && !a.holds():
			holder, other = b, a
		}
		return holder != nil, nil
	})
	if fake.Clients() != 1 {
		t.Fatalf("%d nodes connected to the AMI", fake.Clients())
	}
	alice := e.connect(other, "alice") // on the node without the AMI connection

	st, err := store.Open(t.Context(), store.Config{Driver: "postgres", DSN: dsn}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Call 1 is popped across nodes, ends, and its activity is held up by a failing CRM.
	ring1, rest1 := sc.Call(1, "200", "+49309876543", time.Now())
	pbx1 := "2000000001.0" // Asterisk's Linkedid
	fake.Play(ring1)
	got := alice.until(t, 15*time.Second, "pop of call 1 (from the other node)", func(m msg) bool { return m.Type == "call.ringing" && m.Call.PbxID == pbx1 })
	p := got[len(got)-1]
	if len(p.Matches) == 0 || p.Matches[0].Name != "Jane Doe" {
		t.Fatalf("pop: %+v", p)
	}
	id1 := p.Call.ID                                                                                                    // Ringside's id
	dv.Fail(dataversetest.Fault{Status: http.StatusServiceUnavailable, Count: 4, Method: "POST", PathPrefix: "$batch"}) // activity writes are $batch change sets
	fake.Play(rest1)
	got = append(got, alice.until(t, 15*time.Second, "end of call 1", func(m msg) bool { return m.Type == "call.ended" && m.Call.ID == id1 })...)
	eventually(t, 15*time.Second, "call 1's activity in the outbox", func() (bool, error) {
		pending, _, _, err := st.OutboxStats(t.Context())
		return pending > 0, err
	})

	// Call 2 rings when the holder dies.
	ring2, rest2 := sc.Call(2, "200", "+49309876543", time.Now())
	pbx2 := "2000000002.0"
	fake.Play(ring2)
	got = append(got, alice.until(t, 15*time.Second, "pop of call 2", func(m msg) bool { return m.Type == "call.ringing" && m.Call.PbxID == pbx2 })...)
	id2 := got[len(got)-1].Call.ID
	// The holder journals a call shortly after its pop (the writer batches): the kill
	// comes once call 2 is in the journal, where the next holder finds it.
	eventually(t, 10*time.Second, "call 2 journaled", func() (bool, error) {
		_, err := st.GetCall(t.Context(), id2)
		return err == nil, nil
	})

	pending, _, _, err := st.OutboxStats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killing %s with %d outbox items pending", holder.name, pending)
	killed := time.Now()
	holder.kill9()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := fake.WaitLogin(ctx); err != nil {
		t.Fatal("no takeover within 20s")
	}
	takeover := time.Since(killed)
	t.Logf("takeover after %s", takeover)
	eventually(t, 10*time.Second, "the survivor runs the AMI source", func() (bool, error) { return other.holds(), nil })

	fake.Play(rest2)
	// The survivor's resync finds call 2 anew: it must stay the call that already
	// rang (Ringside's id kept), not a second call.
	got = append(got, alice.until(t, 15*time.Second, "end of call 2", func(m msg) bool { return m.Type == "call.ended" && m.Call.PbxID == pbx2 })...)
	for _, pbx := range []string{pbx1, pbx2} {
		if n := pops(t, got, pbx); n != 1 {
			t.Errorf("call %s popped %d times: %+v", pbx, n, got)
		}
	}
	// Both activities reach the CRM once: call 1's retried by whichever outbox worker
	// gets it (after the dead node's claim expires at worst), call 2's from the survivor.
	eventually(t, 90*time.Second, "both activities in the CRM", func() (bool, error) {
		return len(dv.Records("phonecall")) >= 2, nil
	})
	for _, id := range []string{id1, id2} {
		if _, ok := dv.Record("phonecall", dynamics.ActivityID(activity.Key(id))); !ok {
			t.Errorf("no phonecall for call %s", id)
		}
	}
	if n := len(dv.Records("phonecall")); n != 2 {
		t.Errorf("%d phonecalls, want 2", n)
	}
	for _, id := range []string{id1, id2} {
		rec, err := st.GetCall(t.Context(), id)
		if err != nil || rec.Call.State != "ended" {
			t.Errorf("journal of %s: %+v %v", id, rec.Call, err)
		}
	}
}

// TestPostgresRestart: the database restarts under a running node; the node reconnects
// by itself (store, lease, AMI source) and keeps journaling calls.
func TestPostgresRestart(t *testing.T) {
	pg := clustertest.StartPostgres(t)
	sc, err := loadtest.LoadScenario(testenv.Capture(t, "asterisk-ami"), "inbound_answered")
	if err != nil {
		t.Fatal(err)
	}
	fake, err := loadtest.NewFakeAMI("127.0.0.1:0", "bench")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	e := &env{t: t, bin: binary(t), dsn: pg.DSN, yaml: fmt.Sprintf(`store: {driver: postgres, dsn_env: RINGSIDE_TEST_NODE_DSN}
cluster: {lease_ttl: 2s}
telephony:
  - {kind: ami, address: %q, username: bench, secret: bench, auth: plain}
`, fake.Addr())}
	e.provision(map[string]string{"alice": "200"}, jane())
	n := e.start("a")
	if err := fake.WaitLogin(t.Context()); err != nil {
		t.Fatal(err)
	}
	alice := e.connect(n, "alice")

	pg.Stop()
	// Losing the database loses the lease: the source stops (no node could prove it is the
	// only one). It comes back once PostgreSQL does.
	eventually(t, 20*time.Second, "source stopped with the database", func() (bool, error) { return fake.Clients() == 0, nil })
	pg.Start()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := fake.WaitLogin(ctx); err != nil {
		t.Fatal("the node did not take its AMI connection back after the restart")
	}
	eventually(t, 30*time.Second, "ready again", func() (bool, error) {
		resp, err := http.Get(n.url + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == 200, nil
	})

	ring, rest := sc.Call(7, "200", "+49309876543", time.Now())
	pbx := "2000000007.0" // Asterisk's Linkedid
	fake.Play(ring)
	got := alice.until(t, 15*time.Second, "pop after the restart", func(m msg) bool { return m.Type == "call.ringing" && m.Call.PbxID == pbx })
	p := got[len(got)-1]
	if len(p.Matches) == 0 || p.Matches[0].Name != "Jane Doe" {
		t.Fatalf("pop: %+v", p)
	}
	id := p.Call.ID // Ringside's id
	fake.Play(rest)
	alice.until(t, 15*time.Second, "end", func(m msg) bool { return m.Type == "call.ended" && m.Call.ID == id })
	st, err := store.Open(t.Context(), store.Config{Driver: "postgres", DSN: pg.DSN}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eventually(t, 20*time.Second, "the call journaled and logged", func() (bool, error) {
		rec, err := st.GetCall(t.Context(), id)
		if err != nil || rec.Call.State != "ended" {
			return false, err
		}
		acts, err := st.Activities(t.Context(), id, nil)
		return len(acts) == 1, err
	})
}
