package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/api"
)

// routePattern finds `mux.Handle("METHOD /path"` in this package's source.
var routePattern = regexp.MustCompile(`mux\.Handle\("([A-Z]+) ([^"]+)"`)

// registeredRoutes lists every METHOD pattern registered by httpapi's
// source files (catch-alls without a method, /admin/ and /api/, are the
// dashboard and the JSON 404 and have no operation).
func registeredRoutes(t *testing.T) [][2]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var routes [][2]string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range routePattern.FindAllStringSubmatch(string(src), -1) {
			path := strings.ReplaceAll(m[2], "{$}", "")
			routes = append(routes, [2]string{strings.ToLower(m[1]), path})
		}
	}
	if len(routes) < 40 {
		t.Fatalf("found only %d routes in the source: the pattern no longer matches routes.go", len(routes))
	}
	return routes
}

type openAPIDoc struct {
	OpenAPI    string                                                        `json:"openapi"`
	Paths      map[string]map[string]openAPIOp                               `json:"paths"`
	Components struct{ SecuritySchemes, Schemas map[string]json.RawMessage } `json:"components"`
}

type openAPIOp struct {
	OperationID string                     `json:"operationId"`
	Responses   map[string]json.RawMessage `json:"responses"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
}

func TestOpenAPIDocumentCoversEveryRoute(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("api/openapi.json is not valid JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	for _, s := range []string{"userBearer", "adminToken"} {
		if doc.Components.SecuritySchemes[s] == nil {
			t.Errorf("security scheme %s missing", s)
		}
	}
	for _, s := range []string{"User", "Session", "Event", "Stats", "Settings", "Delivery", "Error"} {
		if doc.Components.Schemas[s] == nil {
			t.Errorf("schema %s missing", s)
		}
	}
	ids := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if len(op.Responses) == 0 {
				t.Errorf("%s %s has no responses", method, path)
			}
			if ids[op.OperationID] {
				t.Errorf("operationId %q is used twice", op.OperationID)
			}
			ids[op.OperationID] = true
			// Every {param} of the path is declared as a path parameter.
			for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
				found := false
				for _, p := range op.Parameters {
					found = found || (p.In == "path" && p.Name == m[1])
				}
				if !found {
					t.Errorf("%s %s: path parameter %s not declared", method, path, m[1])
				}
			}
		}
	}
	documented := 0
	registered := map[[2]string]bool{}
	for _, r := range registeredRoutes(t) {
		registered[r] = true
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !registered[[2]string{method, path}] {
				t.Errorf("api/openapi.json documents %s %s, which httpapi does not register", strings.ToUpper(method), path)
			}
		}
	}
	for r := range registered {
		if _, ok := doc.Paths[r[1]][r[0]]; !ok {
			t.Errorf("route %s %s is not in api/openapi.json", strings.ToUpper(r[0]), r[1])
		} else {
			documented++
		}
	}
	t.Logf("%d registered routes, all documented: %d", documented, documented)
}

func TestOpenAPIServed(t *testing.T) {
	h := NewServer(Deps{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/openapi.json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !json.Valid(rec.Body.Bytes()) || rec.Body.Len() != len(api.OpenAPI) {
		t.Fatal("served document differs from api/openapi.json")
	}
}

// TestOpenAPIListParametersAreTheCoreVocabulary: every query parameter the
// document gives an admin list is one the core's parser reads. A junk value
// in it alone is a 400 naming exactly that parameter (the parsers bound and
// check every parameter they read), so a documented name the parser does
// not know would come back 200.
func TestOpenAPIListParametersAreTheCoreVocabulary(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	m, st, sec := newTestManager(t, nil)
	tok, _, err := sm.NewAdminToken(context.Background(), st, sec, "vocabulary", sm.ScopeRead, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := NewServer(Deps{Manager: m, Core: m.AdminCore(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	junk := strings.Repeat("\x7f", 600)
	for _, path := range []string{"/api/admin/sessions", "/api/admin/users", "/api/admin/audit", "/api/admin/users/{id}/sessions", "/api/admin/export/sessions", "/api/admin/export/audit"} {
		op, ok := doc.Paths[path]["get"]
		if !ok {
			t.Fatalf("GET %s is not documented", path)
		}
		n := 0
		for _, p := range op.Parameters {
			if p.In != "query" || p.Name == "limit" && strings.Contains(path, "/export/") {
				continue
			}
			n++
			r := httptest.NewRequest(http.MethodGet, strings.Replace(path, "{id}", "u1", 1)+"?"+url.Values{p.Name: {junk}}.Encode(), nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			var body struct {
				Error struct {
					Details struct {
						Fields map[string]string `json:"fields"`
					} `json:"details"`
				} `json:"error"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusBadRequest || body.Error.Details.Fields[p.Name] == "" {
				t.Errorf("GET %s?%s=<junk>: %d %.200s, want 400 naming %s", path, p.Name, rec.Code, rec.Body.String(), p.Name)
			}
		}
		if n < 3 {
			t.Errorf("GET %s documents only %d query parameters", path, n)
		}
	}
}
