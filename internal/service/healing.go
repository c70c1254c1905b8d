package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/healing"
	"github.com/shp-dev/shp/internal/metadata"
)

// ActionView is one healing action: the issue, its diagnosis, what was
// done or proposed, and who decided.
type ActionView struct {
	ID           int64           `json:"id"`
	RunID        string          `json:"run_id"`
	Pipeline     string          `json:"pipeline"`
	Object       string          `json:"object"`
	Issue        string          `json:"issue"`
	Category     string          `json:"category"`
	Confidence   float64         `json:"confidence"`
	DecidedBy    string          `json:"decided_by"`
	Strategy     string          `json:"strategy"`
	Params       json.RawMessage `json:"params"`
	RowsAffected int64           `json:"rows_affected"`
	Before       json.RawMessage `json:"before"`
	After        json.RawMessage `json:"after"`
	Status       string          `json:"status"`
	ApprovedBy   string          `json:"approved_by"`
	Reason       string          `json:"reason"`
	CreatedAt    time.Time       `json:"created_at"`
	// Occurrences counts the runs that found the same escalated issue
	// (1 for most actions); LastSeenAt is when it was last found.
	Occurrences int64      `json:"occurrences"`
	LastSeenAt  *time.Time `json:"last_seen_at,omitempty"`
}

// ActionOf renders a stored action.
func ActionOf(a metadata.HealingAction) ActionView {
	n := a.Occurrences
	if n == 0 {
		n = 1
	}
	return ActionView{a.ID, a.RunID, a.Pipeline, a.ObjectKey, a.Issue, a.Category, a.Confidence, a.DecidedBy,
		a.Strategy, rawJSON(a.Params), a.RowsAffected, rawJSON(a.Before), rawJSON(a.After),
		a.Status, a.ApprovedBy, a.Reason, a.CreatedAt.UTC(), n, timePtr(a.LastSeenAt)}
}

// ActionQuery selects actions.
type ActionQuery struct {
	RunID, Pipeline, Status, Category string
	PageRequest
}

// actionStatuses are the statuses an action can have.
var actionStatuses = map[string]bool{"applied": true, "rolled_back": true, "proposed": true, "approved": true, "rejected": true,
	"reverted": true, "escalated": true, "failed": true, "dry_run": true, "resolved": true}

// Actions lists healing actions, newest first, one page at a time.
func (s *Service) Actions(ctx context.Context, q ActionQuery) (Page[ActionView], error) {
	size, err := q.size()
	if err != nil {
		return Page[ActionView]{}, err
	}
	var before int64
	if body, err := q.decodeToken("actions"); err != nil {
		return Page[ActionView]{}, err
	} else if body != "" {
		if before, err = strconv.ParseInt(body, 10, 64); err != nil || before <= 0 {
			return Page[ActionView]{}, invalid("page_token", "is not a token of this listing")
		}
	}
	if q.Status != "" && !actionStatuses[q.Status] {
		return Page[ActionView]{}, invalid("status", "%q is not an action status", q.Status)
	}
	if q.Category != "" && !healing.Category(q.Category).Valid() {
		return Page[ActionView]{}, invalid("category", "%q is not in the taxonomy", q.Category)
	}
	acts, err := s.Store.ListActions(ctx, metadata.ActionFilter{RunID: q.RunID, Pipeline: q.Pipeline, Status: q.Status,
		Category: q.Category, BeforeID: before, Limit: size + 1})
	if err != nil {
		return Page[ActionView]{}, err
	}
	page := Page[ActionView]{Items: []ActionView{}}
	for i, a := range acts {
		if i == size {
			page.NextPageToken = encodeToken("actions", strconv.FormatInt(acts[i-1].ID, 10))
			break
		}
		page.Items = append(page.Items, ActionOf(a))
	}
	return page, nil
}

// Action returns one action.
func (s *Service) Action(ctx context.Context, id int64) (ActionView, error) {
	a, err := s.Store.GetAction(ctx, id)
	if err != nil {
		return ActionView{}, notFound(err)
	}
	return ActionOf(a), nil
}

