package phone

import (
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// newTestParser is the configuration most tests use: a German PBX that puts "0" before
// external numbers, and the documented default of 8 suffix digits.
func newTestParser(t testing.TB) *Parser {
	t.Helper()
	p, err := NewParser(Config{DefaultRegion: "DE", OutsideLinePrefix: "0", MinSuffixDigits: 8})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// num builds the expected Number of a parsed E.164 number.
func num(e164, region string) Number {
	return Number{E164: e164, Region: region, Digits: strings.TrimPrefix(e164, "+")}
}

func withExt(n Number, ext string) Number { n.Extension = ext; return n }

var (
	noNumber = Number{}
	withheld = Number{Withheld: true}
)

type parseCase struct {
	name   string
	raw    string
	region string // "" with stored=false: Parse (received); else ParseStored(raw, region)
	stored bool
	want   Number // Raw is checked separately
}

func received(name, raw string, want Number) parseCase {
	return parseCase{name: name, raw: raw, want: want}
}

func stored(name, raw, region string, want Number) parseCase {
	return parseCase{name: name, raw: raw, region: region, stored: true, want: want}
}

var parseCases = []parseCase{
	// Germany.
	received("DE international spaced", "+49 30 1234567", num("+49301234567", "DE")),
	received("DE 00 prefix", "0049301234567", num("+49301234567", "DE")),
	received("DE national is not an outside-line prefix", "030 1234567", num("+49301234567", "DE")),
	received("DE outside-line 0 then national", "0 030 1234567", num("+49301234567", "DE")),
	received("DE outside-line 0 then 00", "00049301234567", num("+49301234567", "DE")),
	received("DE mobile received", "+49 170 1234567", num("+491701234567", "DE")),
	received("DE DID with country code, no plus (carrier)", "4930123456", num("+4930123456", "DE")),
	received("DE percent-encoded plus (FreeSWITCH)", "%2B49309876543", num("+49309876543", "DE")),
	received("DE E.164 (Asterisk)", "+49309876543", num("+49309876543", "DE")),
	received("DE dialled with 00 (Asterisk outbound)", "0049301112233", num("+49301112233", "DE")),
	received("DE spaced out digits", "0 3 0 1 2 3 4 5 6 7", num("+49301234567", "DE")),
	received("DE full-width digits", "０３０ １２３４５６７", num("+49301234567", "DE")),
	stored("DE slash and dash", "030/123 45-67", "DE", num("+49301234567", "DE")),
	stored("DE parentheses", "(030) 1234567", "DE", num("+49301234567", "DE")),
	stored("DE dots", "030.1234567", "DE", num("+49301234567", "DE")),
	stored("DE dashes international", "+49-30-1234567", "DE", num("+49301234567", "DE")),
	stored("DE (0) after country code", "+49 (0)30 123456", "DE", num("+4930123456", "DE")),
	stored("DE mobile national", "0170 1234567", "DE", num("+491701234567", "DE")),
	stored("DE switchboard DIN 5008", "030 12345-0", "DE", num("+4930123450", "DE")),
	stored("DE direct dial DIN 5008 is the dialable number", "030 12345-200", "DE", num("+493012345200", "DE")),
	stored("DE dash group valid as a whole", "+49 30 1234567-200", "DE", num("+49301234567200", "DE")),
	stored("DE ext.", "030 1234567 ext. 200", "DE", withExt(num("+49301234567", "DE"), "200")),
	stored("DE x", "030 1234567 x200", "DE", withExt(num("+49301234567", "DE"), "200")),
	stored("DE hash", "030 1234567#200", "DE", withExt(num("+49301234567", "DE"), "200")),
	stored("DE ;ext=", "+49301234567;ext=200", "DE", withExt(num("+49301234567", "DE"), "200")),
	stored("DE Durchwahl", "+49 30 1234567 Durchwahl 200", "DE", withExt(num("+49301234567", "DE"), "200")),
	stored("DE label", "Tel. 030 1234567", "DE", num("+49301234567", "DE")),
	stored("DE comment", "030 1234567 (Zentrale)", "DE", num("+49301234567", "DE")),
	stored("DE two numbers in one field: the first", "030 1234567, 0170 1234567", "DE", num("+49301234567", "DE")),
	stored("DE without national prefix is local", "30 1234567", "DE", Number{Digits: "301234567"}),
	stored("DE local 8 digits: fallback only", "12345678", "DE", Number{Digits: "12345678"}),
	stored("DE local 7 digits: below min suffix", "1234567", "DE", noNumber),
	stored("DE region in lower case", "030 1234567", "de", num("+49301234567", "DE")),
	stored("unknown region falls back to default", "030 1234567", "XX", num("+49301234567", "DE")),
	// Austria.
	stored("AT international", "+43 1 234567890", "AT", num("+431234567890", "AT")),
	stored("AT national", "01 234567890", "AT", num("+431234567890", "AT")),
	stored("AT mobile", "0664 1234567", "AT", num("+436641234567", "AT")),
	received("AT from DE with 00", "0043 1 234567890", num("+431234567890", "AT")),
	// Switzerland.
	received("CH international", "+41 44 668 18 00", num("+41446681800", "CH")),
	stored("CH national", "044 668 18 00", "CH", num("+41446681800", "CH")),
	received("CH 00", "0041 44 668 18 00", num("+41446681800", "CH")),
	received("CH (0)", "+41 (0)44 668 18 00", num("+41446681800", "CH")),
	stored("CH mobile", "079 123 45 67", "CH", num("+41791234567", "CH")),
	// France.
	received("FR international", "+33 1 23 45 67 89", num("+33123456789", "FR")),
	stored("FR national pairs", "01 23 45 67 89", "FR", num("+33123456789", "FR")),
	stored("FR dots", "01.23.45.67.89", "FR", num("+33123456789", "FR")),
	received("FR 00", "0033 1 23 45 67 89", num("+33123456789", "FR")),
	received("FR (0)", "+33 (0)1 23 45 67 89", num("+33123456789", "FR")),
	stored("FR mobile", "06 12 34 56 78", "FR", num("+33612345678", "FR")),
	stored("FR poste", "01 23 45 67 89 poste 12", "FR", withExt(num("+33123456789", "FR"), "12")),
	// United Kingdom.
	received("GB international", "+44 20 7946 0958", num("+442079460958", "GB")),
	stored("GB national", "020 7946 0958", "GB", num("+442079460958", "GB")),
	stored("GB parentheses", "(020) 7946 0958", "GB", num("+442079460958", "GB")),
	received("GB (0)", "+44 (0)20 7946 0958", num("+442079460958", "GB")),
	received("GB Birmingham", "+44 121 234 5678", num("+441212345678", "GB")),
	received("GB ext", "+44 20 7946 0958 ext 12", withExt(num("+442079460958", "GB"), "12")),
	received("GB dash group invalid as a whole is an extension", "+44 20 7946 0958-12", withExt(num("+442079460958", "GB"), "12")),
	stored("GB drama range is no valid number: fallback", "07700 900123", "GB", Number{Digits: "7700900123"}),
	// United States.
	received("US international", "+1 201-555-0123", num("+12015550123", "US")),
	stored("US parentheses", "(201) 555-0123", "US", num("+12015550123", "US")),
	stored("US dots", "201.555.0123", "US", num("+12015550123", "US")),
	stored("US 1-", "1-201-555-0123", "US", num("+12015550123", "US")),
	received("US 001 from DE", "001 202 555 0143", num("+12025550143", "US")),
	stored("US 011 to DE", "011 49 30 1234567", "US", num("+49301234567", "DE")),
	received("US x", "+1 202 555 0143 x200", withExt(num("+12025550143", "US"), "200")),
	received("US dash extension", "+1 202 555 0143-200", withExt(num("+12025550143", "US"), "200")),
	stored("US ext. 7", "202-555-0143 ext. 7", "US", withExt(num("+12025550143", "US"), "7")),
	received("US unassigned area code, explicit country: possible is enough", "+1 999 555 1234", Number{E164: "+19995551234", Digits: "19995551234"}),
	received("011 is no IDD in DE", "011 44 20 7946 0958", Number{Digits: "11442079460958"}),
	// Netherlands.
	received("NL international", "+31 20 123 4567", num("+31201234567", "NL")),
	stored("NL dash", "020-1234567", "NL", num("+31201234567", "NL")),
	stored("NL spaces", "020 123 4567", "NL", num("+31201234567", "NL")),
	received("NL 00", "0031 20 123 4567", num("+31201234567", "NL")),
	received("NL (0)", "+31 (0)20 123 4567", num("+31201234567", "NL")),
	stored("NL mobile", "06-12345678", "NL", num("+31612345678", "NL")),
	stored("NL toestel", "020 123 4567 toestel 31", "NL", withExt(num("+31201234567", "NL"), "31")),
	// URIs and name-addrs.
	received("sip user=phone", "sip:+49301234567@pbx;user=phone", num("+49301234567", "DE")),
	received("sip national with port", "sip:0301234567@10.0.0.1:5060", num("+49301234567", "DE")),
	received("sip display name", `"Jane" <sip:+49301234567@pbx>`, num("+49301234567", "DE")),
	received("sip angle brackets", "<sip:0301234567@pbx.example.com>", num("+49301234567", "DE")),
	received("sips", "sips:+442079460958@carrier.example;user=phone", num("+442079460958", "GB")),
	received("SIP scheme in capitals", "SIP:+49301234567@PBX", num("+49301234567", "DE")),
	received("Asterisk CallerID", `"ACME Corp" <0049301112233>`, num("+49301112233", "DE")),
	received("tel", "tel:+1-202-555-0143", num("+12025550143", "US")),
	received("tel ext", "tel:+49-30-1234567;ext=200", withExt(num("+49301234567", "DE"), "200")),
	received("tel phone-context", "tel:1234567;phone-context=+49-30", num("+49301234567", "DE")),
	received("sip percent-encoded", "sip:%2B49309876543@127.0.0.1", num("+49309876543", "DE")),
	received("user@host", "0301234567@10.0.0.1", num("+49301234567", "DE")),
	received("sip without user", "sip:pbx.example.com", noNumber),
	received("sip host only IP", "sip:192.168.100.200", noNumber),
	received("hostile display name", `"<script>alert(1)</script>" <sip:+49301234567@pbx>`, num("+49301234567", "DE")),
	received("quote in display name", `"Jane \"<x>\" Doe" <sip:0301234567@pbx>`, num("+49301234567", "DE")),
	// Withheld.
	received("empty", "", withheld),
	received("blank", "   ", withheld),
	received("anonymous", "anonymous", withheld),
	received("Anonymous", "Anonymous", withheld),
	received("restricted", "restricted", withheld),
	received("unavailable", "unavailable", withheld),
	received("unknown", "unknown", withheld),
	received("Unknown", "Unknown", withheld),
	received("<unknown> (Asterisk ConnectedLineNum)", "<unknown>", withheld),
	received("private", "private", withheld),
	received("withheld", "withheld", withheld),
	received("zero", "0", withheld),
	received("dash", "-", withheld),
	received("CLID withheld", "CLID withheld", withheld),
	received("all zeros (FreeSWITCH)", "0000000000", withheld),
	received("sip anonymous", "sip:anonymous@anonymous.invalid", withheld),
	received("sip Anonymous name-addr", `"Anonymous" <sip:anonymous@anonymous.invalid>`, withheld),
	received("German", "Rufnummer unterdrückt", withheld),
	received("NUL only", "\x00", withheld),
	// Internal extensions and short codes.
	received("extension 200", "200", noNumber),
	received("extension 2001", "2001", noNumber),
	received("feature code", "*97", noNumber),
	received("+49 then an extension", "+49200", noNumber),
	// Hostile input.
	received("OData injection", "' or 1 eq 1 or '", noNumber),
	received("script", "<script>alert(1)</script>", noNumber),
	received("SQL after a number", "030 1234567'); DROP TABLE contacts;--", noNumber),
	received("markup around a number", "<b>030 1234567</b>", noNumber),
	received("attribute breakout", `+49 30 1234567" onmouseover="x`, noNumber),
	received("OData function", "0301234567' or startswith(name,'a')", noNumber),
	received("vanity letters", "1-800-FLOWERS", noNumber),
	received("letters inside", "030 12 ab 34567", noNumber),
	received("javascript URL", "javascript:alert(1)", noNumber),
	received("10 kB of digits", strings.Repeat("9", 10240), noNumber),
	received("10 kB of text", strings.Repeat("x", 10240), noNumber),
	received("invalid UTF-8 before a number", "\xff\xfe030 1234567", noNumber),
	received("NUL inside a number is dropped", "030\x001234567", num("+49301234567", "DE")),
	received("bidi override is dropped", "\u202e+49 30 1234567", num("+49301234567", "DE")),
	received("CRLF injection", "+49301234567\r\nX-Injected: 1", noNumber),
	received("long digit run", "123456789012345678901234", noNumber),
}

func TestParse(t *testing.T) {
	p := newTestParser(t)
	if len(parseCases) < 60 {
		t.Fatalf("only %d cases", len(parseCases))
	}
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			var got Number
			if c.stored {
				got = p.ParseStored(c.raw, c.region)
			} else {
				got = p.Parse(c.raw)
			}
			checkRaw(t, c.raw, got.Raw)
			got.Raw = ""
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("parse %q (-want +got):\n%s", c.raw, diff)
			}
			if got.Withheld && got.Lookupable() {
				t.Errorf("withheld %q is lookupable", c.raw)
			}
		})
	}
}

