package staging

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSweep deletes the objects under a prefix older than a cutoff, keeps
// those the caller keeps and those of other prefixes, and in a file://
// bucket removes the directories it empties (never the bucket's own).
func TestSweep(t *testing.T) {
	ctx := context.Background()
	keys := []string{"p/run-1/a.csv", "p/run-1/extract/s/chunk-00001.csv", "p/run-2/a.csv", "q/run-1/a.csv", "p.csv"}
	hour := time.Now().Add(-time.Hour)
	cases := []struct {
		name    string
		cutoff  time.Time
		keep    func(string) bool
		aged    []string // made two hours old first (file:// only)
		deleted int
		left    []string
	}{
		{name: "nothing older", cutoff: hour, left: keys},
		{name: "all older", cutoff: time.Now().Add(time.Minute), deleted: 3, left: []string{"q/run-1/a.csv", "p.csv"}},
		{name: "a kept run", cutoff: time.Now().Add(time.Minute), keep: func(k string) bool { return strings.HasPrefix(k, "p/run-2/") },
			deleted: 2, left: []string{"p/run-2/a.csv", "q/run-1/a.csv", "p.csv"}},
		{name: "only the aged", cutoff: hour, aged: []string{"p/run-1/extract/s/chunk-00001.csv", "q/run-1/a.csv"},
			deleted: 1, left: []string{"p/run-1/a.csv", "p/run-2/a.csv", "q/run-1/a.csv", "p.csv"}},
	}
	for _, scheme := range []string{"file", "mem"} {
		for _, c := range cases {
			if len(c.aged) > 0 && scheme != "file" {
				continue
			}
			t.Run(scheme+"/"+c.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "staging")
				url := "mem://"
				if scheme == "file" {
					url = "file://" + filepath.ToSlash(dir)
				}
				b := mustOpen(t, url)
				for _, k := range keys {
					if _, err := b.Put(ctx, k, strings.NewReader("x\n")); err != nil {
						t.Fatal(err)
					}
				}
				for _, k := range c.aged {
					old := time.Now().Add(-2 * time.Hour)
					if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(k)), old, old); err != nil {
						t.Fatal(err)
					}
				}
				n, err := b.Sweep(ctx, "p/", c.cutoff, c.keep)
				if err != nil || n != c.deleted {
					t.Fatalf("Sweep = %d, %v; want %d", n, err, c.deleted)
				}
				var left []string
				for _, k := range keys {
					ok, err := b.Exists(ctx, k)
					if err != nil {
						t.Fatal(err)
					}
					if ok {
						left = append(left, k)
					}
				}
				if !slices.Equal(left, c.left) {
					t.Fatalf("left %q, want %q", left, c.left)
				}
				if scheme != "file" {
					return
				}
				// No directory without an object is left behind.
				err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
					if err != nil || !d.IsDir() || p == dir {
						return err
					}
					if entries, _ := os.ReadDir(p); len(entries) == 0 {
						t.Errorf("empty directory %s left", p)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	if _, err := mustOpen(t, "mem://").Sweep(ctx, "../", time.Now(), nil); err == nil {
		t.Error("Sweep of an unsafe prefix: no error")
	}
}
