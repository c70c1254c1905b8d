package healing

import (
	"context"

	"github.com/shp-dev/shp/internal/metadata"
)

// ActionStore is where the engine records its actions and reads people's
// decisions on them.
type ActionStore interface {
	RecordAction(ctx context.Context, a metadata.HealingAction) (int64, error)
	ListActions(ctx context.Context, f metadata.ActionFilter) ([]metadata.HealingAction, error)
	GetAction(ctx context.Context, id int64) (metadata.HealingAction, error)
}

// RunHistory is a pipeline's runs, against which a batch's metrics and a
// run's duration are scored.
type RunHistory interface {
	GetRun(ctx context.Context, id string) (metadata.Run, error)
	ListRuns(ctx context.Context, f metadata.RunFilter) ([]metadata.Run, error)
}

// ModelSource gives the active diagnosis model (LoadModel).
type ModelSource interface {
	ActiveModel(ctx context.Context) (metadata.HealingModel, bool, error)
}

// ModelStore keeps the diagnosis models and the labeled examples people's
// decisions became, for training (TrainAndPromote).
type ModelStore interface {
	ModelSource
	GetModel(ctx context.Context, version int) (metadata.HealingModel, error)
	SaveModel(ctx context.Context, m metadata.HealingModel) (int, error)
	ListExamples(ctx context.Context) ([]string, error)
}

// Store is what an Engine reads and records in the metadata store;
// metadata.Store is the implementation.
type Store interface {
	ActionStore
	RunHistory
	ModelSource
}