// checkRaw asserts the Raw invariants: valid UTF-8, bounded, no control characters, and
// the input itself when it was clean.
func checkRaw(t testing.TB, in, raw string) {
	t.Helper()
	if !utf8.ValidString(raw) {
		t.Errorf("Raw %q is not valid UTF-8", raw)
	}
	if len(raw) > MaxRawBytes {
		t.Errorf("Raw has %d bytes, more than %d", len(raw), MaxRawBytes)
	}
	for _, r := range raw {
		if dropRune(r) {
			t.Errorf("Raw %q keeps control character %U", raw, r)
		}
	}
	if len(in) <= MaxRawBytes && utf8.ValidString(in) && !strings.ContainsFunc(in, dropRune) && raw != in {
		t.Errorf("Raw = %q, want the clean input %q", raw, in)
	}
}

func TestParseRaw(t *testing.T) {
	p := newTestParser(t)
	for _, c := range []struct{ in, want string }{
		{"+49 30 1234567", "+49 30 1234567"},
		{"030\x001234567\r\n", "0301234567"},
		{"\xff030", "\uFFFD030"},
		{"a\u200bb\u202ec", "abc"},
		{strings.Repeat("€", 100), strings.Repeat("€", 85)}, // 255 bytes: the 86th euro sign would not fit
	} {
		if got := p.Parse(c.in).Raw; got != c.want {
			t.Errorf("Raw of %q = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestOutsideLinePrefix(t *testing.T) {
	cases := []struct {
		name, prefix, region, raw string
		want                      Number
	}{
		{"no prefix configured: only the fallback", "", "DE", "0 030 1234567", Number{Digits: "301234567"}},
		{"prefix 0, national", "0", "DE", "0 030 1234567", num("+49301234567", "DE")},
		{"prefix 0, plain parse wins", "0", "DE", "0301234567", num("+49301234567", "DE")},
		{"prefix 0, mobile plain", "0", "DE", "01701234567", num("+491701234567", "DE")},
		{"prefix 9 in US", "9", "US", "9 1 202 555 0143", num("+12025550143", "US")},
		{"prefix 9 in US, local 10 digits", "9", "US", "9 202 555 0143", num("+12025550143", "US")},
		{"prefix 0 with direct dial", "0", "DE", "0 030 12345-200", num("+493012345200", "DE")},
		{"prefix then unparseable national: fallback digits", "0", "DE", "0 0999", noNumber},
		{"prefix then no dial prefix: digits as received", "9", "DE", "9 1234 5678 90", Number{Digits: "91234567890"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewParser(Config{DefaultRegion: c.region, OutsideLinePrefix: c.prefix, MinSuffixDigits: 8})
			if err != nil {
				t.Fatal(err)
			}
			got := p.Parse(c.raw)
			got.Raw = ""
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", c.raw, diff)
			}
			// Stored numbers never lose a prefix.
			if st := p.ParseStored(c.raw, ""); c.prefix != "" && strings.HasPrefix(c.raw, c.prefix+" ") && st.E164 != "" {
				t.Errorf("ParseStored(%q) = %s: applied the outside-line prefix", c.raw, st.E164)
			}
		})
	}
}

func TestMinSuffixDigitsOff(t *testing.T) {
	p, err := NewParser(Config{DefaultRegion: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.ParseStored("12345678", ""); got.Digits != "" || got.Lookupable() {
		t.Errorf("fallback off: got %+v", got)
	}
	if got := p.ParseStored("030 1234567", ""); got.Digits != "49301234567" {
		t.Errorf("parsed numbers keep Digits with the fallback off: got %+v", got)
	}
}

func TestNewParser(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"lower-case region", Config{DefaultRegion: "at"}, true},
		{"unknown region", Config{DefaultRegion: "XX"}, false},
		{"negative suffix", Config{MinSuffixDigits: -1}, false},
		{"prefix with letters", Config{OutsideLinePrefix: "0a"}, false},
		{"prefix 9", Config{OutsideLinePrefix: "9", DefaultRegion: "US"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewParser(c.cfg)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "phone: ") {
				t.Errorf("error %q lacks the component prefix", err)
			}
			if err == nil && p.Config().DefaultRegion == "" {
				t.Error("no default region applied")
			}
		})
	}
}

func TestParseSharesStrings(t *testing.T) {
	p := newTestParser(t)
	n := p.ParseStored("+49301234567", "")
	if unsafe.StringData(n.Raw) != unsafe.StringData(n.E164) || unsafe.StringData(n.Digits) != unsafe.StringData(n.E164[1:]) {
		t.Error("E.164 input: Raw, E164 and Digits do not share one string")
	}
}