// Decision is a person's answer to a proposed action.
type Decision struct {
	ActionID int64
	Approve  bool
	By       string
	Reason   string
	// Category, for a rejection, is what the issue really was; it teaches
	// the diagnosis.
	Category string
}

// Decide approves or rejects a proposed action. The decision becomes a
// labeled example for the next training: an approval confirms the
// diagnosed category, a rejection with a category corrects it.
func (s *Service) Decide(ctx context.Context, d Decision) (ActionView, error) {
	if !d.Approve && d.Reason == "" {
		return ActionView{}, invalid("reason", "a rejection needs a reason")
	}
	if d.Category != "" && !healing.Category(d.Category).Valid() {
		return ActionView{}, invalid("category", "%q is not in the taxonomy", d.Category)
	}
	if d.Approve && d.Category != "" {
		return ActionView{}, invalid("category", "only a rejection corrects the category")
	}
	a, err := s.Store.GetAction(ctx, d.ActionID)
	if err != nil {
		return ActionView{}, notFound(err)
	}
	status := "rejected"
	if d.Approve {
		status = "approved"
	}
	if err := s.Store.DecideAction(ctx, d.ActionID, status, d.By, d.Reason); err != nil {
		if errors.Is(err, metadata.ErrInvalid) {
			hint := ""
			if a.Status == "escalated" {
				hint = "; an escalated action that offers options is resolved with one of them (shp healing resolve ID --choose OPTION)"
			}
			return ActionView{}, fmt.Errorf("%w: action #%d is %s: only a proposed action can be approved or rejected (or a rejected one approved)%s", ErrConflict, a.ID, a.Status, hint)
		}
		return ActionView{}, err
	}
	label := healing.Category(a.Category)
	if d.Category != "" {
		label = healing.Category(d.Category)
	}
	if label.Valid() && (d.Approve || d.Category != "") {
		if err := s.learn(ctx, a, label); err != nil {
			return ActionView{}, err
		}
	}
	return s.Action(ctx, d.ActionID)
}

// learn stores a decision as a labeled example.
func (s *Service) learn(ctx context.Context, a metadata.HealingAction, c healing.Category) error {
	b, _ := json.Marshal(healing.Example{Issue: healing.Issue{Kind: healing.IssueKind(a.Strategy), Text: a.Issue}, Category: c, Origin: "feedback"})
	return s.Store.AddExample(ctx, string(b))
}

// Reverted is what a revert did.
type Reverted struct {
	Action  ActionView `json:"action"`
	Rows    int64      `json:"rows"`
	Summary string     `json:"summary"`
}

