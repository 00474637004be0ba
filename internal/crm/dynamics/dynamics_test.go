package dynamics

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/crm/dynamics/dataversetest"
	"github.com/ringside/ringside/internal/phone"
)

func TestReadmeContainsSample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), SampleConfig) {
		t.Error("README.md does not contain sample.yaml verbatim")
	}
}

func TestConfigErrors(t *testing.T) {
	base := Config{URL: "https://contoso.crm4.dynamics.com", TenantID: "t", ClientID: "c", ClientSecretEnv: "DYN_SECRET"}
	tests := []struct {
		name string
		mod  func(*Config)
		want string // substring of the error; "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"http not loopback", func(c *Config) { c.URL = "http://contoso.crm4.dynamics.com" }, "must use https"},
		{"url with path", func(c *Config) { c.URL = "https://contoso.crm4.dynamics.com/api/data/v9.2" }, "must be a URL like"},
		{"no tenant", func(c *Config) { c.TenantID = "" }, "tenant_id"},
		{"no client", func(c *Config) { c.ClientID = "" }, "client_id"},
		{"no secret", func(c *Config) { c.ClientSecretEnv = "" }, "client_secret_env"},
		{"empty secret env", func(c *Config) { c.ClientSecretEnv = "UNSET_VAR" }, "UNSET_VAR is empty"},
		{"both secrets", func(c *Config) { c.ClientSecretFile = "/x" }, "not both"},
		{"missing secret file", func(c *Config) { c.ClientSecretEnv, c.ClientSecretFile = "", "/nonexistent/secret" }, "client_secret_file"},
		{"bad table", func(c *Config) { c.Tables = map[string][]string{"opportunity": {"telephone1"}} }, "unknown table"},
		{"bad column", func(c *Config) { c.Tables = map[string][]string{"contact": {"tel') or 1 eq 1"}} }, "not a column"},
		{"page size", func(c *Config) { c.PageSize = 6000 }, "page_size"},
		{"app id", func(c *Config) { c.AppID = "sales" }, "app_id"},
		{"user map", func(c *Config) { c.UserMap = map[string]string{"alice": "x"} }, "user_map.alice"},
		{"kind", func(c *Config) { c.Kind = "rest" }, "kind"},
		{"sync interval", func(c *Config) { c.SyncInterval = time.Millisecond }, "sync_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.mod(&cfg)
			_, err := New(cfg, testParser(t), newMemStore(), nil, WithGetenv(testGetenv))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want it to mention %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret\"") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestSecretFile(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newTestDirectory(t, fake, nil, func(c *Config) { c.ClientSecretEnv, c.ClientSecretFile = "", p })
	if err := d.Sync(t.Context(), false, nil); err != nil {
		t.Fatal(err)
	}
}

// seedContacts puts n contacts with a distinct number each (+49 30 1000000 + i).
func seedContacts(fake *dataversetest.Server, n int) {
	for i := range n {
		fake.Put("contact", map[string]any{
			"firstname": "First", "lastname": fmt.Sprintf("Last%d", i),
			"telephone1": fmt.Sprintf("+49 30 %d", 10000000+i),
		})
	}
}

func TestInitialSync50000AcrossPages(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	seedContacts(fake, 50000)
	st := newMemStore()
	d := newTestDirectory(t, fake, st, func(c *Config) {
		c.PageSize = 5000
		c.Tables = map[string][]string{"contact": {"telephone1", "mobilephone"}}
	})
	var last, calls, total int
	err := d.Sync(t.Context(), false, func(done, tot int) { last, total = done, tot; calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if last != 50000 || total != 50000 || calls != 10 {
		t.Errorf("progress: done %d total %d in %d calls, want 50000/50000 in 10", last, total, calls)
	}
	if got := countRequests(fake, 0, "GET contacts"); got != 10 {
		t.Errorf("%d pages fetched, want 10", got)
	}
	if st.count() != 50000 {
		t.Errorf("store holds %d rows, want 50000", st.count())
	}
	if !d.Ready() {
		t.Fatal("not ready after a full sync")
	}
	before := len(fake.Requests())
	for _, i := range []int{0, 4999, 5000, 49999} {
		ms, err := d.Lookup(t.Context(), d.parser.Parse(fmt.Sprintf("0049 30 %d", 10000000+i)))
		if err != nil || len(ms) != 1 || ms[0].LastName != fmt.Sprintf("Last%d", i) {
			t.Errorf("lookup %d: %v %+v", i, err, ms)
		}
	}
	if n := len(fake.Requests()) - before; n != 0 {
		t.Errorf("indexed lookups made %d CRM requests, want 0", n)
	}
}

func TestDeltaAddsChangesDeletes(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	keep := fake.Put("contact", map[string]any{"firstname": "Keep", "lastname": "Me", "telephone1": "030 1111111"})
	change := fake.Put("contact", map[string]any{"firstname": "Change", "lastname": "Me", "telephone1": "030 2222222"})
	del := fake.Put("account", map[string]any{"name": "Gone GmbH", "telephone1": "030 3333333"})
	st := newMemStore()
	d := newTestDirectory(t, fake, st)
	ctx := t.Context()
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	lookup := func(raw string) []string {
		t.Helper()
		ms, err := d.Lookup(ctx, d.parser.Parse(raw))
		if err != nil {
			t.Fatal(err)
		}
		return matchIDs(ms)
	}
	if got := lookup("+49 30 3333333"); len(got) != 1 {
		t.Fatalf("account before delete: %v", got)
	}
	// Changes: a new lead, a changed number, a deleted account, a row created and
	// deleted in between (never seen: its delete must be ignored).
	added := fake.Put("lead", map[string]any{"firstname": "New", "lastname": "Lead", "subject": "x", "mobilephone": "0170 4444444"})
	fake.Put("contact", map[string]any{"contactid": change, "firstname": "Change", "lastname": "Me", "telephone1": "030 5555555"})
	fake.Delete("account", del)
	ghost := fake.Put("contact", map[string]any{"lastname": "Ghost", "telephone1": "030 6666666"})
	fake.Delete("contact", ghost)
	before := len(fake.Requests())
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	// One delta request per table, no full resync.
	if n := len(fake.Requests()) - before; n != 3 {
		t.Errorf("delta sync made %d requests, want 3: %v", n, fake.Requests()[before:])
	}
	for _, r := range fake.Requests()[before:] {
		if !strings.Contains(r, "GET") {
			t.Errorf("unexpected request %s", r)
		}
	}
	tests := []struct {
		raw  string
		want []string
	}{
		{"030 1111111", []string{"contact/" + keep}},
		{"030 2222222", nil},
		{"030 5555555", []string{"contact/" + change}},
		{"030 3333333", nil},
		{"+49 170 4444444", []string{"lead/" + added}},
		{"030 6666666", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, lookup(tt.raw)); diff != "" {
			t.Errorf("lookup %s (-want +got):\n%s", tt.raw, diff)
		}
	}
	// The persisted index follows: a restart answers the same without a sync.
	d2 := newTestDirectory(t, fake, st)
	if err := d2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	before = len(fake.Requests())
	for _, tt := range tests {
		ms, err := d2.Lookup(ctx, d2.parser.Parse(tt.raw))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, matchIDs(ms)); diff != "" {
			t.Errorf("after restart, lookup %s (-want +got):\n%s", tt.raw, diff)
		}
	}
	if n := len(fake.Requests()) - before; n != 0 {
		t.Errorf("lookups after restart made %d requests, want 0", n)
	}
}

func TestFullResyncDropsVanishedRows(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	id := fake.Put("contact", map[string]any{"lastname": "A", "telephone1": "030 1111111"})
	d := newTestDirectory(t, fake, nil)
	ctx := t.Context()
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	// Lost from the change log (e.g. an expired delta token): only a full sync sees it.
	fake.Delete("contact", id)
	if err := d.Sync(ctx, true, nil); err != nil {
		t.Fatal(err)
	}
	if ms, _ := d.Lookup(ctx, d.parser.Parse("030 1111111")); len(ms) != 0 {
		t.Errorf("full resync kept a deleted record: %+v", ms)
	}
}

func TestNumberFormatsFoundByOneCallerID(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	a := fake.Put("contact", map[string]any{"lastname": "Intl", "telephone1": "+49 (30) 123 456-78"})
	b := fake.Put("contact", map[string]any{"lastname": "National", "mobilephone": "030 12345678"})
	c := fake.Put("account", map[string]any{"name": "Zero Zero", "telephone2": "0049 30 12345678"})
	fake.Put("contact", map[string]any{"lastname": "Other", "telephone1": "+49 30 12345679"})
	want := sortStrings([]string{"account/" + c, "contact/" + a, "contact/" + b})
	for _, caller := range []string{"+493012345678", "03012345678", "sip:+493012345678@pbx;user=phone"} {
		t.Run("indexed "+caller, func(t *testing.T) {
			d := newTestDirectory(t, fake, nil)
			if err := d.Sync(t.Context(), false, nil); err != nil {
				t.Fatal(err)
			}
			ms, err := d.Lookup(t.Context(), d.parser.Parse(caller))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, matchIDs(ms)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("live", func(t *testing.T) {
		// The cold index asks the CRM for the likely spellings: exact-string filters can
		// only find the spellings generated, so the space-and-parenthesis one is missed.
		d := newTestDirectory(t, fake, nil)
		before := len(fake.Requests())
		ms, err := d.Lookup(t.Context(), d.parser.Parse("+493012345678"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sortStrings([]string{"account/" + c, "contact/" + b}), matchIDs(ms)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if got := fake.Requests()[before:]; len(got) != 1 || got[0] != "POST $batch" {
			t.Errorf("live lookup requests %v, want one $batch", got)
		}
	})
}

func TestODataInjection(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	fake.Put("contact", map[string]any{"lastname": "Victim", "telephone1": "030 1111111"})
	fake.Put("contact", map[string]any{"lastname": "O'Brien", "telephone1": "it's 030 7777777"})
	d := newTestDirectory(t, fake, nil)
	ctx := t.Context()
	hostile := "' or 1 eq 1 or '"
	// A withheld or unparseable caller ID is never looked up.
	ms, err := d.Lookup(ctx, d.parser.Parse(hostile))
	if err != nil || len(ms) != 0 {
		t.Fatalf("Lookup(%q) = %v, %v", hostile, ms, err)
	}
	// Values that reach a filter are escaped: they match nothing and break nothing.
	tb, _ := d.cfg.table("contact")
	for _, v := range []string{hostile, "x') or (telephone1 ne null", "%27 or 1 eq 1", "+49&$top=1000", "a'b''c"} {
		pages, err := d.batchGet(ctx, "test", []string{tb.set + "?$select=" + tb.selectList() + "&$filter=" + liveFilter(tb, []string{v})})
		if err != nil || pages[0].err != nil {
			t.Fatalf("filter for %q: %v / %v", v, err, pages[0].err)
		}
		if len(pages[0].value) != 0 {
			t.Errorf("filter for %q matched %d rows", v, len(pages[0].value))
		}
	}
	// And a value with a quote matches exactly its record.
	pages, err := d.batchGet(ctx, "test", []string{tb.set + "?$select=" + tb.selectList() + "&$filter=" + liveFilter(tb, []string{"it's 030 7777777"})})
	if err != nil || pages[0].err != nil || len(pages[0].value) != 1 {
		t.Fatalf("quoted value: %v %v %v", err, pages[0].err, pages[0].value)
	}
	// The fake refuses what Dataverse refuses: an unescaped quote.
	u := d.cfg.api + "contacts?$select=contactid&$filter=" + url.QueryEscape("telephone1 eq '"+hostile+"'")
	err = d.c.getJSON(ctx, "raw", u, nil, &page{})
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		t.Errorf("unescaped filter: %v, want a 400 *Error", err)
	}
	// Ids in paths are checked too.
	if _, err := d.Get(ctx, crm.Ref{Entity: crm.Contact, ID: "x') or 1 eq 1"}); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("Get with a hostile id: %v", err)
	}
}

func TestCreateThenIdentify(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	acct := fake.Put("account", map[string]any{"name": "ACME"})
	d := newTestDirectory(t, fake, nil)
	ctx := t.Context()
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	caller := d.parser.Parse("+49 30 9876543")
	if ms, _ := d.Lookup(ctx, caller); len(ms) != 0 {
		t.Fatalf("unknown caller found: %+v", ms)
	}
	tests := []crm.Record{
		{Ref: crm.Ref{Entity: crm.Contact}, FirstName: "Jane", LastName: "Doe", Email: "jane@example.com", AccountID: acct,
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "+49 30 9876543"}}},
		{Ref: crm.Ref{Entity: crm.Lead}, Name: "John Smith", Company: "Smith & Co", Phones: []crm.Phone{{Field: crm.FieldMobile, Raw: "+49 30 9876543"}}},
		{Ref: crm.Ref{Entity: crm.Account}, Name: "Contoso", Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "030 9876543"}}},
	}
	var ids []string
	for _, r := range tests {
		got, err := d.Create(ctx, r)
		if err != nil {
			t.Fatalf("create %s: %v", r.Entity, err)
		}
		if !isGUID(got.ID) || got.URL != d.RecordURL(got.Ref) {
			t.Errorf("created %+v", got)
		}
		ids = append(ids, string(r.Entity)+"/"+got.ID)
	}
	jane, _ := fake.Record("contact", strings.TrimPrefix(ids[0], "contact/"))
	if jane["_parentcustomerid_value"] != acct || jane["telephone1"] != "+49 30 9876543" || jane["emailaddress1"] != "jane@example.com" {
		t.Errorf("contact stored as %v", jane)
	}
	lead, _ := fake.Record("lead", strings.TrimPrefix(ids[1], "lead/"))
	if lead["lastname"] != "Smith" || lead["firstname"] != "John" || lead["subject"] == "" || lead["mobilephone"] != "+49 30 9876543" {
		t.Errorf("lead stored as %v", lead)
	}
	before := len(fake.Requests())
	ms, err := d.Lookup(ctx, caller)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sortStrings(ids), matchIDs(ms)); diff != "" {
		t.Errorf("identify after create (-want +got):\n%s", diff)
	}
	if n := len(fake.Requests()) - before; n != 0 {
		t.Errorf("identify made %d requests", n)
	}
	// The next delta brings the same records back: no duplicates.
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	if ms, _ := d.Lookup(ctx, caller); len(ms) != 3 {
		t.Errorf("after delta %d matches, want 3", len(ms))
	}
	got, err := d.Get(ctx, crm.Ref{Entity: crm.Contact, ID: strings.TrimPrefix(ids[0], "contact/")})
	if err != nil || got.Name != "Jane Doe" || got.Company != "ACME" || got.AccountID != acct {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if _, err := d.Get(ctx, crm.Ref{Entity: crm.Contact, ID: dataversetest.NewGUID()}); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("Get of a missing record: %v", err)
	}
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestURLs(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	d := newTestDirectory(t, fake, nil)
	id := "0f7e3a1c-1b2d-4e5f-8a9b-0c1d2e3f4a5b"
	if got, want := d.RecordURL(crm.Ref{Entity: crm.Contact, ID: id}),
		fake.URL+"/main.aspx?appid=22222222-2222-2222-2222-222222222222&pagetype=entityrecord&etn=contact&id="+id; got != want {
		t.Errorf("RecordURL = %s\nwant %s", got, want)
	}
	got := d.CreateFormURL(crm.Record{Ref: crm.Ref{Entity: crm.Contact}, FirstName: "Ann", LastName: "A=B&C",
		Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "+49 30 123"}}})
	want := fake.URL + "/main.aspx?appid=22222222-2222-2222-2222-222222222222&pagetype=entityrecord&etn=contact&extraqs=" +
		"firstname%3DAnn%26lastname%3DA%253DB%2526C%26telephone1%3D%252B49%252030%2520123"
	if got != want {
		t.Errorf("CreateFormURL = %s\nwant %s", got, want)
	}
	// Decoding once gives the extraqs string; decoding its values once more gives the data.
	u, _ := url.Parse(got)
	inner, _ := url.ParseQuery(u.Query().Get("extraqs"))
	if inner.Get("lastname") != "A=B&C" || inner.Get("telephone1") != "+49 30 123" {
		t.Errorf("extraqs decodes to %v", inner)
	}
}

