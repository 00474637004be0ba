package logmask

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

// number is a caller's number as phone systems, CRMs and people write it.
var numberForms = []string{"+49309876543", "0049 30 9876543", "+49 (30) 987 65 43", "030/9876543", "030-987-6543", "9876543"}

// leaked reports which form of the number (by its digits) is in out.
func leaked(out string) []string {
	var got []string
	digitsOnly := regexp.MustCompile(`\D`).ReplaceAllString(out, "")
	for _, core := range []string{"309876543", "9876543", "98765"} {
		if strings.Contains(digitsOnly, core) {
			got = append(got, core)
		}
	}
	return got
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

// logEverything logs the number in every way code tends to: message, the attributes
// that hold numbers, errors, bound attributes, groups, Stringers, structs.
func logEverything(l *slog.Logger, n string) {
	l = l.With("caller", n)
	l.Info("call from "+n, "number", n, "from", n, "to", n, "call_id", "c-1")
	l.Warn("lookup failed", "err", fmt.Errorf("dynamics: look up %s: %w", n, errors.New("503")))
	l.Debug("dial", slog.Group("req", slog.String("number", n), slog.String("detail", "dialing "+n)))
	l.Error("stringer", "x", stringer{"remote " + n}, "y", struct{ Number string }{n})
	l.Info("text", "reason", "the caller "+n+" hung up")
}

func TestNumbersMasked(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		for _, n := range numberForms {
			t.Run(format+"/"+n, func(t *testing.T) {
				var buf bytes.Buffer
				opts := &slog.HandlerOptions{Level: slog.LevelDebug}
				var h slog.Handler = slog.NewTextHandler(&buf, opts)
				if format == "json" {
					h = slog.NewJSONHandler(&buf, opts)
				}
				// Without masking, the number is in the log: the check below can fail.
				logEverything(slog.New(New(h, Options{})), n)
				if len(leaked(buf.String())) == 0 {
					t.Fatalf("control: the unmasked log has no number:\n%s", buf.String())
				}
				buf.Reset()
				logEverything(slog.New(New(h, Options{MaskNumbers: true})), n)
				out := buf.String()
				if l := leaked(out); len(l) > 0 {
					t.Errorf("number digits %v in the masked log:\n%s", l, out)
				}
				// The last two digits stay, to tell calls apart; ids are left alone.
				if !strings.Contains(out, "43") || !strings.Contains(out, "c-1") {
					t.Errorf("masked too much:\n%s", out)
				}
			})
		}
	}
}

func TestPersonalDataRedactedAtInfo(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), Options{}))
	l.Info("saved", "notes", "wants a quote\nby Friday", "caller_name", "Jane Doe")
	l.Warn("saved", slog.Group("call", slog.String("caller_name", "Jane Doe")))
	l.With("notes", "secret remark").Debug("bound")
	info := buf.String()
	for _, s := range []string{"Jane", "quote", "secret remark"} {
		if strings.Contains(info, s) {
			t.Errorf("%q at info level or bound to a logger:\n%s", s, info)
		}
	}
	if !strings.Contains(info, "[redacted: 23 bytes]") {
		t.Errorf("no redaction marker:\n%s", info)
	}
	buf.Reset()
	l.Debug("saved", "notes", "wants a quote")
	if !strings.Contains(buf.String(), "wants a quote") {
		t.Errorf("notes hidden at debug level:\n%s", buf.String())
	}
}

func TestMaskText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"call from +49 30 9876543 ended", "call from +xx xx xxxxx43 ended"},
		{"(030) 987-6543", "(xxx) xxx-xx43"},
		{"at 2026-11-25T10:00:00Z on 127.0.0.1:8080", "at 2026-11-25T10:00:00Z on 127.0.0.1:8080"},
		{"extension 201, 3 attempts, took 1.234567s", "extension 201, 3 attempts, took 1.234567s"},
		{"1234567", "xxxxx67"},
		{"no digits", "no digits"},
	}
	for _, tt := range tests {
		if got := MaskText(tt.in); got != tt.want {
			t.Errorf("MaskText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzMaskText(f *testing.F) {
	for _, s := range append(numberForms, "2026-11-25 +49 30 9876543", "", "x+1(2)3-4/5 6 7 8", "١٢٣٤٥٦٧٨") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := MaskText(s)
		if len(m) != len(s) {
			t.Fatalf("length changed: %q -> %q", s, m)
		}
		if MaskText(m) != m {
			t.Fatalf("not stable: %q -> %q -> %q", s, m, MaskText(m))
		}
		// No run that looks like a number keeps more than its last two digits.
		for _, run := range candidate.FindAllString(m, -1) {
			if digits(run) >= minDigits && !date.MatchString(run) {
				t.Fatalf("unmasked run %q in %q (from %q)", run, m, s)
			}
		}
	})
}
