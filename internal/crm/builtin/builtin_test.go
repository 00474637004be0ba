package builtin

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/crm"
	"github.com/ringside/ringside/internal/phone"
)

func TestNew(t *testing.T) {
	p := testParser(t)
	for _, tc := range []struct {
		name string
		st   Store
		p    *phone.Parser
		cfg  Config
		ok   bool
	}{
		{"defaults", newMemStore(), p, Config{}, true},
		{"base url", newMemStore(), p, Config{BaseURL: "https://ringside.example/"}, true},
		{"no store", nil, p, Config{}, false},
		{"no parser", newMemStore(), nil, Config{}, false},
		{"negative poll", newMemStore(), p, Config{Poll: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.st, tc.p, tc.cfg, nil)
			if (err == nil) != tc.ok {
				t.Errorf("New: %v", err)
			}
		})
	}
	d, _ := New(newMemStore(), p, Config{BaseURL: "https://ringside.example/"}, nil)
	if got := d.URL(crm.Ref{Entity: crm.Contact, ID: "42"}); got != "https://ringside.example/crm/contact/42" {
		t.Errorf("URL = %q", got)
	}
}

func TestDemoRecords(t *testing.T) {
	recs := DemoRecords()
	if len(recs) < 250 {
		t.Errorf("%d demo records, want at least 250", len(recs))
	}
	if !cmp.Equal(recs, DemoRecords()) {
		t.Error("DemoRecords is not deterministic")
	}
	p := testParser(t)
	ids := map[string]bool{}
	entities := map[crm.Entity]int{}
	countries := map[string]bool{}
	numbers := map[string][]string{}
	for _, r := range recs {
		if ids[r.ID] {
			t.Errorf("duplicate id %s", r.ID)
		}
		ids[r.ID] = true
		entities[r.Entity]++
		countries[r.Country] = true
		rr := r
		if err := normalise(&rr); err != nil {
			t.Errorf("%s: %v", r.ID, err)
		}
		if r.Entity == crm.Contact && r.AccountID != "" && !slices.ContainsFunc(recs, func(a crm.Record) bool { return a.ID == r.AccountID && a.Entity == crm.Account }) {
			t.Errorf("%s: account %s missing", r.ID, r.AccountID)
		}
		for _, ph := range r.Phones {
			n := p.ParseStored(ph.Raw, r.Country)
			if n.E164 == "" {
				t.Errorf("%s: number %q (%s) does not parse", r.ID, ph.Raw, r.Country)
				continue
			}
			numbers[n.E164] = append(numbers[n.E164], r.ID)
		}
	}
	for e164, owners := range numbers {
		if len(owners) > 1 && e164 != "+498945451200" {
			t.Errorf("number %s shared by %v", e164, owners)
		}
	}
	if got := numbers["+498945451200"]; len(got) != 2 {
		t.Errorf("+49 89 4545 1200 belongs to %v, want a contact and a lead", got)
	}
	for _, e := range []crm.Entity{crm.Account, crm.Contact, crm.Lead} {
		if entities[e] < 30 {
			t.Errorf("only %d %ss", entities[e], e)
		}
	}
	for _, c := range []string{"DE", "AT", "CH", "FR", "GB", "US", "NL"} {
		if !countries[c] {
			t.Errorf("no records from %s", c)
		}
	}
}

