package phone

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

// hitKeys renders hits as "key/field/how" for compact comparisons, sorted by key within
// each kind (the order inside a kind is not specified). It fails the test when a suffix
// hit comes before an exact one.
func hitKeys(t testing.TB, hs []Hit) []string {
	t.Helper()
	var out []string
	for i, h := range hs {
		if i > 0 && hs[i-1].How == MatchSuffix && h.How == MatchExact {
			t.Errorf("exact hit %s after a suffix hit", h.Key)
		}
		out = append(out, h.Key+"/"+h.Field+"/"+string(h.How))
	}
	slices.SortStableFunc(out, func(a, b string) int {
		return cmp.Or(
			strings.Compare(a[strings.LastIndexByte(a, '/'):], b[strings.LastIndexByte(b, '/'):]),
			strings.Compare(a, b))
	})
	return out
}

func TestIndex(t *testing.T) {
	p := newTestParser(t)
	st := func(raw string) Number { return p.ParseStored(raw, "") }
	x := NewIndex(8)
	x.Set("contact/1", []Entry{{"telephone1", st("030 1234567")}, {"mobilephone", st("0170 1234567")}})
	x.Set("contact/2", []Entry{{"telephone1", st("12345678")}})                                            // local, fallback only
	x.Set("contact/3", []Entry{{"telephone1", st("+49 30 1234567")}, {"telephone2", st("(030) 1234567")}}) // same number twice
	x.Set("account/4", []Entry{{"telephone1", st("+49 30 12345678")}})
	x.Set("lead/5", []Entry{{"telephone1", st("anonymous")}, {"telephone2", st("200")}}) // nothing to index
	if got := x.Len(); got != 4 {
		t.Errorf("Len = %d, want 4", got)
	}

	cases := []struct {
		name string
		n    Number
		want []string
	}{
		{"exact, two records", p.Parse("+49301234567"), []string{"contact/1/telephone1/exact", "contact/3/telephone1/exact"}},
		{"mobile", p.Parse("0049 170 1234567"), []string{"contact/1/mobilephone/exact"}},
		{"exact first, then suffix", p.Parse("+49 30 12345678"), []string{"account/4/telephone1/exact", "contact/2/telephone1/suffix"}},
		{"unknown", p.Parse("+49 30 7654321"), nil},
		{"withheld", p.Parse("anonymous"), nil},
		{"extension", p.Parse("200"), nil},
		{"one digit off", p.Parse("+49 30 12345679"), nil},
		{"other country, same digits", p.Parse("+43 30 12345678"), []string{"contact/2/telephone1/suffix"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := gocmp.Diff(c.want, hitKeys(t, x.Lookup(c.n))); diff != "" {
				t.Errorf("Lookup(%q) (-want +got):\n%s", c.n.Raw, diff)
			}
		})
	}

	// The hit carries the number as indexed.
	if hs := x.Lookup(p.Parse("0 0170 1234567")); len(hs) != 1 || hs[0].Stored.Raw != "0170 1234567" {
		t.Errorf("Stored not kept: %+v", hs)
	}

	// Replace: contact/1 moves to another number.
	x.Set("contact/1", []Entry{{"telephone1", st("089 9876543")}})
	if got := hitKeys(t, x.Lookup(p.Parse("+49301234567"))); !gocmp.Equal(got, []string{"contact/3/telephone1/exact"}) {
		t.Errorf("after replace, old number: %v", got)
	}
	if got := hitKeys(t, x.Lookup(p.Parse("+49899876543"))); !gocmp.Equal(got, []string{"contact/1/telephone1/exact"}) {
		t.Errorf("after replace, new number: %v", got)
	}
	if got := hitKeys(t, x.Lookup(p.Parse("+491701234567"))); got != nil {
		t.Errorf("after replace, dropped mobile: %v", got)
	}

	// Remove, and Set with no entries.
	x.Remove("contact/2")
	x.Remove("contact/unknown")
	x.Set("account/4", nil)
	if got := hitKeys(t, x.Lookup(p.Parse("+49 30 12345678"))); got != nil {
		t.Errorf("after remove: %v", got)
	}
	if got := x.Len(); got != 2 {
		t.Errorf("Len after remove = %d, want 2", got)
	}
}