func TestTokenCachedAndRenewed(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).Unix())
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	fake := dataversetest.New(t, dataversetest.Options{TokenLifetime: 65 * time.Minute, Now: clock})
	fake.Put("contact", map[string]any{"lastname": "A", "telephone1": "030 1111111"})
	cfg := testConfig(fake)
	d, err := New(cfg, testParser(t), newMemStore(), nil, WithGetenv(testGetenv), WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for range 5 {
		if err := d.Sync(ctx, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.TokenRequests(); n != 1 {
		t.Errorf("%d token requests for 5 syncs, want 1", n)
	}
	now.Add(int64((61 * time.Minute) / time.Second)) // within 5 minutes of expiry: renew first
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	if n := fake.TokenRequests(); n != 2 {
		t.Errorf("%d token requests after 61 minutes, want 2", n)
	}
	// A token the CRM no longer accepts (401): renewed once, request retried.
	fake.ExpireTokens()
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatalf("sync after 401: %v", err)
	}
	if n := fake.TokenRequests(); n != 3 {
		t.Errorf("%d token requests after a 401, want 3", n)
	}
}

func TestSignInErrors(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{ClientSecret: "other"})
	d := newTestDirectory(t, fake, nil)
	err := d.Sync(t.Context(), false, nil)
	if err == nil || errors.Is(err, crm.ErrUnavailable) || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("wrong secret: %v, want a permanent sign-in error", err)
	}
	if strings.Contains(err.Error(), "secret") && strings.Contains(err.Error(), "=secret") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

