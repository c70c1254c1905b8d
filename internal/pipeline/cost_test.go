package pipeline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/warehouse"
)

// costlyWarehouse is the DuckDB warehouse of the tests as a warehouse with
// a bill: it estimates every query at perQuery bytes, reports cost for
// every run, and records what it is asked.
type costlyWarehouse struct {
	warehouse.Warehouse
	perQuery  int64
	cost      warehouse.Cost
	estimated int      // queries estimated
	ran       int      // queries run
	costOf    []string // the runs whose cost was asked
	designs   []*warehouse.TableDesign
}

func (w *costlyWarehouse) EstimateBytes(ctx context.Context, query string, args ...any) (int64, error) {
	w.estimated++
	if !strings.HasPrefix(query, "SELECT") {
		return 0, errors.New("not a query")
	}
	return w.perQuery, nil
}

func (w *costlyWarehouse) RunQuery(ctx context.Context, query string, args ...any) (warehouse.Rows, error) {
	w.ran++
	return w.Warehouse.RunQuery(ctx, query, args...)
}

func (w *costlyWarehouse) RunCost(runID string) warehouse.Cost {
	w.costOf = append(w.costOf, runID)
	return w.cost
}

func (w *costlyWarehouse) Commit(ctx context.Context, spec warehouse.CommitSpec) (*warehouse.CommitResult, error) {
	w.designs = append(w.designs, spec.Design)
	return w.Warehouse.Commit(ctx, spec)
}

// budgetRules is a suite of one rule, which validates each object in one
// query (its shared scan).
const budgetRules = `pipelines:
  p:
    rules:
      - expectation: expect_column_values_to_not_be_null
        kwargs: {column: id}
`

// TestRunRecordsWarehouseCost: the cost the warehouse reports for a run
// is kept in the run's metrics, priced, succeeded or failed; a warehouse that
// reports none, or a run without cost, adds nothing.
func TestRunRecordsWarehouseCost(t *testing.T) {
	ctx := context.Background()
	bill := warehouse.Cost{Jobs: 7, BytesProcessed: 3 << 20, BytesBilled: 50 << 20, SlotMillis: 1234}
	// Priced at the project's default, BigQuery on-demand's $6.25 per TiB.
	want := map[string]float64{"warehouse_jobs": 7, "warehouse_bytes_processed": 3 << 20, "warehouse_bytes_billed": 50 << 20, "warehouse_slot_ms": 1234,
		"warehouse_cost_usd": 50.0 / (1 << 20) * 6.25}
	for _, tc := range []struct {
		name     string
		pipeline string
		cost     warehouse.Cost
		status   string
		want     map[string]float64
	}{
		{"succeeded", "", bill, metadata.StatusSucceeded, want},
		{"failed", "    max_quarantine_ratio: 0.1\n", bill, metadata.StatusFailed, want},
		{"no cost", "", warehouse.Cost{}, metadata.StatusSucceeded, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.pipeline)
			w := &costlyWarehouse{Warehouse: e.wh, cost: tc.cost}
			e.runner.Warehouse = w
			res, _ := e.runner.Run(ctx, "p", Options{})
			run, err := e.store.GetRun(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != tc.status || !reflect.DeepEqual(w.costOf, []string{res.RunID}) {
				t.Fatalf("run %s %s, cost asked for %v", run.ID, run.Status, w.costOf)
			}
			got := map[string]float64{}
			for k, v := range run.Metrics {
				if strings.HasPrefix(k, "warehouse_") {
					got[k] = v
				}
			}
			if len(tc.want) == 0 && len(got) > 0 || len(tc.want) > 0 && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("stored metrics %v, want %v", got, tc.want)
			}
			if c, ok := CostOf(run.Metrics); ok != (tc.want != nil) || ok && c != tc.cost {
				t.Fatalf("CostOf = %+v %v", c, ok)
			}
		})
	}
	e := newEnv(t, "")
	res, err := e.runner.Run(ctx, "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := CostOf(res.Metrics); ok {
		t.Fatalf("a warehouse without a bill recorded cost: %v", res.Metrics)
	}
}

