// Package configtest helps the tests of a component's configuration: a
// project loaded with a warehouse section of the test's, and the check
// that a spec and the struct its factory decodes are in step.
package configtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/config/spec"
	_ "github.com/shp-dev/shp/internal/source" // the file source of the project
)

// WarehouseProject writes a configuration folder and loads it, as `shp
// config validate` does: config.yaml's warehouse section is warehouse,
// the text after "warehouse:" (a flow mapping, or a newline and an
// indented block), with a pipeline p of a file source s.
func WarehouseProject(t testing.TB, warehouse string) (*config.Project, error) {
	t.Helper()
	dir := t.TempDir()
	cfg := "project: q\nwarehouse:" + warehouse + "\npipelines:\n  p:\n    source: s\n    target: t\n"
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "sources:\n  s:\n    type: file\n    path: data/*.csv\n"
	if err := os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return config.LoadDir(dir)
}

// CheckSpec fails t when fields and cfg, the struct a component decodes
// its settings into, differ (spec.CompareStruct), or when no spec of
// kind and name is registered.
func CheckSpec(t testing.TB, kind, name string, cfg any, fields []spec.Field) {
	t.Helper()
	if diff := spec.CompareStruct(cfg, fields); len(diff) > 0 {
		t.Fatalf("spec and Config differ:\n%v", diff)
	}
	if _, ok := spec.Lookup(kind, name); !ok {
		t.Fatal("not registered")
	}
}
