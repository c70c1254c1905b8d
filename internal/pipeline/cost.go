package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
)

// ErrBytesBudget marks a run stopped because a validation query would
// have taken it over its pipeline's bytes_budget: the query was not run,
// and nothing was committed.
var ErrBytesBudget = errors.New("bytes budget exceeded")

// Metric keys of the warehouse's cost of a run (warehouse.CostReporter),
// in the run's metrics.
const (
	MetricWarehouseJobs           = "warehouse_jobs"
	MetricWarehouseBytesProcessed = "warehouse_bytes_processed"
	MetricWarehouseBytesBilled    = "warehouse_bytes_billed"
	MetricWarehouseSlotMillis     = "warehouse_slot_ms"
	// MetricWarehouseCost is the bytes billed priced at the project's
	// optimization.price_per_tib when the run ended, in dollars.
	MetricWarehouseCost = "warehouse_cost_usd"
)

// tib is a tebibyte, the unit BigQuery prices.
const tib = 1 << 40

// Price is what billing bytes costs at pricePerTiB dollars per TiB.
func Price(billed int64, pricePerTiB float64) float64 {
	return float64(billed) / tib * pricePerTiB
}

// CostMetrics returns the metrics that record a run's warehouse cost,
// priced at pricePerTiB dollars per TiB billed (unpriced when 0).
func CostMetrics(c warehouse.Cost, pricePerTiB float64) map[string]float64 {
	m := map[string]float64{
		MetricWarehouseJobs:           float64(c.Jobs),
		MetricWarehouseBytesProcessed: float64(c.BytesProcessed),
		MetricWarehouseBytesBilled:    float64(c.BytesBilled),
		MetricWarehouseSlotMillis:     float64(c.SlotMillis),
	}
	if pricePerTiB > 0 {
		m[MetricWarehouseCost] = Price(c.BytesBilled, pricePerTiB)
	}
	return m
}

// CostOf reads a run's warehouse cost back from its metrics; ok is false
// when the run has none recorded.
func CostOf(metrics map[string]float64) (c warehouse.Cost, ok bool) {
	jobs, ok := metrics[MetricWarehouseJobs]
	if !ok {
		return c, false
	}
	return warehouse.Cost{Jobs: int64(jobs), BytesProcessed: int64(metrics[MetricWarehouseBytesProcessed]),
		BytesBilled: int64(metrics[MetricWarehouseBytesBilled]), SlotMillis: int64(metrics[MetricWarehouseSlotMillis])}, true
}

// recordCost adds what the warehouse says the run's jobs cost to its
// metrics, when the warehouse knows (warehouse.CostReporter) and the run
// ran any job: whatever the run's outcome, the bill is real.
func (r *Runner) recordCost(res *Result) {
	cr, ok := r.Warehouse.(warehouse.CostReporter)
	if !ok {
		return
	}
	c := cr.RunCost(res.RunID)
	if c == (warehouse.Cost{}) {
		return
	}
	if res.Metrics == nil {
		res.Metrics = map[string]float64{}
	}
	for k, v := range CostMetrics(c, r.Project.Config.Optimization.PricePerTiB) {
		res.Metrics[k] = v
	}
}

// designOf is the warehouse's copy of a pipeline's table design; nil when
// it sets none.
func designOf(p *config.Pipeline) *warehouse.TableDesign {
	if p.Design == nil {
		return nil
	}
	d := *p.Design
	d.ClusterBy = slices.Clone(d.ClusterBy)
	return &d
}

// bytesBudget holds a run to its pipeline's bytes_budget: each validation
// query is estimated (a dry run) before it runs, and one whose estimate
// would take the run's sum over the budget is refused. Once one is
// refused, every later query is too: the run fails.
type bytesBudget struct {
	pipeline string
	limit    int64
	est      warehouse.Estimator

	mu    sync.Mutex
	spent int64 // the estimates of the queries run so far
	err   error // why a query was refused; nil while within budget
}

// budget returns the run's bytes budget: nil (no limit) when the pipeline
// sets none, or when the warehouse cannot estimate a query, which is
// logged once per pipeline for the runner's life.
func (r *Runner) budget(p *config.Pipeline, log *slog.Logger) *bytesBudget {
	if p.BytesBudget <= 0 {
		return nil
	}
	est, ok := r.Warehouse.(warehouse.Estimator)
	if !ok {
		if _, warned := r.budgetWarned.LoadOrStore(p.Name, true); !warned {
			log.Warn("bytes_budget is not enforced: the warehouse cannot estimate a query's bytes before running it",
				"bytes_budget", p.BytesBudget)
		}
		return nil
	}
	return &bytesBudget{pipeline: p.Name, limit: p.BytesBudget, est: est}
}

// queryer wraps q so that each query is estimated and counted against the
// budget before it runs; a nil budget returns q.
func (b *bytesBudget) queryer(q quality.Queryer, object string) quality.Queryer {
	if b == nil {
		return q
	}
	return quality.QueryFunc(func(ctx context.Context, query string, args ...any) (quality.Rows, error) {
		if err := b.admit(ctx, query, args, object); err != nil {
			return nil, err
		}
		return q.QueryContext(ctx, query, args...)
	})
}

// admit estimates a query and counts it against the budget, or refuses
// it.
func (b *bytesBudget) admit(ctx context.Context, query string, args []any, object string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	n, err := b.est.EstimateBytes(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("estimate the bytes of a validation query of %s: %w", object, err)
	}
	if b.spent+n > b.limit {
		b.err = fmt.Errorf("%w: pipeline %q: a validation query of %s would read an estimated %d bytes, "+
			"taking the run to %d bytes, over its bytes_budget of %d (%d estimated for the queries run before it); "+
			"the query was not run and nothing was committed", ErrBytesBudget, b.pipeline, object, n, b.spent+n, b.limit, b.spent)
		return b.err
	}
	b.spent += n
	return nil
}

// exceeded returns why the budget refused a query; nil when none was
// refused (or there is no budget).
func (b *bytesBudget) exceeded() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
