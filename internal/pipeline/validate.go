package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/warehouse"
)

// ErrQualityFailed marks a run stopped by a failing rule whose action is fail.
var ErrQualityFailed = fmt.Errorf("data quality rules failed")

// Healer is the hook between validation and commit: given a staged object
// and its validation, it may change the staged rows (and return true to
// have them validated again). The self-healing engine plugs in here.
type Healer interface {
	Heal(ctx context.Context, req HealRequest) (changed bool, err error)
}

// HealRequest is what a Healer gets: the staged object, the suite and its
// result, and a way to validate again (any suite, on the staged rows).
type HealRequest struct {
	RunID, Pipeline string
	Warehouse       warehouse.Warehouse
	Staged          *warehouse.Staged
	Suite           *quality.Suite
	Result          *quality.Result
	Validate        func(ctx context.Context, s *quality.Suite) (*quality.Result, error)
}

// StageHealer is a Healer that also looks at each object as it is staged,
// before validation: it may stage the object again with a repaired spec
// (a column read with the batch's date layout, a new nullable column, the
// file transcoded to UTF-8) and returns the staging to keep. The rows of
// the staging it returns must add up to the same total.
type StageHealer interface {
	HealStage(ctx context.Context, req StageRequest) (*warehouse.Staged, error)
}

// StageRequest is one staged object and how it was read.
type StageRequest struct {
	RunID, Pipeline string
	Spec            warehouse.LoadSpec
	Staged          *warehouse.Staged
	Warehouse       warehouse.Warehouse
}

// TaskRecorder is a Healer that also hears how reading the source went:
// the failures its connector retried (and so healed), a wait for late
// data, and, when it failed, the error, to diagnose and record as actions.
type TaskRecorder interface {
	RecordTask(ctx context.Context, rep TaskReport) error
}

// TaskReport is one extraction's retried failures and outcome.
type TaskReport struct {
	RunID, Pipeline    string
	Source, SourceType string
	Retries            []resilience.Retry
	Err                error // nil when the extraction succeeded
	// Waited is how long the run waited for late data (wait_for_data);
	// with Err nil the data arrived.
	Waited time.Duration
	// Failover names the replica the extraction switched to, and
	// FailoverErr why the source itself could not be read.
	Failover    string
	FailoverErr error
	// Adjusted say how the extraction changed itself to get through
	// (a smaller chunk after a statement timeout or out of memory).
	Adjusted []string
}

// ErrHeld marks a run whose commit a Holder stopped for a person's approval.
var ErrHeld = errors.New("commit held for approval")

// ErrRejected marks a run that waited for a decision on a held action and
// got a rejection.
var ErrRejected = errors.New("held action rejected")

// HeldError is ErrHeld with the action a person decides.
type HeldError struct {
	// ActionID is the proposed action whose approval releases the commit.
	ActionID int64
	// Reason says what was found and how to release it.
	Reason string
}

// Error says the commit is held and why.
func (e *HeldError) Error() string { return ErrHeld.Error() + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrHeld) hold.
func (e *HeldError) Unwrap() error { return ErrHeld }

// Held tells a scheduler, which does not import this package, that the
// run waits for a decision: it is not retried, and what depends on it
// waits.
func (e *HeldError) Held() bool { return true }

// Holder is a Healer that may also stop a run's commit (a circuit
// breaker): a change of meaning, such as a volume anomaly, waits for a
// person. The staged data is dropped and nothing is marked processed, so
// the next run reads the same objects again. A nil hold lets the commit
// go ahead.
type Holder interface {
	HoldCommit(ctx context.Context, req HoldRequest) (*HeldError, error)
}

// CommitRecorder is a Healer that hears what a commit did by itself to
// keep the target right, to record it as an action.
type CommitRecorder interface {
	RecordCommit(ctx context.Context, rep CommitReport) error
}

// CommitReport is what a committed batch changed beyond its rows.
type CommitReport struct {
	RunID, Pipeline, Target string
	// Kept counts, per column, the replaced target rows whose value the
	// merge kept because their object lacked the column; Lacking names
	// those objects per column.
	Kept    map[string]int64
	Lacking map[string][]string
	// Duplicates are the objects not loaded because their content is
	// that of an object loaded before.
	Duplicates []Duplicate
	// SchemaChanges are the changes the commit made to the target's
	// schema.
	SchemaChanges []warehouse.SchemaChange
}

