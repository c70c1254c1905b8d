// Package metadata is shp's metadata store: the pipelines it knows, the runs
// and task attempts it made, the source objects it has processed and the
// watermarks of incremental loads.
//
// A Store is opened by kind with [Open]; "sqlite" and "postgres" are built in
// and further kinds can be added with [Register]. Both built-in stores share
// one database/sql implementation, keep their schema in embedded, versioned
// migrations applied on open, and store times in UTC at microsecond
// precision: a time read back is the time written, truncated to the
// microsecond, in UTC. A zero time is stored as NULL and read back as zero.
package metadata

import (
	"context"
	"slices"
	"time"
)

// Statuses of runs, their task attempts and the scheduler's claims: the
// one set of these values in shp. They are stored as they are and shown
// as they are by the CLI and the REST API.
const (
	// StatusQueued is the status of a claimed interval, or a triggered
	// run, that waits for its turn; a run record is never queued.
	StatusQueued = "queued"
	// StatusRunning is the status of a run or task that has not finished.
	StatusRunning = "running"
	// StatusSucceeded is the status of a run or task that finished well.
	StatusSucceeded = "succeeded"
	// StatusFailed is the status of a run or task that failed.
	StatusFailed = "failed"
	// StatusHeld is the status of a run that stopped before its commit
	// to wait for a person's decision (and of its claim: pipelines that
	// depend on it wait too).
	StatusHeld = "held"
	// StatusSkipped is the status of a claim whose run never started
	// because an upstream pipeline failed for the same interval.
	StatusSkipped = "skipped"
)

// RunStatuses are the statuses a run record can have, in the order the
// API documents them (its runs' status filter).
var RunStatuses = []string{StatusRunning, StatusSucceeded, StatusFailed, StatusHeld}

// IsRunStatus reports whether s is one of RunStatuses.
func IsRunStatus(s string) bool { return slices.Contains(RunStatuses, s) }

