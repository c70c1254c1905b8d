package healing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
)

// Policy is self_healing.yaml: when an action may run without a person.
type Policy struct {
	// Threshold is the confidence an action needs to run by itself.
	Threshold float64
	// DryRun only proposes: nothing changes.
	DryRun bool
	// HoldVolume stops the commit of a run whose row count is a volume
	// anomaly until a person approves the batch (hold_volume_anomalies,
	// true by default).
	HoldVolume bool
	// HoldNulls holds the commit of a batch in which a column's null
	// rate spiked (hold_null_spikes, true by default).
	HoldNulls bool
	// HoldQuality holds the commit of a batch whose quality score fell
	// out of line (hold_quality_drops, true by default).
	HoldQuality bool
	// HoldRemoved holds the commit of an object that lacks a column which
	// had values in recent batches, until a person approves the removal
	// (hold_removed_columns, true by default).
	HoldRemoved bool
	// AutoApprove lists the strategies that may act without approval.
	AutoApprove map[string]bool
	// MaxAttempts bounds the repairs tried on one object (max_attempts,
	// 5 by default).
	MaxAttempts int
	// StrategyThreshold and CategoryThreshold override Threshold.
	StrategyThreshold map[string]float64
	CategoryThreshold map[Category]float64
	// ApprovalTimeout is how long a run whose commit is held waits for a
	// person's decision before it ends held (approval_timeout; 0, the
	// default, ends it at once and the next run picks the decision up).
	ApprovalTimeout time.Duration
}

// ParsePolicy reads self_healing.yaml's content (nil: the defaults, which
// act on nothing by themselves).
func ParsePolicy(m map[string]any) (Policy, error) {
	p := Policy{Threshold: 0.9, HoldVolume: true, HoldNulls: true, HoldQuality: true, HoldRemoved: true, AutoApprove: map[string]bool{}, StrategyThreshold: map[string]float64{}, CategoryThreshold: map[Category]float64{}}
	known := map[string]bool{}
	for _, s := range Strategies() {
		known[s.Name()] = true
	}
	for _, s := range StageStrategies() {
		known[s.Name()] = true
	}
	num := func(v any, what string) (float64, error) {
		switch x := v.(type) {
		case float64:
			return x, nil
		case uint64:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case int:
			return float64(x), nil
		}
		return 0, fmt.Errorf("self_healing.yaml: %s must be a number, got %v", what, v)
	}
	for k, v := range m {
		switch k {
		case "confidence_threshold":
			f, err := num(v, k)
			if err != nil {
				return p, err
			}
			if f < 0 || f > 1 {
				return p, fmt.Errorf("self_healing.yaml: confidence_threshold must be between 0 and 1, got %v", f)
			}
			p.Threshold = f
		case "max_attempts":
			f, err := num(v, k)
			if err != nil {
				return p, err
			}
			if f < 1 || f > 20 || f != float64(int(f)) {
				return p, fmt.Errorf("self_healing.yaml: max_attempts must be a whole number from 1 to 20, got %v", v)
			}
			p.MaxAttempts = int(f)
		case "dry_run", "hold_volume_anomalies", "hold_null_spikes", "hold_quality_drops", "hold_removed_columns":
			b, ok := v.(bool)
			if !ok {
				return p, fmt.Errorf("self_healing.yaml: %s must be true or false", k)
			}
			switch k {
			case "dry_run":
				p.DryRun = b
			case "hold_volume_anomalies":
				p.HoldVolume = b
			case "hold_null_spikes":
				p.HoldNulls = b
			case "hold_removed_columns":
				p.HoldRemoved = b
			default:
				p.HoldQuality = b
			}
		case "approval_timeout":
			str, _ := v.(string)
			d, err := time.ParseDuration(str)
			if err != nil || d < 0 || d > 24*time.Hour {
				return p, fmt.Errorf("self_healing.yaml: approval_timeout must be a duration from 0s to 24h, such as 30m, got %v", v)
			}
			p.ApprovalTimeout = d
		case "auto_approve":
			l, ok := v.([]any)
			if !ok {
				return p, fmt.Errorf("self_healing.yaml: auto_approve must be a list of strategies")
			}
			for _, s := range l {
				name, _ := s.(string)
				if !known[name] {
					return p, fmt.Errorf("self_healing.yaml: auto_approve: strategy %q is unknown (%s)", s, strategyNames())
				}
				p.AutoApprove[name] = true
			}
		case "strategies", "categories":
			mm, ok := v.(map[string]any)
			if !ok {
				return p, fmt.Errorf("self_healing.yaml: %s must be a mapping", k)
			}
			for name, sv := range mm {
				sm, ok := sv.(map[string]any)
				if !ok {
					return p, fmt.Errorf("self_healing.yaml: %s.%s must be a mapping", k, name)
				}
				t, has := sm["threshold"]
				if !has {
					continue
				}
				f, err := num(t, k+"."+name+".threshold")
				if err != nil {
					return p, err
				}
				if k == "strategies" {
					if !known[name] {
						return p, fmt.Errorf("self_healing.yaml: strategies: %q is unknown (%s)", name, strategyNames())
					}
					p.StrategyThreshold[name] = f
				} else {
					if !Category(name).Valid() {
						return p, fmt.Errorf("self_healing.yaml: categories: %q is not in the taxonomy", name)
					}
					p.CategoryThreshold[Category(name)] = f
				}
			}
		default:
			return p, fmt.Errorf("self_healing.yaml: unknown key %q (confidence_threshold, dry_run, max_attempts, hold_volume_anomalies, hold_null_spikes, hold_quality_drops, hold_removed_columns, approval_timeout, auto_approve, strategies, categories)", k)
		}
	}
	return p, nil
}

