// Package docs holds the documents the binary serves: the OpenAPI description of the HTTP
// API (openapi.json, served at /api/v1/openapi.json).
package docs

import _ "embed"

// OpenAPI is openapi.json: the OpenAPI 3.1 description of every /api/v1 route.
//
//go:embed openapi.json
var OpenAPI []byte
