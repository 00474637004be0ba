package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
	"github.com/ringside/ringside/internal/testenv"
)

// backend opens fresh, empty stores of one kind; open may be called several times and
// returns stores on the same database.
type backend struct {
	name string
	open func(t *testing.T) *Store
}

// backends returns SQLite (always) and PostgreSQL (RINGSIDE_TEST_POSTGRES_DSN; a missing
// one skips locally and fails in CI).
func backends(t *testing.T) []backend {
	t.Helper()
	dir := t.TempDir()
	bs := []backend{{"sqlite", func(t *testing.T) *Store {
		return openStore(t, Config{}, dir)
	}}}
	dsn := os.Getenv("RINGSIDE_TEST_POSTGRES_DSN")
	bs = append(bs, backend{"postgres", func(t *testing.T) *Store {
		if dsn == "" {
			testenv.Peer(t, "RINGSIDE_TEST_POSTGRES_DSN is not set (PostgreSQL, Debian package postgresql)")
		}
		return openStore(t, Config{Driver: "postgres", DSN: pgSchema(t, dsn, dir)}, "")
	}})
	return bs
}

// forEach runs fn once per backend as a subtest.
func forEach(t *testing.T, fn func(t *testing.T, open func(t *testing.T) *Store)) {
	t.Helper()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open) })
	}
}

var pgSchemas sync.Map // test data dir → schema name, so reopening finds the same schema

// pgSchema creates a schema private to one test and returns a DSN that uses it.
func pgSchema(t testing.TB, dsn, key string) string {
	t.Helper()
	name, ok := pgSchemas.Load(key)
	if !ok {
		b := make([]byte, 6)
		rand.Read(b)
		name = "t_" + hex.EncodeToString(b)
		pgSchemas.Store(key, name)
		st := openStore(t, Config{Driver: "postgres", DSN: dsn}, "")
		if _, err := st.db.ExecContext(t.Context(), `CREATE SCHEMA `+name.(string)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			st.db.ExecContext(context.Background(), `DROP SCHEMA `+name.(string)+` CASCADE`)
			st.Close()
		})
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + name.(string)
	}
	return dsn + sep + "search_path=" + name.(string)
}

