package dynamics

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
	"github.com/ringside/ringside/internal/lookup"
	"github.com/ringside/ringside/internal/store"
)

// TestIndexSurvivesRestartSQLite: the index and delta links live in the real store, so a
// restarted adapter answers at once and continues with the delta.
func TestIndexSurvivesRestartSQLite(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	seedContacts(fake, 3000)
	acct := fake.Put("account", map[string]any{"name": "ACME", "telephone1": "+49 89 1234567"})
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	st, err := store.Open(ctx, store.Config{}, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	d := newTestDirectory(t, fake, st)
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2, err := store.Open(ctx, store.Config{}, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	d2 := newTestDirectory(t, fake, st2)
	if err := d2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if !d2.Ready() {
		t.Fatal("not ready after loading a complete index")
	}
	before := len(fake.Requests())
	for _, raw := range []string{"+49 30 10000000", "030 10002999", "089 1234567"} {
		ms, err := d2.Lookup(ctx, d2.parser.Parse(raw))
		if err != nil || len(ms) != 1 {
			t.Errorf("lookup %s after restart: %v %+v", raw, err, ms)
		}
	}
	if n := len(fake.Requests()) - before; n != 0 {
		t.Errorf("lookups after restart made %d requests, want 0", n)
	}
	// The next sync is a delta, not a full sync.
	fake.Delete("account", acct)
	if err := d2.Sync(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Requests()) - before; n != 3 {
		t.Errorf("sync after restart made %d requests, want 3 delta requests: %v", n, fake.Requests()[before:])
	}
	if ms, _ := d2.Lookup(ctx, d2.parser.Parse("089 1234567")); len(ms) != 0 {
		t.Errorf("deleted account still found: %+v", ms)
	}
	// A change of indexed columns invalidates the persisted index.
	d3 := newTestDirectory(t, fake, st2, func(c *Config) { c.Tables = map[string][]string{"contact": {"mobilephone"}} })
	if err := d3.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if d3.Ready() {
		t.Error("index for other columns was taken as ready")
	}
}

// TestRingGroupRequests: 30 phones ringing for one call look the number up at once
// through the lookup service: at most one CRM request while the index is cold, none once
// it is synced.
func TestRingGroupRequests(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	fake.Put("contact", map[string]any{"lastname": "Doe", "telephone1": "030 9876543"})
	for _, synced := range []bool{false, true} {
		t.Run(fmt.Sprintf("synced=%v", synced), func(t *testing.T) {
			d := newTestDirectory(t, fake, nil)
			if synced {
				if err := d.Sync(t.Context(), false, nil); err != nil {
					t.Fatal(err)
				}
			}
			svc, err := lookup.New(d, lookup.Config{}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			before := len(fake.Requests())
			n := d.parser.Parse("+49 30 9876543")
			var wg sync.WaitGroup
			errs := make(chan error, 30)
			for range 30 {
				wg.Go(func() {
					res, err := svc.Lookup(t.Context(), n)
					if err == nil && len(res.Matches) != 1 {
						err = fmt.Errorf("%d matches", len(res.Matches))
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			got := len(fake.Requests()) - before
			want := 1
			if synced {
				want = 0
			}
			if got != want {
				t.Errorf("%d CRM requests for a ring group of 30, want %d", got, want)
			}
			t.Logf("ring group of 30, synced=%v: %d CRM request(s)", synced, got)
		})
	}
}
