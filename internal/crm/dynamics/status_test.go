package dynamics

import (
	"testing"

	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
)

// The admins' Phone systems page shows the index sync: records read of how many, when it
// ran, whether the index is complete, and the last error (crm.SyncReporter).
func TestSyncStatus(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	seedContacts(fake, 1200)
	d := newTestDirectory(t, fake, newMemStore(), func(c *Config) {
		c.PageSize = 500
		c.Tables = map[string][]string{"contact": {"telephone1", "mobilephone"}}
	})
	if s := d.SyncStatus(); s.Ready || s.Running || !s.Started.IsZero() || s.Records != 0 {
		t.Fatalf("before any sync: %+v", s)
	}
	var during []int
	if err := d.Sync(t.Context(), false, func(done, total int) {
		s := d.SyncStatus()
		if !s.Running || s.Done != done || s.Total != total {
			t.Errorf("during the sync (%d of %d): %+v", done, total, s)
		}
		during = append(during, s.Done)
	}); err != nil {
		t.Fatal(err)
	}
	s := d.SyncStatus()
	if !s.Ready || s.Running || s.Done != 1200 || s.Total != 1200 || s.Records != 1200 || s.Finished.Before(s.Started) || s.LastError != "" {
		t.Errorf("after the sync: %+v", s)
	}
	if len(during) != 3 {
		t.Errorf("progress seen %v, want three pages", during)
	}
	// A failing sync (the CRM down) keeps the index and says why, and when.
	fake.Fail(dataversetest.Fault{Status: 503, Count: 100, PathPrefix: "contacts"})
	if err := d.Sync(t.Context(), true, nil); err == nil {
		t.Fatal("a sync against a CRM answering 503 succeeded")
	}
	s = d.SyncStatus()
	if s.Running || s.LastError == "" || s.LastErrorAt.IsZero() || !s.LastErrorAt.Equal(s.Finished) || s.Records != 1200 || !s.Ready {
		t.Errorf("after a failed sync: %+v", s)
	}
}
