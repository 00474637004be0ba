package config

import (
	"slices"
	"testing"
)

func TestChanged(t *testing.T) {
	a, err := Parse("a.yaml", []byte("log_level: info\ntelephony:\n  - kind: webhook\nrules:\n  - defaults\nusers:\n  - {name: alice, extensions: ['200']}\n"))
	if err != nil {
		t.Fatal(err)
	}
	// The same settings further down the file, with comments: nothing changed.
	same, err := Parse("b.yaml", []byte("# comment\n\nlog_level: info\n\ntelephony:\n  - {kind: webhook}\nrules: [defaults]\nusers: [{name: alice, extensions: ['200']}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := Changed(a, same); len(got) != 0 {
		t.Errorf("Changed = %v for the same settings", got)
	}
	b, err := Parse("b.yaml", []byte("log_level: debug\nlisten: 127.0.0.1:9999\ntelephony:\n  - kind: webhook\n    name: other\nrules:\n  - defaults\nusers:\n  - {name: alice, extensions: ['201']}\n"))
	if err != nil {
		t.Fatal(err)
	}
	// base_url follows listen when it is not set.
	want := []string{"listen", "base_url", "log_level", "telephony", "users"}
	if got := Changed(a, b); !slices.Equal(got, want) {
		t.Errorf("Changed = %v, want %v", got, want)
	}
}
