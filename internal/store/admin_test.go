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

// TestSeen: a user's last use and a token's are recorded; an older time does not
// overwrite a newer one.
func TestSeen(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		if _, err := st.AddUser(ctx, User{Name: "erin", Extensions: []string{"204"}}, "pw"); err != nil {
			t.Fatal(err)
		}
		_, tok, err := st.CreateToken(ctx, "erin", ScopeAgent, "laptop")
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := st.GetUser(ctx, "erin"); !u.LastSeenAt.IsZero() {
			t.Fatalf("a new user was seen at %v", u.LastSeenAt)
		}
		at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
		if err := st.Seen(ctx, "erin", tok.ID, at); err != nil {
			t.Fatal(err)
		}
		if err := st.Seen(ctx, "erin", tok.ID, at.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if u, _ := st.GetUser(ctx, "erin"); !u.LastSeenAt.Equal(at) {
			t.Errorf("last seen %v, want %v", u.LastSeenAt, at)
		}
		toks, _ := st.ListTokens(ctx)
		if len(toks) != 1 || !toks[0].LastUsedAt.Equal(at) {
			t.Errorf("tokens %+v, want last used %v", toks, at)
		}
		if err := st.Seen(ctx, "nobody", 0, at); err != nil {
			t.Errorf("an unknown user: %v", err)
		}
	})
}
