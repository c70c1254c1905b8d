package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/shp-dev/shp/internal/metadata"
)

// TestOpenAPIRunStatusesAreTheStores: the "status" query parameter of
// each listing of runs enumerates exactly metadata.RunStatuses, in their
// order, so that the document, the service's check and the store cannot
// drift apart.
func TestOpenAPIRunStatusesAreTheStores(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for path, item := range doc.Paths.Map() {
		if !strings.HasSuffix(path, "/runs") {
			continue
		}
		for method, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value == nil || p.Value.Name != "status" || p.Value.In != "query" {
					continue
				}
				var enum []string
				for _, v := range p.Value.Schema.Value.Enum {
					s, _ := v.(string)
					enum = append(enum, s)
				}
				if !slices.Equal(enum, metadata.RunStatuses) {
					t.Errorf("%s %s: status enumerates %v, the store's run statuses are %v", method, path, enum, metadata.RunStatuses)
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no status parameter of a listing of runs in the document")
	}
}