func openStore(t testing.TB, cfg Config, dir string) *Store {
	t.Helper()
	st, err := Open(t.Context(), cfg, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.cost = bcrypt.MinCost // the production cost makes -race runs slow
	return st
}

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"a = '?' AND b = ?", "a = '?' AND b = $1"},
	} {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOpenMigratesOnce(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		a := open(t)
		b := open(t) // a second process on the same database
		for _, st := range []*Store{a, b} {
			vs, err := st.SchemaVersions(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			ms, err := loadMigrations("migrations/sqlite") // both dialects have the same numbers
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			for _, m := range ms {
				want = append(want, m.version)
			}
			if diff := cmp.Diff(want, vs); diff != "" {
				t.Errorf("versions (-want +got):\n%s", diff)
			}
			if err := st.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestOpenSQLiteDSN(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "my.db")
	t.Setenv("RINGSIDE_TEST_STORE_DSN", path)
	st := openStore(t, Config{Driver: "SQLite", DSNEnv: "RINGSIDE_TEST_STORE_DSN"}, "")
	if _, err := st.AddUser(t.Context(), User{Name: "a"}, "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the DSN's path: %v", err)
	}
	var mode string
	if err := st.db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v", mode, err)
	}
}

func TestOpenErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"unknown driver":  {Driver: "oracle"},
		"postgres no dsn": {Driver: "postgres"},
		"empty dsn env":   {Driver: "postgres", DSNEnv: "RINGSIDE_TEST_SURELY_UNSET"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Open(t.Context(), cfg, t.TempDir(), nil); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestMigrationsNumbered(t *testing.T) {
	for _, dir := range []string{"migrations/sqlite", "migrations/postgres"} {
		ms, err := loadMigrations(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 || ms[0].version != 1 {
			t.Errorf("%s: migrations %v", dir, ms)
		}
	}
	a, _ := loadMigrations("migrations/sqlite")
	b, _ := loadMigrations("migrations/postgres")
	if len(a) != len(b) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(a), len(b))
	}
	for i := range a {
		if a[i].version != b[i].version || a[i].name != b[i].name {
			t.Errorf("migration %d: sqlite %s, postgres %s", i, a[i].name, b[i].name)
		}
	}
}

func TestUsers(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		alice, err := st.AddUser(ctx, User{Name: "alice", Extensions: []string{"200", " 201", "200"}, Email: "a@example.com", Admin: true}, "pw-alice")
		if err != nil {
			t.Fatal(err)
		}
		if alice.ID == 0 || alice.CreatedAt.IsZero() {
			t.Errorf("added user %+v", alice)
		}
		if _, err := st.AddUser(ctx, User{Name: "bob", Extensions: []string{"200"}}, "pw-bob"); err != nil {
			t.Fatal(err, "(a shared extension is allowed)")
		}
		if _, err := st.AddUser(ctx, User{Name: "alice"}, "x"); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate name: %v, want ErrExists", err)
		}
		for _, bad := range []struct{ name, pw string }{{"", "x"}, {"carol", ""}} {
			if _, err := st.AddUser(ctx, User{Name: bad.name}, bad.pw); err == nil {
				t.Errorf("AddUser(%q, %q): no error", bad.name, bad.pw)
			}
		}
		got, err := st.GetUser(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(alice, got); diff != "" {
			t.Errorf("GetUser (-added +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"200", "201"}, got.Extensions); diff != "" {
			t.Errorf("extensions (-want +got):\n%s", diff)
		}
		if _, err := st.GetUser(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetUser(nobody): %v", err)
		}
		list, err := st.ListUsers(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
			t.Errorf("ListUsers = %+v, %v", list, err)
		}
		on200, err := st.UsersByExtension(ctx, "200")
		if err != nil || len(on200) != 2 {
			t.Errorf("UsersByExtension(200) = %+v, %v", on200, err)
		}
		m, err := st.ExtensionMap(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string][]string{"200": {"alice", "bob"}, "201": {"alice"}}, m); diff != "" {
			t.Errorf("ExtensionMap (-want +got):\n%s", diff)
		}
		if err := st.SetExtensions(ctx, "bob", []string{"300"}); err != nil {
			t.Fatal(err)
		}
		if u, _ := st.GetUser(ctx, "bob"); !cmp.Equal(u.Extensions, []string{"300"}) {
			t.Errorf("bob's extensions after SetExtensions: %v", u.Extensions)
		}

		if u, err := st.CheckPassword(ctx, "alice", "pw-alice"); err != nil || u.Name != "alice" || !u.Admin {
			t.Errorf("CheckPassword(good) = %+v, %v", u, err)
		}
		for _, c := range []struct{ name, pw string }{{"alice", "wrong"}, {"nobody", "pw-alice"}, {"alice", ""}} {
			if _, err := st.CheckPassword(ctx, c.name, c.pw); !errors.Is(err, ErrBadCredentials) {
				t.Errorf("CheckPassword(%q, %q) = %v, want ErrBadCredentials", c.name, c.pw, err)
			}
		}
		if err := st.SetPassword(ctx, "alice", "new"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CheckPassword(ctx, "alice", "pw-alice"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("old password still works: %v", err)
		}
		if _, err := st.CheckPassword(ctx, "alice", "new"); err != nil {
			t.Errorf("new password: %v", err)
		}
		if err := st.SetPassword(ctx, "nobody", "x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetPassword(nobody) = %v", err)
		}
	})
}

