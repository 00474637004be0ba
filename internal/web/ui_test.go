package web

import (
	"crypto/tls"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLocalPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/?ucilib=https%3A%2F%2Fx", "/?ucilib=https%3A%2F%2Fx"},
		{"//evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"/a\r\nSet-Cookie: x=1", "/"},
	} {
		if got := localPath(tc.in); got != tc.want {
			t.Errorf("localPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCIFLibrary(t *testing.T) {
	w := &Web{opt: Options{OriginPatterns: []string{"*.crm4.dynamics.com", "crm.example.com"}}}
	const lib = "/webresources/Widget/msdyn_ciLibrary.js"
	for _, tc := range []struct {
		name, in, lib, origin string
	}{
		{"org", "https://contoso.crm4.dynamics.com" + lib, "https://contoso.crm4.dynamics.com" + lib, "https://contoso.crm4.dynamics.com"},
		{"exact host", "https://crm.example.com" + lib + "?v=1", "https://crm.example.com" + lib, "https://crm.example.com"},
		{"upper case host", "https://Contoso.CRM4.dynamics.com" + lib, "https://Contoso.CRM4.dynamics.com" + lib, "https://Contoso.CRM4.dynamics.com"},
		{"empty", "", "", ""},
		{"plain http", "http://contoso.crm4.dynamics.com" + lib, "", ""},
		{"other host", "https://evil.example" + lib, "", ""},
		{"suffix trick", "https://contoso.crm4.dynamics.com.evil.example" + lib, "", ""},
		{"other path", "https://contoso.crm4.dynamics.com/evil.js", "", ""},
		{"port", "https://contoso.crm4.dynamics.com:8443" + lib, "", ""},
		{"user info", "https://a@contoso.crm4.dynamics.com" + lib, "", ""},
		{"data", "data:text/javascript,alert(1)", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, o := w.cifLibrary(tc.in)
			if l != tc.lib || o != tc.origin {
				t.Errorf("cifLibrary(%q) = %q, %q; want %q, %q", tc.in, l, o, tc.lib, tc.origin)
			}
		})
	}
}

func TestSessionCookie(t *testing.T) {
	plain := httptest.NewRequest("POST", "/login", nil)
	overTLS := httptest.NewRequest("POST", "/login", nil)
	overTLS.TLS = &tls.ConnectionState{}
	for _, tc := range []struct {
		name        string
		opt         Options
		r           *http.Request
		secure      bool
		sameSite    http.SameSite
		partitioned bool
	}{
		{"http", Options{}, plain, false, http.SameSiteLaxMode, false},
		{"tls", Options{}, overTLS, true, http.SameSiteLaxMode, false},
		{"configured tls", Options{Secure: true}, plain, true, http.SameSiteLaxMode, false},
		{"framed without tls stays lax", Options{OriginPatterns: []string{"*.dynamics.com"}}, plain, false, http.SameSiteLaxMode, false},
		{"framed over tls", Options{OriginPatterns: []string{"*.dynamics.com"}}, overTLS, true, http.SameSiteNoneMode, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &Web{opt: tc.opt}
			w.opt.SessionTTL = time.Hour
			c := w.sessionCookie(tc.r, "s3cret")
			if !c.HttpOnly || c.Secure != tc.secure || c.SameSite != tc.sameSite || c.Partitioned != tc.partitioned || c.Path != "/" || c.MaxAge != 3600 {
				t.Errorf("cookie %s", c.String())
			}
		})
	}
}

func newTestWeb(t *testing.T, opt Options) *Web {
	t.Helper()
	w, err := New(Deps{}, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestSecurityHeaders(t *testing.T) {
	w := newTestWeb(t, Options{OriginPatterns: []string{"*.crm4.dynamics.com"}})
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest("GET", "/login?next=%2F%3Fdial%3D%22%3E%3Cscript%3E", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /login: %d", rec.Code)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self' https://*.crm4.dynamics.com;", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'self' https://*.crm4.dynamics.com"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", rec.Header())
	}
	body := rec.Body.String()
	if strings.Contains(body, "<script>") || !strings.Contains(body, `name="next" value="/?dial=&#34;&gt;&lt;script&gt;"`) {
		t.Errorf("the next parameter is not escaped:\n%s", body)
	}
}

func TestAgentPageNeedsLogin(t *testing.T) {
	w := newTestWeb(t, Options{})
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest("GET", "/?ucilib=https%3A%2F%2Fx", nil))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login?next=%2F%3Fucilib%3Dhttps%253A%252F%252Fx" {
		t.Errorf("GET / without a session: %d %q", rec.Code, rec.Header().Get("Location"))
	}
}

func TestStaticAssets(t *testing.T) {
	w := newTestWeb(t, Options{})
	u, err := w.assetURL("app.js")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest("GET", u, nil))
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("GET %s: %d %v", u, rec.Code, rec.Header())
	}
	rec = httptest.NewRecorder()
	w.ServeHTTP(rec, httptest.NewRequest("GET", "/static/000000000000/app.js", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("a stale hash answers %d", rec.Code)
	}
}

