package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestExportDashboards writes the Grafana and Cloud Monitoring dashboards
// into a folder, a file per dashboard, and to standard output as one
// array, and reads them back.
func TestExportDashboards(t *testing.T) {
	want := map[string]string{"shp-overview.json": "Pipeline Overview", "shp-quality.json": "Data Quality",
		"shp-healing.json": "Self-Healing Activity", "shp-performance.json": "Performance"}
	for _, tc := range []struct {
		command string
		title   func(map[string]any) string
		check   func(t *testing.T, name string, d map[string]any)
	}{
		{"grafana", func(d map[string]any) string { s, _ := d["title"].(string); return s },
			func(t *testing.T, name string, d map[string]any) {
				if d["uid"] != strings.TrimSuffix(name, ".json") || d["schemaVersion"] != float64(39) {
					t.Errorf("%s: uid %v, schemaVersion %v", name, d["uid"], d["schemaVersion"])
				}
				panels, _ := d["panels"].([]any)
				if len(panels) < 6 {
					t.Errorf("%s: %d panels", name, len(panels))
				}
				if b, _ := json.Marshal(d["templating"]); !strings.Contains(string(b), `label_values(shp_pipeline_runs_total, pipeline)`) {
					t.Errorf("%s: templating %s", name, b)
				}
			}},
		{"cloud-monitoring", func(d map[string]any) string { s, _ := d["displayName"].(string); return s },
			func(t *testing.T, name string, d map[string]any) {
				layout, _ := d["mosaicLayout"].(map[string]any)
				tiles, _ := layout["tiles"].([]any)
				if layout["columns"] != float64(48) || len(tiles) < 6 {
					t.Errorf("%s: mosaicLayout %v columns, %d tiles", name, layout["columns"], len(tiles))
				}
				if b, _ := json.Marshal(tiles); !strings.Contains(string(b), `"prometheusQuery":"`) || strings.Contains(string(b), "$pipeline") {
					t.Errorf("%s: tiles %s", name, b)
				}
			}},
	} {
		t.Run(tc.command, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "dashboards")
			code, stdout, errOut := shp(t, "export", tc.command, "--out", out)
			if code != 0 || strings.Count(stdout, "wrote ") != 4 {
				t.Fatalf("export %s: %d %s %s", tc.command, code, stdout, errOut)
			}
			entries, err := os.ReadDir(out)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			sort.Strings(names)
			if strings.Join(names, " ") != "shp-healing.json shp-overview.json shp-performance.json shp-quality.json" {
				t.Fatalf("files %v", names)
			}
			for name, title := range want {
				b, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Fatal(err)
				}
				var d map[string]any
				if err := json.Unmarshal(b, &d); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got := tc.title(d); got != title {
					t.Errorf("%s: title %q, want %q", name, got, title)
				}
				tc.check(t, name, d)
			}
			// Without --out: the same dashboards, as one JSON array.
			code, stdout, errOut = shp(t, "export", tc.command)
			var all []map[string]any
			if code != 0 {
				t.Fatalf("export %s: %d %s", tc.command, code, errOut)
			}
			if err := json.Unmarshal([]byte(stdout), &all); err != nil || len(all) != 4 {
				t.Fatalf("stdout is not an array of 4 dashboards (%v): %.200s", err, stdout)
			}
			if tc.title(all[0]) != "Pipeline Overview" {
				t.Errorf("first dashboard %q", tc.title(all[0]))
			}
			if code, _, errOut := shp(t, "export", tc.command, "extra"); code != 2 {
				t.Errorf("an argument: exit %d %s", code, errOut)
			}
		})
	}
}
