package builtin

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringside/ringside/internal/crm"
)

func TestRecordsRoundTrip(t *testing.T) {
	cases := []crm.Record{
		{Ref: crm.Ref{Entity: crm.Contact, ID: "1"}, Name: "Jane Doe", FirstName: "Jane", LastName: "Doe",
			Company: "Acme", Email: "jane@example.com", Country: "DE", AccountID: "a1",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "030 1234567"}, {Field: crm.FieldMobile, Raw: "+49 170 1234567"}}},
		{Ref: crm.Ref{Entity: crm.Account, ID: "a1"}, Name: "Acme"}, // no phones: nil, as the store gives them
		{Ref: crm.Ref{Entity: crm.Lead, ID: "x/y"}, Name: strings.Repeat("ü", 300), Phones: []crm.Phone{{Raw: ""}}},
	}
	tb := newRecords()
	for _, r := range cases {
		tb.put(key(r.Ref), r)
	}
	for _, r := range cases {
		got, ok := tb.get(key(r.Ref))
		if !ok {
			t.Fatalf("%s not found", key(r.Ref))
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("%s (-put +got):\n%s", key(r.Ref), diff)
		}
		want := r
		want.URL = "https://crm.example/crm/" + string(r.Entity) + "/" + r.ID
		if got, _ := tb.getURL(key(r.Ref), true, "https://crm.example"); !cmp.Equal(want, got) {
			t.Errorf("%s with URL: %+v", key(r.Ref), got)
		}
		if name, _ := tb.name(key(r.Ref)); name != r.Name {
			t.Errorf("%s: name %q", key(r.Ref), name)
		}
	}
	for _, k := range []string{"contact/2", "account/1", "contact", "lead/x", "lead/x/y/", "contac/t/1", "contact1"} {
		if r, ok := tb.get(k); ok {
			t.Errorf("%s found: %+v", k, r)
		}
	}
	if tb.len() != len(cases) {
		t.Errorf("len %d", tb.len())
	}
}

// TestRecordsHashCollision gives keys the same hash: the chain keeps them apart, and a
// replaced record stays in its place in the chain.
func TestRecordsHashCollision(t *testing.T) {
	tb := newRecords()
	rec := func(id, name string) crm.Record {
		return crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: id}, Name: name}
	}
	const h = 7
	tb.putHash("contact/a", h, rec("a", "A"))
	tb.putHash("contact/b", h, rec("b", "B"))
	tb.putHash("contact/a", h, rec("a", "A2"))
	for k, want := range map[string]string{"contact/a": "A2", "contact/b": "B"} {
		e := tb.find(k, h)
		if e == none {
			t.Fatalf("%s lost", k)
		}
		if got := decodeRecord(tb.bytes(e), false, "").Name; got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if tb.find("contact/c", h) != none || tb.len() != 2 {
		t.Errorf("contact/c found, or len %d", tb.len())
	}
}

// TestRecordsCompact replaces records until the arena is compacted: the latest version
// of each is kept, and the arena stays bounded.
func TestRecordsCompact(t *testing.T) {
	tb := newRecords()
	tb.compactAt = 1 << 10
	const n = 200
	compactions := 0
	for round := range 100 {
		for i := range n {
			r := crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: fmt.Sprint(i)}, Name: fmt.Sprint("Name ", round),
				Email: strings.Repeat("e", 50), Phones: []crm.Phone{{Field: "f", Raw: fmt.Sprint(round)}}}
			before := len(tb.arena)
			tb.put(key(r.Ref), r)
			if len(tb.arena) < before {
				compactions++
			}
		}
	}
	if compactions == 0 {
		t.Fatalf("no compaction: arena %d bytes, %d dead", len(tb.arena), tb.dead)
	}
	if tb.len() != n {
		t.Fatalf("len %d", tb.len())
	}
	for i := range n {
		r, ok := tb.get(fmt.Sprint("contact/", i))
		if !ok || r.Name != "Name 99" || r.Phones[0].Raw != "99" {
			t.Fatalf("contact/%d: %+v", i, r)
		}
	}
}
