package cli

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/quality/qualitytest"
)

// TestGreatExpectationsConformance runs GE's own test definitions through
// the code path of `shp validate`. The cases, how they are written and
// judged are internal/quality/qualitytest's, which every warehouse's
// suite (internal/warehouse/warehousetest) runs through its dialect too.
func TestGreatExpectationsConformance(t *testing.T) {
	// SHP_CONFORMANCE_ONLY=substring runs the files whose name holds it,
	// for work on one expectation; the floor is then not enforced.
	only := os.Getenv(qualitytest.OnlyEnv)
	ctx := context.Background()
	var tally qualitytest.Tally
	for _, c := range qualitytest.Cases(t, qualitytest.Dir(), only) {
		files := c.Write(t, t.TempDir())
		var named []namedFile
		for _, o := range files.Others {
			named = append(named, namedFile{Name: o.Name, Path: o.Path})
		}
		res, err := validateFile(ctx, files.Data, files.Schema, files.Suite, quality.Complete, named...)
		tally.Add(c, c.Judge(res, err))
	}
	tally.Report(t, only)
}

// compact renders v as JSON, cut at 200 bytes, for failure messages.
func compact(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
