package scheduler

import (
	"context"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

// ClaimStore is what a scheduler reads and records in the metadata store:
// the claims that keep an interval from running twice, the paused
// pipelines, and each pipeline's last fire time. metadata.Store is the
// implementation.
type ClaimStore interface {
	// ListRuns and AbandonRun end, on each tick, the runs whose process
	// stopped heartbeating (metadata.AbandonRuns).
	metadata.RunSweeper

	// Claims of intervals: taken, taken over, kept alive and finished.
	ClaimInterval(ctx context.Context, c metadata.Claim) (bool, error)
	ClaimIntervals(ctx context.Context, cs []metadata.Claim) ([]bool, error)
	GetClaim(ctx context.Context, pipeline string, logicalDate time.Time) (metadata.Claim, bool, error)
	ListClaims(ctx context.Context, pipeline string, statuses ...string) ([]metadata.Claim, error)
	LatestClaims(ctx context.Context) (map[string]time.Time, error)
	TakeClaim(ctx context.Context, seen metadata.Claim, owner string) (bool, error)
	Heartbeat(ctx context.Context, pipeline string, logicalDate time.Time, owner string) (bool, error)
	SetClaimStatus(ctx context.Context, pipeline string, logicalDate time.Time, status string) error
	SetClaimStatuses(ctx context.Context, cs []metadata.Claim) error

	// The schedule's state: paused pipelines, and a stored last fire
	// time (a watermark).
	PausedPipelines(ctx context.Context) ([]string, error)
	GetWatermark(ctx context.Context, pipeline, key string) (string, bool, error)
}
