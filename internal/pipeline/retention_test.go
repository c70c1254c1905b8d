package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/staging"
)

// TestStagingRetention: a successful run deletes the pipeline's staged
// objects older than staging.retention, never its own; a failed run's
// objects stay (for a re-run) until they are that old; with no retention
// nothing is ever deleted.
func TestStagingRetention(t *testing.T) {
	ctx := context.Background()
	// A run starts after the first by after; a bad one fails (most of its
	// new file's rows do not load).
	type run struct {
		after time.Duration
		bad   bool
	}
	for _, tc := range []struct {
		name      string
		retention time.Duration
		runs      []run
		left      []int // the runs whose staged files are left
	}{
		{"kept for ever", 0, []run{{0, false}, {time.Hour, true}, {1000 * time.Hour, false}}, []int{0, 1, 2}},
		{"within the retention", 24 * time.Hour, []run{{0, false}, {time.Hour, true}, {2 * time.Hour, false}}, []int{0, 1, 2}},
		{"older than the retention", 24 * time.Hour, []run{{0, false}, {time.Hour, true}, {48 * time.Hour, false}}, []int{2}},
		{"a failed run deletes nothing", 24 * time.Hour, []run{{0, false}, {48 * time.Hour, true}}, []int{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "    mode: append\n")
			dir := filepath.Join(t.TempDir(), "staging")
			bucket, err := staging.Open(ctx, "file://"+filepath.ToSlash(dir))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { bucket.Close() })
			e.runner.Staging = bucket
			e.runner.Project.Config.Staging.Retention = tc.retention
			var ids []string
			for i, r := range tc.runs {
				file := filepath.Join(e.dir, "data", fmt.Sprintf("new%d.csv", i))
				body := "id,name,amount\n7,x,1\n"
				if r.bad {
					body = "id,name,amount\n" + strings.Repeat("7,x,oops\n", 9) + "8,y,1\n"
				}
				if i > 0 {
					os.WriteFile(file, []byte(body), 0o644)
				}
				e.runner.Now = func() time.Time { return time.Now().Add(r.after) }
				res, err := e.runner.Run(ctx, "p", Options{})
				if (err != nil) != r.bad {
					t.Fatalf("run %d: %v, want failed=%v", i, err, r.bad)
				}
				ids = append(ids, res.RunID)
				if r.bad {
					os.Remove(file) // the next run has other things to do
				}
			}
			var left []int
			for i, id := range ids {
				if entries, err := os.ReadDir(filepath.Join(dir, "p", id)); err == nil && len(entries) > 0 {
					left = append(left, i)
				}
			}
			if !slices.Equal(left, tc.left) {
				t.Fatalf("runs with staged files %v, want %v", left, tc.left)
			}
		})
	}
}
