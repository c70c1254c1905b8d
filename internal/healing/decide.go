package healing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
)

// proposal is a planned repair as the policy judges it: a repair of a
// failed rule (Engine.Heal) and a repair of how an object is read
// (Engine.HealStage) are decided alike (Engine.decide).
type proposal struct {
	strategy string
	// issue and subject find people's decisions on the same repair: by
	// the rule an issue names, or by a stage plan's subject (a column).
	issue, subject string
	// on names what a reverted repair was about, for the reason: "rule"
	// or "column".
	on          string
	category    Category
	confidence  float64
	description string
	// escalate, when set, says why nothing can be done automatically.
	escalate string
	// changesMeaning makes the repair wait for a person whatever the
	// policy says, and holds the commit meanwhile (a suspected rename).
	changesMeaning bool
	// choice is the option the plan follows (a date layout): a person's
	// resolution of an escalation that chose it approves the plan. ""
	// for none.
	choice string
}

// verdict is what the policy and people's decisions make of a proposal.
type verdict struct {
	// act says to apply the repair; the action's status and reason then
	// come from how it went.
	act bool
	// status and reason, when it does not act: escalated, dry_run or
	// proposed.
	status, reason string
	// approvedBy says who let it act: the policy, or a person's approval
	// of an earlier action.
	approvedBy string
	// hold says the commit waits for a person's decision.
	hold bool
}

// decide judges a proposal. A plan that escalates is escalated; in a dry
// run nothing is applied. Otherwise a person's approval of the same
// strategy on the same rule or subject (or a resolution that chose the
// plan's option) lets it act; without one it is proposed when a repair
// of it was reverted, when it changes what the data means, when its
// strategy is not in auto_approve, or when its confidence is below the
// threshold of its strategy or category; else the policy lets it act.
// ds are the pipeline's decisions; nil in a dry run.
func (e *Engine) decide(ds *decisions, p proposal) verdict {
	switch {
	case p.escalate != "":
		return verdict{status: "escalated", reason: p.escalate}
	case e.Policy.DryRun:
		return verdict{status: "dry_run", reason: p.description + " (dry run: nothing changed)"}
	}
	approval := findApproval(ds.approved, p.strategy, p.issue, p.subject)
	reverted := findApproval(ds.reverted, p.strategy, p.issue, p.subject)
	approvedAs := "approval of"
	if p.choice != "" && approval == nil {
		// A plan that follows a person's choice is approved by it,
		// unless a repair it made was reverted since.
		if r, choice := resolution(ds.resolved, p.strategy, p.subject); r != nil && choice == p.choice && (reverted == nil || reverted.ID < r.ID) {
			approval, approvedAs = r, "choice in"
		}
	}
	if approval != nil {
		return verdict{act: true, approvedBy: fmt.Sprintf("%s (%s action #%d)", approval.ApprovedBy, approvedAs, approval.ID)}
	}
	proposed := func(why string) verdict {
		return verdict{status: "proposed", reason: p.description + " (needs approval: " + why + ")"}
	}
	threshold := e.Policy.threshold(p.strategy, p.category)
	switch {
	case reverted != nil:
		return proposed(fmt.Sprintf("action #%d of this strategy on this %s was reverted", reverted.ID, p.on))
	case p.changesMeaning:
		v := proposed("it changes what the data means; the commit is held")
		v.hold = true
		return v
	case !e.Policy.AutoApprove[p.strategy]:
		return proposed("the strategy is not in auto_approve")
	case p.confidence < threshold:
		return proposed(fmt.Sprintf("confidence %.2f is below %.2f", p.confidence, threshold))
	}
	return verdict{act: true, approvedBy: "policy"}
}

// record stores a decided action and returns its id, except a proposal
// that is still undecided from an earlier run: a person answers that
// one, so it is not proposed again and its id is returned.
func (e *Engine) record(ctx context.Context, ds *decisions, a metadata.HealingAction, p proposal) (int64, error) {
	if a.Status == "proposed" {
		if prev := findApproval(ds.proposed, p.strategy, p.issue, p.subject); prev != nil {
			return prev.ID, nil
		}
	}
	return e.Store.RecordAction(ctx, a)
}

// await lets the run wait for a person's decision on a proposed action
// (id) when the policy has an approval_timeout: it reports an approval,
// or a rejection (a decision, not an error); neither when no decision
// came in time or there was nothing to wait for.
func (e *Engine) await(ctx context.Context, a metadata.HealingAction, id int64) (approved, rejected bool, err error) {
	if a.Status != "proposed" || e.Policy.ApprovalTimeout <= 0 {
		return false, false, nil
	}
	approved, err = e.AwaitDecision(ctx, id)
	if errors.Is(err, pipeline.ErrRejected) {
		return false, true, nil
	}
	return approved, false, err
}

// logger is the engine's logger; one that discards when none is set.
func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}
