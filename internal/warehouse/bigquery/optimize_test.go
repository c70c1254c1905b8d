package bigquery

import (
	"context"
	"errors"
	"strings"
	"testing"

	bq "cloud.google.com/go/bigquery"

	"github.com/shp-dev/shp/internal/optimize"
)

// TestOptimizeEngine: Describe reads a target's size, columns and layout
// (a BIGNUMERIC's largest value measured); clustering is proposed untried
// and applied and reverted in place by a metadata patch; partitions and
// type changes are refused with why (they rewrite the table).
func TestOptimizeEngine(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, freshKey())
	ds := w.client.Dataset(w.cfg.Dataset)
	md := &bq.TableMetadata{
		Schema: bq.Schema{{Name: "Day", Type: bq.DateFieldType}, {Name: "region", Type: bq.StringFieldType},
			{Name: "customer", Type: bq.StringFieldType}, {Name: "amount", Type: bq.BigNumericFieldType, Precision: 40, Scale: 2}},
		TimePartitioning: &bq.TimePartitioning{Type: bq.DayPartitioningType, Field: "Day"},
	}
	if err := ds.Table("Sales").Create(ctx, md); err != nil {
		t.Fatal(err)
	}
	if _, err := w.exec(ctx, jobMeta{step: "seed"}, "INSERT INTO "+w.target("Sales")+
		" (Day, region, customer, amount) VALUES (DATE '2026-01-01', 'EMEA', 'C1', 12345.5), (DATE '2026-01-02', 'APAC', 'C2', -987654.25), (DATE '2026-01-02', 'APAC', 'C3', NULL)"); err != nil {
		t.Fatal(err)
	}
	tab, err := w.Describe(ctx, "sales")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Name != "Sales" || tab.Rows != 3 || len(tab.Columns) != 4 || tab.Layout.PartitionBy != "Day" || len(tab.Layout.ClusterBy) != 0 {
		t.Fatalf("described %+v", tab)
	}
	if c := tab.Columns[3]; c.Type != "BIGNUMERIC(40, 2)" || c.IntDigits == nil || *c.IntDigits != 6 {
		t.Errorf("the BIGNUMERIC column %+v", c)
	}
	if c := tab.Columns[1]; c.Type != "STRING" || c.IntDigits != nil {
		t.Errorf("the STRING column %+v", c)
	}
	if _, err := w.Describe(ctx, "nothing"); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("a table that is not there: %v", err)
	}

	// The rules read it: the BIGNUMERIC's values fit a NUMERIC.
	var recs []optimize.Record
	for range 6 {
		recs = append(recs, optimize.Record{Source: "user", Text: "SELECT SUM(amount) FROM ds.Sales WHERE customer = 'C1'"})
	}
	tab.Rows = 50_000_000 // as a table worth changing would be
	var kinds []string
	for _, r := range optimize.Recommend(optimize.Input{Table: tab, Usage: *optimize.Summarize(recs)["sales"], Warehouse: "bigquery"}) {
		kinds = append(kinds, r.Change.String())
	}
	if strings.Join(kinds, "; ") != "cluster by customer; narrow amount to NUMERIC" {
		t.Errorf("recommended %q", kinds)
	}

	cluster := optimize.Change{Kind: "cluster", Columns: []string{"CUSTOMER", "region"}}
	if _, err := w.Trial(ctx, "Sales", cluster, []string{"SELECT 1"}); !errors.Is(err, optimize.ErrUntried) || !strings.Contains(err.Error(), "dry run") {
		t.Errorf("a clustering trial: %v", err)
	}
	clusters := func() string {
		m, err := ds.Table("Sales").Metadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Clustering == nil {
			return ""
		}
		return strings.Join(m.Clustering.Fields, ",")
	}
	undo, err := w.Apply(ctx, "sales", cluster)
	if err != nil {
		t.Fatal(err)
	}
	if clusters() != "customer,region" || undo != `cluster:[]` {
		t.Fatalf("applied: %q, undo %q", clusters(), undo)
	}
	// Applied again over it: the undo keeps what it replaced.
	undo2, err := w.Apply(ctx, "sales", optimize.Change{Kind: "cluster", Columns: []string{"region"}})
	if err != nil || clusters() != "region" || undo2 != `cluster:["customer","region"]` {
		t.Fatalf("applied over a clustering: %q, undo %q, %v", clusters(), undo2, err)
	}
	if err := w.Revert(ctx, "sales", undo2); err != nil || clusters() != "customer,region" {
		t.Fatalf("reverted to the clustering before: %q %v", clusters(), err)
	}
	// Back to none: the patch sends clustering as null, which BigQuery
	// takes as "unclustered"; the emulator ignores a null field and keeps
	// the clustering, so only real BigQuery can show it gone.
	if err := w.Revert(ctx, "sales", undo); err != nil {
		t.Fatal(err)
	}
	if got := clusters(); realProject() != "" && got != "" {
		t.Fatalf("reverted to none: %q", got)
	}
	if got, err := w.Describe(ctx, "Sales"); err != nil || got.Rows != 3 {
		t.Errorf("the rows after apply and revert: %+v %v", got, err)
	}

	for _, c := range []struct {
		change optimize.Change
		want   string
	}{
		{optimize.Change{Kind: "partition", Columns: []string{"Day"}, Granularity: "DAY"}, "table design"},
		{optimize.Change{Kind: "type", Columns: []string{"amount"}, Types: []string{"NUMERIC"}}, "writing the table anew"},
		{optimize.Change{Kind: "cluster", Columns: []string{"a", "b", "c", "d", "e"}}, "1 to 4 columns"},
		{optimize.Change{Kind: "cluster"}, "1 to 4 columns"},
	} {
		if _, err := w.Trial(ctx, "Sales", c.change, nil); !errors.Is(err, optimize.ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("trial %s: %v", c.change, err)
		}
		if _, err := w.Apply(ctx, "Sales", c.change); !errors.Is(err, optimize.ErrUnsupported) {
			t.Errorf("apply %s: %v", c.change, err)
		}
	}
	if _, err := w.Apply(ctx, "Sales", optimize.Change{Kind: "cluster", Columns: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "no such column") {
		t.Errorf("a column the table lacks: %v", err)
	}
	if _, err := w.Apply(ctx, "nothing", cluster); err == nil {
		t.Error("a table that is not there was clustered")
	}
	for _, bad := range []string{"", "cluster:", "cluster:{", `cluster:["a","b","c","d","e"]`, "index:x"} {
		if err := w.Revert(ctx, "Sales", bad); err == nil {
			t.Errorf("revert %q", bad)
		}
	}
	if got := clusters(); realProject() != "" && got != "" || realProject() == "" && got != "customer,region" {
		t.Errorf("after refused changes: %q", got)
	}
}
