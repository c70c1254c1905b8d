package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestZZDump(t *testing.T) {
	ch := loadHelmChart(t)
	b, _ := os.ReadFile(filepath.Join(helmChartDir(t), "ci", "gke-values.yaml"))
	extra := os.Getenv("DUMP_VALUES")
	files, err := renderChart(ch, string(b)+extra)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range slices.Sorted(maps.Keys(files)) {
		fmt.Printf("# ==== %s\n%s\n", k, files[k])
	}
}