func TestSettingsAndPicks(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		if _, err := st.AddUser(ctx, User{Name: "alice"}, "pw"); err != nil {
			t.Fatal(err)
		}
		if m, err := st.UserSettings(ctx, "alice"); err != nil || len(m) != 0 {
			t.Errorf("no settings yet: %v, %v", m, err)
		}
		for _, kv := range [][2]string{{"pop", "tab"}, {"sound", "on"}, {"pop", "window"}} {
			if err := st.SetUserSetting(ctx, "alice", kv[0], kv[1]); err != nil {
				t.Fatal(err)
			}
		}
		m, err := st.UserSettings(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"pop": "window", "sound": "on"}, m); diff != "" {
			t.Errorf("settings (-want +got):\n%s", diff)
		}
		if err := st.SetUserSetting(ctx, "nobody", "k", "v"); !errors.Is(err, ErrNotFound) {
			t.Errorf("setting for unknown user: %v", err)
		}
		if _, err := st.Pick(ctx, "alice", "+4989454512 00"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Pick before remember: %v", err)
		}
		want := crm.Ref{Entity: crm.Lead, ID: "l1"}
		if err := st.RememberPick(ctx, "alice", "+498945451200", crm.Ref{Entity: crm.Contact, ID: "c1"}); err != nil {
			t.Fatal(err)
		}
		if err := st.RememberPick(ctx, "alice", "+498945451200", want); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Pick(ctx, "alice", "+498945451200"); err != nil || got != want {
			t.Errorf("Pick = %v, %v; want %v", got, err, want)
		}
		if err := st.RememberPick(ctx, "nobody", "+1", want); !errors.Is(err, ErrNotFound) {
			t.Errorf("RememberPick(nobody) = %v", err)
		}
	})
}

func TestTokens(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		if _, err := st.AddUser(ctx, User{Name: "alice"}, "pw"); err != nil {
			t.Fatal(err)
		}
		secret, tok, err := st.CreateToken(ctx, "alice", ScopeAgent, "laptop")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "rs_") || len(secret) != 3+43 {
			t.Errorf("secret %q: want rs_ + 43 base64url characters", secret)
		}
		pbxSecret, pbx, err := st.CreateToken(ctx, "", ScopePBX, "asterisk")
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.CheckToken(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tok, got); diff != "" {
			t.Errorf("CheckToken (-created +got):\n%s", diff)
		}
		if got, err := st.CheckToken(ctx, pbxSecret); err != nil || got.Scope != ScopePBX || got.User != "" {
			t.Errorf("pbx token: %+v, %v", got, err)
		}
		for _, bad := range []string{"", "rs_", secret + "x", strings.TrimPrefix(secret, "rs_"), tok.CreatedAt.String()} {
			if _, err := st.CheckToken(ctx, bad); !errors.Is(err, ErrNotFound) {
				t.Errorf("CheckToken(%q) = %v, want ErrNotFound", bad, err)
			}
		}
		var n int
		if err := st.queryRow(ctx, `SELECT COUNT(*) FROM tokens WHERE hash = ?`, secret).Scan(&n); err != nil || n != 0 {
			t.Errorf("the secret itself is stored (%d, %v)", n, err)
		}
		list, err := st.ListTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Token{tok, pbx}, list); diff != "" {
			t.Errorf("ListTokens (-want +got):\n%s", diff)
		}
		if err := st.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CheckToken(ctx, secret); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoked token still valid: %v", err)
		}
		if err := st.RevokeToken(ctx, tok.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second revoke: %v", err)
		}
		for _, c := range []struct{ user, scope string }{{"", ScopeAgent}, {"alice", "root"}, {"nobody", ScopeAgent}} {
			if _, _, err := st.CreateToken(ctx, c.user, c.scope, ""); err == nil {
				t.Errorf("CreateToken(%q, %q): no error", c.user, c.scope)
			}
		}
	})
}

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)} }