func strategyNames() string {
	var names []string
	for _, s := range StageStrategies() {
		names = append(names, s.Name())
	}
	for _, s := range Strategies() {
		names = append(names, s.Name())
	}
	return strings.Join(names, ", ")
}

func (p Policy) maxAttempts() int {
	if p.MaxAttempts > 0 {
		return p.MaxAttempts
	}
	return 5
}

// StrategyThresholdOf is the confidence a strategy needs to act alone:
// its own threshold, else the global one (a category's threshold may
// still override the global one for an issue of that category).
func (p Policy) StrategyThresholdOf(strategy string) float64 {
	if t, ok := p.StrategyThreshold[strategy]; ok {
		return t
	}
	return p.Threshold
}

func (p Policy) threshold(strategy string, c Category) float64 {
	if _, own := p.StrategyThreshold[strategy]; !own {
		if t, ok := p.CategoryThreshold[c]; ok {
			return t
		}
	}
	return p.StrategyThresholdOf(strategy)
}

// Engine acts on failed expectations between validation and commit: it
// diagnoses each, plans what the strategies can do, applies what the
// policy allows, verifies by validating again, rolls back what did not
// help, and records every action.
type Engine struct {
	Store  Store
	Policy Policy
	// Model diagnoses failures; when nil, LoadModel's at the first failure.
	Model  *Model
	Logger *slog.Logger
	// OnWait, when set, hears that a held run starts waiting for a
	// decision on an action, until a deadline.
	OnWait func(actionID int64, until time.Time)
	// PollEvery is how often a waiting run looks for the decision; 2s
	// when zero.
	PollEvery time.Duration

	modelOnce sync.Once
	modelErr  error
}

// model returns the engine's model, loading it on first use, so that a
// run in which nothing fails never reads or trains one.
func (e *Engine) model(ctx context.Context) (*Model, error) {
	e.modelOnce.Do(func() {
		if e.Model == nil {
			e.Model, e.modelErr = LoadModel(ctx, e.Store)
		}
	})
	return e.Model, e.modelErr
}

var (
	_ pipeline.Healer  = (*Engine)(nil)
	_ pipeline.Holder  = (*Engine)(nil)
	_ pipeline.Awaiter = (*Engine)(nil)
)

// AwaitDecision implements pipeline.Awaiter: it looks for a decision on
// the action every PollEvery until the policy's approval_timeout passes.
func (e *Engine) AwaitDecision(ctx context.Context, id int64) (bool, error) {
	if e.Policy.ApprovalTimeout <= 0 || e.Policy.DryRun {
		return false, nil
	}
	until := time.Now().Add(e.Policy.ApprovalTimeout)
	if e.OnWait != nil {
		e.OnWait(id, until)
	}
	poll := e.PollEvery
	if poll <= 0 {
		poll = 2 * time.Second
	}
	for {
		a, err := e.Store.GetAction(ctx, id)
		if err != nil {
			return false, err
		}
		switch a.Status {
		case "approved":
			return true, nil
		case "rejected":
			return false, fmt.Errorf("%w: action #%d: %s", pipeline.ErrRejected, id, a.Reason)
		}
		if !time.Now().Before(until) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(min(poll, time.Until(until))):
		}
	}
}

