package telephony

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Extensions are the extensions a source serves, as its config's extensions: list names
// them: each entry is an extension ("201"), a pattern with * (any run of characters) and
// ? (one character) ("2*", "1??"), or a range of numbers of the same length
// ("200-299"). The zero value serves every extension.
type Extensions struct {
	entries []extEntry
}

type extEntry struct {
	exact, glob string
	lo, hi      uint64 // range, when glob and exact are ""
	width       int    // digits of both ends of a range
}

// maxExtensionEntry bounds one entry of an extensions: list.
const maxExtensionEntry = 64

// ParseExtensions reads an extensions: list. Errors name the entry at fault.
func ParseExtensions(list []string) (Extensions, error) {
	var out Extensions
	var errs []error
	for i, raw := range list {
		e := strings.TrimSpace(raw)
		bad := func(why string) {
			errs = append(errs, fmt.Errorf("extensions[%d]: %q %s", i, clip(raw), why))
		}
		switch {
		case e == "":
			bad("is empty")
			continue
		case len(e) > maxExtensionEntry:
			bad(fmt.Sprintf("is longer than %d characters", maxExtensionEntry))
			continue
		case strings.ContainsAny(e, " \t\r\n[]\\,;"):
			bad("may hold only an extension, * and ?, or a range such as 200-299")
			continue
		}
		if lo, hi, ok := strings.Cut(e, "-"); ok && digits(lo) && digits(hi) {
			if len(lo) != len(hi) {
				bad("is a range whose ends differ in length")
				continue
			}
			l, err1 := strconv.ParseUint(lo, 10, 64)
			h, err2 := strconv.ParseUint(hi, 10, 64)
			if err1 != nil || err2 != nil || l > h {
				bad("is not a range from a lower to a higher number")
				continue
			}
			out.entries = append(out.entries, extEntry{lo: l, hi: h, width: len(lo)})
			continue
		}
		if strings.ContainsAny(e, "*?") {
			if _, err := path.Match(e, ""); err != nil {
				bad("is not a valid pattern")
				continue
			}
			out.entries = append(out.entries, extEntry{glob: e})
			continue
		}
		out.entries = append(out.entries, extEntry{exact: e})
	}
	return out, errors.Join(errs...)
}

// All reports whether the set serves every extension (no list given).
func (x Extensions) All() bool { return len(x.entries) == 0 }

// Serves reports whether ext is one of the set's extensions.
func (x Extensions) Serves(ext string) bool {
	if len(x.entries) == 0 {
		return true
	}
	for _, e := range x.entries {
		switch {
		case e.exact != "":
			if e.exact == ext {
				return true
			}
		case e.glob != "":
			if strings.Contains(ext, "/") {
				continue // path.Match stops * at a slash; extensions have none
			}
			if ok, _ := path.Match(e.glob, ext); ok {
				return true
			}
		default:
			if len(ext) == e.width && digits(ext) {
				if n, err := strconv.ParseUint(ext, 10, 64); err == nil && n >= e.lo && n <= e.hi {
					return true
				}
			}
		}
	}
	return false
}

// Named returns the entries that name one extension (not patterns or ranges), in order.
func (x Extensions) Named() []string {
	var out []string
	for _, e := range x.entries {
		if e.exact != "" {
			out = append(out, e.exact)
		}
	}
	return out
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > maxExtensionEntry {
		return s[:maxExtensionEntry] + "…"
	}
	return s
}
