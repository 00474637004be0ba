package web

import (
	"net/http"

	"github.com/ringside/ringside/docs"
)

// openAPI serves docs/openapi.json, the description of this API. It is public: it says
// nothing that the repository does not.
func (w *Web) openAPI(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "public, max-age=300")
	rw.Write(docs.OpenAPI)
}
