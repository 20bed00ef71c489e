package scheduler

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the API's OpenAPI 3 document, served at GET /openapi.json. A
// test holds it and the routes Handler serves to each other.
//
//go:embed openapi.json
var OpenAPI []byte

func getOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(OpenAPI)
}
