package phone

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.raw, c.region)
	}
	f.Add("\"\\\"<", "")
	f.Add("sip:@", "")
	f.Add("tel:;phone-context=+", "US")
	f.Add("%", "")
	f.Add("0 0-1", "DE")
	p := newTestParser(f)
	f.Fuzz(func(t *testing.T, raw, region string) {
		for _, n := range []Number{p.Parse(raw), p.ParseStored(raw, region)} {
			checkRaw(t, raw, n.Raw)
			if n.E164 != "" {
				if len(n.E164) < 2 || n.E164[0] != '+' || strings.Trim(n.E164[1:], "0123456789") != "" {
					t.Fatalf("%q: E164 %q is not + and digits", raw, n.E164)
				}
				if n.Digits != n.E164[1:] {
					t.Fatalf("%q: Digits %q, E164 %q", raw, n.Digits, n.E164)
				}
			}
			if strings.Trim(n.Digits, "0123456789") != "" || len(n.Digits) > maxDigits+3 {
				t.Fatalf("%q: Digits %q", raw, n.Digits)
			}
			if n.E164 == "" && n.Digits != "" && (len(n.Digits) < MinFallbackDigits || len(n.Digits) < p.Config().MinSuffixDigits) {
				t.Fatalf("%q: short fallback Digits %q", raw, n.Digits)
			}
			if strings.Trim(n.Extension, "0123456789") != "" {
				t.Fatalf("%q: Extension %q", raw, n.Extension)
			}
			if n.Withheld && (n.E164 != "" || n.Digits != "" || n.Lookupable()) {
				t.Fatalf("%q: withheld but %+v", raw, n)
			}
			if Match(n, n, 8) != NoMatch && !n.Lookupable() {
				t.Fatalf("%q: matches itself without being lookupable", raw)
			}
			if n.E164 != "" && Match(n, n, 0) != MatchExact {
				t.Fatalf("%q: does not match itself", raw)
			}
		}
	})
}

func FuzzMatch(f *testing.F) {
	f.Add("+49 30 12345678", "12345678", 8)
	f.Add("+43 1 2345678", "+49 1 2345678", 7)
	f.Add("0301234567", "30 1234567", 6)
	f.Add("anonymous", "0", 1)
	p := newTestParser(f)
	f.Fuzz(func(t *testing.T, a, b string, minSuffix int) {
		minSuffix %= 20
		x, y := p.Parse(a), p.ParseStored(b, "")
		k := Match(x, y, minSuffix)
		if k2 := Match(y, x, minSuffix); k != k2 {
			t.Fatalf("Match(%q, %q) = %q, reversed %q", a, b, k, k2)
		}
		switch k {
		case MatchExact:
			if x.E164 == "" || x.E164 != y.E164 {
				t.Fatalf("exact match of %+v and %+v", x, y)
			}
		case MatchSuffix:
			if minSuffix <= 0 || x.CountryCode() != 0 && y.CountryCode() != 0 && x.CountryCode() != y.CountryCode() {
				t.Fatalf("suffix match of %+v and %+v (minSuffix %d)", x, y, minSuffix)
			}
			if !strings.HasSuffix(x.Digits, y.Digits) && !strings.HasSuffix(y.Digits, x.Digits) {
				t.Fatalf("suffix match of %+v and %+v: no suffix", x, y)
			}
		}
		// The index agrees with Match.
		ix := NewIndex(max(minSuffix, 0))
		ix.Set("k", []Entry{{"f", y}})
		hs := ix.Lookup(x)
		if (len(hs) > 0) != (k != NoMatch) || len(hs) > 0 && hs[0].How != k {
			t.Fatalf("index %+v, Match %q for %+v and %+v", hs, k, x, y)
		}
		// and gives the stored number back as it was given.
		if len(hs) > 0 && (hs[0].Key != "k" || hs[0].Field != "f" || hs[0].Stored != y) {
			t.Fatalf("hit %+v, stored %+v", hs[0], y)
		}
	})
}