// Duplicate is a re-delivered object: Object's bytes are those of Of.
type Duplicate struct {
	Object, Of string
	Rows       int64
}

// RunObserver is a Healer that hears of each run that succeeded, once its
// record is final, to score what only the finished run shows (its
// duration).
type RunObserver interface {
	RunFinished(ctx context.Context, runID string) error
}

// Awaiter is a Healer with which a held run waits for a person's
// decision instead of ending: approved says to go on (the held step is
// done again and finds the approval); an error wrapping ErrRejected says
// a person rejected it; (false, nil) says no decision came in time, and
// the run ends held.
type Awaiter interface {
	AwaitDecision(ctx context.Context, actionID int64) (approved bool, err error)
}

// HoldRequest describes the batch a run is about to commit.
type HoldRequest struct {
	RunID, Pipeline string
	Started         time.Time
	RowsIn          int64
	// Objects identify the batch's data, whichever run reads it: an
	// approval covers exactly it.
	Objects []metadata.ObjectRef
	// Metrics of the batch (null rate per column, quality score).
	Metrics map[string]float64
}

// QualityOutcome is what validation did to one object.
type QualityOutcome struct {
	Score       float64
	Evaluated   int
	Failed      []string // names of failing rules
	Quarantined int64    // rows moved to quarantine by rules
	Result      *quality.Result
}

// validate runs the pipeline's suite on a staged object, applies each
// failing rule's action and returns the outcome; an error wrapping
// ErrQualityFailed when a rule with action fail did not hold, or
// ErrBytesBudget when a query of the suite would have taken the run over
// its bytes budget (nil budget: no limit).
func (r *Runner) validate(ctx context.Context, runID string, p *config.Pipeline, suite *quality.Suite, st *warehouse.Staged,
	budget *bytesBudget, log *slog.Logger) (*QualityOutcome, error) {
	pipelineName := p.Name
	d := r.Warehouse.Dialect()
	table := quality.Table{Name: st.Table, Index: st.Index}
	for _, c := range st.Columns {
		table.Columns = append(table.Columns, quality.Column{Name: c.Name, Type: c.Type})
	}
	q := budget.queryer(Queryer(r.Warehouse), st.ObjectKey)
	validateWith := func(ctx context.Context, s *quality.Suite) (*quality.Result, error) {
		res, err := quality.Validate(ctx, q, d, table, s, quality.Summary)
		if err == nil {
			// The engine reports a failed query as its rule's exception;
			// a refused one stops the run instead.
			err = budget.exceeded()
		}
		if err != nil {
			return nil, err
		}
		mergeResolvesDuplicates(p, s, res)
		return res, nil
	}
	res, err := validateWith(ctx, suite)
	if err != nil {
		return nil, fmt.Errorf("validate %s: %w", st.ObjectKey, err)
	}
	if r.Healer != nil {
		hctx, end := r.phase(ctx, StageHeal, attribute.String("shp.object", st.ObjectKey))
		changed, err := r.Healer.Heal(hctx, HealRequest{RunID: runID, Pipeline: pipelineName, Warehouse: r.Warehouse, Staged: st,
			Suite: suite, Result: res, Validate: validateWith})
		end(err)
		if berr := budget.exceeded(); berr != nil {
			return nil, fmt.Errorf("validate %s: %w", st.ObjectKey, berr)
		}
		if err != nil {
			return nil, fmt.Errorf("heal %s: %w", st.ObjectKey, err)
		}
		if changed {
			if res, err = validateWith(ctx, suite); err != nil {
				return nil, fmt.Errorf("validate %s after healing: %w", st.ObjectKey, err)
			}
		}
	}
	out := &QualityOutcome{Score: quality.Score(suite, res), Evaluated: len(res.Results), Result: res}
	st.Checks = st.Checks[:0]
	var blocking []string
	for i, er := range res.Results {
		cfg := suite.Expectations[i]
		name := cfg.RuleName()
		detail, _ := json.Marshal(er)
		st.Checks = append(st.Checks, warehouse.Check{Rule: name, Expectation: cfg.Type, Severity: cfg.Severity,
			Action: cfg.Action, Success: er.Success, Score: out.Score, Result: string(detail)})
		unexpected := er.UnexpectedCount()
		pred, args, rowLevel := er.RowFilter()
		// A quarantine rule moves its failing rows whether or not "mostly"
		// let the expectation pass: the rule says which rows are bad.
		if cfg.Action == quality.ActionQuarantine && rowLevel && unexpected > 0 && !er.Exception.Raised {
			n, err := r.Warehouse.QuarantineWhere(ctx, st, pred, args, "rule "+name+" failed")
			if err != nil {
				return nil, err
			}
			out.Quarantined += n
			log.Warn("rule quarantined rows", "object", st.ObjectKey, "rule", name, "rows", n)
			if er.Success {
				continue
			}
		}
		if er.Success {
			continue
		}
		out.Failed = append(out.Failed, name)
		// Data values (observed values, examples) stay out of logs and
		// run errors unless debug logging is on: the quality results
		// recorded with the run keep them for those who may read data.
		why := describeFailure(er, log.Enabled(ctx, slog.LevelDebug))
		switch {
		case cfg.Action == quality.ActionWarn:
			log.Warn("rule failed", "object", st.ObjectKey, "rule", name, "severity", cfg.Severity, "detail", why)
		case cfg.Action == quality.ActionQuarantine && rowLevel && !er.Exception.Raised:
			// handled above
		default:
			blocking = append(blocking, fmt.Sprintf("%s: %s", name, why))
		}
	}
	if len(blocking) > 0 {
		return out, fmt.Errorf("%w on %s:\n  %s", ErrQualityFailed, st.ObjectKey, strings.Join(blocking, "\n  "))
	}
	return out, nil
}

