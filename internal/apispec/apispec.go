// Package apispec checks HTTP answers against Ringside's OpenAPI description
// (docs/openapi.json) with kin-openapi. Tests use it: a Checker is an http.RoundTripper
// that validates every /api/v1 answer passing through it (status, content type, body
// schema) and keeps the mismatches. Only test binaries import it: the server does not
// carry a validator.
package apispec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/ringside/ringside/docs"
)

var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// Load parses and validates docs/openapi.json (once) and returns it with its router.
func Load() (*openapi3.T, routers.Router, error) {
	spec.once.Do(func() {
		// The statistics come as CSV and SVG too: their bodies are text, described as
		// strings.
		text := func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(body)
			return string(b), err
		}
		openapi3filter.RegisterBodyDecoder("text/csv", text)
		openapi3filter.RegisterBodyDecoder("image/svg+xml", text)

		doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
		if err != nil {
			spec.err = fmt.Errorf("docs/openapi.json: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			spec.err = fmt.Errorf("docs/openapi.json is not a valid OpenAPI document: %w", err)
			return
		}
		if !strings.HasPrefix(doc.OpenAPI, "3.1") {
			spec.err = fmt.Errorf("docs/openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
			return
		}
		spec.doc = doc
		spec.router, spec.err = gorillamux.NewRouter(doc)
	})
	return spec.doc, spec.router, spec.err
}

// ValidateResponse checks one answer to req against the description. An operation the
// description lacks is not an error here (the route coverage test names it).
func ValidateResponse(req *http.Request, status int, h http.Header, body []byte) error {
	_, router, err := Load()
	if err != nil {
		return err
	}
	r := req.Clone(context.Background())
	r.URL.Host, r.Host, r.URL.Scheme = "", "", ""
	route, params, err := router.FindRoute(r)
	if err != nil {
		return nil
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 status,
		Header:                 h,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	})
}

// A Checker validates the /api/v1 answers of the requests made through it. WebSocket
// upgrades and event streams pass unchecked.
type Checker struct {
	Next http.RoundTripper // default http.DefaultTransport

	mu   sync.Mutex
	seen []string
	errs []string
}

// RoundTrip implements http.RoundTripper.
func (c *Checker) RoundTrip(req *http.Request) (*http.Response, error) {
	next := c.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/api/v1/") ||
		resp.StatusCode == http.StatusSwitchingProtocols || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, nil
	}
	what := fmt.Sprintf("%s %s %d", req.Method, req.URL.Path, resp.StatusCode)
	verr := ValidateResponse(req, resp.StatusCode, resp.Header, body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, what)
	if verr != nil {
		c.errs = append(c.errs, fmt.Sprintf("%s: %v\n  body: %.300s", what, verr, body))
	}
	return resp, nil
}

// Seen lists the answers checked: "METHOD PATH STATUS".
func (c *Checker) Seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seen)
}

// Errors lists the answers the description does not allow, with why.
func (c *Checker) Errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.errs)
}

// Report writes the mismatches to w and returns 1 if there are any (for TestMain).
func (c *Checker) Report(w io.Writer) int {
	errs := c.Errors()
	if len(errs) == 0 {
		return 0
	}
	fmt.Fprintf(w, "FAIL: %d /api/v1 answers that docs/openapi.json does not allow:\n%s\n", len(errs), strings.Join(errs, "\n"))
	return 1
}
