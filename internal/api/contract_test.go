package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

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

// contract is the OpenAPI document with a router over its paths, loaded
// once for checking answers.
var contract = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("load the contract: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate the contract: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the contract: %w", err)
	}
	return router, nil
})

// checkContract fails the test when an answer does not match what the
// contract says of its route and status: its content type and body.
// Requests to a path or method the contract does not have are not
// checked (the answer is then a 404 or 405 problem of no route).
func checkContract(t *testing.T, req *http.Request, status int, h http.Header, body []byte) {
	t.Helper()
	router, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 h,
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		t.Errorf("%s %s: the %d answer breaks the contract: %v\n%s", req.Method, req.URL.Path, status, err, body)
	}
}

// TestOpenAPIRunDetailIsARunView: RunDetail spells out RunView's
// properties beside tasks (an allOf of RunView, whose additional
// properties are refused, could never hold tasks), so it must keep
// having every one of them, alike.
func TestOpenAPIRunDetailIsARunView(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	view, detail := doc.Components.Schemas["RunView"].Value, doc.Components.Schemas["RunDetail"].Value
	for name, p := range view.Properties {
		got, ok := detail.Properties[name]
		if !ok {
			t.Errorf("RunDetail lacks RunView's %s", name)
			continue
		}
		a, _ := json.Marshal(p)
		b, _ := json.Marshal(got)
		if string(a) != string(b) {
			t.Errorf("RunDetail's %s is %s, RunView's %s", name, b, a)
		}
	}
	if len(detail.Properties) != len(view.Properties)+1 || detail.Properties["tasks"] == nil {
		t.Errorf("RunDetail has %d properties, want RunView's %d and tasks", len(detail.Properties), len(view.Properties))
	}
	for _, r := range append(view.Required, "tasks") {
		if !slices.Contains(detail.Required, r) {
			t.Errorf("RunDetail does not require %s", r)
		}
	}
}
