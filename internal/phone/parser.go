package phone

import (
	"fmt"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/nyaruka/phonenumbers"
)

// receivedCacheSize bounds the Parser's memory of numbers received from phone systems.
// libphonenumber costs tens of microseconds a number; a call centre hears the same
// callers again and again, and every signal of a call repeats its number.
const receivedCacheSize = 8192

// A Parser reads numbers under one configuration. It is safe for concurrent use.
type Parser struct {
	cfg      Config
	received *lru.Cache[string, Number] // Parse's results by raw input
}

// NewParser validates cfg (applying defaults) and returns a Parser.
func NewParser(cfg Config) (*Parser, error) {
	if cfg.DefaultRegion == "" {
		cfg.DefaultRegion = "DE"
	}
	cfg.DefaultRegion = strings.ToUpper(cfg.DefaultRegion)
	if phonenumbers.GetCountryCodeForRegion(cfg.DefaultRegion) == 0 {
		return nil, fmt.Errorf("phone: default_region %q is not an ISO 3166 region code libphonenumber knows", cfg.DefaultRegion)
	}
	if cfg.MinSuffixDigits < 0 {
		return nil, fmt.Errorf("phone: min_suffix_digits must be 0 (off) or more, not %d", cfg.MinSuffixDigits)
	}
	for _, r := range cfg.OutsideLinePrefix {
		if r < '0' || r > '9' {
			return nil, fmt.Errorf("phone: outside_line_prefix must be digits only (such as \"0\" or \"9\"), not %q", cfg.OutsideLinePrefix)
		}
	}
	c, err := lru.New[string, Number](receivedCacheSize)
	if err != nil {
		return nil, fmt.Errorf("phone: %w", err)
	}
	return &Parser{cfg: cfg, received: c}, nil
}

// Config returns the configuration in force, defaults applied.
func (p *Parser) Config() Config { return p.cfg }

// Parse reads a number received from a phone system (applying the outside-line prefix)
// under the default region.
// Results are remembered (bounded, least recently used first out): the answer for a raw
// string never changes under one Parser.
func (p *Parser) Parse(raw string) Number {
	if len(raw) > MaxRawBytes {
		return p.parse(raw, "", true) // hostile lengths are not worth a place
	}
	if n, ok := p.received.Get(raw); ok {
		return n
	}
	n := p.parse(raw, "", true)
	p.received.Add(raw, n)
	return n
}

// ParseStored reads a number as a CRM stores it, under region (or the default region
// when empty). The outside-line prefix is not applied.
func (p *Parser) ParseStored(raw, region string) Number { return p.parse(raw, region, false) }

func (p *Parser) parse(raw, region string, received bool) Number {
	s := sanitize(raw)
	n := Number{Raw: s}
	t := strings.TrimSpace(s)
	if isWithheld(t) {
		n.Withheld = true
		return n
	}
	user, withheld, ok := unwrap(t)
	user = strings.TrimSpace(user)
	if withheld || (ok && isWithheld(user)) {
		n.Withheld = true
		return n
	}
	if !ok {
		return n
	}
	main, ext := splitExtension(user)
	// A CRM field with several numbers ("030 1234567, 0170 7654321"): the first one.
	if i := strings.IndexAny(main, ",;"); i >= 0 {
		main = main[:i]
	}
	span, ok := numberSpan(main)
	if !ok {
		return n
	}
	digits := digitsOf(span)
	if len(digits) > maxDigits {
		return n
	}
	if strings.Trim(digits, "0") == "" {
		n.Withheld = true // "0", "00", FreeSWITCH's "0000000000"
		return n
	}
	r := p.number(span, digits, p.region(region), received)
	n.E164, n.Region, n.Digits = r.e164, r.region, r.digits
	if n.E164 != "" && n.E164 == s {
		// Already E.164 as received (the common case): keep one string for Raw, E164
		// and Digits, which matters in an index of millions of numbers.
		n.E164, n.Digits = s, s[1:]
	}
	n.Extension = ext
	if n.Extension == "" {
		n.Extension = r.ext
	}
	return n
}

// region returns r as an upper-case region libphonenumber knows, else the default.
func (p *Parser) region(r string) string {
	if r == "" {
		return p.cfg.DefaultRegion
	}
	r = strings.ToUpper(strings.TrimSpace(r))
	if phonenumbers.GetCountryCodeForRegion(r) == 0 {
		return p.cfg.DefaultRegion
	}
	return r
}

// result is what number makes of a span.
type result struct {
	e164, region, ext, digits string
}

