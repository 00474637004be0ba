// Package i18n holds the message catalogues of Ringside's pages and picks the language a
// page is shown in.
//
// A catalogue is a flat JSON object of message keys to texts in a file named
// <area>.<lang>.json (agent.de.json, login.en.json, …); every file of one language is
// merged into one catalogue, and a key is addressed as "<area>.<key>" (agent.calls_now).
// Texts may hold named placeholders in braces ("Call from {name}"), filled by T. A key
// whose text depends on a count has the variants key_one and key_other.
//
// English is the fallback: a key missing in another language shows the English text, and
// a key missing in English shows itself in brackets so that it is seen. The test of this
// package fails when a language lacks a key of another, or when placeholders differ.
// Adding a language is adding its catalogue files (see docs/i18n.md).
package i18n

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

//go:embed *.json
var files embed.FS

// Files returns the embedded catalogue files.
func Files() fs.FS { return files }

// Fallback is the language every other falls back to.
const Fallback = "en"

// A Bundle is the merged catalogues of every language.
type Bundle struct {
	langs   []string                     // Fallback first, then sorted
	msgs    map[string]map[string]string // lang → key → text
	matcher language.Matcher
	tags    []language.Tag
}

var fileName = regexp.MustCompile(`^([a-z][a-z0-9_]*)\.([a-z]{2,3}(?:-[A-Za-z0-9]+)*)\.json$`)

// Load reads every <area>.<lang>.json file at the top of fsys. A file that is not a flat
// object of strings, or a key defined twice, is an error naming the file.
func Load(fsys fs.FS) (*Bundle, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("i18n: %w", err)
	}
	b := &Bundle{msgs: map[string]map[string]string{}}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".json" {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("i18n: %s: a catalogue is named <area>.<lang>.json", e.Name())
		}
		area, lang := m[1], m[2]
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		var kv map[string]string
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&kv); err != nil {
			return nil, fmt.Errorf("i18n: %s: not a JSON object of strings: %w", e.Name(), err)
		}
		if b.msgs[lang] == nil {
			b.msgs[lang] = map[string]string{}
		}
		for k, v := range kv {
			key := area + "." + k
			if _, dup := b.msgs[lang][key]; dup {
				return nil, fmt.Errorf("i18n: %s: key %q defined twice", e.Name(), k)
			}
			b.msgs[lang][key] = v
		}
	}
	if b.msgs[Fallback] == nil {
		return nil, fmt.Errorf("i18n: no %s catalogue (the fallback language)", Fallback)
	}
	for l := range b.msgs {
		if l != Fallback {
			b.langs = append(b.langs, l)
		}
	}
	slices.Sort(b.langs)
	b.langs = append([]string{Fallback}, b.langs...)
	for _, l := range b.langs {
		t, err := language.Parse(l)
		if err != nil {
			return nil, fmt.Errorf("i18n: %s is not a language tag: %w", l, err)
		}
		b.tags = append(b.tags, t)
	}
	b.matcher = language.NewMatcher(b.tags)
	return b, nil
}

// MustLoad loads the embedded catalogues; they are tested, so an error is a bug.
func MustLoad() *Bundle {
	b, err := Load(files)
	if err != nil {
		panic(err)
	}
	return b
}

// Langs returns the languages there are catalogues for, the fallback first.
func (b *Bundle) Langs() []string { return slices.Clone(b.langs) }

// Has reports whether lang has a catalogue.
func (b *Bundle) Has(lang string) bool { _, ok := b.msgs[lang]; return ok }

// Keys returns the keys of lang, sorted.
func (b *Bundle) Keys(lang string) []string {
	var ks []string
	for k := range b.msgs[lang] {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Pick chooses the language of a page: the user's setting when there is a catalogue for
// it, else the best match for the browser's Accept-Language header, else the fallback.
func (b *Bundle) Pick(setting, acceptLanguage string) string {
	if setting != "" && b.Has(setting) {
		return setting
	}
	if len(acceptLanguage) > 1024 {
		acceptLanguage = acceptLanguage[:1024]
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Fallback
	}
	_, i, conf := b.matcher.Match(tags...)
	if conf == language.No {
		return Fallback
	}
	return b.langs[i]
}

// T returns the text of key in lang with its placeholders filled from args, pairs of
// name and value ("name", "Jane"). A missing key falls back to English, then to "[key]".
func (b *Bundle) T(lang, key string, args ...any) string {
	s, ok := b.msgs[lang][key]
	if !ok {
		if s, ok = b.msgs[Fallback][key]; !ok {
			return "[" + key + "]"
		}
	}
	if len(args) == 0 || !strings.Contains(s, "{") {
		return s
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

var placeholder = regexp.MustCompile(`\{[a-z_][a-z0-9_]*\}`)

// Placeholders returns the sorted placeholder names in s ("{name}").
func Placeholders(s string) []string {
	ps := placeholder.FindAllString(s, -1)
	slices.Sort(ps)
	return slices.Compact(ps)
}

// Map is JSON's map form: the messages of lang in the given areas (all when none),
// English filling any gap.
func (b *Bundle) Map(lang string, areas ...string) map[string]string {
	out := map[string]string{}
	for _, l := range []string{Fallback, lang} {
		for k, v := range b.msgs[l] {
			if len(areas) == 0 || slices.ContainsFunc(areas, func(a string) bool { return strings.HasPrefix(k, a+".") }) {
				out[k] = v
			}
		}
	}
	return out
}