func TestSessions(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		clk := newClock()
		st.now = clk.Now
		ctx := t.Context()
		if _, err := st.AddUser(ctx, User{Name: "alice", Extensions: []string{"200"}}, "pw"); err != nil {
			t.Fatal(err)
		}
		secret, csrf, err := st.CreateSession(ctx, "alice", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if secret == "" || csrf == "" || secret == csrf {
			t.Fatalf("secret %q csrf %q", secret, csrf)
		}
		u, gotCSRF, err := st.Session(ctx, secret)
		if err != nil || u.Name != "alice" || gotCSRF != csrf || !cmp.Equal(u.Extensions, []string{"200"}) {
			t.Errorf("Session = %+v, %q, %v", u, gotCSRF, err)
		}
		if _, _, err := st.Session(ctx, "rss_nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown session: %v", err)
		}
		if _, _, err := st.CreateSession(ctx, "nobody", time.Hour); !errors.Is(err, ErrNotFound) {
			t.Errorf("session for unknown user: %v", err)
		}
		clk.Add(time.Hour)
		if _, _, err := st.Session(ctx, secret); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired session: %v", err)
		}
		var n int
		st.queryRow(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n)
		if n != 0 {
			t.Errorf("%d sessions left after expiry", n)
		}
		s2, _, err := st.CreateSession(ctx, "alice", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteSession(ctx, s2); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Session(ctx, s2); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted session: %v", err)
		}
	})
}

// hostile is text a caller or a CRM user may type: HTML, quotes, SQL, invalid UTF-8, NUL.
var hostile = []string{
	`<script>alert("x")</script>`,
	`O'Brien "the" \ caller`,
	`'; DROP TABLE calls;--`,
	strings.Repeat("<b>ACME</b> ", 1000),
	"\xff\xfe invalid \xc3\x28 utf-8",
	"nul\x00byte",
	"",
}

func testCall(id string, started time.Time, name string, exts ...string) call.Call {
	c := call.Call{ID: id, PbxID: id, Source: "ami", Direction: call.Inbound, State: call.Ended,
		Remote: call.Remote{Raw: "+49 30 9876543", Number: "+49309876543", Name: name},
		DID:    "+49301111", StartedAt: started, EndedAt: started.Add(time.Minute), Cause: call.CauseNormal}
	for _, e := range exts {
		c.Legs = append(c.Legs, call.Leg{Extension: e, User: "u" + e, State: call.Ended, RingingAt: started})
	}
	return c
}

func TestJournal(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		t0 := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
		matches := []crm.Match{{Record: crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: "c1"}, Name: "Jane Doe", Company: "ACME GmbH"},
			Number: "+49 30 9876543", Field: crm.FieldBusiness, How: phone.MatchExact}}
		for i, name := range hostile {
			c := testCall(fmt.Sprintf("h%d", i), t0.Add(time.Duration(i)*time.Second), name, "200")
			c.Remote.Raw = name
			if err := st.SaveCall(ctx, c, matches); err != nil {
				t.Fatalf("SaveCall(%q): %v", name, err)
			}
			got, err := st.GetCall(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Call.Remote.Name != name || got.Call.Remote.Raw != name {
				t.Errorf("name %q came back as %q / raw %q", name, got.Call.Remote.Name, got.Call.Remote.Raw)
			}
			if diff := cmp.Diff(c, got.Call); diff != "" {
				t.Errorf("call (-saved +got):\n%s", diff)
			}
			if diff := cmp.Diff(matches, got.Matches); diff != "" {
				t.Errorf("matches (-saved +got):\n%s", diff)
			}
		}
		if _, err := st.GetCall(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetCall(nope) = %v", err)
		}
	})
}

