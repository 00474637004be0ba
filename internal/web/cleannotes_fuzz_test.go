package web

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzCleanNotes: whatever an agent (or a hostile client) sends as notes, what is kept is
// valid UTF-8 of at most 32 KiB, with line breaks as LF, tabs kept, no other control or
// direction-changing character, no trailing space, and cleaning it again changes nothing.
func FuzzCleanNotes(f *testing.F) {
	for _, s := range []string{
		"Line one\nLine two\r\n\tindented", "a\rb", "caf\xc3\xa9 \xff\xfe", "\u202eevil\u202c", "x\u2028y\u2029z",
		"tab\tend  \n\n", "\x00\x1b[31mred\x1b[0m", strings.Repeat("é", 20000), "\ufeffbom", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := CleanNotes(s)
		if !utf8.ValidString(c) {
			t.Fatalf("invalid UTF-8 kept: %q", c)
		}
		if len(c) > maxNotes {
			t.Fatalf("%d bytes kept, more than %d", len(c), maxNotes)
		}
		for _, r := range c {
			if r == '\r' || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') ||
				(unicode.IsControl(r) && r != '\n' && r != '\t') {
				t.Fatalf("%U kept in %q", r, c)
			}
		}
		if strings.TrimRightFunc(c, unicode.IsSpace) != c {
			t.Fatalf("trailing space kept: %q", c)
		}
		if again := CleanNotes(c); again != c {
			t.Fatalf("not stable: %q -> %q", c, again)
		}
		// Lines are kept: a text without anything to drop keeps its line count.
		if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
			return r != '\n' && r != '\t' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError ||
				(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069'))
		}) && len(s) < maxNotes && strings.TrimRightFunc(s, unicode.IsSpace) == s && c != s {
			t.Fatalf("clean text changed: %q -> %q", s, c)
		}
	})
}
