package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/shp-dev/shp/internal/metadata"
)

// TestOpenAPIMatchesTheRouter: the document is valid OpenAPI 3, it is
// what /api/v1/openapi.json serves, and it lists exactly the routes the
// router serves, with the same security (none for the public ones).
func TestOpenAPIMatchesTheRouter(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI: %v", err)
	}
	inDoc := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			inDoc[method+" "+path] = op
		}
	}
	inRouter := map[string]route{}
	for _, rt := range routes() {
		inRouter[rt.method+" "+rt.path] = rt
	}
	var missingDoc, missingRouter []string
	for k, rt := range inRouter {
		op, ok := inDoc[k]
		if !ok {
			missingDoc = append(missingDoc, k)
			continue
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public != (rt.role == "") {
			t.Errorf("%s: the document says public=%v, the router needs role %q", k, public, rt.role)
		}
		if rt.role != "" && !strings.Contains(op.Description, "Role: "+string(rt.role)) {
			t.Errorf("%s: the document does not name the %s role: %q", k, rt.role, op.Description)
		}
	}
	for k := range inDoc {
		if _, ok := inRouter[k]; !ok {
			missingRouter = append(missingRouter, k)
		}
	}
	sort.Strings(missingDoc)
	sort.Strings(missingRouter)
	if len(missingDoc) > 0 || len(missingRouter) > 0 {
		t.Fatalf("routes missing from the document: %v; documented routes the router lacks: %v", missingDoc, missingRouter)
	}

	e := newEnv(t, metadata.KindSQLite, nil)
	resp, err := http.Get(e.srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var served map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(b, &served) != nil || served["openapi"] != "3.1.0" {
		t.Fatalf("served document: %d %.200s", resp.StatusCode, b)
	}
}
