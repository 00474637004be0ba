package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestLoginPageLanguage: the login page speaks the browser's language.
func TestLoginPageLanguage(t *testing.T) {
	ts := start(t)
	for _, c := range []struct{ accept, want, notWant, lang string }{
		{"de-AT,de;q=0.9,en;q=0.5", "Passwort", "Password", "de"},
		{"en-GB", "Password", "Passwort", "en"},
		{"fr-FR", "Password", "Passwort", "en"},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.url+"/login", nil)
		req.Header.Set("Accept-Language", c.accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(b)
		if !strings.Contains(page, c.want) || strings.Contains(page, c.notWant) || !strings.Contains(page, `<html lang="`+c.lang+`">`) {
			t.Errorf("Accept-Language %s: want %q and lang %s, not %q:\n%s", c.accept, c.want, c.lang, c.notWant, page)
		}
		if got := resp.Header.Get("Content-Language"); got != c.lang {
			t.Errorf("Accept-Language %s: Content-Language %q", c.accept, got)
		}
	}
}

// TestMeCanDial: /api/v1/me tells the page whether this user can place calls, and why not.
func TestMeCanDial(t *testing.T) {
	ts := start(t)
	var me struct {
		CanDial    bool     `json:"can_dial"`
		DialVia    string   `json:"dial_via"`
		DialReason string   `json:"dial_reason"`
		Languages  []string `json:"languages"`
	}
	if code := ts.get(t, "carol", "/api/v1/me", &me); code != http.StatusOK {
		t.Fatalf("GET /api/v1/me: %d", code)
	}
	// The test server's phone system is a webhook source: it only reports calls.
	if me.CanDial || me.DialReason != "unsupported" || me.DialVia != "" {
		t.Errorf("me = %+v, want can_dial false for the reason unsupported", me)
	}
	if len(me.Languages) != 2 {
		t.Errorf("languages = %v", me.Languages)
	}
}
