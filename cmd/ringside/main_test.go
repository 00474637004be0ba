package main

import (
	"net/http"
	"os"
	"testing"

	"github.com/ringside/ringside/internal/apispec"
)

// checker validates every /api/v1 answer the end-to-end tests of this package get through
// http.DefaultClient against docs/openapi.json; a mismatch fails the package.
var checker = &apispec.Checker{}

func TestMain(m *testing.M) {
	http.DefaultClient.Transport = checker
	code := m.Run()
	if code == 0 {
		code = checker.Report(os.Stderr)
	}
	os.Exit(code)
}
