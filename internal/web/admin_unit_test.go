package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheckExtensions: whatever an admin types, the extensions kept are valid UTF-8
// without control characters, separators or blanks, at most 32 and without twins.
func FuzzCheckExtensions(f *testing.F) {
	for _, s := range []string{"200", "200,201", " 200 , 200 ", "1\n2", "", "\u202e200", "a;b", strings.Repeat("9", 200)} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, admin bool) {
		out, err := checkExtensions(strings.Split(in, ","), admin)
		if err != nil {
			if out != nil {
				t.Fatalf("error %v with extensions %q", err, out)
			}
			return
		}
		if len(out) == 0 && !admin {
			t.Fatalf("an agent without extension from %q", in)
		}
		seen := map[string]bool{}
		for _, e := range out {
			if e == "" || !utf8.ValidString(e) || strings.ContainsFunc(e, hostileRune) || strings.ContainsAny(e, " ,;") || len(e) > 128 || seen[e] {
				t.Fatalf("bad extension %q from %q", e, in)
			}
			seen[e] = true
		}
	})
}

// FuzzCheckEmail: an accepted email is one plain address of at most 254 bytes.
func FuzzCheckEmail(f *testing.F) {
	for _, s := range []string{"", "dana@example.com", "Dana <dana@example.com>", "a@b", "not an address", "x@y\r\nBcc: z@w", "\"a b\"@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if checkEmail(in) != nil || in == "" {
			return
		}
		if len(in) > 254 || !strings.Contains(in, "@") || strings.ContainsFunc(in, hostileRune) || strings.ContainsAny(in, "<>") {
			t.Fatalf("accepted %q", in)
		}
	})
}

// TestCheckSystemsLists: each failed connection is one line of "problems".
func TestCheckSystemsLists(t *testing.T) {
	w := newTestWeb(t, Options{})
	w.d.CheckConnections = func(ctx context.Context) error {
		return errors.Join(errors.New("pbx (ringside.yaml:4): dial tcp 127.0.0.1:5038: connection refused"), errors.New("crm: 401 Unauthorized"))
	}
	rec := httptest.NewRecorder()
	w.adminCheckSystems(rec, httptest.NewRequest("POST", "/api/v1/admin/systems/check", nil))
	want := `{"ok":false,"problems":["pbx (ringside.yaml:4): dial tcp 127.0.0.1:5038: connection refused","crm: 401 Unauthorized"]}` + "\n"
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("check: %d %s", rec.Code, rec.Body)
	}
	w.d.CheckConnections = nil
	rec = httptest.NewRecorder()
	w.adminCheckSystems(rec, httptest.NewRequest("POST", "/api/v1/admin/systems/check", nil))
	if rec.Code != http.StatusNotImplemented {
		t.Errorf("without a check: %d", rec.Code)
	}
}
