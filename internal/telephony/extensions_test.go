package telephony

import (
	"strings"
	"testing"
)

func TestExtensions(t *testing.T) {
	x, err := ParseExtensions([]string{"201", "3*", "4?5", "500-599", "0100-0199"})
	if err != nil {
		t.Fatal(err)
	}
	for ext, want := range map[string]bool{
		"201": true, "202": false, "3": true, "3999": true, "405": true, "4005": false,
		"500": true, "599": true, "600": false, "5000": false, "0150": true, "150": false, "": false,
		"3/1": false,
	} {
		if got := x.Serves(ext); got != want {
			t.Errorf("Serves(%q) = %v, want %v", ext, got, want)
		}
	}
	if got := strings.Join(x.Named(), ","); got != "201" {
		t.Errorf("Named = %q", got)
	}
	var all Extensions
	if !all.All() || !all.Serves("anything") {
		t.Error("the zero set must serve every extension")
	}
	for _, bad := range []string{"", " ", "1-22", "30-20", "[1]", "a b", strings.Repeat("1", 65)} {
		if _, err := ParseExtensions([]string{"200", bad}); err == nil || !strings.Contains(err.Error(), "extensions[1]") {
			t.Errorf("ParseExtensions(%q) = %v, want an error naming extensions[1]", bad, err)
		}
	}
}

func FuzzParseExtensions(f *testing.F) {
	for _, s := range []string{"201", "2*", "1??", "200-299", "0-9", "*", "?", "a-b", "99999999999999999999-99999999999999999999"} {
		f.Add(s, "201")
	}
	f.Fuzz(func(t *testing.T, entry, ext string) {
		x, err := ParseExtensions([]string{entry})
		if err != nil {
			if !strings.Contains(err.Error(), "extensions[0]") {
				t.Fatalf("error does not name the entry: %v", err)
			}
			return
		}
		_ = x.Serves(ext)
		if e := strings.TrimSpace(entry); !strings.ContainsAny(e, "*?-") && !x.Serves(e) {
			t.Fatalf("%q does not serve itself", e)
		}
	})
}
