package pipeline

import (
	"context"
	"log/slog"
	"strings"
)

// sweepStaging deletes, after a successful run, the pipeline's staged
// objects (copied files, extracted chunks) older than the staging
// retention, except the run's own. Objects of a failed run stay for a
// re-run to resume from until they are that old. A failure to delete is
// logged: the run stands.
func (r *Runner) sweepStaging(ctx context.Context, pipeline, runID string, log *slog.Logger) {
	keep := r.Project.Config.Staging.Retention
	if keep <= 0 || r.Staging == nil {
		return
	}
	own := pipeline + "/" + runID + "/"
	n, err := r.Staging.Sweep(ctx, pipeline+"/", r.now().Add(-keep), func(key string) bool { return strings.HasPrefix(key, own) })
	if err != nil {
		log.Warn("delete staged objects older than the staging retention", "retention", keep, "deleted", n, "err", err)
		return
	}
	if n > 0 {
		log.Info("deleted staged objects older than the staging retention", "retention", keep, "objects", n)
	}
}
