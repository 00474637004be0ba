package phone

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// A Parser reads numbers under one configuration. It is safe for concurrent use.
type Parser struct {
	cfg Config
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
	return &Parser{cfg: cfg}, nil
}

// Config returns the configuration in force, defaults applied.
func (p *Parser) Config() Config { return p.cfg }

// Parse reads a number received from a phone system (applying the outside-line prefix)
// under the default region.
func (p *Parser) Parse(raw string) Number { return p.parse(raw, "", true) }

// ParseStored reads a number as a CRM stores it, under region (or the default region
// when empty). The outside-line prefix is not applied.
func (p *Parser) ParseStored(raw, region string) Number { return p.parse(raw, region, false) }

func (p *Parser) parse(raw, region string, fromPBX bool) Number {
	n := Number{Raw: raw}
	s := strings.TrimSpace(raw)
	if s == "" || strings.EqualFold(s, "anonymous") {
		n.Withheld = true
		return n
	}
	if region == "" {
		region = p.cfg.DefaultRegion
	}
	pn, err := phonenumbers.Parse(s, region)
	if err != nil {
		return n
	}
	n.E164 = phonenumbers.Format(pn, phonenumbers.E164)
	n.Region = phonenumbers.GetRegionCodeForNumber(pn)
	n.Digits = strings.TrimPrefix(n.E164, "+")
	return n
}

// Match says how a (received) and b (stored) match, best first: the same E.164 number,
// else the same trailing digits (at least minSuffix of them), else no match.
func Match(a, b Number, minSuffix int) MatchKind {
	if a.E164 != "" && a.E164 == b.E164 {
		return MatchExact
	}
	return NoMatch
}