// HoldCommit implements pipeline.Holder. A run whose row count is a
// volume anomaly, whose batch has a column's null rate spiking or whose
// quality score fell, against the pipeline's earlier runs, is held: the
// action is proposed, and once a person approves it the next run commits
// that same batch (the approval covers exactly its objects, so new data
// is looked at again). Other anomalies (data later than usual, a
// quarantine rise, and those the policy does not hold) are recorded as
// escalated report_anomaly actions, once per batch, and the commit goes
// ahead.
func (e *Engine) HoldCommit(ctx context.Context, req pipeline.HoldRequest) (*pipeline.HeldError, error) {
	runs, err := e.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: req.Pipeline, Status: metadata.StatusSucceeded, Limit: 400})
	if err != nil {
		return nil, err
	}
	anomalies := detect(metadata.Run{ID: req.RunID, Pipeline: req.Pipeline, StartedAt: req.Started, RowsIn: req.RowsIn, Metrics: req.Metrics}, runs)
	if v, ok := req.Metrics["repeated_share"]; ok && v >= RepeatedShare {
		// Most of an append batch is in the target already: a file
		// delivered again with a few changes would load its rows twice.
		anomalies = append(anomalies, Anomaly{Metric: "repeated_share", Value: v, Issue: Issue{Kind: "anomaly", Text: fmt.Sprintf(
			"repeated rows: %.0f%% of the batch's rows are in the target already; a re-delivery (with some changes?) would load them twice", 100*v)}})
	}
	if len(anomalies) == 0 {
		return nil, nil
	}
	// The volume first; else the first column whose nulls spiked; else
	// the quality score. The others are reported, not held.
	held := -1
	rank := func(a Anomaly) int {
		switch {
		case a.Metric == "repeated_share":
			return 4
		case a.Metric == "rows_in" && e.Policy.HoldVolume:
			return 3
		case strings.HasPrefix(a.Metric, "null_rate:") && e.Policy.HoldNulls:
			return 2
		case a.Metric == "quality_score" && e.Policy.HoldQuality:
			return 1
		}
		return 0
	}
	for i, a := range anomalies {
		if r := rank(a); r > 0 && (held < 0 || r > rank(anomalies[held])) {
			held = i
		}
	}
	m, err := e.model(ctx)
	if err != nil {
		return nil, fmt.Errorf("diagnosis model: %w", err)
	}
	// The pipeline's holds and reports only: other actions cannot push
	// them out of the window.
	var earlier []metadata.HealingAction
	for _, strategy := range []string{holdStrategy, reportStrategy} {
		acts, err := e.Store.ListActions(ctx, metadata.ActionFilter{Pipeline: req.Pipeline, Strategy: strategy, Limit: 1000})
		if err != nil {
			return nil, err
		}
		earlier = append(earlier, acts...)
	}
	batch := batchID(req.Objects, req.RowsIn)
	for i, anomaly := range anomalies {
		if i != held {
			if err := e.reportAnomaly(ctx, req, anomaly, batch, earlier, m); err != nil {
				return nil, err
			}
		}
	}
	if held < 0 {
		return nil, nil
	}
	anomaly := anomalies[held]
	d := Diagnose(anomaly.Issue, m)
	params, _ := json.Marshal(map[string]any{"batch": batch, "metric": anomaly.Metric, "rows_in": req.RowsIn, "value": anomaly.Value,
		"median": anomaly.Median, "mads": anomaly.MADs})
	a := metadata.HealingAction{
		RunID: req.RunID, Pipeline: req.Pipeline, Issue: anomaly.Issue.Text, Category: string(d.Category), Confidence: d.Confidence,
		DecidedBy: d.By, Strategy: holdStrategy, Params: string(params), RowsAffected: req.RowsIn,
	}
	if held := heldBatch(earlier, batch, "proposed"); held != nil && !e.Policy.DryRun {
		// Held before and not decided yet: the same action still waits.
		return &pipeline.HeldError{ActionID: held.ID, Reason: holdReason(anomaly.Issue.Text, held.ID)}, nil
	}
	switch ap := heldBatch(earlier, batch, "approved"); {
	case ap != nil:
		a.Status, a.ApprovedBy = "applied", fmt.Sprintf("%s (approval of action #%d)", ap.ApprovedBy, ap.ID)
		a.Reason = "commit released: a person approved this batch"
	case e.Policy.DryRun:
		a.Status, a.Reason = "dry_run", "would hold the commit for approval (dry run: committed)"
	default:
		a.Status, a.Reason = "proposed", "commit held until a person approves this batch"
	}
	id, err := e.Store.RecordAction(ctx, a)
	if err != nil {
		return nil, err
	}
	if a.Status != "proposed" {
		return nil, nil
	}
	return &pipeline.HeldError{ActionID: id, Reason: holdReason(anomaly.Issue.Text, id)}, nil
}

