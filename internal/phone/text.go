package phone

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the text handling that runs before libphonenumber sees anything:
// sanitising, withheld forms, SIP/tel URIs, extension markers and the "is this a number at
// all" check. Everything here is bounded by MaxRawBytes and never panics.

// sanitize returns s as valid UTF-8 (invalid bytes become U+FFFD) without control or
// format characters (Cc, Cf: NUL, CR/LF, tabs, zero-width and bidi marks), cut to at most
// MaxRawBytes at a rune boundary. It stops reading once the output is full, and returns s
// itself when nothing changes.
func sanitize(s string) string {
	clean := len(s) <= MaxRawBytes
	if clean {
		for _, r := range s {
			if r == utf8.RuneError || dropRune(r) {
				clean = false
				break
			}
		}
		if clean {
			return s
		}
	}
	var b strings.Builder
	b.Grow(min(len(s), MaxRawBytes))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size <= 1 {
			r = utf8.RuneError // invalid byte: replace it
		} else if dropRune(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > MaxRawBytes {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// dropRune: control and format characters (tabs and line breaks are dropped too: a number
// never needs them and they break logs).
func dropRune(r rune) bool {
	return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r)
}

// withheldWords are the values phone systems and CRMs use for "no number" (compared in
// lower case, after trimming quotes, spaces and angle brackets).
var withheldWords = map[string]bool{
	"": true, "anonymous": true, "anonym": true, "restricted": true, "unavailable": true,
	"unknown": true, "private": true, "withheld": true, "0": true, "-": true,
	"clid withheld": true, "number withheld": true, "private number": true,
	"unknown number": true, "blocked": true, "no caller id": true, "nocallerid": true,
	"caller id withheld": true, "not available": true, "n/a": true, "none": true,
	"null": true, "nil": true, "p": true, "o": true, "unterdrückt": true,
	"rufnummer unterdrückt": true, "unbekannt": true, "privat": true, "masqué": true,
	"inconnu": true, "anoniem": true, "onbekend": true, "anonymous.invalid": true,
	"out of area": true, "unavailable number": true,
}

// isWithheld says whether t (already sanitised and trimmed) is one of the withheld forms,
// or carries neither a digit nor a letter ("-", "--", "+", "<>").
func isWithheld(t string) bool {
	t = strings.Trim(t, " \"'<>[]")
	if withheldWords[strings.ToLower(t)] {
		return true
	}
	for _, r := range t {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// unwrap takes the number out of a SIP name-addr or URI: `"Jane" <sip:+4930123@pbx>`,
// `sip:0301234567@10.0.0.1:5060`, `tel:+1-202-555-0143;ext=200`, `0301234@host` and
// percent-encoded forms (`%2B49309876543`, as FreeSWITCH sends them). It returns the user
// part (with ";ext=N" kept for the extension step), and ok=false when the input is a URI
// without a user part (`sip:pbx.example.com`), which is no number at all.
func unwrap(t string) (user string, withheld, ok bool) {
	// A quoted display name first, so that '<' inside it does not count.
	if strings.HasPrefix(t, `"`) {
		if end := closingQuote(t); end > 0 {
			t = strings.TrimSpace(t[end+1:])
		}
	}
	if i := strings.IndexByte(t, '<'); i >= 0 {
		rest := t[i+1:]
		if j := strings.IndexByte(rest, '>'); j >= 0 {
			rest = rest[:j]
		}
		t = strings.TrimSpace(rest)
	}
	lower := strings.ToLower(t)
	switch {
	case strings.HasPrefix(lower, "sip:"), strings.HasPrefix(lower, "sips:"):
		rest := t[strings.IndexByte(t, ':')+1:]
		at := strings.LastIndexByte(rest, '@')
		if at < 0 {
			// sip:host has no user. Accept only an obvious global number ("sip:+4930...").
			rest = cutAny(rest, ";?")
			if !strings.HasPrefix(rest, "+") && !strings.HasPrefix(rest, "%2B") && !strings.HasPrefix(rest, "%2b") {
				return "", false, false
			}
			return decode(rest), false, true
		}
		host := strings.ToLower(cutAny(rest[at+1:], ";?:>"))
		if host == "anonymous.invalid" {
			return "", true, true
		}
		return userPart(rest[:at]), false, true
	case strings.HasPrefix(lower, "tel:"):
		return userPart(cutAny(t[4:], "?")), false, true
	}
	if at := strings.LastIndexByte(t, '@'); at > 0 {
		return userPart(t[:at]), false, true
	}
	return decode(t), false, true
}

// userPart reads "number;param=value…" (a tel: URI body or a SIP user part): it drops a
// password (":secret"), keeps ";ext=N" and applies a global ";phone-context=+49-30" to a
// local number.
func userPart(u string) string {
	u = decode(u)
	num, params, _ := strings.Cut(u, ";")
	if i := strings.IndexByte(num, ':'); i >= 0 {
		num = num[:i]
	}
	var ext, context string
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "ext":
			ext = strings.TrimSpace(v)
		case "phone-context":
			context = strings.TrimSpace(v)
		}
	}
	if strings.HasPrefix(context, "+") && !strings.HasPrefix(num, "+") {
		num = context + num
	}
	if ext != "" {
		num += ";ext=" + ext
	}
	return num
}

// decode undoes percent-encoding when there is any, and re-sanitises the result (a "%00"
// must not bring a NUL back). Malformed escapes are left as they are.
func decode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	d, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return sanitize(d)
}

// cutAny returns s up to the first of the bytes in chars.
func cutAny(s, chars string) string {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return s[:i]
	}
	return s
}

