//go:build !windows

package restart

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/activity"
	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm/dynamics"
	"github.com/ringside/ringside/internal/loadtest"
	"github.com/ringside/ringside/internal/store"
	"github.com/ringside/ringside/internal/testenv"
)

// TestKill9MidCall (issue 13, "calls survive a restart"): a call is answered, serve is
// killed with SIGKILL and started again, the agent's page reconnects, and then the call
// ends. The call keeps its Ringside id (the page's card, the journal, the activity); the
// journal has one entry, ended, with the right duration; the CRM gets one phone call with
// that duration and no more writes than a call that never saw a restart; the webhook
// receiver gets the end once.
func TestKill9MidCall(t *testing.T) {
	s := newSite(t, "", "")
	var w writes
	s.crm.OnWrite(w.add)
	p := s.start()
	alice := s.connect("alice")

	end := time.Now().UTC().Truncate(time.Second)
	ringAt, answerAt := end.Add(-4*time.Minute), end.Add(-3*time.Minute)
	at := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	s.mustPost(fmt.Sprintf(`{"event":"ringing","call_id":"k1","direction":"inbound","from":"+49 30 9876543","extension":"200","time":%q}`, at(ringAt)))
	got := alice.Until(t, 20*time.Second, "the pop", func(m testenv.Msg) bool { return m.Type == "call.ringing" && m.Call.PbxID == "k1" })
	id := got[len(got)-1].Call.ID
	if id == "" || id == "k1" || len(got[len(got)-1].Matches) == 0 {
		t.Fatalf("pop: %+v", got[len(got)-1])
	}
	s.mustPost(fmt.Sprintf(`{"event":"answered","call_id":"k1","extension":"200","time":%q}`, at(answerAt)))
	// The journal holds the answer before the kill (its writer batches: what it had not
	// written when killed would be lost, as the pipeline's doc says).
	testenv.Eventually(t, 20*time.Second, "the answer journaled", func() (bool, error) {
		recs, err := s.calls("k1")
		return len(recs) == 1 && recs[0].Call.State == call.Answered, err
	})

	if code := p.stop(t, syscall.SIGKILL); code == 0 {
		t.Fatalf("serve exited 0 on SIGKILL")
	}
	p = s.start()
	// The page reconnects and shows the call in progress, under the same id.
	alice = s.connect("alice")
	greet := alice.Until(t, 20*time.Second, "the restored call in the greeting", func(m testenv.Msg) bool { return m.Call.PbxID == "k1" })
	if g := greet[len(greet)-1]; g.Call.ID != id || g.Type != "call.answered" || g.Call.State != "answered" {
		t.Fatalf("after the restart the page shows %+v; want call %s answered", g, id)
	}

	s.mustPost(fmt.Sprintf(`{"event":"ended","call_id":"k1","cause":"normal","time":%q}`, at(end)))
	ms := alice.Until(t, 20*time.Second, "the end", func(m testenv.Msg) bool { return m.Type == "call.ended" && m.Call.PbxID == "k1" })
	if e := ms[len(ms)-1]; e.Call.ID != id {
		t.Fatalf("the end came for call %s, want %s", e.Call.ID, id)
	}
	if n, ids := testenv.PbxPops(append(greet, ms...), "k1"); n != 0 || len(ids) != 1 {
		t.Fatalf("after the restart: %d pops, ids %v; want no pop, one id", n, ids)
	}

	// A call with no restart, the same times, for comparison: the CRM writes per call.
	s.mustPost(fmt.Sprintf(`{"event":"ringing","call_id":"k2","direction":"inbound","from":"+49 30 9876543","extension":"200","time":%q}`, at(ringAt)))
	s.mustPost(fmt.Sprintf(`{"event":"answered","call_id":"k2","extension":"200","time":%q}`, at(answerAt)))
	s.mustPost(fmt.Sprintf(`{"event":"ended","call_id":"k2","cause":"normal","time":%q}`, at(end)))
	ms = alice.Until(t, 20*time.Second, "the end of k2", func(m testenv.Msg) bool { return m.Type == "call.ended" && m.Call.PbxID == "k2" })
	ref := ms[len(ms)-1].Call.ID

	for _, c := range []string{id, ref} {
		testenv.Eventually(t, 60*time.Second, "the phone call and the webhook of "+c, func() (bool, error) {
			_, ok := s.crm.Record("phonecall", dynamics.ActivityID(activity.Key(c)))
			return ok && len(s.hooks.events(c)) > 0, nil
		})
	}
	// Nothing is written after the stop: what the peers hold now is final.
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("serve exited %d on SIGTERM", code)
	}

	st := s.store()
	defer st.Close()
	recs, err := st.ListCalls(t.Context(), store.CallFilter{PbxID: "k1", Limit: 10})
	if err != nil || len(recs) != 1 {
		t.Fatalf("journal entries of k1: %d %v; want 1", len(recs), err)
	}
	if c := recs[0].Call; c.ID != id || c.State != call.Ended || c.Duration(time.Time{}) != 3*time.Minute {
		t.Errorf("journal of k1: id %s state %s duration %v; want %s ended 3m0s", c.ID, c.State, c.Duration(time.Time{}), id)
	}
	pc, _ := s.crm.Record("phonecall", dynamics.ActivityID(activity.Key(id)))
	if d := fmt.Sprint(pc["actualdurationminutes"]); d != "3" {
		t.Errorf("the CRM's phone call of k1 lasted %s minutes, want 3", d)
	}
	if n := len(s.crm.Records("phonecall")); n != 2 {
		t.Errorf("%d phone calls in the CRM, want 2 (k1 and k2)", n)
	}
	if a, b := w.of(dynamics.ActivityID(activity.Key(id))), w.of(dynamics.ActivityID(activity.Key(ref))); a != b || a == 0 {
		t.Errorf("CRM writes: %d for the restarted call, %d for the other; want the same (no double log)", a, b)
	}
	for _, c := range []string{id, ref} {
		if evs := s.hooks.events(c); !slices.Equal(evs, []string{"inbound.ended"}) {
			t.Errorf("webhooks of %s: %v; want the end once", c, evs)
		}
	}
	if r := s.hooks.repeated(); len(r) > 0 {
		t.Errorf("deliveries accepted more than once: %v", r)
	}
}

