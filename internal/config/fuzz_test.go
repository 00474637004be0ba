package config

import (
	"strings"
	"testing"
)

// FuzzParse: any bytes give a config or an error that names the file; never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("listen: 127.0.0.1:8080\nphone: {default_region: DE}\n"))
	f.Add([]byte("telephony:\n  - kind: ami\n    address: x\nusers:\n  - {name: a, extensions: ['200']}\n"))
	f.Add([]byte("rules:\n  - on: [inbound.ringing]\n    do: [pop]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("phone:\n  min_suffix_digits: -1\n\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") && !strings.Contains(err.Error(), ": ") {
				t.Fatalf("error without a location: %v", err)
			}
			return
		}
		if c.Listen == "" || c.DataDir == "" || c.CRM.Kind == "" || len(c.Telephony) == 0 {
			t.Fatalf("accepted config without defaults: %+v", c)
		}
		for _, s := range c.Telephony {
			var anything map[string]any
			_ = s.Decode(&anything)
		}
	})
}
