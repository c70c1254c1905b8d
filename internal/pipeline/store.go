package pipeline

import (
	"context"

	"github.com/shp-dev/shp/internal/metadata"
)

// RunStore is what a run reads and records in the metadata store;
// metadata.Store is the implementation.
type RunStore interface {
	// ListRuns and AbandonRun find and end the runs a dead process left
	// running (metadata.AbandonRuns), and read an earlier run's record
	// when an extraction resumes.
	metadata.RunSweeper

	// The run's record, its heartbeat and its task attempts.
	UpsertPipeline(ctx context.Context, p metadata.Pipeline) error
	CreateRun(ctx context.Context, r metadata.Run) error
	FinishRun(ctx context.Context, r metadata.Run) error
	HeartbeatRuns(ctx context.Context, owner string, ids []string) (int64, error)
	RecordTask(ctx context.Context, a metadata.TaskAttempt) error
	ListTasks(ctx context.Context, runID string) ([]metadata.TaskAttempt, error)

	// What earlier runs loaded: processed objects and watermarks.
	MarkObjects(ctx context.Context, pipeline, runID string, objs []metadata.ObjectFile) error
	ListObjects(ctx context.Context, pipeline string) ([]metadata.ObjectFile, error)
	ForgetObjects(ctx context.Context, pipeline string) error
	GetWatermark(ctx context.Context, pipeline, key string) (string, bool, error)
	SetWatermark(ctx context.Context, pipeline, key, value string) error

	// The quality rules stored through the API or the CLI.
	ListQualityRules(ctx context.Context, pipeline string) ([]metadata.StoredRule, error)
}