// TestBytesBudget: with a budget and a warehouse that estimates queries,
// each validation query is estimated first; the query that would take the
// run over its budget is not run, and the run fails without committing,
// its rows accounted for as in any uncommitted run. A budget the run
// stays within changes nothing.
func TestBytesBudget(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		budget    string
		fails     bool
		estimated int // queries estimated
		ran       int // queries run
	}{
		// Five objects, one query each, 100 bytes a query.
		{"within", "    bytes_budget: 500\n", false, 5, 5},
		{"over at the third object", "    bytes_budget: 250\n", true, 3, 2},
		{"over at once", "    bytes_budget: 99\n", true, 1, 0},
		{"from the defaults", "", true, 1, 0},
		{"turned off", "    bytes_budget: 0\n", false, 0, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "    mode: append\n"+tc.budget)
			withRules(t, e, budgetRules)
			if tc.budget == "" {
				e.runner.Project.Config.Pipelines["p"].BytesBudget = 50
			}
			w := &costlyWarehouse{Warehouse: e.wh, perQuery: 100}
			e.runner.Warehouse = w
			res, err := e.runner.Run(ctx, "p", Options{})
			if w.estimated != tc.estimated || w.ran != tc.ran {
				t.Fatalf("%d queries estimated, %d run; want %d and %d", w.estimated, w.ran, tc.estimated, tc.ran)
			}
			run, gerr := e.store.GetRun(ctx, res.RunID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if !tc.fails {
				if err != nil || !res.Committed || res.Loaded != 8 || !run.InvariantOK {
					t.Fatalf("run within its budget: %v %+v", err, res)
				}
				return
			}
			if !errors.Is(err, ErrBytesBudget) {
				t.Fatalf("err = %v, want ErrBytesBudget", err)
			}
			for _, s := range []string{`pipeline "p"`, "an estimated 100 bytes", "over its bytes_budget of", "nothing was committed"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			// Nothing committed, nothing marked processed: the next run
			// reads every object again.
			if n := e.count(t, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'p'"); n != 0 {
				t.Fatal("a run over its budget committed its batch")
			}
			if objs, _ := e.store.ListObjects(ctx, "p"); len(objs) != 0 {
				t.Fatalf("%d objects marked processed", len(objs))
			}
			// The accounting of an uncommitted run: each object staged
			// is staged + set aside; nothing loaded.
			var in int64
			for _, o := range res.Objects {
				in += o.RowsIn
				if o.Loaded != 0 || o.RowsIn != o.Staged+o.Quarantined {
					t.Fatalf("object %+v", o)
				}
			}
			if res.Committed || !res.InvariantOK || res.Loaded != 0 || res.RowsIn != in || len(res.Objects) != tc.estimated ||
				run.Status != metadata.StatusFailed || run.RowsLoaded != 0 || run.RowsIn != in || !run.InvariantOK {
				t.Fatalf("result %+v, stored %+v", res, run)
			}
		})
	}
}

// TestBytesBudgetNotEnforceable: a warehouse that cannot estimate a query
// runs the pipeline as if it had no budget, and says so once.
func TestBytesBudgetNotEnforceable(t *testing.T) {
	e := newEnv(t, "    mode: append\n    bytes_budget: 1\n")
	withRules(t, e, budgetRules)
	var logs bytes.Buffer
	e.runner.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	for range 2 {
		e.runner.Project.Config.Pipelines["p"].MaxQuarantineRatio = 1
		if _, err := e.runner.Run(context.Background(), "p", Options{FullRefresh: true}); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "bytes_budget is not enforced"); n != 1 {
		t.Fatalf("warned %d times:\n%s", n, logs.String())
	}
}

// TestCommitCarriesTheTableDesign: the pipeline's table design reaches
// the warehouse with the commit, as a copy.
func TestCommitCarriesTheTableDesign(t *testing.T) {
	e := newEnv(t, "    partition_by: {column: at, granularity: month}\n    require_partition_filter: true\n    cluster_by: [name, id]\n")
	w := &costlyWarehouse{Warehouse: e.wh}
	e.runner.Warehouse = w
	if _, err := e.runner.Run(context.Background(), "p", Options{}); err != nil {
		t.Fatal(err)
	}
	want := &warehouse.TableDesign{PartitionBy: "at", Granularity: "MONTH", RequirePartitionFilter: true, ClusterBy: []string{"name", "id"}}
	if len(w.designs) != 1 || !reflect.DeepEqual(w.designs[0], want) {
		t.Fatalf("designs %+v, want %+v", w.designs, want)
	}
	w.designs[0].ClusterBy[0] = "changed"
	if got := e.runner.Project.Config.Pipelines["p"].Design.ClusterBy[0]; got != "name" {
		t.Fatalf("the warehouse changed the config's design: %q", got)
	}
	if designOf(&config.Pipeline{}) != nil {
		t.Fatal("a pipeline without a design gave one")
	}
}