// Store keeps shp's metadata. Implementations are safe for concurrent use.
type Store interface {
	// UpsertPipeline creates or replaces the pipeline named p.Name. A zero
	// UpdatedAt is stored as the current time.
	UpsertPipeline(ctx context.Context, p Pipeline) error
	// ListPipelines returns every pipeline, ordered by name.
	ListPipelines(ctx context.Context) ([]Pipeline, error)
	// CreateRun records a new run; the caller sets r.ID. Creating a run
	// whose ID exists fails with ErrExists.
	CreateRun(ctx context.Context, r Run) error
	// FinishRun updates the run r.ID: its status, end time, counters
	// (rows, objects, bytes), error and invariant flag. It fails with
	// ErrNotFound when the run does not exist.
	FinishRun(ctx context.Context, r Run) error
	// GetRun returns the run id, or an error wrapping ErrNotFound.
	GetRun(ctx context.Context, id string) (Run, error)
	// ListRuns returns the runs that match f, newest first.
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)
	// HeartbeatRuns sets the heartbeat of the runs ids that owner holds
	// and that are still running to the current time, and reports how
	// many it set: a run another process marked abandoned meanwhile is
	// not among them.
	HeartbeatRuns(ctx context.Context, owner string, ids []string) (int64, error)
	// AbandonRun ends a run whose process is gone: status failed, error
	// reason, ended at end; its task attempts still running fail with it.
	// It changes the run only while it is as seen (running, held by
	// seen.Owner, last heartbeat seen.HeartbeatAt, none when zero) and
	// that heartbeat is before staleBefore, all in one conditional
	// update, so that of several processes one marks it, and a run that
	// heartbeat meanwhile or ended is left alone. It reports whether it
	// changed the run. See AbandonRuns.
	AbandonRun(ctx context.Context, seen Run, staleBefore, end time.Time, reason string) (bool, error)
	// RecordTask inserts the task attempt (a.RunID, a.Task, a.Attempt) or
	// replaces it when it exists. The run must exist (ErrNotFound).
	RecordTask(ctx context.Context, a TaskAttempt) error
	// ListTasks returns the task attempts of a run, by start time, task
	// and attempt.
	ListTasks(ctx context.Context, runID string) ([]TaskAttempt, error)
	// ObjectProcessed reports whether obj (key and fingerprint) was marked
	// processed for the pipeline.
	ObjectProcessed(ctx context.Context, pipeline string, obj ObjectRef) (bool, error)
	// MarkObjects marks objects processed by a run, all in one
	// transaction. An object whose RunID is empty is attributed to runID;
	// a zero ProcessedAt is stored as the current time. Marking an object
	// again is not an error: the latest marking replaces the earlier one.
	MarkObjects(ctx context.Context, pipeline, runID string, objs []ObjectFile) error
	// ListObjects returns the objects processed for a pipeline, ordered by
	// key and fingerprint.
	ListObjects(ctx context.Context, pipeline string) ([]ObjectFile, error)
	// ForgetObjects forgets every object processed for a pipeline, so that
	// they are all loaded again (--full-refresh).
	ForgetObjects(ctx context.Context, pipeline string) error
	// GetWatermark returns the watermark key of a pipeline and whether it
	// is set.
	GetWatermark(ctx context.Context, pipeline, key string) (string, bool, error)
	// SetWatermark sets the watermark key of a pipeline to value.
	SetWatermark(ctx context.Context, pipeline, key, value string) error
	// ClaimInterval takes a pipeline's logical interval for a scheduler:
	// it returns false, without error, when the interval is taken already.
	ClaimInterval(ctx context.Context, c Claim) (bool, error)
	// ClaimIntervals takes several intervals in one transaction and
	// reports, for each, whether it was taken (false: taken already).
	ClaimIntervals(ctx context.Context, cs []Claim) ([]bool, error)
	// GetClaim returns the claim of a pipeline's interval, if any.
	GetClaim(ctx context.Context, pipeline string, logicalDate time.Time) (Claim, bool, error)
	// UpdateClaim sets the status and run of a claim.
	UpdateClaim(ctx context.Context, c Claim) error
	// ListClaims returns a pipeline's claims (all pipelines' when empty)
	// with status among statuses (any when none), by logical date.
	ListClaims(ctx context.Context, pipeline string, statuses ...string) ([]Claim, error)
	// SetClaimStatus sets only the status of a claim (and its heartbeat
	// time).
	SetClaimStatus(ctx context.Context, pipeline string, logicalDate time.Time, status string) error
	// SetClaimStatuses sets the statuses of several claims in one
	// transaction, each only while c.Owner still holds it; claims that do
	// not exist or were taken over are skipped.
	SetClaimStatuses(ctx context.Context, cs []Claim) error
	// TakeClaim gives the claim to owner with status running, only if it
	// is still as seen: held by seen.Owner with seen.Status and not
	// touched since seen.UpdatedAt. It reports whether it did.
	TakeClaim(ctx context.Context, seen Claim, owner string) (bool, error)
	// Heartbeat refreshes a running claim's time, only while owner holds it.
	Heartbeat(ctx context.Context, pipeline string, logicalDate time.Time, owner string) (bool, error)
	// LatestClaims returns each pipeline's latest logical date claimed by
	// a schedule (not by a trigger or a backfill), up to now.
	LatestClaims(ctx context.Context) (map[string]time.Time, error)
	// PausedPipelines lists the paused pipelines.
	PausedPipelines(ctx context.Context) ([]string, error)
	// SetPaused pauses or resumes a pipeline's schedule.
	SetPaused(ctx context.Context, pipeline string, paused bool) error
	// Paused reports whether a pipeline's schedule is paused.
	Paused(ctx context.Context, pipeline string) (bool, error)
	// SaveModel stores a diagnosis model under the next version and
	// returns it; an active model becomes the only active one.
	SaveModel(ctx context.Context, m HealingModel) (int, error)
	// ActiveModel returns the active diagnosis model, if any.
	ActiveModel(ctx context.Context) (HealingModel, bool, error)
	// GetModel returns one model version with its body; ErrNotFound
	// when there is none.
	GetModel(ctx context.Context, version int) (HealingModel, error)
	// ListModels returns every model, newest first, without its body.
	ListModels(ctx context.Context) ([]HealingModel, error)
	// AddExample stores a labeled example (JSON) from feedback.
	AddExample(ctx context.Context, example string) error
	// ListExamples returns the feedback examples, oldest first.
	ListExamples(ctx context.Context) ([]string, error)
	// RecordAction stores a healing action and returns its id.
	RecordAction(ctx context.Context, a HealingAction) (int64, error)
	// ListActions returns healing actions, newest first, of one run or
	// pipeline and with one status when those are not empty.
	ListActions(ctx context.Context, f ActionFilter) ([]HealingAction, error)
	// GetAction returns one healing action, or an error wrapping ErrNotFound.
	GetAction(ctx context.Context, id int64) (HealingAction, error)
	// DecideAction records a person's decision on a proposed action:
	// status approved or rejected, by whom and why. Only a proposed
	// action can be decided, and a rejected one approved (ErrInvalid
	// otherwise).
	DecideAction(ctx context.Context, id int64, status, by, reason string) error
	// RevertAction marks an applied action reverted, by whom and why.
	RevertAction(ctx context.Context, id int64, by, reason string) error
	// ResolveAction marks an escalated action resolved: by whom, why,
	// and its params with the option chosen. Only an escalated action
	// can be resolved (ErrInvalid otherwise).
	ResolveAction(ctx context.Context, id int64, by, params, reason string) error
	// RecordLineage stores an OpenLineage run event.
	RecordLineage(ctx context.Context, e LineageEvent) error
	// ListLineage returns stored lineage events, newest first: of one job
	// when job is not empty, at most limit (0 for all).
	ListLineage(ctx context.Context, job string, limit int) ([]LineageEvent, error)
	// CreateAPIKey stores an API key (its secret's hash, never the
	// secret).
	CreateAPIKey(ctx context.Context, k APIKey) error
	// GetAPIKey returns one key; ErrNotFound when there is none.
	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	// ListAPIKeys returns every key, newest first.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// RevokeAPIKey revokes a key from now on; ErrNotFound when there is
	// none.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	// TouchAPIKey records a key's use.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
	// RecordAudit stores one audited API request.
	RecordAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns audited requests, newest first, at most limit
	// (0 for all).
	ListAudit(ctx context.Context, limit int) ([]AuditEntry, error)
	// AddAudit stores one audit entry, as RecordAudit, and returns its
	// id.
	AddAudit(ctx context.Context, e AuditEntry) (int64, error)
	// CountAudit sets how many requests an aggregated audit entry stands
	// for and when the last of them came; ErrNotFound when there is no
	// such entry.
	CountAudit(ctx context.Context, id int64, count int, last time.Time) error
	// QueryAudit returns the audit entries of q's callers, newest first.
	QueryAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// PruneAudit deletes the audit entries made before before (none when
	// it is zero) and the anonymous ones beyond the newest keepAnonymous
	// (none when it is 0 or less); it returns how many it deleted.
	PruneAudit(ctx context.Context, before time.Time, keepAnonymous int) (int64, error)
	// AddQualityRules stores rules (each the JSON of a quality_rules.yaml
	// rule) in one transaction, all or none, and returns their ids.
	AddQualityRules(ctx context.Context, rs []StoredRule) ([]int64, error)
	// ListQualityRules returns the stored rules of a pipeline (all when
	// empty), oldest first.
	ListQualityRules(ctx context.Context, pipeline string) ([]StoredRule, error)
	// Close releases the store's connections.
	Close() error
}

