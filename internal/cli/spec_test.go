package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigSpec: shp config spec prints the reference the specs give,
// all of it, a kind or named types; shp config validate takes its folder
// as an argument or --config, and names self_healing.yaml's problems.
func TestConfigSpec(t *testing.T) {
	code, out, errOut := shp(t, "config", "spec")
	if code != 0 || !strings.HasPrefix(out, "### Warehouses\n\n#### Keys of every warehouse\n") ||
		!strings.Contains(out, "\n### Sources\n\n#### Keys of every source\n") || !strings.Contains(out, "#### `graphql`") {
		t.Errorf("config spec: %d %s %s", code, out, errOut)
	}
	code, out, _ = shp(t, "config", "spec", "sources", "PostgreSQL")
	if code != 2 || out != "" {
		t.Errorf("unknown name: %d %q", code, out)
	}
	code, out, _ = shp(t, "config", "spec", "warehouse", "duckdb")
	if code != 0 || !strings.HasPrefix(out, "#### `duckdb`") || !strings.Contains(out, "| `threads` | integer | `0` |") {
		t.Errorf("config spec warehouse duckdb: %d %s", code, out)
	}
	if code, _, errOut := shp(t, "config", "spec", "notifier"); code != 2 || !strings.Contains(errOut, `no reference for "notifier"`) {
		t.Errorf("unknown kind: %d %s", code, errOut)
	}

	// --readme rewrites the marked sections, and --check tells whether
	// they are up to date.
	readme := filepath.Join(t.TempDir(), "README.md")
	os.WriteFile(readme, []byte("# x\n\nprose\n<!-- spec:warehouses -->\nold\n<!-- /spec:warehouses -->\nmore prose\n<!-- spec:sources --><!-- /spec:sources -->\nend\n"), 0o644)
	if code, _, errOut := shp(t, "config", "spec", "--readme", readme, "--check"); code != 1 || !strings.Contains(errOut, "run make docs") {
		t.Errorf("--check of a stale file: %d %s", code, errOut)
	}
	if code, out, errOut := shp(t, "config", "spec", "--readme", readme); code != 0 || !strings.Contains(out, "rewrote") {
		t.Errorf("--readme: %d %s %s", code, out, errOut)
	}
	doc, _ := os.ReadFile(readme)
	if s := string(doc); !strings.HasPrefix(s, "# x\n\nprose\n<!-- spec:warehouses -->\n#### Keys of every warehouse") ||
		!strings.Contains(s, "<!-- /spec:warehouses -->\nmore prose\n<!-- spec:sources -->\n#### Keys of every source") ||
		!strings.HasSuffix(s, "\n<!-- /spec:sources -->\nend\n") {
		t.Errorf("rewritten file:\n%s", s)
	}
	if code, out, _ := shp(t, "config", "spec", "--readme", readme, "--check"); code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("--check of a fresh file: %d %s", code, out)
	}
	os.WriteFile(readme, []byte("no markers\n"), 0o644)
	if code, _, errOut := shp(t, "config", "spec", "--readme", readme); code != 2 || !strings.Contains(errOut, "markers") {
		t.Errorf("no markers: %d %s", code, errOut)
	}

	dir := initProject(t)
	if code, out, errOut := shp(t, "config", "validate", "--config", dir); code != 0 || !strings.Contains(out, "is valid") {
		t.Errorf("validate --config: %d %s %s", code, out, errOut)
	}
	os.WriteFile(filepath.Join(dir, "self_healing.yaml"), []byte("confidence_threshold: 0.9\nauto_approve: [fill_defaults]\n"), 0o644)
	if code, _, errOut := shp(t, "config", "validate", dir); code != 2 ||
		!strings.Contains(errOut, `self_healing.yaml:2:16: auto_approve[0]: strategy "fill_defaults" is unknown (known: `) {
		t.Errorf("validate a bad policy: %d %s", code, errOut)
	}
}
