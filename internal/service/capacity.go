package service

import (
	"context"
	"fmt"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/pipeline"
)

// CapacityAnalysis weighs BigQuery's on-demand pricing against capacity
// (editions) pricing for the finished runs of the last days days (today
// included, UTC, as CostByDay counts them) up to now, from the slot
// usage and bytes billed each run recorded, priced at
// optimization.price_per_tib and optimization.slot_hour_price (see
// optimize.Capacity for the model). pipelineName narrows it to one
// pipeline.
func (s *Service) CapacityAnalysis(ctx context.Context, days int, pipelineName string) (optimize.CapacityAnalysis, error) {
	if days < 1 || days > MaxCostDays {
		return optimize.CapacityAnalysis{}, invalid("days", "must be between 1 and %d, got %d", MaxCostDays, days)
	}
	if pipelineName != "" {
		if _, ok := s.Project.Pipeline(pipelineName); !ok {
			return optimize.CapacityAnalysis{}, fmt.Errorf("pipeline %q: %w", pipelineName, ErrNotFound)
		}
	}
	now := s.now().UTC()
	from := now.Truncate(24*time.Hour).AddDate(0, 0, 1-days)
	runs, err := s.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: pipelineName, Since: from})
	if err != nil {
		return optimize.CapacityAnalysis{}, fmt.Errorf("capacity analysis: %w", err)
	}
	usage := make([]optimize.RunUsage, 0, len(runs))
	for _, r := range runs {
		if r.Status == metadata.StatusRunning || r.Status == metadata.StatusQueued || r.StartedAt.IsZero() {
			continue
		}
		u := optimize.RunUsage{Pipeline: r.Pipeline, Start: r.StartedAt.UTC()}
		if !r.EndedAt.IsZero() && r.EndedAt.After(r.StartedAt) {
			u.Duration = r.EndedAt.Sub(r.StartedAt)
		}
		if c, ok := pipeline.CostOf(r.Metrics); ok {
			u.SlotMillis, u.BytesBilled = c.SlotMillis, c.BytesBilled
		}
		usage = append(usage, u)
	}
	opt := s.Project.Config.Optimization
	return optimize.Capacity(usage, from, now, optimize.Prices{PerTiB: opt.PricePerTiB, SlotHour: opt.SlotHourPrice}), nil
}