func TestIndexOneHitPerKey(t *testing.T) {
	p := newTestParser(t)
	x := NewIndex(8)
	// The same record matches exactly on one field and by suffix on another: one hit, exact.
	x.Set("contact/1", []Entry{{"telephone2", p.ParseStored("12345678", "")}, {"telephone1", p.ParseStored("+49 30 12345678", "")}})
	want := []string{"contact/1/telephone1/exact"}
	if got := hitKeys(t, x.Lookup(p.Parse("+49 30 12345678"))); !gocmp.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestIndexSharedNumber: a switchboard number shared by many records (past the linear
// de-duplication) and removals from the middle of its chains.
func TestIndexSharedNumber(t *testing.T) {
	p := newTestParser(t)
	x := NewIndex(8)
	board := p.ParseStored("030 12345-0", "")
	local := p.ParseStored("12345-0", "") // no area code: fallback only
	const n = 100
	for i := range n {
		x.Set(fmt.Sprintf("contact/%d", i), []Entry{{"telephone1", board}, {"telephone2", local}})
	}
	for i := 0; i < n; i += 3 {
		x.Remove(fmt.Sprintf("contact/%d", i))
	}
	hs := x.Lookup(p.Parse("+49 30 123450"))
	seen := map[string]bool{}
	for _, h := range hs {
		if seen[h.Key] {
			t.Fatalf("key %s twice", h.Key)
		}
		seen[h.Key] = true
		if h.How != MatchExact || h.Field != "telephone1" {
			t.Errorf("hit %+v, want the exact telephone1", h)
		}
	}
	if want := n - (n+2)/3; len(hs) != want {
		t.Errorf("%d hits, want %d", len(hs), want)
	}
	// Freed slots are reused.
	before := len(x.slots)
	x.Set("contact/0", []Entry{{"telephone1", board}})
	if len(x.slots) != before {
		t.Errorf("slots grew from %d to %d although some were free", before, len(x.slots))
	}
}

func TestIndexNoSuffix(t *testing.T) {
	p := newTestParser(t)
	x := NewIndex(0)
	x.Set("contact/1", []Entry{{"telephone1", p.ParseStored("12345678", "")}, {"telephone2", p.ParseStored("030 1234567", "")}})
	if got := x.Lookup(p.Parse("+49 30 12345678")); got != nil {
		t.Errorf("fallback off, got %v", hitKeys(t, got))
	}
	if got := hitKeys(t, x.Lookup(p.Parse("+49 30 1234567"))); !gocmp.Equal(got, []string{"contact/1/telephone2/exact"}) {
		t.Errorf("exact with fallback off: %v", got)
	}
}

// TestIndexLongNumbers: E.164 strings too long for the integer key (not real numbers, but
// possible from hand-built Numbers) still work through the hashed key.
func TestIndexLongNumbers(t *testing.T) {
	x := NewIndex(8)
	a := Number{E164: "+1234567890123456789012", Digits: "1234567890123456789012"}
	b := Number{E164: "+9234567890123456789012", Digits: "9234567890123456789012"}
	x.Set("a", []Entry{{"t", a}})
	x.Set("b", []Entry{{"t", b}})
	if got := hitKeys(t, x.Lookup(a)); !gocmp.Equal(got, []string{"a/t/exact"}) {
		t.Errorf("got %v", got)
	}
}

func TestIndexConcurrent(t *testing.T) {
	p := newTestParser(t)
	x := NewIndex(8)
	nums := make([]Number, 50)
	for i := range nums {
		nums[i] = p.ParseStored(fmt.Sprintf("030 %07d", 1000000+i), "")
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprintf("contact/%d", (w*500+i)%60)
				if i%7 == 0 {
					x.Remove(key)
				} else {
					x.Set(key, []Entry{{"telephone1", nums[i%len(nums)]}, {"mobilephone", nums[(i+w)%len(nums)]}})
				}
			}
		})
		wg.Go(func() {
			for i := range 2000 {
				for _, h := range x.Lookup(nums[(i+w)%len(nums)]) {
					if h.How != MatchExact {
						t.Errorf("hit %+v", h)
						return
					}
				}
				_ = x.Len()
			}
		})
	}
	wg.Wait()
	// The chains are consistent: every indexed record is found by each of its numbers.
	checkChains(t, x)
}

// checkChains checks that every indexed record is found by each of its numbers, and
// that the counts agree.
func checkChains(t *testing.T, x *Index) {
	t.Helper()
	keys := 0
	for r := range x.recs {
		rc := &x.recs[r]
		if !rc.used {
			continue
		}
		keys++
		key := string(x.arena[rc.off : rc.off+rc.n])
		if got, _ := x.findRec(key, maphash.String(x.seed, key)); got != int32(r) {
			t.Fatalf("key %s: findRec %d, want %d", key, got, r)
		}
		for s := rc.head; s != none; s = x.slots[s].nextKey {
			num := x.hit(&x.slots[s], MatchExact).Stored
			found := false
			for _, h := range x.Lookup(num) {
				found = found || h.Key == key
			}
			if !found {
				t.Fatalf("%s not found by its number %+v", key, num)
			}
		}
	}
	if keys != x.Len() {
		t.Fatalf("%d keys in use, Len %d", keys, x.Len())
	}
}

