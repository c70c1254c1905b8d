package sqlsource

import (
	"testing"

	"github.com/shp-dev/shp/internal/config/spec"
)

// TestSpecMatchesConfig: the keys the SQL sources' specs declare are
// those Config decodes, with fitting types; only cloudsql takes engine.
func TestSpecMatchesConfig(t *testing.T) {
	for _, name := range []string{"postgres", "mysql", "cloudsql"} {
		s, ok := spec.Lookup(spec.KindSource, name)
		if !ok || !s.Extracting {
			t.Fatalf("%s: not registered as an extracting source", name)
		}
		var skip []string
		if name != "cloudsql" {
			skip = []string{"engine"}
		}
		for _, problem := range spec.CompareStruct(Config{}, s.Fields, skip...) {
			t.Errorf("%s: %s", name, problem)
		}
	}
}
