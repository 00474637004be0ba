// Package phone parses, normalises and matches phone numbers: E.164 first, a trailing-digit
// fallback with lower confidence, and never a match across country codes.
package phone

// MatchKind says how two numbers matched.
type MatchKind string

// Match kinds, best first.
const (
	NoMatch     MatchKind = ""
	MatchExact  MatchKind = "exact"  // same E.164 number
	MatchSuffix MatchKind = "suffix" // same trailing significant digits (lower confidence)
)

// Config is the phone section of ringside.yaml.
type Config struct {
	DefaultRegion     string `yaml:"default_region"`      // ISO 3166 region for national numbers; default DE
	OutsideLinePrefix string `yaml:"outside_line_prefix"` // digits a PBX puts before external numbers; default none
	MinSuffixDigits   int    `yaml:"min_suffix_digits"`   // trailing digits for the fallback; default 8, 0 disables it
}

// A Number is a phone number as received, and what Ringside made of it.
type Number struct {
	Raw       string `json:"raw"`                 // as received (sanitised to valid UTF-8, bounded length)
	E164      string `json:"number,omitempty"`    // "+49301234567" when it parses; "" otherwise
	Region    string `json:"region,omitempty"`    // ISO region of the number when known
	Extension string `json:"extension,omitempty"` // "200" from "... ext. 200" / "-200" when recognised
	Digits    string `json:"-"`                   // the significant digits used by the suffix fallback
	Withheld  bool   `json:"withheld,omitempty"`  // anonymous, restricted, unavailable, empty
}

// Lookupable reports whether n may be looked up in a directory: not withheld, and with
// something to match on.
func (n Number) Lookupable() bool { return !n.Withheld && (n.E164 != "" || n.Digits != "") }