// TestDemoCallers seeds the demo into a real store and calls from every demo caller.
func TestDemoCallers(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, t.TempDir())
	d := newDir(t, st)
	if err := d.Seed(ctx, DemoRecords()); err != nil {
		t.Fatal(err)
	}
	seq, _ := st.RecordsSeq(ctx)
	if err := d.Seed(ctx, DemoRecords()); err != nil {
		t.Fatal(err)
	}
	if seq2, _ := st.RecordsSeq(ctx); seq2 != seq || d.Len() != len(DemoRecords()) {
		t.Errorf("second seed wrote again: seq %d → %d, %d records", seq, seq2, d.Len())
	}
	p := testParser(t)
	want := map[string][]string{
		"+49309876543":     {"Jane Doe"},
		"+4930987650":      {"ACME GmbH"},
		"08945451200":      {"Markus Weber", "Sabine Krüger"},
		"+442079460958":    {"Thameside Analytics Ltd"},
		"+12125550147":     {"Hudson Ridge Capital LLC"},
		"+33142685300":     {"Atelier Lumière SARL"},
		"+31612345678":     {"Sanne Visser"},
		"+49 40 5550 9123": nil,
		"anonymous":        nil,
	}
	if len(want) != len(DemoCallers) {
		t.Fatalf("test knows %d callers, DemoCallers has %d", len(want), len(DemoCallers))
	}
	for _, caller := range DemoCallers {
		ms, err := d.Lookup(ctx, p.Parse(caller))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range ms {
			names = append(names, m.Name)
			if m.How != phone.MatchExact {
				t.Errorf("%s: %s matched by %s, want exact", caller, m.Name, m.How)
			}
		}
		slices.Sort(names)
		if diff := cmp.Diff(want[caller], names); diff != "" {
			t.Errorf("caller %s (-want +got):\n%s", caller, diff)
		}
	}
	ms, _ := d.Lookup(ctx, p.Parse("+49309876543"))
	if len(ms) != 1 {
		t.Fatalf("Jane Doe: %d matches", len(ms))
	}
	jane := ms[0]
	if jane.Company != "ACME GmbH" || jane.Number != "+49 30 9876543" || jane.Field != crm.FieldBusiness || jane.URL != "/crm/contact/demo-jane-doe" {
		t.Errorf("Jane Doe match %+v", jane)
	}
}

func TestCreateLookupGet(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, t.TempDir())
	d := newDir(t, st)
	p := testParser(t)
	c, err := d.Create(ctx, crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: "ignored"}, FirstName: "Ida", LastName: "Lorenz",
		Company: "Neuland Werkzeuge GmbH", Country: "de", Phones: []crm.Phone{{Raw: "0351 4455667"}, {Field: crm.FieldMobile, Raw: " "}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == "" || c.ID == "ignored" || c.Name != "Ida Lorenz" || c.Country != "DE" || c.AccountID == "" || c.URL != "/crm/contact/"+c.ID {
		t.Errorf("created %+v", c)
	}
	if diff := cmp.Diff([]crm.Phone{{Field: crm.FieldBusiness, Raw: "0351 4455667"}}, c.Phones); diff != "" {
		t.Errorf("phones (-want +got):\n%s", diff)
	}
	acc, err := d.Get(ctx, crm.Ref{Entity: crm.Account, ID: c.AccountID})
	if err != nil || acc.Name != "Neuland Werkzeuge GmbH" {
		t.Errorf("linked account %+v, %v", acc, err)
	}
	// A second contact of the same company joins the same account.
	c2, err := d.Create(ctx, crm.Record{Ref: crm.Ref{Entity: crm.Contact}, LastName: "Brandl", Company: "neuland  werkzeuge gmbh"})
	if err != nil || c2.AccountID != c.AccountID {
		t.Errorf("second contact %+v, %v; want account %s", c2, err, c.AccountID)
	}
	ms, err := d.Lookup(ctx, p.Parse("+49 351 4455667"))
	if err != nil || len(ms) != 1 || ms[0].Field != crm.FieldBusiness || ms[0].ID != c.ID || ms[0].Company != "Neuland Werkzeuge GmbH" || ms[0].How != phone.MatchExact {
		t.Errorf("Lookup = %+v, %v", ms, err)
	}
	if got, err := d.Get(ctx, c.Ref); err != nil || !cmp.Equal(got, c) {
		t.Errorf("Get = %+v, %v; want %+v", got, err, c)
	}
	if _, err := d.Get(ctx, crm.Ref{Entity: crm.Lead, ID: c.ID}); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("Get(wrong entity) = %v", err)
	}
	for name, r := range map[string]crm.Record{
		"bad entity":   {Ref: crm.Ref{Entity: "deal"}, Name: "x"},
		"no name":      {Ref: crm.Ref{Entity: crm.Lead}, Company: "Only Co"},
		"account name": {Ref: crm.Ref{Entity: crm.Account}},
		"bad country":  {Ref: crm.Ref{Entity: crm.Contact}, LastName: "X", Country: "Germany"},
	} {
		var fe *FieldError
		if _, err := d.Create(ctx, r); !errors.As(err, &fe) {
			t.Errorf("%s: Create = %v, want a FieldError", name, err)
		}
	}
	// Update: the old number leaves the index, the new one enters it.
	upd := c
	upd.Phones = []crm.Phone{{Field: crm.FieldMobile, Raw: "0171 9090909"}}
	upd.LastName = "Lorenz-Berg"
	got, err := d.Update(ctx, upd)
	if err != nil || got.Name != "Ida Lorenz-Berg" || got.AccountID != c.AccountID {
		t.Errorf("Update = %+v, %v", got, err)
	}
	if ms, _ := d.Lookup(ctx, p.Parse("+49 351 4455667")); len(ms) != 0 {
		t.Errorf("old number still found: %+v", ms)
	}
	if ms, _ := d.Lookup(ctx, p.Parse("+491719090909")); len(ms) != 1 || ms[0].Name != "Ida Lorenz-Berg" {
		t.Errorf("new number: %+v", ms)
	}
	if _, err := d.Update(ctx, crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: "nope"}, LastName: "X"}); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("Update(unknown) = %v", err)
	}
	// A lookup that finds nothing.
	if ms, err := d.Lookup(ctx, p.Parse("+1 212 555 0100")); err != nil || len(ms) != 0 {
		t.Errorf("unknown number: %+v, %v", ms, err)
	}
	d2 := newDir(t, st) // another process loading the same data
	if d2.Len() != d.Len() || d2.Len() != 3 {
		t.Errorf("second directory has %d records, first %d", d2.Len(), d.Len())
	}
}