func TestErrorClassification(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	d := newTestDirectory(t, fake, nil)
	ctx := t.Context()
	id := dataversetest.NewGUID()
	a := crm.Activity{Key: "k", Subject: "s", Direction: "inbound", Number: "+4930111"}
	tests := []struct {
		name  string
		fault dataversetest.Fault
		check func(error) bool
	}{
		{"429 retry-after", dataversetest.Fault{Status: 429, RetryAfter: "7"}, func(err error) bool {
			var ra *crm.RetryAfterError
			return errors.As(err, &ra) && ra.After == 7*time.Second && errors.Is(err, crm.ErrUnavailable)
		}},
		{"429 bare", dataversetest.Fault{Status: 429}, func(err error) bool { return errors.Is(err, crm.ErrUnavailable) }},
		{"503 retry-after", dataversetest.Fault{Status: 503, RetryAfter: "2"}, func(err error) bool {
			var ra *crm.RetryAfterError
			return errors.As(err, &ra) && ra.After == 2*time.Second
		}},
		{"500", dataversetest.Fault{Status: 500}, func(err error) bool { return errors.Is(err, crm.ErrUnavailable) }},
		// Two: a refused change set is sent again reopening the phonecall (it may be a
		// completed one), and that one is refused too.
		{"400", dataversetest.Fault{Status: 400, Count: 2}, func(err error) bool {
			var e *Error
			return errors.As(err, &e) && e.Message == "An unexpected error occurred." && !errors.Is(err, crm.ErrUnavailable)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A fresh adapter each: a 429 pauses every request of the one that got it.
			d := newTestDirectory(t, fake, nil)
			fake.Fail(tt.fault)
			err := d.LogCall(ctx, a)
			if !tt.check(err) {
				t.Errorf("got %v (%T)", err, err)
			}
		})
	}
	// Network down.
	down := newTestDirectory(t, fake, nil, func(c *Config) { c.URL, c.Authority = "http://127.0.0.1:1", "http://127.0.0.1:1" })
	if _, err := down.Get(ctx, crm.Ref{Entity: crm.Contact, ID: id}); !errors.Is(err, crm.ErrUnavailable) {
		t.Errorf("unreachable CRM: %v", err)
	}
	// A 4xx carries the CRM's message and is not retryable.
	fake.Fail(dataversetest.Fault{Status: 403, Method: "POST", PathPrefix: "contacts"})
	_, err := d.Create(ctx, crm.Record{Ref: crm.Ref{Entity: crm.Contact}, LastName: "X"})
	var e *Error
	if !errors.As(err, &e) || e.Status != 403 || errors.Is(err, crm.ErrUnavailable) || !strings.Contains(err.Error(), "create contact") {
		t.Errorf("create refused: %v", err)
	}
}

