package bigqueryspec

import (
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config/configtest"
	"github.com/shp-dev/shp/internal/config/spec"
)

func TestSpecMatchesConfig(t *testing.T) {
	configtest.CheckSpec(t, spec.KindWarehouse, Name, Config{}, Fields())
}

func TestDecode(t *testing.T) {
	c, err := Decode(map[string]any{"project": "my-project", "dataset": "ds", "labels": map[string]any{"team": "data"},
		"maximum_bytes_billed": 1000, "job_timeout": 90})
	if err != nil {
		t.Fatal(err)
	}
	if c.Project != "my-project" || c.Dataset != "ds" || c.ShpDataset != DefaultShpDataset || c.Location != DefaultLocation ||
		c.Labels["team"] != "data" || c.MaximumBytesBilled != 1000 ||
		time.Duration(c.StagingExpiration) != 24*time.Hour || time.Duration(c.JobTimeout) != 90*time.Second {
		t.Errorf("decoded %+v", c)
	}
	if _, err := Decode(map[string]any{"project": "p", "nope": 1}); err == nil {
		t.Error("an unknown key decoded")
	}
}

func TestChecks(t *testing.T) {
	for _, c := range []struct {
		check func(any) string
		v     any
		bad   bool
	}{
		{checkProject, "my-project", false},
		{checkProject, "example.com:my-project", false},
		{checkProject, "My_Project", true},
		{checkDataset, "analytics_01", false},
		{checkDataset, "ana-lytics", true},
		{checkLabels, map[string]any{"team": "data-eng"}, false},
		{checkLabels, map[string]any{"Team": "x"}, true},
		{checkLabels, map[string]any{"shp_run": "x"}, true},
		{checkLabels, map[string]any{"team": "Has Space"}, true},
		{checkNonNegative, -1, true},
		{checkExpiration, "30m", true},
		{checkExpiration, "2h", false},
		{checkExpiration, 7200, false},
	} {
		if got := c.check(c.v); (got != "") != c.bad {
			t.Errorf("check %v: %q", c.v, got)
		}
	}
}