func TestJournalUpdateAndFilter(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		c1 := testCall("c1", t0, "ACME", "200", "201")
		c1.State, c1.EndedAt = call.Ringing, time.Time{}
		if err := st.SaveCall(ctx, c1, nil); err != nil {
			t.Fatal(err)
		}
		ref := crm.Ref{Entity: crm.Contact, ID: "c9"}
		name, notes, key := "Jane <Doe>", "called about '; DROP TABLE calls;-- \xff", "act-1"
		if err := st.AnnotateCall(ctx, "c1", Annotation{Regarding: &ref, RegardingName: &name}); err != nil {
			t.Fatal(err)
		}
		st.now = func() time.Time { return t0 }
		if err := st.SetNote(ctx, "c1", "u200", notes); err != nil {
			t.Fatal(err)
		}
		if err := st.AnnotateCall(ctx, "c1", Annotation{ActivityKey: &key}); err != nil {
			t.Fatal(err)
		}
		if err := st.AnnotateCall(ctx, "nope", Annotation{ActivityKey: &key}); !errors.Is(err, ErrNotFound) {
			t.Errorf("annotate unknown call: %v", err)
		}
		if err := st.SetNote(ctx, "nope", "u200", notes); !errors.Is(err, ErrNotFound) {
			t.Errorf("note on unknown call: %v", err)
		}
		// The call ends: it is saved again, annotations stay, legs are replaced.
		c1.State, c1.EndedAt, c1.Missed = call.Ended, t0.Add(time.Minute), true
		c1.Legs = c1.Legs[:1]
		if err := st.SaveCall(ctx, c1, nil); err != nil {
			t.Fatal(err)
		}
		got, err := st.GetCall(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		want := CallRecord{Call: c1, Matches: []crm.Match{}, Regarding: &ref, RegardingName: name, Notes: []Note{{Author: "u200", At: t0, Text: notes}}, ActivityKey: key}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after update (-want +got):\n%s", diff)
		}
		c2 := testCall("c2", t0.Add(time.Hour), "B", "300")
		c3 := testCall("c3", t0.Add(2*time.Hour), "C", "200", "300")
		c3.Missed = true
		for _, c := range []call.Call{c2, c3} {
			if err := st.SaveCall(ctx, c, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name string
			f    CallFilter
			want []string
		}{
			{"all", CallFilter{}, []string{"c3", "c2", "c1"}},
			{"ext 200", CallFilter{Extensions: []string{"200"}}, []string{"c3", "c1"}},
			{"ext 201 gone with the leg", CallFilter{Extensions: []string{"201"}}, nil},
			{"ext 300 or 200", CallFilter{Extensions: []string{"300", "200"}}, []string{"c3", "c2", "c1"}},
			{"no extensions", CallFilter{Extensions: []string{}}, nil},
			{"missed", CallFilter{MissedOnly: true}, []string{"c3", "c1"}},
			{"missed on 300", CallFilter{MissedOnly: true, Extensions: []string{"300"}}, []string{"c3"}},
			{"limit", CallFilter{Limit: 2}, []string{"c3", "c2"}},
			{"before", CallFilter{Before: t0.Add(2 * time.Hour)}, []string{"c2", "c1"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rs, err := st.ListCalls(ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, r := range rs {
					ids = append(ids, r.Call.ID)
				}
				if diff := cmp.Diff(tc.want, ids); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
			})
		}
	})
}

func TestStateAndIndexRows(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		if _, err := st.State(ctx, "dynamics", "cursor"); !errors.Is(err, ErrNotFound) {
			t.Errorf("State before set: %v", err)
		}
		for _, v := range []string{"a", "b\x00\xff"} {
			if err := st.SetState(ctx, "dynamics", "cursor", []byte(v)); err != nil {
				t.Fatal(err)
			}
			if got, err := st.State(ctx, "dynamics", "cursor"); err != nil || string(got) != v {
				t.Errorf("State = %q, %v; want %q", got, err, v)
			}
		}
		st.txBatch, st.loadPage = 1000, 700
		const n = 2_345 // more than a transaction batch and a load page
		rows := make([]IndexRow, n)
		for i := range rows {
			rows[i] = IndexRow{Key: fmt.Sprintf("k%05d", i), Data: []byte(fmt.Sprintf("d%d", i))}
		}
		if err := st.PutIndexRows(ctx, "dyn", rows); err != nil {
			t.Fatal(err)
		}
		if err := st.PutIndexRows(ctx, "other", rows[:3]); err != nil {
			t.Fatal(err)
		}
		// Replace some, delete some.
		if err := st.PutIndexRows(ctx, "dyn", []IndexRow{{Key: "k00001", Data: []byte("new")}}); err != nil {
			t.Fatal(err)
		}
		var del []string
		for i := 0; i < n; i += 2 {
			del = append(del, rows[i].Key)
		}
		if err := st.DeleteIndexRows(ctx, "dyn", append(del, "missing")); err != nil {
			t.Fatal(err)
		}
		var got []IndexRow
		if err := st.LoadIndexRows(ctx, "dyn", func(r IndexRow) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != n/2 {
			t.Fatalf("loaded %d rows, want %d", len(got), n/2)
		}
		if got[0].Key != "k00001" || string(got[0].Data) != "new" || got[1].Key != "k00003" || string(got[1].Data) != "d3" {
			t.Errorf("first rows: %q %q", got[0], got[1])
		}
		stop := errors.New("stop")
		if err := st.LoadIndexRows(ctx, "dyn", func(IndexRow) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("fn error not returned: %v", err)
		}
		if err := st.ClearIndex(ctx, "dyn"); err != nil {
			t.Fatal(err)
		}
		count := 0
		st.LoadIndexRows(ctx, "dyn", func(IndexRow) error { count++; return nil })
		st.LoadIndexRows(ctx, "other", func(IndexRow) error { count += 100; return nil })
		if count != 300 {
			t.Errorf("after clear: count %d, want only the 3 rows of the other scope", count)
		}
	})
}