func TestCheck(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{NoLeads: true})
	fake.SetChangeTracking("account", false)
	d := newTestDirectory(t, fake, nil, func(c *Config) {
		c.Tables = map[string][]string{"contact": {"telephone1", "pager_bogus"}, "account": {"telephone1"}, "lead": {"telephone1"}}
	})
	fs := d.Findings(t.Context())
	got := map[string]string{}
	for _, f := range fs {
		if !f.OK {
			got[f.Check] = f.Detail
		}
	}
	for check, want := range map[string]string{
		"change tracking account": "Track changes",
		"table lead":              "Dynamics 365 Sales",
		"read contact":            "pager_bogus",
	} {
		if !strings.Contains(got[check], want) {
			t.Errorf("finding %q = %q, want it to mention %q", check, got[check], want)
		}
	}
	if len(got) != 3 {
		t.Errorf("findings: %v", fs)
	}
	bad := newTestDirectory(t, dataversetest.New(t, dataversetest.Options{ClientID: "someone-else"}), nil)
	if fs := bad.Findings(t.Context()); len(fs) != 1 || fs[0].OK || !strings.Contains(fs[0].Detail, "AADSTS700016") {
		t.Errorf("check with an unknown client: %+v", fs)
	}
	if err := d.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "Track changes") {
		t.Errorf("Check = %v", err)
	}
	good := newTestDirectory(t, dataversetest.New(t, dataversetest.Options{}), nil)
	if err := good.Check(t.Context()); err != nil {
		t.Errorf("Check of a healthy environment: %v", err)
	}
}