// closingQuote returns the index of the quote that ends the quoted string at the start of
// t (honouring backslash escapes), or -1.
func closingQuote(t string) int {
	for i := 1; i < len(t); i++ {
		switch t[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// extensionWords introduce an extension at the end of a number ("ext. 200", "x200",
// "Durchwahl 200", "poste 200"). Compared in lower case.
var extensionWords = []string{
	"extension", "extn", "ext", "x", "durchwahl", "dw", "apparat", "app", "nebenstelle",
	"nst", "klappe", "kl", "poste", "toestel", "tst",
}

// splitExtension cuts an explicitly marked extension off the end of s: a run of 1–7
// digits preceded by ";ext=", "#", or one of extensionWords (optionally followed by '.',
// ':' or '=') that does not continue a longer word. It returns s unchanged and "" when
// there is no such marker. A bare "-200" is not handled here (see Parser.number).
func splitExtension(s string) (main, ext string) {
	t := strings.TrimRight(s, " #")
	end := len(t)
	start := end
	for start > 0 && t[start-1] >= '0' && t[start-1] <= '9' {
		start--
	}
	if n := end - start; n == 0 || n > 7 {
		return s, ""
	}
	ext = t[start:end]
	before := strings.TrimRight(t[:start], " ")
	if strings.HasSuffix(before, "#") {
		return strings.TrimSpace(before[:len(before)-1]), ext
	}
	before = strings.TrimRight(before, ".:= ")
	lower := strings.ToLower(before)
	for _, w := range extensionWords {
		if !strings.HasSuffix(lower, w) {
			continue
		}
		head := before[:len(before)-len(w)]
		if r, _ := utf8.DecodeLastRuneInString(head); head != "" && unicode.IsLetter(r) {
			continue // "fax200", "box 200": not a marker
		}
		head = strings.TrimRight(head, " ;,")
		if !strings.ContainsAny(head, "0123456789") {
			return s, "" // "x200" alone is no number with an extension
		}
		return head, ext
	}
	return s, ""
}

// numberSpan checks that s is a number, possibly with a short label before it ("Tel.",
// "Mobil:") and a comment after it ("(Zentrale)"), and returns the number part with
// digits in ASCII. Letters inside the number (vanity numbers, "1 eq 1"), markup, quotes
// and other symbols make it no number: ok=false.
func numberSpan(s string) (span string, ok bool) {
	first, last := -1, -1
	for i, r := range s {
		if r == '+' || r == '(' || asciiDigit(r) >= 0 {
			if first < 0 && (r != '(' || strings.ContainsAny(s[i:], "0123456789")) {
				first = i
			}
		}
		if asciiDigit(r) >= 0 {
			last = i + utf8.RuneLen(r)
		}
	}
	if first < 0 || last < 0 || first >= last {
		return "", false
	}
	for _, r := range s[:first] { // a label: letters, spaces, '.', ':'
		if !(unicode.IsLetter(r) || r == ' ' || r == '.' || r == ':' || r == '\u00a0') {
			return "", false
		}
	}
	if first > 24 {
		return "", false
	}
	for _, r := range s[last:] { // a comment: letters, spaces and a little punctuation
		if !(unicode.IsLetter(r) || strings.ContainsRune(" \u00a0().,:-", r)) {
			return "", false
		}
	}
	var b strings.Builder
	b.Grow(last - first)
	for i, r := range s[first:last] {
		switch d := asciiDigit(r); {
		case d >= 0:
			b.WriteByte(byte('0' + d))
		case r == '+' && i == 0:
			b.WriteByte('+')
		case isSeparator(r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// asciiDigit returns the value of an ASCII, full-width or Arabic-Indic digit, else -1.
func asciiDigit(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= '０' && r <= '９':
		return int(r - '０')
	case r >= '\u0660' && r <= '\u0669':
		return int(r - '\u0660')
	case r >= '\u06f0' && r <= '\u06f9':
		return int(r - '\u06f0')
	}
	return -1
}

// isSeparator: the punctuation people put inside numbers.
func isSeparator(r rune) bool {
	switch r {
	case ' ', '\u00a0', '\u2009', '\u202f', '\u3000', '-', '.', '/', '(', ')', '[', ']',
		'\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', '\uff0d', '\uff0f':
		return true
	}
	return false
}

// digitsOf returns the ASCII digits of s (s comes from numberSpan).
func digitsOf(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	return string(b)
}