// number reads span (digits: its digits) as the received or stored number. The order of
// attempts is the documented rule (doc.go): the plain number, then with a trailing "-NNN"
// taken as an extension, then (received numbers only) without the outside-line prefix;
// else the trailing-digit fallback.
func (p *Parser) number(span, digits, region string, received bool) result {
	if r, ok := p.try(span, region); ok {
		return r
	}
	prefix := p.cfg.OutsideLinePrefix
	if received && prefix != "" && !strings.HasPrefix(span, "+") && strings.HasPrefix(digits, prefix) && len(digits) > len(prefix) {
		rest := dropDigits(span, len(prefix))
		if r, ok := p.try(rest, region); ok {
			return r
		}
		if d := digits[len(prefix):]; hasDialPrefix(d, region) {
			digits = d
		}
	}
	return result{digits: p.fallbackDigits(digits, region)}
}

// try parses span as a whole, then, when that is no number, without a trailing "-NNN"
// group, which then becomes the extension.
func (p *Parser) try(span, region string) (result, bool) {
	if e, reg, ok := parseNumber(span, region); ok {
		return result{e164: e, region: reg, digits: e[1:]}, true
	}
	if head, tail, ok := dashTail(span); ok {
		if e, reg, ok := parseNumber(head, region); ok {
			return result{e164: e, region: reg, digits: e[1:], ext: tail}, true
		}
	}
	return result{}, false
}

// parseNumber returns the E.164 form of span when libphonenumber reads it as a valid
// number under region, or as a possible one when span names its country code explicitly
// ("+1 999 …", "0044 …": libphonenumber's ranges may be older than the number). A national
// number without the national prefix in a region that has one ("1234567" in DE) is a local
// number without its area code: no E.164 (libphonenumber would invent one).
func parseNumber(span, region string) (e164, reg string, ok bool) {
	pn, err := phonenumbers.ParseAndKeepRawInput(span, region)
	if err != nil {
		return "", "", false
	}
	src := pn.GetCountryCodeSource()
	explicit := src == phonenumbers.PhoneNumber_FROM_NUMBER_WITH_PLUS_SIGN || src == phonenumbers.PhoneNumber_FROM_NUMBER_WITH_IDD
	if src == phonenumbers.PhoneNumber_FROM_DEFAULT_COUNTRY {
		ndd := phonenumbers.GetNddPrefixForRegion(region, true)
		if ndd != "" && !phonenumbers.IsNANPACountry(region) && !strings.HasPrefix(digitsOf(span), ndd) {
			return "", "", false
		}
	}
	if !phonenumbers.IsValidNumber(pn) && !(explicit && phonenumbers.IsPossibleNumberWithReason(pn) == phonenumbers.IS_POSSIBLE) {
		return "", "", false
	}
	e164 = phonenumbers.Format(pn, phonenumbers.E164)
	if len(e164) < 2 || e164[0] != '+' {
		return "", "", false
	}
	reg = phonenumbers.GetRegionCodeForNumber(pn)
	if reg == "ZZ" || reg == "001" {
		reg = ""
	}
	return e164, reg, true
}

// dashTail splits "030 1234567-200" into "030 1234567" and "200": a last group of 1–5
// digits after a dash, with digits before it.
func dashTail(span string) (head, tail string, ok bool) {
	i := strings.LastIndexAny(span, "-\u2010\u2011\u2012\u2013\u2014\u2212\uff0d")
	if i < 0 {
		return "", "", false
	}
	_, size := firstRune(span[i:])
	tail = strings.TrimSpace(span[i+size:])
	head = strings.TrimSpace(span[:i])
	if len(tail) == 0 || len(tail) > 5 || strings.Trim(tail, "0123456789") != "" || strings.Trim(head, "+()- ") == "" {
		return "", "", false
	}
	return head, tail, true
}

func firstRune(s string) (rune, int) {
	for i, r := range s {
		if i > 0 {
			return r, i
		}
	}
	return 0, len(s)
}

// dropDigits returns span without its first k digits (and the separators before and
// right after them).
func dropDigits(span string, k int) string {
	i := 0
	for ; i < len(span) && k > 0; i++ {
		if span[i] >= '0' && span[i] <= '9' {
			k--
		}
	}
	return strings.TrimLeft(span[i:], " \u00a0-./()")
}

// hasDialPrefix says whether d starts with a national or international prefix of region.
func hasDialPrefix(d, region string) bool {
	if ndd := phonenumbers.GetNddPrefixForRegion(region, true); ndd != "" && strings.HasPrefix(d, ndd) {
		return true
	}
	return strings.HasPrefix(d, "00") || phonenumbers.IsNANPACountry(region) && strings.HasPrefix(d, "011")
}

// fallbackDigits returns the significant digits of a number libphonenumber could not read
// (international and national prefixes, i.e. leading zeros, removed), or "" when the
// fallback is off or there are too few of them to be an external number.
func (p *Parser) fallbackDigits(d, region string) string {
	if phonenumbers.IsNANPACountry(region) {
		d = strings.TrimPrefix(d, "011")
	}
	d = strings.TrimLeft(d, "0")
	if p.cfg.MinSuffixDigits == 0 || len(d) < p.cfg.MinSuffixDigits || len(d) < MinFallbackDigits {
		return ""
	}
	return d
}