// hostile is text people type into a CRM or a caller sends: HTML, quotes, SQL, 10 kB,
// invalid UTF-8, control characters.
var hostile = []string{
	`<img src=x onerror="alert(1)">`,
	`O'Brien "Bunny" \ Smith`,
	`'; DROP TABLE contacts;--`,
	strings.Repeat("<b>ACME</b> & Co ", 600),
	"\xff\xfe\xc3\x28 broken",
	"tab\tnew\nline\x00nul",
}

func TestHostileNames(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	d := newDir(t, openStore(t, dir))
	var created []crm.Record
	for _, h := range hostile {
		for _, e := range []crm.Entity{crm.Contact, crm.Lead, crm.Account} {
			r := crm.Record{Ref: crm.Ref{Entity: e}, FirstName: h, LastName: h, Company: h, Email: h, Name: h,
				Phones: []crm.Phone{{Field: crm.FieldOther, Raw: h + "030 1234567"}}}
			if e == crm.Contact {
				r.Company = "" // no account link, so Company stays the bytes given
			}
			c, err := d.Create(ctx, r)
			if err != nil {
				t.Fatalf("Create(%q): %v", h, err)
			}
			if e != crm.Account && (c.FirstName != h || c.LastName != h) || c.Email != h || c.Phones[0].Raw != h+"030 1234567" {
				t.Errorf("created %q: %+v", h, c)
			}
			created = append(created, c)
		}
	}
	// Read back by a fresh process: byte for byte.
	d2 := newDir(t, openStore(t, dir))
	for _, c := range created {
		got, err := d2.Get(ctx, c.Ref)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("read back (-created +got):\n%s", diff)
		}
	}
}

