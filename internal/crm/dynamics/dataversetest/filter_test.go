package dataversetest

import "testing"

func TestParseFilter(t *testing.T) {
	rec := map[string]any{"telephone1": "030 123", "lastname": "O'Brien", "statecode": 1.0, "flag": true}
	known := func(p string) bool { _, ok := rec[p]; return ok || p == "mobilephone" }
	tests := []struct {
		filter string
		match  bool
		bad    bool
	}{
		{"telephone1 eq '030 123'", true, false},
		{"TELEPHONE1 eq '030 123'", false, true}, // property names are case-sensitive
		{"telephone1 eq '030 12'", false, false},
		{"lastname eq 'o''brien'", true, false}, // case-insensitive values, doubled quote
		{"lastname eq 'O'Brien'", false, true},  // unescaped quote
		{"telephone1 eq '' or 1 eq 1 or ''", false, true},
		{"telephone1 eq 'x' or mobilephone eq null", true, false},
		{"(telephone1 eq 'x' or lastname ne 'y') and not statecode eq 0", true, false},
		{"statecode ge 1 and flag eq true", true, false},
		{"contains(telephone1,'0 1')", true, false},
		{"endswith(telephone1,'23')", true, false},
		{"telephone1 eq '030 123", false, true},
		{"telephone1 eq", false, true},
		{"telephone1 like '030'", false, true},
		{"bogus eq 'x'", false, true},
		{"telephone1 eq '030 123')", false, true},
		{"", false, true},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.filter, known)
		if (err != nil) != tt.bad {
			t.Errorf("%q: err %v, want bad=%v", tt.filter, err, tt.bad)
			continue
		}
		if err == nil && f(rec) != tt.match {
			t.Errorf("%q: match %v, want %v", tt.filter, !tt.match, tt.match)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"telephone1 eq 'x'", "not (a eq 1) and b ne null", "contains(a,'''')", "a eq 'x' or"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fn, err := ParseFilter(s, func(string) bool { return true })
		if err == nil {
			fn(map[string]any{"a": "x", "b": 1.0})
		}
	})
}
