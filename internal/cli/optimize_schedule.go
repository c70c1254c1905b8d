package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/shp-dev/shp/internal/scheduler"
	"github.com/shp-dev/shp/internal/service"
)

// optimizeWindow is how far back a scheduled recommendation reads the
// recorded queries.
const optimizeWindow = 30 * 24 * time.Hour

// recommendOnSchedule runs recommend (the rules over the recorded
// queries, each change tried, what optimization.auto_apply allows
// applied) at each fire of sched, until ctx ends. A failed round is
// logged, and the next fire comes as planned.
func recommendOnSchedule(ctx context.Context, sched *scheduler.Schedule, clock scheduler.Clock, log *slog.Logger,
	recommend func(ctx context.Context, since time.Time) ([]service.OptimizationView, error)) {
	for {
		now := clock.Now()
		next := sched.Next(now)
		if next.IsZero() {
			return
		}
		if clock.Sleep(ctx, next.Sub(now)) != nil {
			return
		}
		views, err := recommend(ctx, clock.Now().Add(-optimizeWindow))
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Warn("scheduled optimisation round failed", "schedule", sched.String(), "err", err)
			continue
		}
		count := map[string]int{}
		for _, v := range views {
			count[v.Status]++
			if v.Status == service.OptApplied {
				log.Info("optimization applied by policy", "id", v.ID, "table", v.Table, "change", v.Change.String(), "reason", v.Reason)
			}
		}
		log.Info("scheduled optimisation round", "recommendations", len(views), "proposed", count[service.OptProposed],
			"applied", count[service.OptApplied], "declined", count[service.OptDeclined], "advice", count[service.OptAdvice])
	}
}