// Queryer runs the quality engine's queries on a warehouse, where its
// staging tables are visible (Warehouse.RunQuery).
func Queryer(w warehouse.Warehouse) quality.Queryer {
	return quality.QueryFunc(func(ctx context.Context, query string, args ...any) (quality.Rows, error) {
		rows, err := w.RunQuery(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		return rows, nil
	})
}

// mergeResolvesDuplicates waives, in a merge pipeline, the uniqueness
// rules on exactly the merge key: a later row for a key is a correction
// that the merge keeps (counted as de-duplicated), not a bad row to
// quarantine.
func mergeResolvesDuplicates(p *config.Pipeline, s *quality.Suite, res *quality.Result) {
	if p.Mode != config.ModeMerge || len(p.Key) == 0 || res == nil {
		return
	}
	for i := range res.Results {
		er := &res.Results[i]
		if er.Success || er.Exception.Raised || i >= len(s.Expectations) || !uniqueOnKey(s.Expectations[i], p.Key) {
			continue
		}
		er.Waive(fmt.Sprintf("duplicate keys are de-duplicated by the merge on %s: the last row per key wins", strings.Join(p.Key, ", ")))
	}
}

// uniqueOnKey reports whether an expectation asks exactly the key's
// columns to be unique.
func uniqueOnKey(c quality.Config, key []string) bool {
	var cols []string
	switch c.Type {
	case "expect_column_values_to_be_unique":
		if col, ok := c.Kwargs["column"].(string); ok {
			cols = []string{col}
		}
	case "expect_compound_columns_to_be_unique":
		list, _ := c.Kwargs["column_list"].([]any)
		for _, v := range list {
			if col, ok := v.(string); ok {
				cols = append(cols, col)
			}
		}
	}
	if len(cols) != len(key) || len(cols) == 0 {
		return false
	}
	for _, k := range key {
		if !containsFold(cols, k) {
			return false
		}
	}
	return true
}

func describeFailure(er quality.ExpectationResult, values bool) string {
	if er.Exception.Raised {
		return "error: " + er.Exception.Message
	}
	var parts []string
	for _, k := range []string{"observed_value", "unexpected_count", "unexpected_percent", "partial_unexpected_list"} {
		if !values && (k == "partial_unexpected_list" || k == "observed_value" && !measuresCount(er.Config.Type)) {
			continue
		}
		if v, ok := er.Result[k]; ok {
			b, _ := json.Marshal(v)
			s := string(b)
			if len(s) > 120 {
				s = s[:120] + "..."
			}
			parts = append(parts, k+"="+s)
		}
	}
	if len(parts) == 0 {
		return "failed (run with --debug to see the values)"
	}
	return strings.Join(parts, " ")
}

// measuresCount reports whether an expectation's observed value is a
// count or a share it measured (a row count, a null proportion), not a
// value of the data (a maximum, a distinct set).
func measuresCount(expectation string) bool {
	return strings.Contains(expectation, "_count") || strings.Contains(expectation, "proportion")
}