// APIKey is an API key as stored: the secret itself is never kept.
type APIKey struct {
	ID, Name, Role string
	// Hash is the hex SHA-256 of the key's secret part.
	Hash                                    string
	CreatedBy                               string
	CreatedAt, ExpiresAt, LastUsed, Revoked time.Time
}

// AuditEntry is one request that changed something through the API, or
// an aggregate of refused anonymous ones.
type AuditEntry struct {
	ID int64
	// At is when the request came (the first, for an aggregate).
	At                   time.Time
	Principal, Role      string
	Method, Path, Remote string
	Status               int
	// Detail says why a request was refused ("" when it was not, or is
	// not said).
	Detail string
	// Count is how many requests the entry stands for: 1 (also when
	// stored as 0), more for an aggregate.
	Count int
	// LastAt is when the last request of an aggregate came (zero for a
	// single request).
	LastAt time.Time
}

// AnonymousPrincipal names the caller of an audited request that carried
// no valid credential.
const AnonymousPrincipal = "anonymous"

// Callers an audit listing covers (AuditQuery.Callers).
const (
	AuditAllCallers    = ""              // every entry
	AuditAuthenticated = "authenticated" // entries of authenticated callers
	AuditAnonymous     = "anonymous"     // entries of anonymous callers
)

// AuditQuery selects audit entries.
type AuditQuery struct {
	// Callers is AuditAllCallers, AuditAuthenticated or AuditAnonymous.
	Callers string
	// Limit bounds how many are returned (0 for all).
	Limit int
}

// StoredRule is a quality rule added through the API or the CLI.
type StoredRule struct {
	ID        int64
	Pipeline  string
	Rule      string // JSON of one rule mapping of quality_rules.yaml
	CreatedBy string
	CreatedAt time.Time
}

// Pipeline is a pipeline as it was last run.
type Pipeline struct {
	Name, Source, Target, Mode, Schedule string
	UpdatedAt                            time.Time
}

