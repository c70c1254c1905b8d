package apisource

import (
	"testing"

	"github.com/shp-dev/shp/internal/config/spec"
)

// TestSpecMatchesConfig: the keys the API sources' specs declare are
// those Config decodes, with fitting types; each type leaves out the
// other's own keys.
func TestSpecMatchesConfig(t *testing.T) {
	for name, skip := range map[string][]string{
		"api":     {"query", "variables", "page_info_path", "cursor_variable"},
		"graphql": {"method", "params", "body", "pagination"},
	} {
		s, ok := spec.Lookup(spec.KindSource, name)
		if !ok || !s.Extracting {
			t.Fatalf("%s: not registered as an extracting source", name)
		}
		for _, problem := range spec.CompareStruct(Config{}, s.Fields, skip...) {
			t.Errorf("%s: %s", name, problem)
		}
	}
}
