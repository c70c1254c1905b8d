package api

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// A viewer's lineage names datasets relative to the project's folder: no
// path of the server's file system; an operator sees the full paths.
func TestLineageHidesServerPathsFromViewers(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	dir, err := filepath.Abs(e.api.Service.Project.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		role      service.Role
		wantPaths bool
	}{{service.Viewer, false}, {service.Operator, true}, {service.Admin, true}} {
		code, _, body := e.do("GET", "/api/v1/lineage", e.keys[tc.role], nil)
		if code != 200 {
			t.Fatalf("%s: %d %s", tc.role, code, body)
		}
		if got := strings.Contains(string(body), filepath.ToSlash(dir)); got != tc.wantPaths {
			t.Errorf("%s sees the server's path %s = %v, want %v: %s", tc.role, dir, got, tc.wantPaths, body)
		}
		if tc.wantPaths {
			continue
		}
		var page service.Page[service.LineageEntry]
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		byPipeline := map[string]service.LineageEntry{}
		for _, l := range page.Items {
			byPipeline[l.Pipeline] = l
		}
		files := byPipeline["orders"]
		if len(files.Inputs) != 1 || files.Inputs[0] != (service.LineageDataset{Namespace: "file", Name: "data/*.csv"}) {
			t.Errorf("file input %+v, want data/*.csv relative to the project", files.Inputs)
		}
		if ns := files.Table.Namespace; !strings.HasPrefix(ns, "duckdb://") || strings.Contains(ns, "//"+"/") || strings.Contains(ns, "..") {
			t.Errorf("target namespace %q, want a path relative to the project", ns)
		}
	}
}
