package healing

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/warehouse"
)

// StageStrategy repairs how an object is read: it looks at what staging
// set aside or left out (rows whose values did not convert, columns the
// schema lacks) and plans a changed load spec. Applying is staging again
// with that spec; verifying is comparing the two stagings (the same rows
// in total, fewer set aside or fewer columns left out); rolling back is
// keeping the first. Adding one is a file with a type and a
// RegisterStageStrategy call in init.
type StageStrategy interface {
	// Name names the strategy in the policy and the audit.
	Name() string
	// Plan works out a repair, or nil when the strategy has nothing to do.
	Plan(ctx context.Context, env *StageEnv) (*StagePlan, error)
}

// StageEnv is a staged object as a stage strategy sees it.
type StageEnv struct {
	Spec    warehouse.LoadSpec
	Staged  *warehouse.Staged
	Rejects []warehouse.Reject
	Inspect warehouse.Inspector
	// Accepted counts the loaded rows with a non-NULL value in column.
	Accepted func(ctx context.Context, column string) (int64, error)
	// Declined reports whether a person rejected a strategy's plan for a
	// subject; nil declines nothing.
	Declined func(strategy, subject string) bool
	// Chosen returns the option a person chose for a strategy's plans on
	// a subject when resolving its escalation (a date column's layout),
	// or ""; nil knows no choice.
	Chosen func(strategy, subject string) string
	// RecentlyFilled counts the pipeline's recent succeeded runs whose
	// batch had values in column; nil knows no history.
	RecentlyFilled func(ctx context.Context, column string) (int, error)
	// HoldRemoved is the policy's hold_removed_columns.
	HoldRemoved bool
	// Replay says the run reloads objects loaded before (a full
	// refresh): an older object lacks the columns added since.
	Replay bool

	renames *[]renamePair // worked out once, see renamePairs
}

// declined reports whether a person rejected the strategy's plan for the
// subject.
func (e *StageEnv) declined(strategy, subject string) bool {
	return e.Declined != nil && e.Declined(strategy, subject)
}

// columnType is the staged type of a column ("" when absent).
func (e *StageEnv) columnType(name string) string {
	for _, c := range e.Staged.Columns {
		if strings.EqualFold(c.Name, name) {
			return strings.ToUpper(c.Type)
		}
	}
	return ""
}

// StagePlan is a planned change to how an object is read.
type StagePlan struct {
	// Subject is what the plan is about (a column, or the file); an
	// approval of the strategy for a subject lets it act from then on.
	Subject string
	// Category is the root cause when staging's evidence decides it (a
	// value that did not convert, a column the schema lacks); the model
	// diagnoses the issue otherwise.
	Category    Category
	Issue       Issue
	Description string
	Confidence  float64
	// Approval makes the plan wait for a person whatever the policy
	// says (a suspected rename changes meaning).
	Approval bool
	// Accept says the plan changes nothing in how the object is read:
	// once approved, the batch goes on as staged (a column's removal).
	Accept bool
	// Escalate, when set, says why nothing can be done automatically:
	// the rows stay set aside and the action asks a person.
	Escalate string
	Spec     warehouse.LoadSpec
	Params   map[string]any
	Rows     int64
	Before   []string
	After    []string
}

var stageStrategies = struct {
	sync.RWMutex
	list []StageStrategy
	rank map[string]int
}{rank: map[string]int{}}

// RegisterStageStrategy adds a stage strategy; the engine tries them by
// rank (lower first), then name: a file is transcoded before its columns
// are looked at, and a suspected rename before a new column is added.
func RegisterStageStrategy(s StageStrategy, rank int) {
	stageStrategies.Lock()
	defer stageStrategies.Unlock()
	stageStrategies.list = append(stageStrategies.list, s)
	stageStrategies.rank[s.Name()] = rank
	sort.SliceStable(stageStrategies.list, func(i, j int) bool {
		a, b := stageStrategies.list[i].Name(), stageStrategies.list[j].Name()
		if ra, rb := stageStrategies.rank[a], stageStrategies.rank[b]; ra != rb {
			return ra < rb
		}
		return a < b
	})
}

// StageStrategies lists the registered stage strategies in the order the
// engine tries them.
func StageStrategies() []StageStrategy {
	stageStrategies.RLock()
	defer stageStrategies.RUnlock()
	return append([]StageStrategy(nil), stageStrategies.list...)
}

var _ pipeline.StageHealer = (*Engine)(nil)

