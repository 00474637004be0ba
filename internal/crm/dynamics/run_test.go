package dynamics

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
)

func TestSampleConfigDecodes(t *testing.T) {
	var doc struct {
		CRM Config `yaml:"crm"`
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(SampleConfig)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.CRM.SyncInterval != time.Minute || doc.CRM.PageSize != 1000 || len(doc.CRM.Tables) != 3 {
		t.Errorf("decoded %+v", doc.CRM)
	}
	if _, err := New(doc.CRM, testParser(t), newMemStore(), nil, WithGetenv(func(k string) string {
		if k == "RINGSIDE_DYNAMICS_SECRET" {
			return "s3cret"
		}
		return ""
	})); err != nil {
		t.Fatal(err)
	}
}

func TestRunSyncsUntilCancelled(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	fake.Put("contact", map[string]any{"lastname": "A", "telephone1": "030 1111111"})
	d := newTestDirectory(t, fake, nil)
	runCtx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !d.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("Run did not sync within 10s")
		}
		time.Sleep(5 * time.Millisecond) // waiting for a condition, with a deadline
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestExpiredDeltaLinkResyncs(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	fake.Put("contact", map[string]any{"lastname": "A", "telephone1": "030 1111111"})
	st := newMemStore()
	d := newTestDirectory(t, fake, st, func(c *Config) { c.Tables = map[string][]string{"contact": {"telephone1"}} })
	ctx := t.Context()
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	// An expired token: the CRM refuses the delta; the table is synced in full again.
	_ = st.SetState(ctx, d.scope, stateDeltaPrefix+"contact", []byte(fake.URL+"/api/data/v9.2/contacts?$select=contactid&$deltatoken=expired"))
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatalf("sync with an expired delta link: %v", err)
	}
	link, _ := st.State(ctx, d.scope, stateDeltaPrefix+"contact")
	if strings.Contains(string(link), "expired") {
		t.Error("delta link not replaced")
	}
	// Links pointing elsewhere never get the token.
	_ = st.SetState(ctx, d.scope, stateDeltaPrefix+"contact", []byte("https://evil.example/api/data/v9.2/contacts?$deltatoken=1"))
	if err := d.Sync(ctx, false, nil); err == nil || !strings.Contains(err.Error(), "refusing to send the access token") {
		t.Errorf("foreign delta link: %v", err)
	}
}