// Revert undoes an applied action in the target (see healing.Revert) and
// marks it reverted; from then on its strategy waits for a person on that
// rule or column. A category teaches the diagnosis what the issue was.
func (s *Service) Revert(ctx context.Context, id int64, by, reason, category string) (Reverted, error) {
	if reason == "" {
		return Reverted{}, invalid("reason", "a revert needs a reason")
	}
	if category != "" && !healing.Category(category).Valid() {
		return Reverted{}, invalid("category", "%q is not in the taxonomy", category)
	}
	s.revertMu.Lock()
	defer s.revertMu.Unlock()
	a, err := s.Store.GetAction(ctx, id)
	if err != nil {
		return Reverted{}, notFound(err)
	}
	if a.Status != "applied" {
		return Reverted{}, fmt.Errorf("%w: action #%d is %s: only an applied action can be reverted", ErrConflict, id, a.Status)
	}
	p, err := s.pipeline(a.Pipeline)
	if err != nil {
		return Reverted{}, err
	}
	// An action is recorded when it is applied to the staged batch: only
	// a batch its run committed is in the target to undo.
	run, err := s.Store.GetRun(ctx, a.RunID)
	if err != nil {
		return Reverted{}, notFound(err)
	}
	if run.Status != metadata.StatusSucceeded {
		return Reverted{}, fmt.Errorf("%w: action #%d belongs to run %s, which is %s: its batch never reached the target, so there is nothing to undo",
			ErrConflict, id, run.ID, run.Status)
	}
	if p.Mode == "merge" && run.RowsDeduplicated > 0 && strings.Contains(a.Params, `"rescued"`) {
		// The batch held keys more than once: a rescued row may have won
		// over another version of its key, which deleting it would lose.
		return Reverted{}, fmt.Errorf("%w: run %s de-duplicated %d rows by key in %s; a rescued row may have replaced another version of its key, which a revert would lose",
			ErrConflict, run.ID, run.RowsDeduplicated, p.Target)
	}
	if p.Mode == "replace" {
		// A later run replaced the whole table, this action's rows with it.
		latest, err := s.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: a.Pipeline, Status: metadata.StatusSucceeded, Limit: 1})
		if err != nil {
			return Reverted{}, err
		}
		if len(latest) == 1 && latest[0].ID != run.ID {
			return Reverted{}, fmt.Errorf("%w: %s is replaced by every run, and run %s replaced run %s's rows", ErrConflict, p.Target, latest[0].ID, run.ID)
		}
	}
	if s.Warehouse == nil {
		return Reverted{}, fmt.Errorf("revert action #%d: %w: no warehouse is open in this process", id, ErrUnavailable)
	}
	rv, err := healing.Revert(ctx, s.Warehouse, p.Target, p.Mode, a)
	if errors.Is(err, healing.ErrNotRevertible) {
		return Reverted{}, fmt.Errorf("%w: %w", ErrConflict, err)
	}
	if err != nil {
		return Reverted{}, err
	}
	if err := s.Store.RevertAction(ctx, id, by, fmt.Sprintf("%s (%s)", reason, rv.Summary)); err != nil {
		if errors.Is(err, metadata.ErrInvalid) {
			return Reverted{}, fmt.Errorf("%w: action #%d was decided meanwhile: %w", ErrConflict, id, err)
		}
		return Reverted{}, err
	}
	if category != "" {
		if err := s.learn(ctx, a, healing.Category(category)); err != nil {
			return Reverted{}, err
		}
	}
	view, err := s.Action(ctx, id)
	return Reverted{Action: view, Rows: rv.Rows, Summary: rv.Summary}, err
}

// ModelView is one diagnosis model version.
type ModelView struct {
	Version    int             `json:"version"`
	TrainedAt  time.Time       `json:"trained_at"`
	Active     bool            `json:"active"`
	Evaluation json.RawMessage `json:"evaluation"`
}

// Models lists the diagnosis model versions, newest first.
func (s *Service) Models(ctx context.Context) ([]ModelView, error) {
	ms, err := s.Store.ListModels(ctx)
	if err != nil {
		return nil, err
	}
	out := []ModelView{}
	for _, m := range ms {
		out = append(out, ModelView{Version: m.Version, TrainedAt: m.CreatedAt.UTC(), Active: m.Active, Evaluation: rawJSON(m.Metrics)})
	}
	return out, nil
}

// StrategyView is one correction strategy.
type StrategyView struct {
	Name string `json:"name"`
	// Stage is "rule" (repairs of failed rules on the staged rows),
	// "stage" (how an object is read), "anomaly" or "task".
	Stage string `json:"stage"`
	// AutoApproved says the policy lets it act without a person (above
	// the confidence threshold).
	AutoApproved bool    `json:"auto_approved"`
	Threshold    float64 `json:"threshold"`
}

// Strategies lists the correction strategies and what the project's
// policy lets each do.
func (s *Service) Strategies() ([]StrategyView, error) {
	policy, err := healing.ParsePolicy(s.Project.SelfHealing)
	if err != nil {
		return nil, err
	}
	var out []StrategyView
	add := func(name, stage string) {
		out = append(out, StrategyView{Name: name, Stage: stage, AutoApproved: policy.AutoApprove[name], Threshold: policy.StrategyThresholdOf(name)})
	}
	for _, st := range healing.StageStrategies() {
		add(st.Name(), "stage")
	}
	for _, st := range healing.Strategies() {
		add(st.Name(), "rule")
	}
	for _, name := range healing.OtherStrategies() {
		add(name, healing.IssueKind(name))
	}
	return out, nil
}