// RepeatedShare is the share of an append batch's rows already in the
// target from which the commit is held as a suspected re-delivery.
const RepeatedShare = 0.9

var _ pipeline.RunObserver = (*Engine)(nil)

// RunFinished implements pipeline.RunObserver: a finished run whose
// duration is out of line with the pipeline's history is reported (the
// batch's other metrics were scored before the commit).
func (e *Engine) RunFinished(ctx context.Context, runID string) error {
	run, err := e.Store.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	anomalies, err := detectAgainstHistory(ctx, e.Store, run)
	if err != nil {
		return err
	}
	for _, an := range anomalies {
		if an.Metric != "duration_s" {
			continue
		}
		m, err := e.model(ctx)
		if err != nil {
			return fmt.Errorf("diagnosis model: %w", err)
		}
		return e.reportAnomaly(ctx, pipeline.HoldRequest{RunID: runID, Pipeline: run.Pipeline}, an, runID, nil, m)
	}
	return nil
}

// reportStrategy names the actions that report an anomaly the policy does
// not hold the commit for: it is recorded, diagnosed and escalated.
const reportStrategy = "report_anomaly"

// reportAnomaly records an anomaly that does not hold the commit, once
// per batch and metric.
func (e *Engine) reportAnomaly(ctx context.Context, req pipeline.HoldRequest, an Anomaly, batch string, earlier []metadata.HealingAction, m *Model) error {
	for _, a := range earlier {
		var p struct{ Batch, Metric string }
		if a.Strategy == reportStrategy && json.Unmarshal([]byte(a.Params), &p) == nil && p.Batch == batch && p.Metric == an.Metric {
			return nil
		}
	}
	d := Diagnose(an.Issue, m)
	params, _ := json.Marshal(map[string]any{"batch": batch, "metric": an.Metric, "value": an.Value, "median": an.Median, "mads": an.MADs})
	_, err := e.Store.RecordAction(ctx, metadata.HealingAction{
		RunID: req.RunID, Pipeline: req.Pipeline, Issue: an.Issue.Text, Category: string(d.Category), Confidence: d.Confidence,
		DecidedBy: d.By, Strategy: reportStrategy, Params: string(params), Status: "escalated", Signature: reportStrategy + "|" + an.Metric,
		Reason: "detected and reported, the commit went ahead (the policy holds commits for volume anomalies, null spikes " +
			"and quality drops only, when hold_* allows); " + advice(d.Category),
	})
	return err
}

func holdReason(issue string, id int64) string {
	return fmt.Sprintf("%s (action #%d: `shp healing approve %d` lets the next run commit this batch)", issue, id, id)
}

// holdStrategy names the circuit breaker's actions.
const holdStrategy = "hold"

