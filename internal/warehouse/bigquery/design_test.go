package bigquery

import (
	"context"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse"
)

func TestTableMetadata(t *testing.T) {
	cols := []column{{Name: "id", Type: "INT64"}, {Name: "Day", Type: "DATE"}, {Name: "seen", Type: "TIMESTAMP"},
		{Name: "local", Type: "DATETIME"}, {Name: "region", Type: "STRING"}, {Name: "price", Type: "NUMERIC", Precision: 10, Scale: 2}}
	for _, c := range []struct {
		name    string
		design  *warehouse.TableDesign
		part    string // "field/TYPE/expiration", "" for none
		cluster string
		err     string
	}{
		{name: "none"},
		{name: "by a DATE column, case folded", design: &warehouse.TableDesign{PartitionBy: "day"}, part: "Day/DAY/0s"},
		{name: "by a TIMESTAMP per hour", design: &warehouse.TableDesign{PartitionBy: "seen", Granularity: "hour", PartitionExpiration: 48 * time.Hour}, part: "seen/HOUR/48h0m0s"},
		{name: "by a DATETIME per month", design: &warehouse.TableDesign{PartitionBy: "local", Granularity: "MONTH"}, part: "local/MONTH/0s"},
		{name: "per year", design: &warehouse.TableDesign{PartitionBy: "day", Granularity: "YEAR"}, part: "Day/YEAR/0s"},
		{name: "ingestion time", design: &warehouse.TableDesign{IngestionTime: true, RequirePartitionFilter: true}, part: "/DAY/0s"},
		{name: "clustered only", design: &warehouse.TableDesign{ClusterBy: []string{"REGION", "id"}}, cluster: "region,id"},
		{name: "both", design: &warehouse.TableDesign{PartitionBy: "day", ClusterBy: []string{"region"}}, part: "Day/DAY/0s", cluster: "region"},
		{name: "unknown partition column", design: &warehouse.TableDesign{PartitionBy: "nope"}, err: "partition_by nope"},
		{name: "partition by a STRING", design: &warehouse.TableDesign{PartitionBy: "region"}, err: "a STRING column"},
		{name: "partition by a NUMERIC", design: &warehouse.TableDesign{PartitionBy: "price"}, err: "a NUMERIC column"},
		{name: "hours of a DATE", design: &warehouse.TableDesign{PartitionBy: "day", Granularity: "HOUR"}, err: "no HOUR partitions"},
		{name: "bad granularity", design: &warehouse.TableDesign{PartitionBy: "day", Granularity: "WEEK"}, err: `granularity "WEEK"`},
		{name: "five clusters", design: &warehouse.TableDesign{ClusterBy: []string{"id", "day", "seen", "local", "region"}}, err: "at most 4"},
		{name: "unknown cluster column", design: &warehouse.TableDesign{ClusterBy: []string{"nope"}}, err: "cluster_by nope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			md, err := tableMetadata(cols, c.design, map[string]string{"region": "where it sold"})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(md.Schema) != len(cols) || md.Schema[4].Description != "where it sold" || md.Schema[5].Precision != 10 || md.Schema[0].Description != "" {
				t.Errorf("schema %+v", md.Schema)
			}
			part := ""
			if p := md.TimePartitioning; p != nil {
				part = p.Field + "/" + string(p.Type) + "/" + p.Expiration.String()
			}
			if part != c.part {
				t.Errorf("partitioning %q, want %q", part, c.part)
			}
			cluster := ""
			if md.Clustering != nil {
				cluster = strings.Join(md.Clustering.Fields, ",")
			}
			if cluster != c.cluster {
				t.Errorf("clustering %q, want %q", cluster, c.cluster)
			}
			if want := c.design != nil && c.design.RequirePartitionFilter; md.RequirePartitionFilter != want {
				t.Errorf("require_partition_filter %v, want %v", md.RequirePartitionFilter, want)
			}
		})
	}
}

// TestCommitCreatesTheDesignedTarget: a new target gets the pipeline's
// partitioning, clustering and the schema file's descriptions; a commit
// into an existing target keeps its layout, and a design the target's
// columns cannot take fails the commit before anything is written.
func TestCommitCreatesTheDesignedTarget(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, freshKey())
	sch := mustSchema(t, `[{"name":"id","type":"INT64","mode":"REQUIRED"},{"name":"region","type":"STRING","description":"where it sold"},{"name":"day","type":"DATE"}]`)
	stage := func(run, body string) *warehouse.Staged {
		st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: run, Pipeline: "p", Target: "sales", ObjectKey: run + ".csv",
			Path: writeFile(t, run+".csv", body), Format: format.CSV, Schema: sch})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	bad := &warehouse.TableDesign{PartitionBy: "region"}
	if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r0", Pipeline: "p", Target: "sales", Mode: warehouse.ModeAppend,
		Objects: []*warehouse.Staged{stage("r0", "id,region,day\n9,x,2026-01-01\n")}, Design: bad}); err == nil || !strings.Contains(err.Error(), "a STRING column") {
		t.Fatalf("commit with a STRING partition column: %v", err)
	}
	if led, err := w.LoadedObjects(ctx, "p"); err != nil || len(led) != 0 {
		t.Fatalf("the failed commit left ledger entries %v (%v)", led, err)
	}
	design := &warehouse.TableDesign{PartitionBy: "day", Granularity: "MONTH", RequirePartitionFilter: true,
		PartitionExpiration: 400 * 24 * time.Hour, ClusterBy: []string{"region"}}
	if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "sales", Mode: warehouse.ModeAppend,
		Objects: []*warehouse.Staged{stage("r1", "id,region,day\n1,north,2026-01-02\n2,south,2026-02-03\n")}, Design: design}); err != nil {
		t.Fatal(err)
	}
	check := func() *bq.TableMetadata {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		md, err := w.client.Dataset(w.cfg.Dataset).Table("sales").Metadata(cctx)
		if err != nil {
			t.Fatal(err)
		}
		if p := md.TimePartitioning; p == nil || p.Field != "day" || p.Type != bq.MonthPartitioningType || p.Expiration != 400*24*time.Hour {
			t.Errorf("partitioning %+v, want day by MONTH expiring after 400 days", p)
		}
		if c := md.Clustering; c == nil || strings.Join(c.Fields, ",") != "region" {
			t.Errorf("clustering %+v, want region", c)
		}
		if !md.RequirePartitionFilter {
			t.Error("require_partition_filter not set")
		}
		if len(md.Schema) != 3 || md.Schema[1].Description != "where it sold" {
			t.Errorf("schema %+v, want region described", md.Schema)
		}
		return md
	}
	check()
	// A later commit with another design changes nothing of the layout
	// (the optimisation layer changes it, not a load).
	if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "sales", Mode: warehouse.ModeAppend,
		Objects: []*warehouse.Staged{stage("r2", "id,region,day\n3,east,2026-03-04\n")}, Design: &warehouse.TableDesign{ClusterBy: []string{"id"}}}); err != nil {
		t.Fatal(err)
	}
	check()
	if got := strings.Join(lines(t, w, "SELECT id, region FROM sales WHERE day >= '2026-01-01' ORDER BY id"), ","); got != "1|north,2|south,3|east" {
		t.Errorf("target %s", got)
	}
}