func TestImport(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, t.TempDir())
	d := newDir(t, st)
	if err := d.Seed(ctx, DemoRecords()[:3]); err != nil { // ACME GmbH, Jane Doe, Thomas Keller
		t.Fatal(err)
	}
	before := d.Len()
	f, err := os.Open("testdata/good.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := d.Import(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	want := ImportResult{Rows: 7, Contacts: 4, Leads: 1, Accounts: 1, AccountsUpdated: 1, AccountsLinked: 1, Separator: ",", Encoding: "utf-8"}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if got := d.Len() - before; got != 7 { // 4 contacts, 1 lead, Kupferberg, Maison Fontaine
		t.Errorf("%d records added, want 7", got)
	}
	p := testParser(t)
	find := func(number string) []crm.Match {
		t.Helper()
		ms, err := d.Lookup(ctx, p.Parse(number))
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	one := func(number string) crm.Match {
		t.Helper()
		ms := find(number)
		if len(ms) != 1 {
			t.Fatalf("%s: %d matches, want 1: %+v", number, len(ms), ms)
		}
		return ms[0]
	}
	kupfer := one("+49 911 47110")
	if kupfer.Entity != crm.Account || kupfer.Name != "Kupferberg Armaturen GmbH" || kupfer.Email != "info@kupferberg.example" {
		t.Errorf("Kupferberg %+v", kupfer)
	}
	if again := one("+49 911 471199"); again.ID != kupfer.ID || again.Field != crm.FieldOther {
		t.Errorf("the second Kupferberg row did not add its number to the account: %+v", again)
	}
	ingrid := one("+49 911 4711230")
	if ingrid.Name != "Ingrid Sommer" || ingrid.AccountID != kupfer.ID || ingrid.Company != "Kupferberg Armaturen GmbH" {
		t.Errorf("Ingrid %+v", ingrid)
	}
	if m := one("+49 160 9988776"); m.ID != ingrid.ID || m.Field != crm.FieldMobile {
		t.Errorf("Ingrid's mobile %+v", m)
	}
	pierre := one("+33 1 45 22 61 70") // written nationally, with country fr
	if pierre.Country != "FR" || pierre.Company != "Maison Fontaine SARL" || pierre.AccountID == "" {
		t.Errorf("Pierre %+v", pierre)
	}
	wendy := one("+44 20 7946 0321")
	if wendy.LastName != `O'Neil "Bunny"` || wendy.AccountID != "demo-acme" || wendy.Company != "ACME GmbH" {
		t.Errorf("Wendy %+v (want linked to the existing ACME GmbH)", wendy)
	}
	hans := one("+41 44 668 18 00")
	if hans.Entity != crm.Lead || hans.Company != "Gerber, Holz & Co." || hans.AccountID != "" {
		t.Errorf("Hans %+v", hans)
	}
	if solo := one("+1 212 555 0111"); solo.Name != "Solo" {
		t.Errorf("Solo %+v", solo)
	}
	// Visible to another process.
	d2 := newDir(t, st)
	if d2.Len() != d.Len() {
		t.Errorf("second directory sees %d records, want %d", d2.Len(), d.Len())
	}
}

func TestImportRejects(t *testing.T) {
	for _, tc := range []struct {
		file  string
		lines []int
		msgs  []string
	}{
		{"bad_rows.csv", []int{3, 4, 5, 7, 8}, []string{`"customer" is not contact, lead or account`, `"XX" is not an ISO 3166`, "needs a first or last name", "an account needs a name", "type is empty"}},
		{"bad_quote.csv", []int{3}, []string{"not valid CSV"}},
		{"no_type.csv", []int{1}, []string{"no type column"}},
		{"empty.csv", []int{1}, []string{"empty"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ctx := t.Context()
			st := openStore(t, t.TempDir())
			d := newDir(t, st)
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Import(ctx, bytes.NewReader(b))
			var ie *ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("Import = %v, want an *ImportError", err)
			}
			var lines []int
			for _, l := range ie.Lines {
				lines = append(lines, l.Line)
			}
			if diff := cmp.Diff(tc.lines, lines); diff != "" {
				t.Errorf("bad lines (-want +got):\n%s\n%v", diff, err)
			}
			for _, m := range tc.msgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error does not say %q:\n%v", m, err)
				}
			}
			if seq, _ := st.RecordsSeq(ctx); seq != 0 || d.Len() != 0 {
				t.Errorf("a rejected file stored something: seq %d, %d records", seq, d.Len())
			}
		})
	}
}

func TestImportErrorLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("type,last_name\n")
	for range 50 {
		b.WriteString("deal,X\n")
	}
	d := newDir(t, newMemStore())
	_, err := d.Import(t.Context(), strings.NewReader(b.String()))
	var ie *ImportError
	if !errors.As(err, &ie) || len(ie.Lines) != maxLineErrors || ie.More != 50-maxLineErrors {
		t.Fatalf("Import = %v", err)
	}
	if !strings.Contains(err.Error(), "and 30 more") {
		t.Errorf("error does not count the rest: %v", err)
	}
}