// Run is one run of a pipeline.
type Run struct {
	ID, Pipeline, Status string    // Status: one of RunStatuses
	StartedAt, EndedAt   time.Time // EndedAt is zero while running

	RowsIn, RowsLoaded, RowsQuarantined, RowsDeduplicated int64

	Objects     int64
	Bytes       int64
	InvariantOK bool
	Error       string
	FullRefresh bool

	// LogicalDate is the start of the data interval the run covers; zero
	// for a run outside any schedule.
	LogicalDate time.Time
	// Trigger says what started the run: manual, scheduled or backfill.
	Trigger string
	// Attempt counts the tries of one logical date, from 1.
	Attempt int
	// Metrics are the run's measures for anomaly detection, such as
	// "null_rate:COLUMN" and "quality_score"; written by FinishRun.
	Metrics map[string]float64

	// Owner names the process running the run (host/pid/random, see
	// NewOwner); empty for a run that nobody heartbeats.
	Owner string
	// HeartbeatAt is when the owner last said the run goes on; CreateRun
	// sets it to the current time for a run with an owner. Zero for a run
	// without one.
	HeartbeatAt time.Time
	// Lease is how long the run may go without a heartbeat before it
	// counts as abandoned; CreateRun sets DefaultLease for a run with an
	// owner and no lease.
	Lease time.Duration
}

// TaskAttempt is one attempt at one task of a run.
type TaskAttempt struct {
	RunID, Task        string
	Attempt            int
	Status             string
	StartedAt, EndedAt time.Time
	Error              string

	RowsIn, RowsLoaded, RowsQuarantined, RowsDeduplicated int64

	Detail string // JSON text
}

// ObjectRef names one version of a source object.
type ObjectRef struct {
	Key         string
	Fingerprint string // size+generation or etag; opaque to the store
}

// ObjectFile is a source object processed by a run.
type ObjectFile struct {
	ObjectRef
	Size        int64
	RunID       string
	ProcessedAt time.Time

	RowsIn, RowsLoaded, RowsQuarantined int64
}

// RunFilter selects runs for ListRuns. Empty fields match everything; a
// Limit of zero means no limit.
type RunFilter struct {
	Pipeline, Status string
	// Since and Until bound the start time (zero for no bound).
	Since, Until time.Time
	// After pages by key: only runs after this one in the order (newest
	// first), so that runs starting meanwhile shift nothing.
	After *RunCursor
	Limit int
}

// RunCursor is a run's place in the order of ListRuns.
type RunCursor struct {
	StartedAt time.Time // zero for a run without a start
	ID        string
}

// LineageEvent is one OpenLineage run event (START, COMPLETE, FAIL) as
// emitted; Payload is its JSON.
type LineageEvent struct {
	RunID     string
	Job       string
	EventType string
	EventTime time.Time
	Payload   string
}

// Claim is a pipeline interval taken by a scheduler.
type Claim struct {
	Pipeline    string
	LogicalDate time.Time
	Owner       string // the scheduler (process) that took it
	RunID       string // the latest run for it
	Status      string // StatusQueued, StatusRunning, StatusSucceeded, StatusFailed, StatusHeld or StatusSkipped
	Trigger     string // scheduled or backfill
	ClaimedAt   time.Time
	UpdatedAt   time.Time
}

// HealingModel is a stored diagnosis model.
type HealingModel struct {
	Version   int
	CreatedAt time.Time
	Metrics   string // JSON
	Model     string // JSON; empty in ListModels
	Active    bool
}

// HealingAction is one thing the self-healing engine did or proposed.
type HealingAction struct {
	ID           int64
	RunID        string
	Pipeline     string
	ObjectKey    string
	Issue        string // what was wrong
	Category     string
	Confidence   float64
	DecidedBy    string // signature, model version, or the strategy's own check
	Strategy     string
	Params       string // JSON
	RowsAffected int64
	Before       string // JSON samples
	After        string // JSON samples
	Status       string // applied, rolled_back, proposed, escalated, failed, dry_run, approved, rejected, reverted, resolved
	ApprovedBy   string // policy, or a person
	Reason       string
	CreatedAt    time.Time
	// Signature names the issue an escalation is about (its strategy and
	// subject). RecordAction keeps one open escalation per pipeline and
	// signature: a repeat counts on it (Occurrences, LastSeenAt) instead
	// of adding another action. Empty for actions that are not merged.
	Signature   string
	Occurrences int64     // how often the issue was seen; 1 for a new action
	LastSeenAt  time.Time // when it was last seen; zero for a new action
}

// ActionCount is how many healing actions of one pipeline and strategy
// have one status.
type ActionCount struct {
	Pipeline, Strategy, Status string
	Count                      int64
}

// ActionFilter selects healing actions.
type ActionFilter struct {
	RunID, Pipeline, Status, Category, Strategy string
	// BeforeID pages: only actions with a smaller id (0 for none).
	BeforeID int64
	Limit    int
}