// HealStage implements pipeline.StageHealer. Each attempt reads what
// staging set aside, asks the stage strategies in turn for a plan
// (plan), diagnoses it, decides it by the policy and people's decisions
// (Engine.decide, as for a failed rule), stages the object again with the
// planned spec and keeps the new staging only when it verifies (apply),
// records the action, and may wait for a person's decision on it. It
// stops when no strategy has a new plan or after the policy's maximum
// attempts, then reports the rows still set aside that no plan was about.
func (e *Engine) HealStage(ctx context.Context, req pipeline.StageRequest) (*warehouse.Staged, error) {
	insp, ok := req.Warehouse.(warehouse.Inspector)
	if !ok {
		return req.Staged, nil
	}
	h := &stageHealing{e: e, req: req, insp: insp, log: e.logger(), st: req.Staged, spec: req.Spec,
		tried: map[string]bool{}, addressed: map[string]bool{}, decided: e.decisionsOf(ctx, req.Pipeline)}
	if run, err := e.Store.GetRun(ctx, req.RunID); err == nil {
		h.replay = run.FullRefresh
	}
	for attempt := 0; attempt < e.Policy.maxAttempts(); attempt++ {
		rejects, err := insp.Rejects(ctx, h.st)
		if err != nil {
			return h.st, err
		}
		ds, err := h.decided()
		if err != nil {
			return h.st, err
		}
		plan, strat, err := h.plan(ctx, ds, rejects)
		if err != nil {
			return h.st, err
		}
		if plan == nil {
			break
		}
		waited, err := h.attempt(ctx, ds, strat, plan)
		if err != nil {
			return h.st, err
		}
		if waited {
			attempt-- // the wait was no repair: what follows the decision gets its turn
		}
	}
	return h.st, e.reportRejects(ctx, req, insp, h.st, h.addressed)
}

// stageHealing is the healing of one staged object, from attempt to
// attempt.
type stageHealing struct {
	e    *Engine
	req  pipeline.StageRequest
	insp warehouse.Inspector
	log  *slog.Logger
	// st is the staging kept so far, and spec how it was read.
	st   *warehouse.Staged
	spec warehouse.LoadSpec
	// tried are the plans made (strategy and subject), addressed their
	// subjects (lower case).
	tried, addressed map[string]bool
	// decided loads the pipeline's decisions, once until a wait.
	decided func() (*decisions, error)
	// replay says the run is a full refresh.
	replay bool
}

// plan asks the stage strategies, in order, for a plan that was not
// tried yet nor declined by a person; nil when none has one.
func (h *stageHealing) plan(ctx context.Context, ds *decisions, rejects []warehouse.Reject) (*StagePlan, StageStrategy, error) {
	env := &StageEnv{Spec: h.spec, Staged: h.st, Rejects: rejects, Inspect: h.insp, Accepted: accepted(h.req.Warehouse, h.st),
		Declined: func(strategy, subject string) bool { return ds.declined(strategy, "", subject) },
		Chosen: func(strategy, subject string) string {
			_, choice := resolution(ds.resolved, strategy, subject)
			return choice
		},
		RecentlyFilled: h.e.recentlyFilled(h.req.Pipeline), HoldRemoved: h.e.Policy.HoldRemoved, Replay: h.replay}
	for _, s := range StageStrategies() {
		p, err := s.Plan(ctx, env)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s.Name(), err)
		}
		if p != nil && !h.tried[s.Name()+"\x00"+p.Subject] && !env.declined(s.Name(), p.Subject) {
			return p, s, nil
		}
	}
	return nil, nil, nil
}

// attempt diagnoses, decides, applies and records one plan, and waits
// for a person's decision on a proposal when the policy says to. waited
// says a decision came while the run waited: the plan is made again
// after an approval, and the next plan gets its turn after a rejection.
// A proposal that changes what the data means, undecided, holds the
// commit (a pipeline.HeldError).
func (h *stageHealing) attempt(ctx context.Context, ds *decisions, strat StageStrategy, plan *StagePlan) (waited bool, err error) {
	key := strat.Name() + "\x00" + plan.Subject
	h.tried[key] = true
	h.addressed[strings.ToLower(plan.Subject)] = true
	d, err := h.diagnose(ctx, plan)
	if err != nil {
		return false, err
	}
	if plan.Params == nil {
		plan.Params = map[string]any{}
	}
	plan.Params["subject"] = plan.Subject
	params, _ := json.Marshal(plan.Params)
	before, _ := json.Marshal(plan.Before)
	after, _ := json.Marshal(plan.After)
	a := metadata.HealingAction{
		RunID: h.req.RunID, Pipeline: h.req.Pipeline, ObjectKey: h.st.ObjectKey, Issue: plan.Issue.Text,
		Category: string(d.Category), Confidence: plan.Confidence, DecidedBy: d.By, Strategy: strat.Name(),
		Params: string(params), RowsAffected: plan.Rows, Before: string(before), After: string(after),
		Signature: strat.Name() + "|" + plan.Subject,
	}
	choice, _ := plan.Params["choice"].(string)
	prop := proposal{strategy: strat.Name(), issue: plan.Issue.Text, subject: plan.Subject, on: "column", category: d.Category,
		confidence: plan.Confidence, description: plan.Description, escalate: plan.Escalate, changesMeaning: plan.Approval, choice: choice}
	v := h.e.decide(ds, prop)
	a.Status, a.Reason, a.ApprovedBy = v.status, v.reason, v.approvedBy
	if v.act {
		if err := h.apply(ctx, strat, plan, &a); err != nil {
			return false, err
		}
	}
	id, err := h.e.record(ctx, ds, a, prop)
	if err != nil {
		return false, err
	}
	// Approved, the plan is made again and now applies; rejected, it is
	// declined (a rejected rename leaves the file's column to be added).
	approved, rejected, err := h.e.await(ctx, a, id)
	if err != nil {
		return false, err
	}
	if approved || rejected {
		h.decided = h.e.decisionsOf(ctx, h.req.Pipeline)
		if approved {
			delete(h.tried, key)
		}
		return true, nil
	}
	if v.hold {
		// Loading without the change would load wrong values (a renamed
		// column as NULL): nothing is committed until a person decides.
		return false, &pipeline.HeldError{ActionID: id, Reason: holdReason(plan.Issue.Text, id)}
	}
	return false, nil
}