// TestIndexCompact replaces records until the arena is compacted several times; every
// record is still found by its current numbers only.
func TestIndexCompact(t *testing.T) {
	x := NewIndex(8)
	x.compactAt = 1 << 10
	const records = 500
	num := func(i int) Number {
		e := fmt.Sprintf("+4930%07d", 1000000+i)
		return Number{Raw: fmt.Sprint("030 ", 1000000+i), E164: e, Region: "DE", Digits: e[1:]}
	}
	compactions := 0
	for round := range 60 {
		for i := range records {
			n := num(i + round*records)
			n.Extension = fmt.Sprint(round)
			before := len(x.arena)
			x.Set(fmt.Sprintf("contact/%d", i), []Entry{{fmt.Sprint("field", round), n}})
			if len(x.arena) < before {
				compactions++
			}
		}
	}
	if compactions == 0 {
		t.Fatalf("no compaction (arena %d bytes, %d dead)", len(x.arena), x.dead)
	}
	if x.Len() != records {
		t.Fatalf("Len %d", x.Len())
	}
	checkChains(t, x)
	for i := range records {
		if hs := x.Lookup(num(i)); len(hs) != 0 {
			t.Fatalf("old number of contact/%d still found: %+v", i, hs)
		}
		cur := num(i + 59*records)
		cur.Extension = "59"
		hs := x.Lookup(cur)
		if len(hs) != 1 || hs[0].Key != fmt.Sprintf("contact/%d", i) || hs[0].Field != "field59" || hs[0].Stored != cur {
			t.Fatalf("contact/%d: %+v", i, hs)
		}
	}
	for i := range records {
		x.Remove(fmt.Sprintf("contact/%d", i))
	}
	if x.Len() != 0 || len(x.keys) != 0 || len(x.exact) != 0 || len(x.suffix) != 0 {
		t.Fatalf("left behind: Len %d, %d keys, %d exact, %d suffix", x.Len(), len(x.keys), len(x.exact), len(x.suffix))
	}
}

// TestIndexHashCollision gives keys the same hash: the chain keeps them apart.
func TestIndexHashCollision(t *testing.T) {
	p := newTestParser(t)
	x := NewIndex(8)
	const h = 42
	for i, key := range []string{"contact/a", "contact/b", "contact/c"} {
		x.set(key, h, []Entry{{"telephone1", p.ParseStored(fmt.Sprintf("030 123456%d", i), "")}})
	}
	x.set("contact/b", h, []Entry{{"telephone1", p.ParseStored("030 1234569", "")}}) // replaced
	x.remove("contact/a", h)                                                         // the last of the chain
	want := map[string]string{"030 1234560": "", "030 1234561": "", "030 1234562": "contact/c", "030 1234569": "contact/b"}
	for raw, key := range want {
		hs := x.Lookup(p.Parse(raw))
		if key == "" && len(hs) != 0 || key != "" && (len(hs) != 1 || hs[0].Key != key) {
			t.Errorf("%s: %+v, want %q", raw, hs, key)
		}
	}
	if x.Len() != 2 {
		t.Errorf("Len %d, want 2", x.Len())
	}
	if r, _ := x.findRec("contact/b", h); r == none {
		t.Errorf("contact/b lost from its hash chain")
	}
}

// TestIndexStoredRoundTrip: a hit carries the stored number and field exactly as they
// were given, whichever texts the arena shares with the E.164 form.
func TestIndexStoredRoundTrip(t *testing.T) {
	p := newTestParser(t)
	x := NewIndex(8)
	long := strings.Repeat("9", 200)
	cases := []Entry{
		{"telephone1", p.ParseStored("+4930123456", "")},                 // raw is the E.164 form
		{"telephone2", p.ParseStored("030 1234567 ext. 12", "")},         // extension
		{"mobilephone", p.ParseStored("0043 1 2345678", "")},             // region
		{"", p.ParseStored("12345678", "")},                              // fallback digits only
		{strings.Repeat("f", 300), p.ParseStored("+1 212 555 0100", "")}, // long field
		{"x", Number{Raw: long, E164: "+" + long[:20], Digits: long[:20]}},
		{"y", Number{Raw: "r", E164: "+491234567890", Digits: "1234567890"}}, // digits not the E.164 form's
	}
	for i, e := range cases {
		key := fmt.Sprintf("k%d", i)
		x.Set(fmt.Sprintf("k%d", i-1), nil)
		x.Set(key, []Entry{e})
		hs := x.Lookup(e.Number)
		if len(hs) != 1 || hs[0].Key != key || hs[0].Field != e.Field || hs[0].Stored != e.Number {
			t.Errorf("%d: %+v, want %+v", i, hs, e)
		}
	}
}

// TestIndexLookupAllocs: a miss allocates nothing, a hit its slice and one string.
func TestIndexLookupAllocs(t *testing.T) {
	x := NewIndex(8)
	stored := Number{Raw: "030 1234567", E164: "+49301234567", Region: "DE", Digits: "49301234567"}
	x.Set("contact/1", []Entry{{"telephone1", stored}})
	miss := Number{E164: "+49307654321", Digits: "49307654321"}
	if n := testing.AllocsPerRun(100, func() { x.Lookup(miss) }); n != 0 {
		t.Errorf("a miss allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { x.Lookup(stored) }); n != 2 {
		t.Errorf("a hit allocates %v times, want 2", n)
	}
}
