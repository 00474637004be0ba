package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/internal/activity"
	"github.com/ringside/ringside/internal/crm/dynamics"
	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
)

// Notes reach Dynamics once, with their authors (issue 14): a ring group alice+bob,
// alice answers and writes, bob's write is refused, the call is transferred to carol,
// who sees alice's entry and adds hers; the call ends. The outbox delivers ONE phonecall
// to the Dataverse fake whose description has both entries with their authors, line
// breaks intact, although the first delivery after the end timed out after Dataverse
// had applied it (the retry writes the same activityid).
func TestEndToEndNotesToDynamics(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	t.Setenv("RINGSIDE_TEST_DYN_SECRET", "secret")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ringside.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`data_dir: %s
log_level: error
crm: {kind: dynamics, url: %q, authority: %q, tenant_id: tenant, client_id: client, client_secret_env: RINGSIDE_TEST_DYN_SECRET, timeout: 1s}
`, filepath.Join(dir, "data"), fake.URL, fake.URL)), 0o600)
	pbx := lastLine(cli(t, "", "tokens", "create", "--scope", "pbx", "--config", cfgFile))
	tok := map[string]string{}
	for i, u := range []string{"alice", "bob", "carol"} {
		cli(t, "", "users", "add", u, "--extension", fmt.Sprint(200+i), "--config", cfgFile)
		tok[u] = lastLine(cli(t, "", "tokens", "create", "--user", u, "--config", cfgFile))
	}
	base := startServe(t, cfgFile)
	c := client{t: t, base: base}
	id := "dyn-notes-1"
	t0 := time.Now().Add(-10 * time.Minute)
	at := func(d time.Duration) string { return t0.Add(d).UTC().Format(time.RFC3339) }
	c.event(pbx, `{"event":"ringing","call_id":"`+id+`","direction":"inbound","from":"+49 30 9876543","extension":"200","time":"`+at(0)+`"}`)
	c.event(pbx, `{"event":"ringing","call_id":"`+id+`","direction":"inbound","from":"+49 30 9876543","extension":"201","time":"`+at(0)+`"}`)
	c.event(pbx, `{"event":"answered","call_id":"`+id+`","extension":"200","time":"`+at(3*time.Second)+`"}`)
	// The API knows the call by Ringside's id: find it by the phone system's.
	waitUntil(t, 20*time.Second, "the call in the journal", func() bool {
		var l struct {
			Calls []struct{ Call struct{ ID string } } `json:"calls"`
		}
		_, body := c.do("GET", "/api/v1/calls?pbx_id="+id, tok["alice"], "", "")
		json.Unmarshal([]byte(body), &l)
		if len(l.Calls) == 1 {
			id = l.Calls[0].Call.ID
			return true
		}
		return false
	})
	pbxID := "dyn-notes-1"
	save := func(user, notes string) (int, string) {
		b, _ := json.Marshal(map[string]any{"call_id": id, "notes": notes})
		return c.do("POST", "/api/v1/activities", tok[user], "application/json", string(b))
	}
	waitUntil(t, 20*time.Second, "alice's answer in the journal", func() bool {
		code, _ := save("alice", "Wants a quote.\nFor 20 seats.")
		return code == http.StatusAccepted
	})
	if code, body := save("bob", "I was not there"); code != http.StatusForbidden || !strings.Contains(body, "talk") {
		t.Errorf("bob's notes: %d %s, want 403 with a reason", code, body)
	}
	c.event(pbx, `{"event":"transferred","call_id":"`+pbxID+`","extension":"200","transfer_to":"202","time":"`+at(60*time.Second)+`"}`)
	c.event(pbx, `{"event":"answered","call_id":"`+pbxID+`","extension":"202","time":"`+at(65*time.Second)+`"}`)
	var cv struct {
		Notes []struct{ Author, Text string } `json:"notes"`
	}
	waitUntil(t, 20*time.Second, "carol to see alice's entry", func() bool {
		code, body := c.do("GET", "/api/v1/calls/"+id, tok["carol"], "", "")
		cv.Notes = nil
		json.Unmarshal([]byte(body), &cv)
		return code == http.StatusOK && len(cv.Notes) == 1
	})
	if cv.Notes[0].Author != "alice" || cv.Notes[0].Text != "Wants a quote.\nFor 20 seats." {
		t.Fatalf("carol sees %+v", cv.Notes)
	}
	waitUntil(t, 20*time.Second, "carol's answer in the journal", func() bool {
		code, _ := save("carol", "Sent the quote.\nCall back Monday.")
		return code == http.StatusAccepted
	})

	// The first write Dataverse applies from now on answers after the adapter's 1 s
	// timeout: the outbox sees a failure although the CRM has the write.
	var once sync.Once
	slowed := make(chan struct{})
	slowAt := 0 // requests the fake had got when it applied the slow write
	fake.OnWrite(func(method, path string) {
		once.Do(func() { slowAt = len(fake.Requests()); time.Sleep(2 * time.Second); close(slowed) })
	})
	c.event(pbx, `{"event":"ended","call_id":"`+pbxID+`","cause":"normal","time":"`+at(120*time.Second)+`"}`)
	pcID := dynamics.ActivityID(activity.Key(id))
	waitUntil(t, 60*time.Second, "the phonecall with both entries, completed", func() bool {
		select {
		case <-slowed:
		default:
			return false
		}
		pc, ok := fake.Record("phonecall", pcID)
		d, _ := pc["description"].(string)
		return ok && pc["statecode"] == 1.0 && strings.Contains(d, "Sent the quote.") && pending(t, cfgFile) == 0
	})
	pcs := fake.Records("phonecall")
	if len(pcs) != 1 {
		t.Fatalf("%d phonecalls, want exactly 1: %v", len(pcs), pcs)
	}
	desc, _ := pcs[0]["description"].(string)
	ia, ic := strings.Index(desc, "alice"), strings.Index(desc, "carol")
	if ia < 0 || ic < ia || !strings.Contains(desc, "Wants a quote.\nFor 20 seats.") || !strings.Contains(desc, "Sent the quote.\nCall back Monday.") ||
		strings.Contains(desc, "I was not there") {
		t.Errorf("description:\n%s\nwant alice's then carol's entry, line breaks intact, nothing from bob", desc)
	}
	if pcs[0]["statecode"] != 1.0 || pcs[0]["directioncode"] != false {
		t.Errorf("phonecall %v", pcs[0])
	}
	// The outbox did retry the write that timed out (the write after it, if any, is the
	// same activity).
	if after := fake.Requests()[slowAt:]; len(after) == 0 {
		t.Errorf("no request after the write that timed out: the retry did not happen")
	}
	t.Logf("Dataverse requests: %+v %v", fake.Stats(), fake.Requests())
}

// pending counts the outbox items not delivered yet.
func pending(t *testing.T, cfgFile string) int {
	return strings.Count(cli(t, "", "outbox", "list", "--config", cfgFile), " pending ")
}
