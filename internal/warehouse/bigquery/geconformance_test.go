package bigquery

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/quality/qualitytest"
	"github.com/shp-dev/shp/internal/warehouse/warehousetest"
)

// geChildEnv marks a test process that runs the GE conformance cases of
// the definitions files whose name qualitytest.OnlyEnv holds.
const geChildEnv = "SHP_BIGQUERY_GE_PART"

// TestGEConformance runs Great Expectations' conformance cases
// (internal/quality/qualitytest) through the BigQuery warehouse: each
// case's data staged, the suite compiled to GoogleSQL and run with
// RunQuery. Against the emulator each definitions file runs in a test
// process of its own (the emulator's analyzer crashes past a few
// hundred queries, see conformanceParts), and the pass rate is the sum;
// the failing cases are logged. It fails below qualitytest.Floor on real
// BigQuery; on the emulator, whose functions differ (see README), it
// fails below emulatorGEFloor.
func TestGEConformance(t *testing.T) {
	if os.Getenv(geChildEnv) != "" || realProject() != "" {
		runGECases(t, os.Getenv(qualitytest.OnlyEnv))
		return
	}
	if os.Getenv(SuiteEnv) == "" {
		t.Skipf("Great Expectations' cases against the emulator take hours: set %s=1 (and -timeout 6h)", SuiteEnv)
	}
	dir := qualitytest.Dir()
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if len(files) == 0 {
		t.Skipf("no conformance cases under %s", dir)
	}
	only := os.Getenv(qualitytest.OnlyEnv)
	var passed, total int
	var failing []string
	tally := regexp.MustCompile(`conformance: (\d+) of (\d+) applicable cases pass`)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if only != "" && !strings.Contains(name, only) {
			continue
		}
		cmd := exec.Command(os.Args[0], "-test.run", "^TestGEConformance$", "-test.v", "-test.timeout", "60m")
		cmd.Env = append(os.Environ(), geChildEnv+"=1", qualitytest.OnlyEnv+"="+filepath.Base(f))
		out, err := cmd.CombinedOutput()
		m := tally.FindSubmatch(out)
		if m == nil {
			t.Errorf("%s: no tally (%v):\n%s", name, err, tail(out, 40))
			continue
		}
		p, _ := strconv.Atoi(string(m[1]))
		n, _ := strconv.Atoi(string(m[2]))
		passed, total = passed+p, total+n
		if p < n {
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "geconformance_test.go") || strings.Contains(line, "conformance.go") {
					failing = append(failing, strings.TrimSpace(line))
				}
			}
		}
	}
	sort.Strings(failing)
	for _, f := range failing {
		t.Log(f)
	}
	if total == 0 {
		t.Skip("no applicable case")
	}
	rate := float64(passed) / float64(total)
	t.Logf("conformance on BigQuery (%s): %d of %d applicable cases pass (%.1f%%)", target(), passed, total, 100*rate)
	if only == "" && rate < emulatorGEFloor {
		t.Errorf("conformance %.1f%% fell below %.0f%%", 100*rate, 100*emulatorGEFloor)
	}
}

// emulatorGEFloor is the share of GE's cases that must pass against the
// emulator: below qualitytest.Floor, since the emulator lacks NaN and
// some of GoogleSQL's functions (see README, "BigQuery warehouse").
const emulatorGEFloor = 0.90

func target() string {
	if realProject() != "" {
		return "project " + realProject()
	}
	return "the emulator"
}

// runGECases validates the cases of the definitions files whose name
// holds only, through one warehouse (one of its own for a case that
// compares with other tables), and reports the tally.
func runGECases(t *testing.T, only string) {
	cases := qualitytest.Cases(t, qualitytest.Dir(), only)
	dir := t.TempDir()
	shared := openTest(t, freshKey())
	var tally qualitytest.Tally
	for i, c := range cases {
		files := c.Write(t, filepath.Join(dir, fmt.Sprint(i)))
		w := shared
		if c.HasOthers() {
			w = openTest(t, freshKey())
		}
		res, err := warehousetest.Validate(w, i, files)
		tally.Add(c, c.Judge(res, err))
		if w != shared {
			_ = w.Close()
		}
	}
	if realProject() != "" {
		tally.Report(t, only)
		return
	}
	tally.Report(t, "x") // the parent judges the rate
}