// TestSecondDirectorySeesChanges: records written by one process (Create, Import) reach
// the directory of another through Run's polling of the change sequence.
func TestSecondDirectorySeesChanges(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	serve := newDir(t, openStore(t, dir))
	serve.cfg.Poll = 10 * time.Millisecond
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- serve.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()

	cli := newDir(t, openStore(t, dir)) // `ringside import` in another process
	p := testParser(t)
	c, err := cli.Create(ctx, crm.Record{Ref: crm.Ref{Entity: crm.Lead}, FirstName: "Otto", LastName: "Lang", Phones: []crm.Phone{{Raw: "0621 778899"}}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the created lead", func() bool {
		ms, _ := serve.Lookup(ctx, p.Parse("+49621778899"))
		return len(ms) == 1 && ms[0].ID == c.ID
	})
	if _, err := cli.Import(ctx, strings.NewReader("type,first_name,last_name,phone\ncontact,Uta,Ring,0621 112233\n")); err != nil {
		t.Fatal(err)
	}
	serve.Refresh()
	eventually(t, "the imported contact", func() bool {
		ms, _ := serve.Lookup(ctx, p.Parse("+49621112233"))
		return len(ms) == 1 && ms[0].Name == "Uta Ring"
	})
	// An update replaces the old number in the index.
	upd := c
	upd.Phones = []crm.Phone{{Field: crm.FieldBusiness, Raw: "0621 445566"}}
	if _, err := cli.st.PutRecords(ctx, []crm.Record{upd}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the update", func() bool {
		old, _ := serve.Lookup(ctx, p.Parse("+49621778899"))
		now, _ := serve.Lookup(ctx, p.Parse("+49621445566"))
		return len(old) == 0 && len(now) == 1
	})
}

func TestLogCall(t *testing.T) {
	ctx := t.Context()
	d := newDir(t, openStore(t, t.TempDir()))
	ref := &crm.Ref{Entity: crm.Contact, ID: "demo-jane-doe"}
	a := crm.Activity{Key: "call-1:activity", CallID: "call-1", Subject: "Incoming call from Jane Doe", Direction: "inbound",
		Number: "+49309876543", Regarding: ref, Agent: "alice", Start: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Duration: 95 * time.Second}
	for _, notes := range []string{"", "wants a quote", "wants a quote; call back Friday"} { // a retry, then an edit
		a.Notes = notes
		if err := d.LogCall(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []struct {
		callID string
		ref    *crm.Ref
	}{{"call-1", nil}, {"", ref}} {
		got, err := d.Activities(ctx, q.callID, q.ref)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]crm.Activity{a}, got); diff != "" {
			t.Errorf("activities (-want +got):\n%s", diff)
		}
	}
	if err := d.LogCall(ctx, crm.Activity{CallID: "x"}); err == nil {
		t.Error("activity without key accepted")
	}
	if _, err := d.Activities(ctx, "", nil); err == nil {
		t.Error("Activities without call or record accepted")
	}
}

func FuzzImport(f *testing.F) {
	for _, name := range []string{"good.csv", "bad_rows.csv", "bad_quote.csv", "no_type.csv", "empty.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("type,company\naccount,\"a\nb\"\n"))
	f.Add([]byte("\ufefftype\ncontact\n"))
	f.Add([]byte("type;first_name;last_name;phone\ncontact;J\xfcrgen;M\xfcller;030 5550102\n"))
	f.Add([]byte("type\tlast_name\temail\tphone\ncontact\tA\ta@x\tnot-a-number\ncontact\tA\ta@x\t030 1\n"))
	p := testParser(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		st := newMemStore()
		d, err := New(st, p, Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		pv, err := d.Preview(context.Background(), bytes.NewReader(data))
		if err != nil {
			t.Fatalf("preview: %v", err)
		}
		if seq, _ := st.RecordsSeq(context.Background()); seq != 0 {
			t.Fatalf("preview stored %d records", seq)
		}
		for _, it := range pv.Items {
			if it.Action != "create" && it.Action != "update" && it.Action != "error" {
				t.Fatalf("row %d: action %q", it.Line, it.Action)
			}
		}
		res, err := d.Import(context.Background(), bytes.NewReader(data))
		if err != nil {
			var ie *ImportError
			if !errors.As(err, &ie) || len(ie.Lines) == 0 {
				t.Fatalf("error without a line: %v", err)
			}
			for _, l := range ie.Lines {
				if l.Line < 1 || !strings.Contains(err.Error(), "line ") {
					t.Fatalf("bad line number %d in %v", l.Line, err)
				}
			}
			if seq, _ := st.RecordsSeq(context.Background()); seq != 0 {
				t.Fatalf("rejected import stored %d records", seq)
			}
			return
		}
		if n := res.Contacts + res.Leads + res.Accounts + res.AccountsUpdated; n != res.Rows {
			t.Fatalf("result %+v: rows do not add up", res)
		}
		if d.Len() != res.Contacts+res.Leads+res.Accounts+res.AccountsLinked {
			t.Fatalf("%d records in memory for %+v", d.Len(), res)
		}
	})
}
