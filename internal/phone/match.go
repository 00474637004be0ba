package phone

import "github.com/nyaruka/phonenumbers"

// Match says how a (received) and b (stored) match, best first: the same E.164 number,
// else the same trailing digits (at least minSuffix of them), else no match. It is
// symmetric. The suffix fallback (minSuffix > 0) needs all of:
//   - neither number withheld;
//   - not both of them parsed: two parsed numbers that differ are two numbers, and in
//     particular numbers with different country codes never match;
//   - both with at least minSuffix significant digits, the last minSuffix equal;
//   - the shorter digit string a suffix of the longer one ("301234567" and "49301234567"),
//     so one differing digit anywhere is never a match.
func Match(a, b Number, minSuffix int) MatchKind {
	if a.Withheld || b.Withheld {
		return NoMatch
	}
	if a.E164 != "" && a.E164 == b.E164 {
		return MatchExact
	}
	if minSuffix <= 0 || (a.E164 != "" && b.E164 != "") {
		return NoMatch
	}
	if suffixMatch(a.Digits, b.Digits, minSuffix) {
		return MatchSuffix
	}
	return NoMatch
}

// suffixMatch: both at least minSuffix digits long, and the shorter a suffix of the longer.
func suffixMatch(x, y string, minSuffix int) bool {
	if len(x) < minSuffix || len(y) < minSuffix {
		return false
	}
	if len(x) > len(y) {
		x, y = y, x
	}
	return y[len(y)-len(x):] == x
}

// CountryCode returns the country calling code of a parsed number (49 for "+49301234567"),
// or 0 when n has no E.164 form.
func (n Number) CountryCode() int {
	if len(n.E164) < 2 || n.E164[0] != '+' {
		return 0
	}
	// Country codes are prefix-free: the first of 1, 2 or 3 digits that names one wins.
	cc := 0
	for i := 1; i < len(n.E164) && i <= 3; i++ {
		c := n.E164[i]
		if c < '0' || c > '9' {
			return 0
		}
		cc = cc*10 + int(c-'0')
		if phonenumbers.GetRegionCodeForCountryCode(cc) != "ZZ" {
			return cc
		}
	}
	return 0
}