func TestDirectoryRecords(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		a, b := open(t), open(t)
		ctx := t.Context()
		if seq, err := a.RecordsSeq(ctx); err != nil || seq != 0 {
			t.Fatalf("RecordsSeq = %d, %v", seq, err)
		}
		recs := []crm.Record{
			{Ref: crm.Ref{Entity: crm.Account, ID: "a1"}, Name: "ACME GmbH", Country: "DE", Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "030 98765-0"}}},
			{Ref: crm.Ref{Entity: crm.Contact, ID: "c1"}, Name: hostile[3], FirstName: hostile[4], LastName: hostile[2], Company: hostile[0],
				Email: hostile[5], AccountID: "a1", Phones: []crm.Phone{{Field: crm.FieldMobile, Raw: "\xff+49 171"}, {Field: crm.FieldHome, Raw: ""}}},
		}
		last, err := a.PutRecords(ctx, recs)
		if err != nil || last != 2 {
			t.Fatalf("PutRecords = %d, %v", last, err)
		}
		var got []crm.Record
		seq, err := b.RecordsSince(ctx, 0, func(r crm.Record, _ int64) error { got = append(got, r); return nil })
		if err != nil || seq != 2 {
			t.Fatalf("RecordsSince = %d, %v", seq, err)
		}
		if diff := cmp.Diff(recs, got); diff != "" {
			t.Errorf("records (-put +got):\n%s", diff)
		}
		upd := recs[0]
		upd.Name = "ACME Holding GmbH"
		if _, err := b.PutRecords(ctx, []crm.Record{upd}); err != nil {
			t.Fatal(err)
		}
		got = nil
		seq, err = a.RecordsSince(ctx, 2, func(r crm.Record, _ int64) error { got = append(got, r); return nil })
		if err != nil || seq != 3 || len(got) != 1 || got[0].Name != upd.Name {
			t.Errorf("changes since 2: %d %v %+v", seq, err, got)
		}
		if r, err := a.GetRecord(ctx, upd.Ref); err != nil || r.Name != upd.Name {
			t.Errorf("GetRecord = %+v, %v", r, err)
		}
		if _, err := a.GetRecord(ctx, crm.Ref{Entity: crm.Lead, ID: "a1"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetRecord(wrong entity) = %v", err)
		}
		if _, err := a.PutRecords(ctx, []crm.Record{{Name: "no id"}}); err == nil {
			t.Error("record without id accepted")
		}

		act := crm.Activity{Key: "k1", CallID: "call-1", Subject: "Call from ACME", Direction: "inbound", Regarding: &crm.Ref{Entity: crm.Contact, ID: "c1"},
			Start: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Duration: time.Minute}
		for _, notes := range []string{"first", "edited"} {
			act.Notes = notes
			if err := a.PutActivity(ctx, act); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []struct {
			callID string
			ref    *crm.Ref
		}{{"call-1", nil}, {"", act.Regarding}} {
			acts, err := b.Activities(ctx, q.callID, q.ref)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]crm.Activity{act}, acts); diff != "" {
				t.Errorf("activities (-want +got):\n%s", diff)
			}
		}
	})
}