// diagnose is a plan's root cause: staging's evidence when the plan
// names it, the model's reading of the issue otherwise.
func (h *stageHealing) diagnose(ctx context.Context, plan *StagePlan) (Diagnosis, error) {
	m, err := h.e.model(ctx)
	if err != nil {
		return Diagnosis{}, fmt.Errorf("diagnosis model: %w", err)
	}
	if plan.Category != "" {
		return Diagnosis{Category: plan.Category, Confidence: 0.99, By: "signature staging"}, nil
	}
	return Diagnose(plan.Issue, m), nil
}

// apply carries out a plan the decision lets act, and sets the action's
// outcome. A plan that changes nothing in how the object is read is
// accepted as staged. Otherwise the object is staged again with the
// planned spec: the new staging is kept when it verifies (verifyStage),
// with the rows it rescued kept for a revert, and the old one discarded;
// else the new one is discarded.
func (h *stageHealing) apply(ctx context.Context, strat StageStrategy, plan *StagePlan, a *metadata.HealingAction) error {
	if plan.Accept {
		a.Status, a.Reason = "applied", plan.Description+"; approved: the batch goes on as staged"
		return nil
	}
	next, err := h.req.Warehouse.Stage(ctx, plan.Spec)
	if err != nil {
		a.Status, a.Reason = "rolled_back", plan.Description+"; rolled back: staging again failed: "+err.Error()
		return nil
	}
	st := h.st
	if !verifyStage(st, next) {
		a.Status = "rolled_back"
		a.Reason = fmt.Sprintf("%s; rolled back: set aside %d -> %d, loaded %d -> %d did not improve",
			plan.Description, st.Quarantined, next.Quarantined, st.Loaded, next.Loaded)
		return h.insp.Discard(ctx, next)
	}
	a.Status = "applied"
	a.Reason = fmt.Sprintf("%s; verified: set aside %d -> %d, columns left out %d -> %d",
		plan.Description, st.Quarantined, next.Quarantined, len(st.Extra), len(next.Extra))
	a.RowsAffected = st.Quarantined - next.Quarantined
	if err := keepRescued(ctx, h.req.Warehouse, h.spec, st, next, plan.Params); err != nil {
		// The repair stands; only its revert is lost.
		h.log.Warn("keep the rows a repair rescued, for its revert", "strategy", strat.Name(), "object", st.ObjectKey, "err", err)
	}
	params, _ := json.Marshal(plan.Params)
	a.Params = string(params)
	h.st, h.spec = next, plan.Spec
	if err := h.insp.Discard(ctx, st); err != nil {
		return err
	}
	h.log.Info("healed", "strategy", strat.Name(), "object", next.ObjectKey, "subject", plan.Subject)
	return nil
}

// columnTypeOf is the staged engine type of a column ("" when absent).
func columnTypeOf(st *warehouse.Staged, name string) string {
	for _, c := range st.Columns {
		if strings.EqualFold(c.Name, name) {
			return c.Type
		}
	}
	return ""
}

// quarantineStrategy names the actions that record a class of rows
// staging set aside that no repair addressed.
const quarantineStrategy = "report_quarantine"

