package scheduler

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// loadOpenAPI loads and checks the API's document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// TestOpenAPICoversRoutes: every route the API serves is in openapi.json,
// and every operation there is served: a request to it reaches a handler
// (which answers JSON), not the mux's own 404 or 405.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	s := &Scheduler{log: slog.New(slog.DiscardHandler), jobs: map[string]Job{}}
	served := map[string]bool{}
	for _, r := range s.routes() {
		served[r.pattern] = true
		if !documented[r.pattern] {
			t.Errorf("%s is served but not in openapi.json", r.pattern)
		}
	}
	h := s.Handler()
	for op := range documented {
		if !served[op] {
			t.Errorf("%s is in openapi.json but not served", op)
		}
		method, path, _ := strings.Cut(op, " ")
		path = strings.NewReplacer("{name}", "no-such-job", "{id}", "1", "{no}", "100000001201").Replace(path)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") ||
			rec.Code == http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d %s %q: not answered by the API's handler", method, path, rec.Code, ct, rec.Body.String())
		}
	}
}