func TestConcurrentWriters(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		stores := []*Store{open(t), open(t)} // two processes on one database
		ctx := t.Context()
		const perWorker = 40
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for si, st := range stores {
			for g := range 3 {
				wg.Go(func() {
					for i := range perWorker {
						name := fmt.Sprintf("s%dg%di%d", si, g, i)
						if _, err := st.Enqueue(ctx, OutboxItem{Kind: "webhook", Key: name, Payload: []byte(name)}); err != nil {
							errs <- err
							return
						}
						if err := st.SaveCall(ctx, testCall(name, time.Unix(int64(i), 0), name, "200"), nil); err != nil {
							errs <- err
							return
						}
						if _, err := st.PutRecords(ctx, []crm.Record{{Ref: crm.Ref{Entity: crm.Contact, ID: name}, Name: name}}); err != nil {
							errs <- err
							return
						}
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		const total = 2 * 3 * perWorker
		items, err := stores[0].ListOutbox(ctx)
		if err != nil || len(items) != total {
			t.Fatalf("outbox has %d items (%v), want %d", len(items), err, total)
		}
		calls, err := stores[1].ListCalls(ctx, CallFilter{Limit: 1000})
		if err != nil || len(calls) != total {
			t.Fatalf("journal has %d calls (%v), want %d", len(calls), err, total)
		}
		seqs := map[int64]bool{}
		last, err := stores[0].RecordsSince(ctx, 0, func(_ crm.Record, seq int64) error { seqs[seq] = true; return nil })
		if err != nil || len(seqs) != total || last != total {
			t.Fatalf("records: %d distinct sequence numbers up to %d (%v), want %d", len(seqs), last, err, total)
		}
	})
}

// TestJournalPbxID: calls are keyed by Ringside's id; the phone system's id (shared by two
// sources, reused over time) finds them; entries without one read it as their id; calls
// not ended are listed for the restore.
func TestJournalPbxID(t *testing.T) {
	forEach(t, func(t *testing.T, open func(*testing.T) *Store) {
		st := open(t)
		ctx := t.Context()
		t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		a := testCall("0193-a", t0, "A", "200")
		a.PbxID = "1001"
		b := testCall("0193-b", t0.Add(time.Second), "B", "201")
		b.PbxID, b.Source, b.State, b.EndedAt = "1001", "esl", call.Answered, time.Time{}
		old := testCall("1001", t0.Add(2*time.Second), "Old", "202")
		old.PbxID = "" // journaled before Ringside had its own ids
		if err := st.SaveCalls(ctx, []JournalEntry{{Call: a}, {Call: b}, {Call: old}}); err != nil {
			t.Fatal(err)
		}
		ids := func(f CallFilter) []string {
			recs, err := st.ListCalls(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range recs {
				out = append(out, r.Call.ID+"/"+r.Call.PbxID)
			}
			return out
		}
		if got, want := ids(CallFilter{PbxID: "1001"}), []string{"1001/1001", "0193-b/1001", "0193-a/1001"}; !slices.Equal(got, want) {
			t.Errorf("pbx_id 1001: %v, want %v", got, want)
		}
		if got, want := ids(CallFilter{PbxID: "1001", Source: "esl"}), []string{"0193-b/1001"}; !slices.Equal(got, want) {
			t.Errorf("pbx_id 1001 of esl: %v, want %v", got, want)
		}
		inProgress, err := st.OpenCalls(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(inProgress) != 1 || inProgress[0].Call.ID != "0193-b" {
			t.Errorf("open calls: %+v", inProgress)
		}
	})
}