func TestChangeTrackingOff(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	fake.SetChangeTracking("contact", false)
	d := newTestDirectory(t, fake, nil, func(c *Config) { c.Tables = map[string][]string{"contact": {"telephone1"}} })
	err := d.Sync(t.Context(), false, nil)
	if err == nil || !strings.Contains(err.Error(), "change tracking") {
		t.Fatalf("sync without change tracking: %v", err)
	}
	if d.Ready() {
		t.Error("ready without an index")
	}
}

func TestLookupWithheld(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	d := newTestDirectory(t, fake, nil)
	for _, raw := range []string{"", "anonymous", "restricted"} {
		if ms, err := d.Lookup(t.Context(), d.parser.Parse(raw)); ms != nil || err != nil {
			t.Errorf("Lookup(%q) = %v, %v", raw, ms, err)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests for withheld numbers", n)
	}
	_ = phone.Number{}
}

func TestLiveLookupWithoutLeadTable(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{NoLeads: true})
	id := fake.Put("contact", map[string]any{"lastname": "Doe", "telephone1": "030 9876543"})
	d := newTestDirectory(t, fake, nil)
	ms, err := d.Lookup(t.Context(), d.parser.Parse("+49309876543"))
	if err != nil || len(ms) != 1 || ms[0].ID != id {
		t.Fatalf("live lookup without leads: %+v, %v", ms, err)
	}
	fake.Fail(dataversetest.Fault{Status: 429, RetryAfter: "3"})
	if _, err := d.Lookup(t.Context(), d.parser.Parse("+49309876543")); !errors.Is(err, crm.ErrUnavailable) {
		t.Errorf("throttled live lookup: %v", err)
	}
}

