package i18n

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestCataloguesComplete fails when a language lacks a key another has, or when a
// translation's placeholders differ from English: a missing German text would otherwise
// fall back to English silently on a German page.
func TestCataloguesComplete(t *testing.T) {
	b, err := Load(Files())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Langs(), []string{"en", "de"}) {
		t.Errorf("languages = %v, want [en de]", b.Langs())
	}
	en := b.Keys(Fallback)
	if len(en) < 20 {
		t.Fatalf("only %d English keys", len(en))
	}
	for _, l := range b.Langs() {
		if l == Fallback {
			continue
		}
		keys := b.Keys(l)
		for _, k := range en {
			if !slices.Contains(keys, k) {
				t.Errorf("%s: key %q is missing (English: %q)", l, k, b.msgs[Fallback][k])
			}
		}
		for _, k := range keys {
			if !slices.Contains(en, k) {
				t.Errorf("%s: key %q is not in the English catalogue", l, k)
				continue
			}
			if pe, pl := Placeholders(b.msgs[Fallback][k]), Placeholders(b.msgs[l][k]); !slices.Equal(pe, pl) {
				t.Errorf("%s: key %q has placeholders %v, English has %v", l, k, pl, pe)
			}
			if strings.TrimSpace(b.msgs[l][k]) == "" {
				t.Errorf("%s: key %q is empty", l, k)
			}
		}
	}
}

func TestFallbackAndPlaceholders(t *testing.T) {
	b, err := Load(fstest.MapFS{
		"agent.en.json": {Data: []byte(`{"hello": "Call from {name}", "only_en": "English"}`)},
		"agent.de.json": {Data: []byte(`{"hello": "Anruf von {name}"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ lang, key, want string }{
		{"de", "agent.hello", "Anruf von Jane <b>"},
		{"en", "agent.hello", "Call from Jane <b>"},
		{"de", "agent.only_en", "English"}, // falls back to English
		{"de", "agent.nowhere", "[agent.nowhere]"},
		{"fr", "agent.hello", "Call from Jane <b>"},
	} {
		if got := b.T(c.lang, c.key, "name", "Jane <b>"); got != c.want {
			t.Errorf("T(%s, %s) = %q, want %q", c.lang, c.key, got, c.want)
		}
	}
	m := b.Map("de", "agent")
	if m["agent.hello"] != "Anruf von {name}" || m["agent.only_en"] != "English" {
		t.Errorf("Map(de) = %v", m)
	}
}

func TestLoadErrors(t *testing.T) {
	for name, fs := range map[string]fstest.MapFS{
		"bad name":    {"agent.json": {Data: []byte(`{}`)}, "x.en.json": {Data: []byte(`{}`)}},
		"not strings": {"agent.en.json": {Data: []byte(`{"a": 1}`)}},
		"no english":  {"agent.de.json": {Data: []byte(`{"a": "b"}`)}},
		"broken json": {"agent.en.json": {Data: []byte(`{"a": `)}},
	} {
		if _, err := Load(fs); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPick(t *testing.T) {
	b := MustLoad()
	for _, c := range []struct{ setting, accept, want string }{
		{"", "de-AT,de;q=0.9,en;q=0.8", "de"},
		{"", "de-CH", "de"},
		{"", "en-US,en;q=0.9", "en"},
		{"", "fr-FR,fr;q=0.9", "en"},
		{"", "fr-FR,de;q=0.5", "de"},
		{"", "", "en"},
		{"", "garbage;;;q=x", "en"},
		{"en", "de-DE", "en"},
		{"de", "en-US", "de"},
		{"auto", "de-DE", "de"},
		{"xx", "de-DE", "de"},
	} {
		if got := b.Pick(c.setting, c.accept); got != c.want {
			t.Errorf("Pick(%q, %q) = %q, want %q", c.setting, c.accept, got, c.want)
		}
	}
}

// FuzzPick: any Accept-Language header picks one of the catalogues' languages.
func FuzzPick(f *testing.F) {
	for _, s := range []string{"de-AT,de;q=0.9", "*", "en;q=0", "x-klingon", strings.Repeat("de,", 500), "de;q=1.5", ";;;"} {
		f.Add(s)
	}
	b := MustLoad()
	f.Fuzz(func(t *testing.T, accept string) {
		if got := b.Pick("", accept); !b.Has(got) {
			t.Fatalf("Pick(%q) = %q, no such catalogue", accept, got)
		}
	})
}
