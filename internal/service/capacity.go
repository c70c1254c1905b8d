package service

import (
	"context"

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
	now := s.now().UTC()
	from, runs, err := s.finishedRuns(ctx, days, pipelineName)
	if err != nil {
		return optimize.CapacityAnalysis{}, err
	}
	usage := make([]optimize.RunUsage, 0, len(runs))
	for _, r := range runs {
		u := optimize.RunUsage{Pipeline: r.Pipeline, Start: r.StartedAt.UTC(), Duration: runTime(r)}
		if c, ok := pipeline.CostOf(r.Metrics); ok {
			u.SlotMillis, u.BytesBilled = c.SlotMillis, c.BytesBilled
		}
		usage = append(usage, u)
	}
	opt := s.Project.Config.Optimization
	return optimize.Capacity(usage, from, now, optimize.Prices{PerTiB: opt.PricePerTiB, SlotHour: opt.SlotHourPrice}), nil
}
