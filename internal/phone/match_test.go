package phone

import "testing"

func TestMatch(t *testing.T) {
	p := newTestParser(t)
	recv := p.Parse
	st := func(raw string) Number { return p.ParseStored(raw, "") }
	cases := []struct {
		name      string
		a, b      Number
		minSuffix int
		want      MatchKind
	}{
		{"same number, different formats", recv("+49 30 1234567"), st("030/123 45-67"), 8, MatchExact},
		{"exact ignores the extension", recv("+49 30 1234567"), st("030 1234567 ext. 200"), 8, MatchExact},
		{"exact with the fallback off", recv("0049301234567"), st("(030) 1234567"), 0, MatchExact},
		{"local number without area code", recv("+49 30 12345678"), st("12345678"), 8, MatchSuffix},
		{"national without prefix", recv("+49 30 1234567"), st("30 1234567"), 8, MatchSuffix},
		{"fallback off", recv("+49 30 12345678"), st("12345678"), 0, NoMatch},
		{"one digit different at the end", recv("+49 30 12345678"), st("12345679"), 8, NoMatch},
		{"one digit different in front of the suffix", recv("+49 30 12345678"), st("9912345678"), 8, NoMatch},
		{"one digit different, both parsed", recv("+49 30 1234567"), st("030 1234568"), 8, NoMatch},
		{"trap: different country codes, same trailing digits", recv("+43 1 2345678"), st("+49 1 2345678"), 7, NoMatch},
		{"trap: different country codes, same last 8", recv("+44 20 7946 0958"), st("+49 20 79460958"), 8, NoMatch},
		{"trap: different numbers in one country", recv("+49 89 12345678"), st("+49 30 12345678"), 8, NoMatch},
		{"trap: direct dial is not the switchboard", recv("+49 30 12345"), st("030 12345-200"), 8, NoMatch},
		{"short: extension vs extension", recv("200"), st("200"), 3, NoMatch},
		{"short: fewer digits than minSuffix", Number{Digits: "2345678"}, Number{Digits: "2345678"}, 8, NoMatch},
		{"short: suffix shorter than the minimum", recv("+49 30 12345678"), Number{Digits: "2345678"}, 8, NoMatch},
		{"unparsed equal digits", Number{Digits: "7700900123"}, st("07700 900123"), 8, MatchSuffix},
		{"unparsed GB fallback vs parsed", Number{E164: "+447700900123", Digits: "447700900123"}, p.ParseStored("07700 900123", "GB"), 8, MatchSuffix},
		{"withheld never matches", recv("anonymous"), recv("anonymous"), 8, NoMatch},
		{"withheld flag wins over digits", Number{E164: "+49301234567", Digits: "49301234567", Withheld: true}, recv("+49301234567"), 8, NoMatch},
		{"nothing vs nothing", Number{}, Number{}, 8, NoMatch},
		{"minSuffix longer than both", recv("+49 30 12345678"), st("12345678"), 20, NoMatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Match(c.a, c.b, c.minSuffix); got != c.want {
				t.Errorf("Match(%+v, %+v, %d) = %q, want %q", c.a, c.b, c.minSuffix, got, c.want)
			}
			if got := Match(c.b, c.a, c.minSuffix); got != c.want {
				t.Errorf("Match is not symmetric: reversed = %q, want %q", got, c.want)
			}
		})
	}
}

func TestCountryCode(t *testing.T) {
	for _, c := range []struct {
		e164 string
		want int
	}{
		{"+49301234567", 49}, {"+12025550143", 1}, {"+442079460958", 44}, {"+3531234567", 353},
		{"+80012345678", 800}, {"", 0}, {"+", 0}, {"49301234567", 0}, {"+x", 0},
	} {
		if got := (Number{E164: c.e164}).CountryCode(); got != c.want {
			t.Errorf("CountryCode(%q) = %d, want %d", c.e164, got, c.want)
		}
	}
}
