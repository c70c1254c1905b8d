package service

import (
	"context"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

// RunStore is the record of runs as the service reads it: runs, their
// task attempts and which pipelines are paused. ListRuns and AbandonRun
// also mark failed, before a read shows them, the runs a dead process
// left running (metadata.AbandonRuns).
type RunStore interface {
	metadata.RunSweeper
	GetRun(ctx context.Context, id string) (metadata.Run, error)
	ListTasks(ctx context.Context, runID string) ([]metadata.TaskAttempt, error)
	PausedPipelines(ctx context.Context) ([]string, error)
	Paused(ctx context.Context, pipeline string) (bool, error)
}

// ActionStore is the self-healing engine's record as people act on it:
// its actions and their decisions, reverts and resolutions, the labeled
// examples decisions become, and the diagnosis models.
type ActionStore interface {
	ListActions(ctx context.Context, f metadata.ActionFilter) ([]metadata.HealingAction, error)
	GetAction(ctx context.Context, id int64) (metadata.HealingAction, error)
	DecideAction(ctx context.Context, id int64, status, by, reason string) error
	RevertAction(ctx context.Context, id int64, by, reason string) error
	ResolveAction(ctx context.Context, id int64, by, params, reason string) error
	AddExample(ctx context.Context, example string) error
	ListModels(ctx context.Context) ([]metadata.HealingModel, error)
}

// KeyStore keeps the API keys (their hashes).
type KeyStore interface {
	CreateAPIKey(ctx context.Context, k metadata.APIKey) error
	GetAPIKey(ctx context.Context, id string) (metadata.APIKey, error)
	ListAPIKeys(ctx context.Context) ([]metadata.APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

// AuditLog keeps the API's audited requests.
type AuditLog interface {
	RecordAudit(ctx context.Context, e metadata.AuditEntry) error
	AddAudit(ctx context.Context, e metadata.AuditEntry) (int64, error)
	CountAudit(ctx context.Context, id int64, count int, last time.Time) error
	PruneAudit(ctx context.Context, before time.Time, keepAnonymous int) (int64, error)
	QueryAudit(ctx context.Context, q metadata.AuditQuery) ([]metadata.AuditEntry, error)
}

// RuleStore keeps the quality rules added through the API or the CLI. A
// store that also tells their version (metadata.RulesVersioner) spares
// the service reading them while they do not change.
type RuleStore interface {
	AddQualityRules(ctx context.Context, rs []metadata.StoredRule) ([]int64, error)
	ListQualityRules(ctx context.Context, pipeline string) ([]metadata.StoredRule, error)
}

// LineageStore holds the OpenLineage events runs emitted.
type LineageStore interface {
	ListLineage(ctx context.Context, job string, limit int) ([]metadata.LineageEvent, error)
}

// Store is what the service reads and writes in the metadata store, by
// concern; metadata.Store is the implementation.
type Store interface {
	RunStore
	ActionStore
	KeyStore
	AuditLog
	RuleStore
	LineageStore
}
