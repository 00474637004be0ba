package web_test

import (
	"net/http"
	"testing"
)

// Admins see the rules in force, read-only; agents do not.
func TestRulesReadOnlyForAdmins(t *testing.T) {
	ts := start(t)
	var got struct {
		Rules []struct {
			Name    string   `json:"name"`
			Line    int      `json:"line"`
			Default bool     `json:"default"`
			On      []string `json:"on"`
			Do      []struct {
				Do string `json:"do"`
			} `json:"do"`
		} `json:"rules"`
	}
	if code := ts.get(t, "gina", "/api/v1/rules", &got); code != http.StatusOK {
		t.Fatalf("admin: %d", code)
	}
	if len(got.Rules) < 2 {
		t.Fatalf("rules: %+v", got.Rules)
	}
	configured, defaults := 0, 0
	for _, r := range got.Rules {
		if r.Default {
			defaults++
		} else if r.Line > 0 && len(r.On) > 0 && len(r.Do) > 0 {
			configured++
		}
	}
	if configured == 0 || defaults == 0 {
		t.Fatalf("want configured rules (with their line) and the defaults: %+v", got.Rules)
	}
	if code := ts.get(t, "alice", "/api/v1/rules", nil); code != http.StatusForbidden {
		t.Fatalf("agent: %d", code)
	}
	if code := ts.post(t, "gina", "/api/v1/rules", `{}`); code != http.StatusMethodNotAllowed {
		t.Fatalf("rules are read-only, POST answered %d", code)
	}
}