// TestNoInlineCode keeps the templates free of inline scripts, event handler attributes
// and external resources (the page works offline on the LAN, under a strict CSP).
func TestNoInlineCode(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|javascript:|style\s*=`)
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`)
	// The message catalogue travels as data, which the browser never runs.
	data := regexp.MustCompile(`<script type="application/json" id="i18n">\{\{catalogue[^}]*\}\}</script>`)
	err := fs.WalkDir(Assets(), "templates", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Assets(), p)
		if err != nil {
			return err
		}
		b = data.ReplaceAll(b, nil)
		if m := inline.Find(b); m != nil {
			t.Errorf("%s: inline code %q", p, m)
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s: external resource %q", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	scripts, _ := fs.Glob(Assets(), "static/*.js")
	if len(scripts) < 2 {
		t.Fatalf("scripts: %v", scripts)
	}
	for _, p := range scripts {
		js, _ := fs.ReadFile(Assets(), p)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(string(js), bad) {
				t.Errorf("%s uses %s: caller data must go in as text", p, bad)
			}
		}
	}
}

func TestLoginLimiter(t *testing.T) {
	l := newLoginLimiter()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	k := limitKey{"u\x00x", limitPolicy{free: 3, base: time.Second, max: 4 * time.Second}}
	// Three free attempts, counted before the check: a fourth at once must wait.
	for i := range 3 {
		if _, wait := l.admit(now, k); wait > 0 {
			t.Fatalf("attempt %d waits %s", i, wait)
		}
	}
	if _, wait := l.admit(now, k); wait != time.Second {
		t.Fatalf("4th attempt: wait %s, want 1s", wait)
	}
	// The delay doubles with each failure, up to max; nobody is locked out.
	now = now.Add(time.Second)
	rel, wait := l.admit(now, k)
	if wait != 0 {
		t.Fatalf("after the delay: wait %s", wait)
	}
	rel(false)
	if _, wait := l.admit(now, k); wait != 2*time.Second {
		t.Fatalf("5th: wait %s, want 2s", wait)
	}
	now = now.Add(2 * time.Second)
	rel, _ = l.admit(now, k)
	rel(true) // the right password: refunded
	if _, wait := l.admit(now, k); wait != 2*time.Second {
		t.Fatalf("after a refund: wait %s, want 2s", wait)
	}
	// A key that is not ready stops the others from counting.
	other := limitKey{"a\x00y", limitPolicy{free: 1, base: time.Second, max: time.Second}}
	if _, wait := l.admit(now, other, k); wait == 0 {
		t.Fatal("admitted while k waits")
	}
	if _, wait := l.admit(now, other); wait != 0 {
		t.Fatal("other was counted by a refused attempt")
	}
	// Keys age out one by one.
	if len(l.keys) != 2 {
		t.Fatalf("%d keys", len(l.keys))
	}
	l.admit(now.Add(limiterIdle+5*time.Second), limitKey{"new", k.policy})
	if len(l.keys) != 1 {
		t.Fatalf("%d keys after the idle time, want 1", len(l.keys))
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct{ remote, xff, want string }{
		{"192.0.2.1:5000", "203.0.113.9", "192.0.2.1"},           // not a proxy: the header is ignored
		{"10.0.0.2:5000", "203.0.113.9", "203.0.113.9"},          // a trusted proxy
		{"10.0.0.2:5000", "6.6.6.6, 203.0.113.9", "203.0.113.9"}, // the client's own claim is not believed
		{"10.0.0.2:5000", "203.0.113.9, 10.0.0.3", "203.0.113.9"},
		{"10.0.0.2:5000", "", "10.0.0.2"},
		{"10.0.0.2:5000", "garbage", "10.0.0.2"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientAddr(r, trusted); got != tc.want {
			t.Errorf("%s with X-Forwarded-For %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "//evil", "/\\evil", "https://x", "/?a=b", "/%2F%2Fevil", "/\t/evil.example", "/%09/evil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := localPath(next)
		if got != "/" && got != next {
			t.Fatalf("localPath(%q) = %q: neither the input nor /", next, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n\t ") {
			t.Fatalf("localPath(%q) = %q leaves the site", next, got)
		}
	})
}

func FuzzCIFLibrary(f *testing.F) {
	for _, s := range []string{"https://contoso.crm4.dynamics.com/webresources/Widget/msdyn_ciLibrary.js", "https://evil.example/x.js", "http://a.crm4.dynamics.com/webresources/Widget/msdyn_ciLibrary.js", ""} {
		f.Add(s)
	}
	w := &Web{opt: Options{OriginPatterns: []string{"*.crm4.dynamics.com"}}}
	f.Fuzz(func(t *testing.T, raw string) {
		lib, origin := w.cifLibrary(raw)
		if lib == "" && origin == "" {
			return
		}
		u, err := url.Parse(lib)
		if err != nil || u.Scheme != "https" || !strings.HasSuffix(strings.ToLower(u.Hostname()), ".crm4.dynamics.com") || u.Path != "/webresources/Widget/msdyn_ciLibrary.js" ||
			u.RawQuery != "" || u.User != nil || lib != origin+u.Path || strings.ContainsAny(lib, "\"'<> ") {
			t.Fatalf("cifLibrary(%q) = %q, %q", raw, lib, origin)
		}
	})
}
