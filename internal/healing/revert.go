package healing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/warehouse"
)

// decisions are people's decisions on a pipeline's actions: approvals
// let a strategy act, reverts stop it from acting alone, rejections stop
// it from proposing the same again, a proposal still undecided is not
// proposed again, and a resolved escalation names the option its
// strategy follows on that subject.
type decisions struct {
	approved, reverted, proposed, rejected, resolved []metadata.HealingAction
}

// declined reports whether a person rejected the strategy for this issue
// or subject and did not approve it since: it is not proposed again.
func (d *decisions) declined(strategy, issue, subject string) bool {
	r := findApproval(d.rejected, strategy, issue, subject)
	if r == nil {
		return false
	}
	a := findApproval(d.approved, strategy, issue, subject)
	return a == nil || a.ID < r.ID
}

// decisionsOf returns a loader of the pipeline's decisions that reads the
// store once, when first called.
func (e *Engine) decisionsOf(ctx context.Context, pipeline string) func() (*decisions, error) {
	var ds *decisions
	return func() (*decisions, error) {
		if ds != nil {
			return ds, nil
		}
		d := &decisions{}
		// By status, so that a flood of applied actions cannot push an old
		// decision out of the window.
		for _, st := range []struct {
			status string
			into   *[]metadata.HealingAction
		}{{"approved", &d.approved}, {"reverted", &d.reverted}, {"proposed", &d.proposed}, {"rejected", &d.rejected},
			{"resolved", &d.resolved}} {
			acts, err := e.Store.ListActions(ctx, metadata.ActionFilter{Pipeline: pipeline, Status: st.status, Limit: 1000})
			if err != nil {
				return nil, err
			}
			*st.into = acts
		}
		ds = d
		return ds, nil
	}
}

// ErrNotRevertible marks a revert refused for what the action is or what
// became of its rows, not for a failure.
var ErrNotRevertible = errors.New("cannot be reverted")

// Reverted says what a revert did.
type Reverted struct {
	Rows int64
	// Summary says it in words: "2 rows of orders restored".
	Summary string
}

// Revert undoes an applied repair in the target (written in mode: append,
// replace or merge) and says how many rows it changed. A value rewrite
// gets its original values back, each row found by its repaired content
// (rows changed since, by a later merge, are left alone). A stage
// repair's rescued rows leave the target for its quarantine, with the
// reason they were first set aside. Rows a repair set aside return from
// the quarantine to the target, unless the target merges on a key (the
// latest row of a key replaces the others there anyway). The warehouse
// does the work; Revert decides what may be undone.
func Revert(ctx context.Context, w warehouse.Repairer, target, mode string, a metadata.HealingAction) (Reverted, error) {
	var p struct {
		Originals     string   `json:"originals"`
		Rescued       string   `json:"rescued"`
		SetAside      string   `json:"set_aside"`
		NotRevertible string   `json:"not_revertible"`
		Column        string   `json:"column"`
		Columns       []string `json:"row_columns"`
	}
	err := json.Unmarshal([]byte(a.Params), &p)
	if err == nil && p.NotRevertible != "" {
		return Reverted{}, fmt.Errorf("%w: action #%d (%s): %s", ErrNotRevertible, a.ID, a.Strategy, p.NotRevertible)
	}
	if err == nil && p.SetAside != "" {
		if mode == warehouse.ModeMerge {
			return Reverted{}, fmt.Errorf("%w: action #%d (%s) set aside earlier rows of a key, and %s merges on its key: "+
				"the latest row of each key replaces the others anyway, so there is nothing to restore", ErrNotRevertible, a.ID, a.Strategy, target)
		}
		n, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertSetAside, Target: target,
			RunID: a.RunID, Pipeline: a.Pipeline, ObjectKey: a.ObjectKey, Reason: p.SetAside})
		if err != nil {
			return Reverted{}, err
		}
		return Reverted{Rows: n, Summary: fmt.Sprintf("%d rows moved from %s%s back to %s", n, target, warehouse.QuarantineSuffix, target)}, nil
	}
	if err != nil || (p.Originals == "" && p.Rescued == "") {
		return Reverted{}, fmt.Errorf("%w: action #%d (%s) kept nothing to restore: value rewrites, rows set aside and repairs that rescued rows from quarantine can be reverted, "+
			"schema changes cannot", ErrNotRevertible, a.ID, a.Strategy)
	}
	if p.Rescued != "" {
		n, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertRescue, Target: target, Token: p.Rescued, RowColumns: p.Columns,
			RunID: a.RunID, Pipeline: a.Pipeline, ObjectKey: a.ObjectKey, Note: fmt.Sprintf(" (set aside again: repair #%d was reverted)", a.ID)})
		if changed := (*warehouse.ChangedSinceError)(nil); errors.As(err, &changed) {
			return Reverted{}, fmt.Errorf("%w: %d of the %d rows action #%d rescued are no longer in %s as it loaded them (changed since); nothing was reverted",
				ErrNotRevertible, changed.Changed, changed.Kept, a.ID, target)
		}
		if err != nil {
			return Reverted{}, err
		}
		return Reverted{Rows: n, Summary: fmt.Sprintf("%d rows of %s moved back to %s%s", n, target, target, warehouse.QuarantineSuffix)}, nil
	}
	n, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertRewrite, Target: target, Token: p.Originals, Column: p.Column,
		RowColumns: p.Columns, RunID: a.RunID, Pipeline: a.Pipeline, ObjectKey: a.ObjectKey})
	if changed := (*warehouse.ChangedSinceError)(nil); errors.As(err, &changed) {
		return Reverted{}, fmt.Errorf("%w: %d of the %d rows action #%d rewrote are no longer in %s as it left them (changed since); nothing was reverted",
			ErrNotRevertible, changed.Changed, changed.Kept, a.ID, target)
	}
	if err != nil {
		return Reverted{}, err
	}
	return Reverted{Rows: n, Summary: fmt.Sprintf("%d rows of %s restored", n, target)}, nil
}

// keepRescued has the warehouse keep the rows a stage repair rescued, for
// its revert, and records in params under which token (or why it cannot
// be reverted). Nothing is kept when the two stagings do not pair up one
// for one (the new reading also changed rows that loaded before); the
// repair is then not revertible.
func keepRescued(ctx context.Context, w warehouse.Repairer, spec warehouse.LoadSpec, before, after *warehouse.Staged, params map[string]any) error {
	r, err := w.KeepRescued(ctx, spec, before, after)
	if err != nil {
		return err
	}
	switch {
	case r.ReplacesKeys:
		// A rescued row will replace a row of the target with its key;
		// deleting it later could not bring that row back.
		params["not_revertible"] = "its rescued rows replaced rows of " + spec.Target + " with the same key, which a revert could not bring back"
	case r.Token != "":
		params["rescued"], params["row_columns"] = r.Token, r.RowColumns
	}
	return nil
}
