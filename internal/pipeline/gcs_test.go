package pipeline

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/staging"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/duckdb"
)

// TestRunFromGCSThroughGCSStaging runs the seed's source shape (type gcs,
// bucket, prefix path, csv, schema) with the real GCS client against an
// in-process GCS emulator, staging into a gs:// bucket too.
func TestRunFromGCSThroughGCSStaging(t *testing.T) {
	ctx := context.Background()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1",
		InitialObjects: []fakestorage.Object{
			{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "example-data-bucket", Name: "sales/daily/2026-01-01.csv"},
				Content: []byte("id,name,amount\n1,a,1.5\n2,b,bad\n")},
			{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "example-data-bucket", Name: "sales/daily/2026-01-02.csv"},
				Content: []byte("id,name,amount\n3,c,3\n")},
			{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "example-data-bucket", Name: "sales/other/ignored.csv"},
				Content: []byte("id,name,amount\n9,z,9\n")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "shp-staging"})

	dir := t.TempDir()
	schemaJSON, _ := os.ReadFile("testdata/schema.json")
	os.WriteFile(filepath.Join(dir, "schema.json"), schemaJSON, 0o644)
	stagingURL := "gs://shp-staging/raw?endpoint=" + url.QueryEscape(srv.URL())
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: g\nstaging:\n  url: "+stagingURL+
		"\ndefaults:\n  max_quarantine_ratio: 0.5\npipelines:\n  sales:\n    source: sales_data\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte(`sources:
  sales_data:
    type: gcs
    bucket: example-data-bucket
    path: sales/daily/
    format: csv
    schedule: 0 2 * * *  # Daily at 2 AM
    schema: schema.json
    endpoint: `+srv.URL()+"\n"), 0o644)
	proj, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := duckdb.Open(ctx, warehouse.Options{Path: filepath.Join(dir, "w.duckdb")})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	r := projectRunner(t, proj, wh)

	res, err := r.Run(ctx, "sales", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 2 || res.Objects[0].Key != "sales/daily/2026-01-01.csv" || res.RowsIn != 3 || res.Loaded != 2 || res.Quarantined != 1 {
		t.Fatalf("result %+v", res)
	}
	// The raw objects are kept in the staging bucket for replay.
	for _, o := range res.Objects {
		key, _ := staging.SafeKey("sales", res.RunID, o.Key)
		if _, err := srv.GetObject("shp-staging", "raw/"+key); err != nil {
			t.Errorf("staged copy of %s: %v", o.Key, err)
		}
	}
	// Generations are the fingerprint: a re-upload is new, the rest is not.
	srv.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "example-data-bucket", Name: "sales/daily/2026-01-02.csv"},
		Content: []byte("id,name,amount\n4,d,4\n")})
	res, err = r.Run(ctx, "sales", Options{})
	if err != nil || len(res.Objects) != 1 || res.Skipped != 1 || res.Loaded != 1 {
		t.Fatalf("after re-upload: %+v %v", res, err)
	}
}

// projectRunner is a Runner of proj on wh, with a SQLite metadata store
// in the project's folder and the project's staging bucket, closed when
// the test ends.
func projectRunner(t *testing.T, proj *config.Project, wh warehouse.Warehouse) *Runner {
	t.Helper()
	ctx := context.Background()
	store, err := metadata.Open(ctx, "sqlite", filepath.Join(proj.Dir, "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	bucket, err := staging.Open(ctx, proj.StagingURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bucket.Close() })
	return &Runner{Project: proj, Store: store, Warehouse: wh, Staging: bucket}
}
