// Package logmask keeps callers' personal data out of logs: a slog.Handler wrapper that
// redacts caller names and note texts at info level and above (they stay readable at
// debug), and, when asked (log_mask_numbers), masks phone numbers everywhere: in the
// attributes that hold numbers, and in free text (messages, errors) wherever a run of
// digits looks like one. Ids (call_id, outbox_id, …) are left alone.
package logmask

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Options choose what a Handler masks.
type Options struct {
	// MaskNumbers masks phone numbers: all digits but the last two become x.
	MaskNumbers bool
}

// numberKeys are attributes whose values are phone numbers.
var numberKeys = map[string]bool{
	"number": true, "from": true, "to": true, "caller": true, "callee": true, "remote": true,
	"phone_number": true, "dialed": true, "caller_id": true, "e164": true, "raw": true,
}

// personalKeys are attributes whose values are caller names or note texts: never logged
// at info level and above.
var personalKeys = map[string]bool{
	"caller_name": true, "contact_name": true, "name_of_caller": true, "notes": true, "note": true, "note_text": true,
}

// idKeys are attributes left as they are even when they are made of digits.
var idKeys = map[string]bool{
	"call_id": true, "pbx_id": true, "id": true, "outbox_id": true, "key": true, "group": true, "job": true,
	"pid": true, "version": true, "attempt": true, "migration": true,
}

// Handler wraps another slog.Handler.
type Handler struct {
	next slog.Handler
	opts Options
}

// New returns next wrapped so that it masks as opts says.
func New(next slog.Handler, opts Options) *Handler { return &Handler{next: next, opts: opts} }

// Enabled reports whether next handles level.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle masks r's message and attributes, then hands the record on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	msg := r.Message
	if h.opts.MaskNumbers {
		msg = MaskText(msg)
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a, r.Level))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs masks attrs once, when they are bound. Personal attributes bound to a
// logger are redacted whatever the level (the level of later records is unknown here).
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	m := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		m[i] = h.attr(a, slog.LevelInfo)
	}
	return &Handler{next: h.next.WithAttrs(m), opts: h.opts}
}

// WithGroup passes the group on.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), opts: h.opts}
}

func (h *Handler) attr(a slog.Attr, level slog.Level) slog.Attr {
	a.Value = a.Value.Resolve()
	key := strings.ToLower(a.Key)
	switch {
	case a.Value.Kind() == slog.KindGroup:
		as := a.Value.Group()
		m := make([]slog.Attr, len(as))
		for i, g := range as {
			m[i] = h.attr(g, level)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(m...)}
	case personalKeys[key]:
		if level >= slog.LevelInfo {
			return slog.String(a.Key, redacted(a.Value))
		}
		if h.opts.MaskNumbers {
			return slog.String(a.Key, MaskText(a.Value.String()))
		}
		return a
	case !h.opts.MaskNumbers || idKeys[key]:
		return a
	case numberKeys[key]:
		return slog.String(a.Key, MaskNumber(a.Value.String()))
	}
	switch a.Value.Kind() {
	case slog.KindString:
		return slog.String(a.Key, MaskText(a.Value.String()))
	case slog.KindAny:
		v := a.Value.Any()
		var s string
		switch x := v.(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			s = fmt.Sprintf("%+v", v)
		}
		if m := MaskText(s); m != s || isText(v) {
			return slog.String(a.Key, m)
		}
	}
	return a
}

func isText(v any) bool {
	switch v.(type) {
	case error, fmt.Stringer:
		return true
	}
	return false
}

func redacted(v slog.Value) string {
	s := v.String()
	if s == "" {
		return ""
	}
	return fmt.Sprintf("[redacted: %d bytes]", len(s))
}

// candidate is a run that may be a phone number: digits with the separators numbers are
// written with (spaces, hyphens, slashes, parentheses), optionally after a +.
var candidate = regexp.MustCompile(`\+?\(?\d[\d \-/()]*\d`)

// date is an ISO date or timestamp, which is not a number to mask.
var date = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)

// minDigits is the fewest digits a run needs to be masked as a phone number (shorter
// runs are extensions, counts, ports).
const minDigits = 7

// MaskText masks every run of s that looks like a phone number (see MaskNumber).
func MaskText(s string) string {
	if !strings.ContainsAny(s, "0123456789") {
		return s
	}
	return candidate.ReplaceAllStringFunc(s, func(m string) string {
		if digits(m) < minDigits || date.MatchString(m) {
			return m
		}
		return MaskNumber(m)
	})
}

// MaskNumber replaces every digit of s but the last two with x, keeping the rest
// ("+49 30 9876543" becomes "+xx xx xxxxx43").
func MaskNumber(s string) string {
	keep := 2
	n := digits(s)
	b := []byte(s)
	for i := range b {
		if b[i] >= '0' && b[i] <= '9' {
			if n > keep {
				b[i] = 'x'
			}
			n--
		}
	}
	return string(b)
}

func digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}
