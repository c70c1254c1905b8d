package bigqueryspec_test

import (
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/config/configtest"
	"github.com/shp-dev/shp/internal/warehouse/bigquery/bigqueryspec"
)

// project loads a configuration folder whose warehouse section is
// warehouse, an indented block.
func project(t *testing.T, warehouse string) (*config.Project, error) {
	return configtest.WarehouseProject(t, "\n"+warehouse)
}

// TestConfigYAML checks warehouse.type: bigquery in config.yaml against
// the registered spec, as `shp config validate` does.
func TestConfigYAML(t *testing.T) {
	p, err := project(t, `  type: bigquery
  project: my-project
  dataset: analytics
  labels: {team: data}
  maximum_bytes_billed: 1000000000
  staging_expiration: 6h`)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Config.Warehouse
	if w.Type != "bigquery" {
		t.Fatalf("type %q", w.Type)
	}
	c, err := bigqueryspec.Decode(w.Settings)
	if err != nil {
		t.Fatal(err)
	}
	if c.Project != "my-project" || c.Dataset != "analytics" || c.ShpDataset != "_shp" || c.Labels["team"] != "data" ||
		c.MaximumBytesBilled != 1000000000 || c.StagingExpiration.String() != "6h0m0s" {
		t.Errorf("settings %+v decoded as %+v", w.Settings, c)
	}
	for _, bad := range []struct{ yaml, says string }{
		{"  type: bigquery\n  dataset: d", `"warehouse.project"`},
		{"  type: bigquery\n  project: my-project\n  dataset: d\n  path: x.db", `path`},
		{"  type: bigquery\n  project: My_Project\n  dataset: d", "not a project id"},
		{"  type: bigquery\n  project: my-project\n  dataset: d\n  staging_expiration: 5m", "1h or more"},
	} {
		if _, err := project(t, bad.yaml); err == nil || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%s: %v, want an error saying %s", bad.yaml, err, bad.says)
		}
	}
}