// reportRejects records each class of rows still set aside (a kind of
// problem in a column) that no plan of this healing was about, as an
// escalated issue with its diagnosis: one open action per class, counted
// on repeats.
func (e *Engine) reportRejects(ctx context.Context, req pipeline.StageRequest, insp warehouse.Inspector, st *warehouse.Staged, addressed map[string]bool) error {
	if st.Quarantined == 0 {
		return nil
	}
	rejects, err := insp.Rejects(ctx, st)
	if err != nil {
		return err
	}
	m, err := e.model(ctx)
	if err != nil {
		return fmt.Errorf("diagnosis model: %w", err)
	}
	for _, r := range rejects {
		col := strings.ToLower(r.Column)
		if r.Column != "" && addressed["column "+col] || r.Kind == warehouse.RejectEncoding && addressed["file encoding"] {
			continue
		}
		var is Issue
		var before []string
		switch r.Kind {
		case warehouse.RejectCast:
			vals, err := insp.RejectedValues(ctx, st, r.Column, 5)
			if err != nil {
				return err
			}
			is, before = castIssue(r.Column, columnTypeOf(st, r.Column), st.ObjectKey, r.Rows, vals), vals
		case warehouse.RejectNull:
			is = Issue{Kind: "drift", Text: fmt.Sprintf("column %q failed its REQUIRED mode: NULL in %d rows of %s", r.Column, r.Rows, st.ObjectKey)}
		case warehouse.RejectEncoding:
			is = Issue{Kind: "drift", Text: fmt.Sprintf("file encoding of %s failed: %d rows are not valid UTF-8", st.ObjectKey, r.Rows)}
		default:
			text := fmt.Sprintf("%d rows of %s failed to parse", r.Rows, st.ObjectKey)
			for _, s := range st.Samples {
				if !strings.HasPrefix(s.Reason, "CAST") && !strings.HasPrefix(s.Reason, "NULL") {
					text += ": " + s.Reason
					break
				}
			}
			is = Issue{Kind: "drift", Text: text}
		}
		// Staging's evidence decides the kind of problem; the model reads
		// only what it does not (a malformed line).
		d := Diagnosis{Confidence: 0.9, By: "signature staging"}
		switch r.Kind {
		case warehouse.RejectCast:
			d.Category = DriftType
			if isTimeType(strings.ToUpper(columnTypeOf(st, r.Column))) {
				d.Category = DateFormat
			}
		case warehouse.RejectNull:
			d.Category = DriftRequired
		case warehouse.RejectEncoding:
			d.Category = Encoding
		default:
			d = Diagnose(is, m)
		}
		subject := r.Kind + " " + r.Column
		params, _ := json.Marshal(map[string]any{"kind": r.Kind, "column": r.Column, "subject": subject,
			"not_revertible": "nothing was changed: the rows stay set aside for a person"})
		b, _ := json.Marshal(before)
		if _, err := e.Store.RecordAction(ctx, metadata.HealingAction{
			RunID: req.RunID, Pipeline: req.Pipeline, ObjectKey: st.ObjectKey, Issue: is.Text, Category: string(d.Category),
			Confidence: d.Confidence, DecidedBy: d.By, Strategy: quarantineStrategy, Params: string(params), RowsAffected: r.Rows,
			Before: string(b), Status: "escalated", Signature: quarantineStrategy + "|" + subject,
			Reason: fmt.Sprintf("%d rows set aside; no repair applies (%s)", r.Rows, advice(d.Category)),
		}); err != nil {
			return err
		}
	}
	return nil
}

// verifyStage accepts a new staging that accounts for the same rows and
// sets fewer aside or leaves fewer columns out, and no worse in either.
func verifyStage(before, after *warehouse.Staged) bool {
	if before.Loaded+before.Quarantined != after.Loaded+after.Quarantined {
		return false
	}
	if after.Quarantined > before.Quarantined || len(after.Extra) > len(before.Extra) {
		return false
	}
	return after.Quarantined < before.Quarantined || len(after.Extra) < len(before.Extra)
}

// recentRuns is how many of a pipeline's latest succeeded runs tell
// whether a column had values.
const recentRuns = 10

// recentlyFilled counts the pipeline's latest succeeded runs whose batch
// had a value in a column (its null rate, measured at each commit, below
// 1). The runs are read once per call of the returned function's owner.
func (e *Engine) recentlyFilled(pipeline string) func(ctx context.Context, column string) (int, error) {
	var runs []metadata.Run
	read := false
	return func(ctx context.Context, column string) (int, error) {
		if !read {
			var err error
			if runs, err = e.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: pipeline, Status: metadata.StatusSucceeded, Limit: recentRuns}); err != nil {
				return 0, err
			}
			read = true
		}
		n := 0
		for _, r := range runs {
			for k, v := range r.Metrics {
				if strings.EqualFold(k, "null_rate:"+column) && v < 1 {
					n++
				}
			}
		}
		return n, nil
	}
}

// accepted counts the staged rows with a value in a column.
func accepted(w warehouse.Prober, st *warehouse.Staged) func(ctx context.Context, column string) (int64, error) {
	return func(ctx context.Context, column string) (int64, error) {
		return w.CountRows(ctx, st, warehouse.Not{Of: warehouse.IsNull{Column: column}})
	}
}
