package web_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ringside/ringside/docs"
	"github.com/ringside/ringside/internal/apispec"
)

// The OpenAPI description (docs/openapi.json) is checked three ways:
//   - TestOpenAPICoversRoutes: every /api/v1 route registered on the mux in this package's
//     source is described, and every described operation is registered;
//   - TestOpenAPIRoutesAnswer: every described operation reaches a handler of the running
//     server (not the mux's own 404/405);
//   - every /api/v1 response that this package's tests receive through http.DefaultClient
//     (ts.get, ts.post, ts.event, the WebSocket dials aside) is validated against it with
//     kin-openapi (internal/apispec's Checker, installed by TestMain): status, content type
//     and body schema.

// muxRoutes reads the patterns ("GET /api/v1/calls/{id}") registered with Handle or
// HandleFunc in the non-test Go files of this package.
func muxRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok || len(c.Args) < 2 {
				return true
			}
			sel, ok := c.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			lit, ok := c.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil {
				out = append(out, s)
			}
			return true
		})
	}
	if len(out) < 10 {
		t.Fatalf("found only %d routes in the package's source: has the registration changed?", len(out))
	}
	return out
}

func TestOpenAPICoversRoutes(t *testing.T) {
	doc, _, err := apispec.Load()
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	for _, pat := range muxRoutes(t) {
		method, path, ok := strings.Cut(pat, " ")
		if !ok {
			if strings.HasPrefix(pat, "/api/") {
				t.Errorf("route %q has no method: describe it per method", pat)
			}
			continue
		}
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		registered[method+" "+path] = true
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %s %s is registered on the mux but missing from docs/openapi.json", method, path)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !registered[method+" "+path] {
				t.Errorf("docs/openapi.json describes %s %s, which the mux does not register", method, path)
			}
		}
	}
}

func TestOpenAPIRoutesAnswer(t *testing.T) {
	ts := start(t)
	doc, _, err := apispec.Load()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			url := ts.url + strings.NewReplacer("{id}", "1", "{source}", "nosuch", "{action}", "answer").Replace(path)
			req, _ := http.NewRequestWithContext(t.Context(), method, url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s %s: %s %q: not one of Ringside's handlers (the mux's own answer?)", method, path, resp.Status, body)
			}
		}
	}
}

// TestOpenAPIServed: the running server serves the same document.
func TestOpenAPIServed(t *testing.T) {
	ts := start(t)
	resp, err := http.Get(ts.url + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, docs.OpenAPI) {
		t.Fatalf("GET /api/v1/openapi.json: %s, %d bytes; want 200 and docs/openapi.json", resp.Status, len(b))
	}
}

// TestOpenAPIValidatesResponses drives a few endpoints through the validating client and
// checks that specCheck did see them (and that it catches a response the spec does not
// allow).
func TestOpenAPIValidatesResponses(t *testing.T) {
	ts := start(t)
	ts.event(t, map[string]any{"event": "ringing", "call_id": "oa-1", "direction": "inbound", "from": "030 9876543", "to": "200", "extension": "200"})
	var list struct{ Calls []map[string]any }
	ts.get(t, "alice", "/api/v1/calls?limit=5", &list)
	ts.get(t, "alice", "/api/v1/lookup?number=030+9876543", nil)
	ts.get(t, "alice", "/api/v1/lookup", nil) // 400
	ts.get(t, "alice", "/api/v1/me", nil)
	ts.get(t, "alice", "/api/v1/caller?number=030+9876543", nil)
	ts.get(t, "gina", "/api/v1/outbox", nil)
	ts.get(t, "gina", "/api/v1/admin/users", nil)
	ts.get(t, "gina", "/api/v1/admin/systems", nil)
	ts.get(t, "alice", "/api/v1/outbox", nil) // 403
	ts.post(t, "alice", "/api/v1/dial", `{"number": ""}`)
	for _, c := range list.Calls {
		if call, ok := c["call"].(map[string]any); ok {
			ts.get(t, "alice", "/api/v1/calls/"+fmt.Sprint(call["id"]), nil)
		}
	}
	seen := checker.Seen()
	for _, op := range []string{"GET /api/v1/calls", "GET /api/v1/lookup 200", "GET /api/v1/lookup 400", "GET /api/v1/me", "GET /api/v1/outbox 403", "POST /api/v1/events"} {
		if !slices.ContainsFunc(seen, func(s string) bool { return strings.HasPrefix(s, op) }) {
			t.Errorf("the validating client did not see %s (saw %v)", op, seen)
		}
	}
	if errs := checker.Errors(); len(errs) > 0 {
		t.Errorf("responses that docs/openapi.json does not allow:\n%s", strings.Join(errs, "\n"))
	}

	// The check can fail: a body without the required "error" field is refused.
	req, _ := http.NewRequest("GET", "http://x/api/v1/lookup", nil)
	if err := apispec.ValidateResponse(req, 400, http.Header{"Content-Type": {"application/json"}}, []byte(`{"message":"x"}`)); err == nil {
		t.Error("a 400 answer without \"error\" passed the validation")
	}
}

// checker validates the /api/v1 answers of this package's tests (TestMain installs it on
// http.DefaultClient and reports its mismatches after the tests).
var checker = &apispec.Checker{}
