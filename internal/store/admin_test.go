package store

import (
	"errors"
	"testing"
	"time"
)

// TestSetEmail: the admin console changes a user's email; an unknown user is ErrNotFound.
func TestSetEmail(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		if _, err := st.AddUser(ctx, User{Name: "dana", Extensions: []string{"203"}, Email: "old@example.com"}, "pw"); err != nil {
			t.Fatal(err)
		}
		if err := st.SetEmail(ctx, "dana", "dana@example.com"); err != nil {
			t.Fatal(err)
		}
		if u, err := st.GetUser(ctx, "dana"); err != nil || u.Email != "dana@example.com" {
			t.Errorf("after SetEmail: %+v, %v", u, err)
		}
		if err := st.SetEmail(ctx, "nobody", "x@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetEmail of nobody: %v", err)
		}
	})
}

// TestPurgeAudit: audit entries older than retention.audit go with the hourly purge
// (a dry run counts them); newer ones stay.
func TestPurgeAudit(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		clk := newClock()
		st.now = clk.Now
		now := clk.Now()
		for _, e := range []AuditEntry{
			{At: now.Add(-400 * 24 * time.Hour), Actor: "gina", Action: "user.add", Target: "old"},
			{At: now.Add(-time.Hour), Actor: "gina", Action: "user.add", Target: "new"},
		} {
			if err := st.AddAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		ret := Retention{Audit: 366 * 24 * time.Hour}
		if p, err := st.Purge(ctx, ret, true); err != nil || p.Audit != 1 {
			t.Fatalf("dry run: %+v, %v", p, err)
		}
		if p, err := st.Purge(ctx, ret, false); err != nil || p.Audit != 1 || p.Calls != 0 {
			t.Fatalf("purge: %+v, %v", p, err)
		}
		es, err := st.ListAudit(ctx, 10, 0)
		if err != nil || len(es) != 1 || es[0].Target != "new" {
			t.Errorf("left: %+v, %v", es, err)
		}
	})
}
