package service

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/warehouse"
)

// WarehouseCost is what a run's warehouse jobs cost, as the warehouse
// reported it (BigQuery's job statistics, summed over the run).
type WarehouseCost struct {
	Jobs           int64 `json:"jobs"`
	BytesProcessed int64 `json:"bytes_processed"`
	BytesBilled    int64 `json:"bytes_billed"`
	SlotMillis     int64 `json:"slot_ms"`
	// USD is the bytes billed priced at optimization.price_per_tib when
	// the run ended (0 when unpriced).
	USD float64 `json:"cost_usd"`
}

// warehouseCost is the cost a run's metrics record; nil when they record
// none (a warehouse without a bill, such as DuckDB).
func warehouseCost(metrics map[string]float64) *WarehouseCost {
	c, ok := pipeline.CostOf(metrics)
	if !ok {
		return nil
	}
	return &WarehouseCost{Jobs: c.Jobs, BytesProcessed: c.BytesProcessed, BytesBilled: c.BytesBilled, SlotMillis: c.SlotMillis,
		USD: metrics[pipeline.MetricWarehouseCost]}
}

// CostDay is what one pipeline's runs cost on one day (UTC, by when
// they started): the warehouse's bill where it bills (BigQuery), and the
// time the runs took everywhere (what DuckDB and PostgreSQL cost is
// their machine's time).
type CostDay struct {
	Day      string `json:"day"`
	Pipeline string `json:"pipeline"`
	Runs     int64  `json:"runs"`
	WarehouseCost
	RunSeconds float64 `json:"run_seconds"`
}

// Add sums o's runs and costs into d.
func (d *CostDay) Add(o CostDay) {
	d.Runs += o.Runs
	d.RunSeconds += o.RunSeconds
	d.Jobs += o.Jobs
	d.BytesProcessed += o.BytesProcessed
	d.BytesBilled += o.BytesBilled
	d.SlotMillis += o.SlotMillis
	d.USD += o.USD
}

// MaxCostDays bounds how far back CostByDay reads.
const MaxCostDays = 400

// CostByDay sums the cost of the finished runs of the last days days
// (today included) by pipeline and day, newest day first; pipelineName
// narrows it to one pipeline.
func (s *Service) CostByDay(ctx context.Context, days int, pipelineName string) ([]CostDay, error) {
	_, runs, err := s.finishedRuns(ctx, days, pipelineName)
	if err != nil {
		return nil, err
	}
	byKey := map[[2]string]*CostDay{}
	for _, r := range runs {
		k := [2]string{r.StartedAt.UTC().Format(time.DateOnly), r.Pipeline}
		d := byKey[k]
		if d == nil {
			d = &CostDay{Day: k[0], Pipeline: k[1]}
			byKey[k] = d
		}
		run := CostDay{Runs: 1, RunSeconds: runTime(r).Seconds()}
		if c := warehouseCost(r.Metrics); c != nil {
			run.WarehouseCost = *c
		}
		d.Add(run)
	}
	out := make([]CostDay, 0, len(byKey))
	for _, d := range byKey {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b CostDay) int {
		return cmp.Or(strings.Compare(b.Day, a.Day), strings.Compare(a.Pipeline, b.Pipeline))
	})
	return out, nil
}

// finishedRuns reads the finished runs (of one pipeline, or all) that
// started in the last days days, today included (UTC), and the start of
// that window.
func (s *Service) finishedRuns(ctx context.Context, days int, pipelineName string) (time.Time, []metadata.Run, error) {
	if days < 1 || days > MaxCostDays {
		return time.Time{}, nil, invalid("days", "must be between 1 and %d, got %d", MaxCostDays, days)
	}
	if pipelineName != "" {
		if _, ok := s.Project.Pipeline(pipelineName); !ok {
			return time.Time{}, nil, fmt.Errorf("pipeline %q: %w", pipelineName, ErrNotFound)
		}
	}
	from := s.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1-days)
	runs, err := s.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: pipelineName, Since: from})
	if err != nil {
		return from, nil, fmt.Errorf("the runs since %s: %w", from.Format(time.DateOnly), err)
	}
	out := runs[:0]
	for _, r := range runs {
		if r.Status != metadata.StatusRunning && r.Status != metadata.StatusQueued && !r.StartedAt.IsZero() {
			out = append(out, r)
		}
	}
	return from, out, nil
}

// runTime is how long a finished run took (0 when it says no end).
func runTime(r metadata.Run) time.Duration {
	if r.EndedAt.IsZero() || !r.EndedAt.After(r.StartedAt) {
		return 0
	}
	return r.EndedAt.Sub(r.StartedAt)
}

// costSlack is how far before the newest run seen the next reading of
// the runs starts, for a run another process recorded with a start a
// little earlier (clocks differ).
const costSlack = 10 * time.Minute

// costTotals sums the cost of the runs on record by pipeline, reading
// only runs it may not have counted yet: those started since its horizon.
type costTotals struct {
	mu      sync.Mutex
	read    bool
	totals  map[string]warehouse.Cost
	counted map[string]time.Time // finished runs counted, by id, with their start, after the horizon
	horizon time.Time            // every run that started before it is counted
}

// WarehouseCosts returns the warehouse cost of the finished runs on
// record, summed by pipeline (those without cost are left out). The sums
// only grow while runs are kept: the Prometheus counters are read from
// them. A run is counted once it has finished; the first call reads
// every run, later calls the runs started since the oldest one still
// running (or shortly before the newest).
func (s *Service) WarehouseCosts(ctx context.Context) (map[string]warehouse.Cost, error) {
	c := &s.costs
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.read {
		c.totals, c.counted = map[string]warehouse.Cost{}, map[string]time.Time{}
	}
	runs, err := s.Store.ListRuns(ctx, metadata.RunFilter{Since: c.horizon})
	if err != nil {
		return nil, fmt.Errorf("warehouse cost of the runs: %w", err)
	}
	var newest, running time.Time
	for _, r := range runs {
		if r.StartedAt.After(newest) {
			newest = r.StartedAt
		}
		if r.Status == metadata.StatusRunning {
			if running.IsZero() || r.StartedAt.Before(running) {
				running = r.StartedAt
			}
			continue
		}
		if _, done := c.counted[r.ID]; done {
			continue
		}
		c.counted[r.ID] = r.StartedAt
		if rc, ok := pipeline.CostOf(r.Metrics); ok {
			t := c.totals[r.Pipeline]
			t.Jobs += rc.Jobs
			t.BytesProcessed += rc.BytesProcessed
			t.BytesBilled += rc.BytesBilled
			t.SlotMillis += rc.SlotMillis
			c.totals[r.Pipeline] = t
		}
	}
	c.read = true
	if !newest.IsZero() {
		h := newest.Add(-costSlack)
		if !running.IsZero() && running.Before(h) {
			h = running
		}
		if h.After(c.horizon) {
			c.horizon = h
		}
	}
	for id, started := range c.counted {
		if started.Before(c.horizon) {
			delete(c.counted, id)
		}
	}
	out := make(map[string]warehouse.Cost, len(c.totals))
	for p, t := range c.totals {
		out[p] = t
	}
	return out, nil
}
