// Package phone parses, normalises and matches phone numbers: E.164 first, a trailing-digit
// fallback with lower confidence, and never a match across country codes.
//
// Both sides are parsed with libphonenumber (github.com/nyaruka/phonenumbers): numbers
// received from a phone system with Parser.Parse under Config.DefaultRegion, numbers as a
// CRM stores them with Parser.ParseStored under the record's region. The rules below are
// applied in this order; "A wrong pop is worse than no pop" decides every doubtful case.
//
// Sanitising. Invalid UTF-8 becomes U+FFFD, control and format characters (Cc, Cf: NUL,
// line breaks, tabs, zero-width and bidi marks) are dropped, and the result is cut to
// MaxRawBytes at a rune boundary. Number.Raw is that sanitised copy. Nothing panics.
//
// Withheld. Empty input, input without any digit or letter ("-", "<>"), all-zero digit
// strings ("0", FreeSWITCH's "0000000000"), SIP URIs on host anonymous.invalid, and the
// words anonymous, restricted, unavailable, unknown, <unknown>, private, withheld,
// "CLID withheld", blocked, "no caller id", unterdrückt, unbekannt, masqué, anoniem … (any
// case, see withheldWords) set Number.Withheld. Withheld numbers are never looked up.
//
// URIs. `sip:`/`sips:` URIs give their user part (`sip:+4930123@pbx;user=phone`), also inside
// angle brackets after a display name (`"Jane" <sip:…>`); `tel:` URIs give their number,
// with `;ext=` kept and a global `;phone-context=+49-30` applied to a local number. A SIP
// URI without a user part is no number. Percent-encoding is undone (`%2B49…`).
//
// Not a number. Letters inside the number (vanity numbers such as 1-800-FLOWERS are not
// supported), markup, quotes or other symbols make the input no number (no E164, no
// Digits). A short label before it ("Tel.", "Mobil:") and a comment after it ("(Zentrale)")
// are allowed. Of several numbers separated by ',' or ';' the first one counts.
//
// Extensions. An extension marked explicitly at the end — "ext. 200", "x200", "#200",
// ";ext=200", "extension 200", "Durchwahl 200", "DW 200", "App. 200", "poste 200" — becomes
// Number.Extension and is not part of E164. A bare trailing "-NNN" group (1–5 digits) is
// different: German notation (DIN 5008) writes direct-dial numbers as "030 12345-200",
// and there the whole string is the dialable number that the phone system presents when
// that person calls. So the whole string is read first; only when it is not a valid
// number but the part before the dash is, the group after the dash is the extension
// ("+1 202 555 0143-200" → +12025550143, extension 200; "+49 30 1234567-200" →
// +49301234567200, no extension).
//
// E.164. A number gets E164 (and Region) when libphonenumber reads it as a valid number,
// or as a possible one when the input names its country code ("+…", "00…"), since
// libphonenumber's ranges may be older than the number. A national number written
// without the national prefix in a region that has one ("1234567", "30 1234567" in DE) is
// a local number whose area code is unknown: it gets no E164, only Digits.
//
// Outside-line prefix (Parse only). When Config.OutsideLinePrefix is set (say "0"), the
// number is first read as it is; only when that gives no number and the input starts with
// the prefix, the prefix is removed and the rest is read again. So with prefix "0" in DE,
// "030 1234567" is the national number +49301234567 (it reads as it is), while
// "0 030 1234567" (+30 1234567 is no valid Greek number) and "00049301234567" become
// +49301234567. When even the rest is no number, its digits feed the fallback only if it
// starts with a national or international prefix.
//
// Digits and the suffix fallback. Digits is E164 without '+' for parsed numbers, else the
// digits of the input with international and national prefixes (leading zeros) removed,
// and only when there are at least Config.MinSuffixDigits and at least MinFallbackDigits
// of them: internal extensions ("200", "2001") are never external numbers. Match (and
// Index) then accept two numbers as MatchSuffix only when they are not both parsed (two
// parsed numbers that differ are different numbers, so different country codes never
// match), both have at least minSuffix digits, and the shorter digit string is a suffix
// of the longer one: a single differing digit is never a match.
package phone
