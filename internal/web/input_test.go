package web

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/ringside/ringside/internal/phone"
)

func TestHSTSOverTLS(t *testing.T) {
	w := newTestWeb(t, Options{})
	plain := httptest.NewRecorder()
	w.ServeHTTP(plain, httptest.NewRequest("GET", "/healthz", nil))
	if h := plain.Header().Get("Strict-Transport-Security"); h != "" {
		t.Errorf("HSTS over plain HTTP: %q", h)
	}
	r := httptest.NewRequest("GET", "/healthz", nil)
	r.TLS = &tls.ConnectionState{}
	secure := httptest.NewRecorder()
	w.ServeHTTP(secure, r)
	if h := secure.Header().Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
		t.Errorf("HSTS over TLS: %q", h)
	}
}

func dialWeb(t testing.TB) *Web {
	p, err := phone.NewParser(phone.Config{DefaultRegion: "DE", MinSuffixDigits: 8})
	if err != nil {
		t.Fatal(err)
	}
	return &Web{d: Deps{Parser: p}}
}

func TestDialable(t *testing.T) {
	w := dialWeb(t)
	for _, tc := range []struct{ in, want, err string }{
		{"+49 (30) 123 45-67", "+49301234567", ""},
		{" tel:030 1234567 ", "+49301234567", ""},
		{"201", "201", ""},
		{"+49 30 1234567\r\n", "", "control characters"},
		{"030\x001234567", "", "control characters"},
		{"0301234567;ext=9", "", "not a phone number"},
		{"0800 FLOWERS", "", "not a phone number"},
		{"*21#", "", "not a phone number"},
		{"49+30", "", "not a phone number"},
		{"", "", "required"},
		{"+1", "", "not a valid international number"},
	} {
		got, err := w.dialable(tc.in)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("dialable(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("dialable(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
		}
	}
}

// FuzzDialable: whatever comes in, the phone system gets digits with at most a leading +.
func FuzzDialable(f *testing.F) {
	for _, s := range []string{"+49 (30) 123 45-67", "201", "tel:+1-202-555-0100", "030\r\n1234", "12;ext=3", "%", "+"} {
		f.Add(s)
	}
	w := dialWeb(f)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := w.dialable(in)
		if err != nil {
			return
		}
		if got == "" || strings.Trim(strings.TrimPrefix(got, "+"), "0123456789") != "" {
			t.Fatalf("dialable(%q) = %q: not plain digits", in, got)
		}
	})
}

// FuzzClientAddr: the client is always the peer or an address from the header, never a
// trusted proxy unless every hop is one, and never garbage.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"203.0.113.9", "6.6.6.6, 203.0.113.9", "garbage", "", "::1, 10.0.0.3", "203.0.113.9,,"} {
		f.Add("10.0.0.2:5000", s)
		f.Add("192.0.2.1:5000", s)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header = http.Header{"X-Forwarded-For": {xff}}
		got := clientAddr(r, trusted)
		a, err := netip.ParseAddr(got)
		if err != nil {
			if got != remote && !strings.HasPrefix(remote, got) {
				t.Fatalf("clientAddr(%q, %q) = %q", remote, xff, got)
			}
			return
		}
		var seen []netip.Addr
		for _, s := range append(strings.Split(xff, ","), remote, strings.TrimSuffix(strings.TrimPrefix(remote[:max(0, strings.LastIndex(remote, ":"))], "["), "]")) {
			if x, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
				seen = append(seen, x.Unmap())
			}
		}
		for _, x := range seen {
			if x == a {
				return
			}
		}
		t.Fatalf("clientAddr(%q, %q) = %q: from nowhere", remote, xff, got)
	})
}

func FuzzCheckID(f *testing.F) {
	for _, s := range []string{"call-1", "a\r\nb", "a\x00", "\u200b", strings.Repeat("x", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if checkID("id", id) == nil && strings.ContainsAny(id, "\r\n\x00\t") {
			t.Fatalf("checkID accepted %q", id)
		}
	})
}