func TestDeltaAcrossPages(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	seedContacts(fake, 5)
	d := newTestDirectory(t, fake, nil, func(c *Config) { c.PageSize = 2; c.Tables = map[string][]string{"contact": {"telephone1"}} })
	ctx := t.Context()
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 5 {
		ids = append(ids, fake.Put("contact", map[string]any{"lastname": "New", "telephone1": fmt.Sprintf("040 %d", 5000000+i)}))
	}
	fake.Delete("contact", ids[4])
	before := len(fake.Requests())
	if err := d.Sync(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Requests()) - before; n != 3 { // 4 changes + 1 delete in pages of 2
		t.Errorf("delta took %d requests, want 3", n)
	}
	for i := range 5 {
		ms, _ := d.Lookup(ctx, d.parser.Parse(fmt.Sprintf("+4940%d", 5000000+i)))
		if want := map[bool]int{true: 0, false: 1}[i == 4]; len(ms) != want {
			t.Errorf("number %d: %d matches, want %d", i, len(ms), want)
		}
	}
}

func TestNilStoreValidatesAndWorksInMemory(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	fake.Put("contact", map[string]any{"lastname": "A", "telephone1": "030 1111111"})
	d, err := New(testConfig(fake), testParser(t), nil, nil, WithGetenv(testGetenv))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(t.Context(), false, nil); err != nil {
		t.Fatal(err)
	}
	if ms, _ := d.Lookup(t.Context(), d.parser.Parse("030 1111111")); len(ms) != 1 {
		t.Errorf("lookup without a store: %+v", ms)
	}
}

func TestCheckPrivilege(t *testing.T) {
	fake := dataversetest.New(t, dataversetest.Options{})
	fake.Fail(dataversetest.Fault{Status: 403, Method: "GET", PathPrefix: "accounts"})
	d := newTestDirectory(t, fake, nil)
	err := d.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "organisation-level Read on account") {
		t.Errorf("Check = %v", err)
	}
}