// batchID identifies a batch by its objects and row count.
func batchID(objs []metadata.ObjectRef, rows int64) string {
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key + "\x00" + o.Fingerprint
	}
	sort.Strings(keys)
	h := sha256.New()
	fmt.Fprintf(h, "%d", rows)
	for _, k := range keys {
		h.Write([]byte("\x01" + k))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// heldBatch finds the hold of batch with the given status.
func heldBatch(actions []metadata.HealingAction, batch, status string) *metadata.HealingAction {
	for i, a := range actions {
		var p struct{ Batch string }
		if a.Strategy == holdStrategy && a.Status == status && json.Unmarshal([]byte(a.Params), &p) == nil && p.Batch == batch {
			return &actions[i]
		}
	}
	return nil
}

// Heal implements pipeline.Healer.
func (e *Engine) Heal(ctx context.Context, req pipeline.HealRequest) (bool, error) {
	if req.Result == nil || req.Result.Success {
		return false, nil
	}
	log := e.logger()
	// The people's decisions on the pipeline's actions, read once per
	// Heal and only when a strategy has a plan that may need them.
	approvals := e.decisionsOf(ctx, req.Pipeline)
	changed := false
	for _, er := range req.Result.Results {
		if er.Success || er.Exception.Raised {
			continue
		}
		f := Failure{Config: er.Config, Result: er}
		f.Issue = Issue{Kind: "quality", Text: describeFailure(er)}
		m, err := e.model(ctx)
		if err != nil {
			return changed, fmt.Errorf("diagnosis model: %w", err)
		}
		f.Diagnosis = Diagnose(f.Issue, m)
		planned := false
		for _, s := range Strategies() {
			if !s.Applies(f) {
				continue
			}
			did, err := e.act(ctx, req, s, f, approvals, log)
			if errors.Is(err, errNoPlan) {
				continue
			}
			if err != nil {
				return changed, err
			}
			planned = true
			changed = changed || did
		}
		if !planned {
			if err := e.reportFailure(ctx, req, f); err != nil {
				return changed, err
			}
		}
	}
	return changed, nil
}

// errNoPlan says a strategy had nothing to do for a failure.
var errNoPlan = errors.New("no plan")

// failureStrategy names the actions that record a failed rule no
// strategy could repair: the failure is an issue with its diagnosis.
const failureStrategy = "report_rule_failure"

// reportFailure records a failed rule that no strategy planned to
// repair, with its diagnosis; one open action per rule, counted on
// repeats.
func (e *Engine) reportFailure(ctx context.Context, req pipeline.HealRequest, f Failure) error {
	rule := quality.Config{Type: f.Config.Type, Kwargs: f.Config.Kwargs}.RuleName()
	params, _ := json.Marshal(map[string]any{"rule": rule, "subject": "rule " + rule,
		"not_revertible": "nothing was changed: the failure is reported for a person"})
	_, err := e.Store.RecordAction(ctx, metadata.HealingAction{
		RunID: req.RunID, Pipeline: req.Pipeline, ObjectKey: req.Staged.ObjectKey, Issue: f.Issue.Text,
		Category: string(f.Diagnosis.Category), Confidence: f.Diagnosis.Confidence, DecidedBy: f.Diagnosis.By,
		Strategy: failureStrategy, Params: string(params), Status: "escalated", Signature: failureStrategy + "|" + rule,
		Reason: "no strategy can repair it; the rule's action applies (" + advice(f.Diagnosis.Category) + ")",
	})
	return err
}

func describeFailure(er quality.ExpectationResult) string {
	col, _ := er.Config.Kwargs["column"].(string)
	return fmt.Sprintf("rule %s(%s) failed: %v unexpected values, e.g. %v", er.Config.Type, col,
		er.Result["unexpected_count"], er.Result["partial_unexpected_list"])
}

// act plans one strategy's repair of a failed rule, decides it
// (Engine.decide), applies and verifies it (apply), records it, and may
// wait for a person's decision on it.
func (e *Engine) act(ctx context.Context, req pipeline.HealRequest, s Strategy, f Failure,
	approvals func() (*decisions, error), log *slog.Logger) (bool, error) {
	plan, err := s.Plan(ctx, &RepairEnv{Staged: req.Staged, Probe: req.Warehouse}, f)
	if err != nil {
		return false, err
	}
	if plan == nil {
		return false, errNoPlan
	}
	op := plan.Plan
	if op == nil {
		return false, fmt.Errorf("healing %s: the plan has no operation", s.Name())
	}
	if plan.Params == nil {
		plan.Params = map[string]any{}
	}
	if column := op.Rewritten(); column != "" {
		// The original values are kept in the warehouse under this token,
		// for shp healing revert.
		plan.Params["originals"] = fmt.Sprintf("%s/%s/%s/%d", req.RunID, req.Staged.ObjectKey, s.Name(), time.Now().UnixNano())
		plan.Params["column"] = column
		var names []string
		for _, c := range req.Staged.Columns {
			names = append(names, c.Name)
		}
		plan.Params["row_columns"] = names
	}
	if reason := op.SetAsideReason(); reason != "" {
		// The rows set aside are found in the target's quarantine by
		// their reason, for shp healing revert.
		plan.Params["set_aside"] = reason
	}
	params, _ := json.Marshal(plan.Params)
	before, _ := json.Marshal(plan.Before)
	after, _ := json.Marshal(plan.After)
	a := metadata.HealingAction{
		RunID: req.RunID, Pipeline: req.Pipeline, ObjectKey: req.Staged.ObjectKey, Issue: f.Issue.Text,
		Category: string(f.Diagnosis.Category), Confidence: plan.Confidence, DecidedBy: f.Diagnosis.By, Strategy: s.Name(),
		Params: string(params), RowsAffected: plan.Rows, Before: string(before), After: string(after),
		Signature: s.Name() + "|" + quality.Config{Type: f.Config.Type, Kwargs: f.Config.Kwargs}.RuleName(),
	}
	prop := proposal{strategy: s.Name(), issue: f.Issue.Text, on: "rule", category: f.Diagnosis.Category,
		confidence: plan.Confidence, description: plan.Description}
	var ds *decisions
	if !e.Policy.DryRun {
		if ds, err = approvals(); err != nil {
			return false, err
		}
		if ds.declined(s.Name(), f.Issue.Text, "") {
			return false, nil // a person rejected it for this rule: not proposed again
		}
	}
	v := e.decide(ds, prop)
	a.Status, a.Reason, a.ApprovedBy = v.status, v.reason, v.approvedBy
	healed := false
	if v.act {
		ok, reason, err := e.apply(ctx, req, f, plan)
		if err != nil {
			return false, fmt.Errorf("healing %s: %w", s.Name(), err)
		}
		a.Status, a.Reason = "applied", plan.Description+"; "+reason
		if !ok {
			a.Status = "rolled_back"
		}
		healed = ok
	}
	id, err := e.record(ctx, ds, a, prop)
	if err != nil {
		return false, err
	}
	// The run may wait for the decision on a proposal: approved, the
	// repair is planned again and applies (the approval is found now);
	// rejected or undecided, the rule stays as it failed.
	approved, _, err := e.await(ctx, a, id)
	if err != nil {
		return false, err
	}
	if approved {
		return e.act(ctx, req, s, f, e.decisionsOf(ctx, req.Pipeline), log)
	}
	if healed {
		log.Info("healed", "strategy", s.Name(), "rows", plan.Rows, "object", req.Staged.ObjectKey)
	}
	return healed, nil
}

// findApproval finds a person's approval of the same strategy for the
// same rule or subject (a column): it lets the strategy act on it from
// then on.
func findApproval(approved []metadata.HealingAction, strategy, issue, subject string) *metadata.HealingAction {
	rule, _, _ := strings.Cut(issue, " failed")
	for i, a := range approved {
		if a.Strategy != strategy {
			continue
		}
		if subject == "" {
			if strings.HasPrefix(a.Issue, rule+" failed") {
				return &approved[i]
			}
			continue
		}
		var p struct {
			Subject string `json:"subject"`
		}
		if json.Unmarshal([]byte(a.Params), &p) == nil && p.Subject == subject {
			return &approved[i]
		}
	}
	return nil
}

// apply changes the staged rows, validates the expectation again, and
// undoes a rewrite that did not reduce its unexpected values.
func (e *Engine) apply(ctx context.Context, req pipeline.HealRequest, f Failure, plan *Repair) (bool, string, error) {
	op := plan.Plan
	if op.SetAsideReason() != "" {
		res, err := req.Warehouse.ApplyRepair(ctx, req.Staged, warehouse.RepairPlan{Op: op})
		if err != nil {
			return false, "", err
		}
		return true, fmt.Sprintf("%d rows set aside in quarantine with the reason", res.Rows), nil
	}
	token, _ := plan.Params["originals"].(string)
	if _, err := req.Warehouse.ApplyRepair(ctx, req.Staged, warehouse.RepairPlan{Token: token, Op: op}); err != nil {
		return false, "", err
	}
	before := f.Result.UnexpectedCount()
	again, err := req.Validate(ctx, &quality.Suite{Name: "verify", Expectations: []quality.Config{{Type: f.Config.Type, Kwargs: f.Config.Kwargs}}})
	if err != nil {
		// The rows go back as they were; the error is what matters.
		_ = req.Warehouse.UndoRepair(context.WithoutCancel(ctx), req.Staged, token)
		return false, "", err
	}
	afterCount := again.Results[0].UnexpectedCount()
	if afterCount < before {
		if err := req.Warehouse.KeepRepair(ctx, req.Staged, token); err != nil {
			return false, "", err
		}
		return true, fmt.Sprintf("verified: unexpected values %d -> %d", before, afterCount), nil
	}
	if err := req.Warehouse.UndoRepair(ctx, req.Staged, token); err != nil {
		return false, "", err
	}
	return false, fmt.Sprintf("rolled back: unexpected values %d -> %d did not improve", before, afterCount), nil
}
