package service

import (
	"context"

	"github.com/shp-dev/shp/internal/metadata"
)

// abandonDeadRuns marks failed, before a read shows them, the runs whose
// process stopped heartbeating (metadata.AbandonRuns), so that no listing
// shows a dead process's run as running for longer than its lease. A
// failure is logged: the read goes on.
func (s *Service) abandonDeadRuns(ctx context.Context) {
	gone, err := metadata.AbandonRuns(ctx, s.Store)
	if err != nil && ctx.Err() == nil {
		s.logger().Warn("mark abandoned runs failed", "err", err)
	}
	for _, r := range gone {
		s.logger().Warn("a run's process stopped heartbeating; marked failed", "pipeline", r.Pipeline, "run_id", r.ID, "reason", r.Error)
	}
}
