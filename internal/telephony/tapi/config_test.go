package tapi

import (
	_ "embed"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

//go:embed sample.yaml
var sampleYAML string

func TestREADMEContainsSample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), sampleYAML) {
		t.Error("README.md does not contain sample.yaml verbatim")
	}
}

func TestConfig(t *testing.T) {
	var doc struct {
		Telephony []struct {
			Kind   string `yaml:"kind"`
			Config `yaml:",inline"`
		} `yaml:"telephony"`
	}
	dec := yaml.NewDecoder(strings.NewReader(sampleYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if _, err := New("tapi", doc.Telephony[0].Config, nil); err != nil {
		t.Fatal(err)
	}
	for key, cfg := range map[string]Config{
		"privileges":   {Privileges: "admin"},
		"lines[0]":     {Lines: []string{" "}},
		"dial_timeout": {DialTimeout: -1},
		"extension":    {Extension: "a b"},
	} {
		if _, err := New("tapi", cfg, nil); err == nil || !strings.Contains(err.Error(), "tapi: "+key+":") {
			t.Errorf("%s: err = %v", key, err)
		}
	}
}
