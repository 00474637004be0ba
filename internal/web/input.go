package web

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// hostileRune reports the characters no id, name or number may hold: control and
// invisible formatting characters (CR/LF would split log lines and headers, NUL ends C
// strings in a phone system).
func hostileRune(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }

// checkID refuses an id (a call id from a request) that is empty, too long, not UTF-8 or
// has control characters; the error names the field.
func checkID(field, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("field %q is required", field)
	case len(v) > 512:
		return fmt.Errorf("field %q is longer than 512 bytes", field)
	case !utf8.ValidString(v):
		return fmt.Errorf("field %q is not valid UTF-8", field)
	case strings.ContainsFunc(v, hostileRune):
		return fmt.Errorf("field %q has control characters", field)
	}
	return nil
}

// dialable checks a number to dial and returns what the phone system gets: the E.164
// form when it is a public number, else its digits (an internal number such as an
// extension). Letters, control characters and dial-string syntax (";ext=", "*", "#", ",")
// are refused: the phone system must never get text a caller could craft.
func (w *Web) dialable(raw string) (string, error) {
	if strings.ContainsFunc(raw, hostileRune) {
		return "", errors.New("has control characters")
	}
	s := strings.TrimSpace(raw)
	s = strings.TrimSpace(strings.TrimPrefix(s, "tel:"))
	if s == "" || len(s) > 64 {
		return "", errors.New("is required (at most 64 characters)")
	}
	if strings.Trim(s, "+0123456789 -()/.") != "" || strings.LastIndex(s, "+") > 0 {
		return "", fmt.Errorf("%s is not a phone number: use digits, spaces, and + - ( ) / . only", strconv.Quote(s))
	}
	n := w.d.Parser.Parse(s)
	if n.Withheld {
		return "", fmt.Errorf("%s is not a phone number", strconv.Quote(s))
	}
	if n.E164 != "" {
		return n.E164, nil
	}
	if strings.HasPrefix(s, "+") {
		return "", fmt.Errorf("%s is not a valid international number", strconv.Quote(s))
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if digits == "" {
		return "", fmt.Errorf("%s has no digits", strconv.Quote(s))
	}
	return digits, nil
}