// TestShutdownAnswers503 (issue 13, "graceful shutdown"): on SIGTERM, an event that
// arrives while the server stops is answered 503 with Retry-After (the phone system
// sends it again), and every event answered 202 before is journaled.
func TestShutdownAnswers503(t *testing.T) {
	s := newSite(t, "", "web: {stop_grace: 5s}\n")
	p := s.start()
	const acked = 50
	for i := range acked {
		s.mustPost(fmt.Sprintf(`{"event":"ringing","call_id":"d%d","from":"+49 30 %07d","extension":"200"}`, i, i))
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	// For web.stop_grace (5 s here) the server answers on: /readyz says not ready, and an
	// event gets 503 with Retry-After (the phone system sends it again), not a cut
	// connection.
	testenv.Eventually(t, 4*time.Second, "/readyz to say not ready", func() (bool, error) {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable, nil
	})
	req, _ := http.NewRequestWithContext(t.Context(), "POST", s.url+"/api/v1/events",
		strings.NewReader(`{"event":"ringing","call_id":"late","from":"+49 30 1111111","extension":"200"}`))
	req.Header.Set("Authorization", "Bearer "+s.tokens[""])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("no answer to the event sent during the shutdown: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("event during the shutdown: %s, Retry-After %q; want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve still running 30 s after SIGTERM")
	}
	if p.code != 0 {
		t.Errorf("serve exited %d on SIGTERM", p.code)
	}
	st := s.store()
	defer st.Close()
	recs, err := st.ListCalls(t.Context(), store.CallFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Call.PbxID == "late" {
			t.Errorf("the event answered 503 was journaled: %+v", r.Call)
		}
		if strings.HasPrefix(r.Call.PbxID, "d") {
			n++
		}
	}
	if n != acked {
		t.Errorf("%d of %d acknowledged calls journaled", n, acked)
	}
}

// TestKill9AsteriskResync (issue 13, restore "reconciled with the connector's resync"):
// a call rings through Asterisk, serve is killed with SIGKILL, and the caller hangs up
// while it is down. After the restart the AMI resync (CoreShowChannels) no longer lists
// the call: the restored call ends at once, saying its end was not seen, under its
// Ringside id, logged once, rather than ringing on until calls.max_age (4 h).
func TestKill9AsteriskResync(t *testing.T) {
	sc, err := loadtest.LoadScenario(testenv.Capture(t, "asterisk-ami"), "inbound_answered")
	if err != nil {
		t.Fatal(err)
	}
	fake, err := loadtest.NewFakeAMI("127.0.0.1:0", "bench")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	s := newSite(t, fmt.Sprintf("{kind: ami, address: %q, username: bench, secret: bench, auth: plain}", fake.Addr()), "")
	var w writes
	s.crm.OnWrite(w.add)
	p := s.start()
	if err := fake.WaitLogin(t.Context()); err != nil {
		t.Fatal(err)
	}
	alice := s.connect("alice")
	ring, rest := sc.Call(3, "200", "+49309876543", time.Now())
	pbx := "2000000003.0" // Asterisk's Linkedid
	fake.Play(ring)
	got := alice.Until(t, 20*time.Second, "the pop", func(m testenv.Msg) bool { return m.Type == "call.ringing" && m.Call.PbxID == pbx })
	id := got[len(got)-1].Call.ID
	testenv.Eventually(t, 20*time.Second, "the call journaled", func() (bool, error) {
		recs, err := s.calls(pbx)
		return len(recs) == 1, err
	})

	p.stop(t, syscall.SIGKILL)
	fake.Play(rest) // answered and hung up while Ringside is down
	if n := fake.Channels(); n != 0 {
		t.Fatalf("%d channels left in the fake Asterisk", n)
	}
	p = s.start()
	testenv.Eventually(t, 30*time.Second, "the call ended after the resync", func() (bool, error) {
		recs, err := s.calls(pbx)
		return len(recs) == 1 && recs[0].Call.State == call.Ended, err
	})
	testenv.Eventually(t, 60*time.Second, "the activity in the CRM and the webhook", func() (bool, error) {
		_, ok := s.crm.Record("phonecall", dynamics.ActivityID(activity.Key(id)))
		return ok && len(s.hooks.events(id)) > 0, nil
	})
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("serve exited %d on SIGTERM", code)
	}
	st := s.store()
	defer st.Close()
	recs, err := st.ListCalls(t.Context(), store.CallFilter{PbxID: pbx, Limit: 10})
	if err != nil || len(recs) != 1 {
		t.Fatalf("journal entries of %s: %d %v; want 1", pbx, len(recs), err)
	}
	if c := recs[0].Call; c.ID != id || c.State != call.Ended || c.Cause != call.CauseEndNotSeen {
		t.Errorf("journal: id %s state %s cause %q; want %s ended %s", c.ID, c.State, c.Cause, id, call.CauseEndNotSeen)
	}
	if n := len(s.crm.Records("phonecall")); n != 1 {
		t.Errorf("%d phone calls in the CRM, want 1", n)
	}
	if evs := s.hooks.events(id); !slices.Equal(evs, []string{"inbound.missed"}) {
		t.Errorf("webhooks of the call: %v; want inbound.missed once (nobody answered while Ringside saw it)", evs)
	}
}
