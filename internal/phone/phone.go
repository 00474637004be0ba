package phone

// MatchKind says how two numbers matched.
type MatchKind string

// Match kinds, best first.
const (
	NoMatch     MatchKind = ""
	MatchExact  MatchKind = "exact"  // same E.164 number
	MatchSuffix MatchKind = "suffix" // same trailing significant digits (lower confidence)
)

// Limits of the parser.
const (
	// MaxRawBytes bounds Number.Raw: longer input is cut (at a rune boundary) before parsing.
	MaxRawBytes = 256
	// DefaultMinSuffixDigits is the documented default of Config.MinSuffixDigits (the config
	// package applies it when the key is absent; 0 given explicitly turns the fallback off).
	DefaultMinSuffixDigits = 8
	// MinFallbackDigits is the fewest digits an unparsed number needs to get Digits at all,
	// whatever MinSuffixDigits says: shorter strings are internal extensions or short codes.
	MinFallbackDigits = 6
	// maxDigits: a string with more digits than this is not a phone number (E.164 has at
	// most 15, plus an international or national prefix).
	maxDigits = 18
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
