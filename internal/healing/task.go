package healing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/resilience"
)

var _ pipeline.TaskRecorder = (*Engine)(nil)

// The strategies of task failures. The retrying itself is done by the
// connector's resilience layer (exponential backoff with jitter, the
// server's Retry-After honoured, a circuit breaker per source); the
// engine diagnoses each retried failure and records what was done.
const (
	retryStrategy    = "retry_with_backoff"
	slowDownStrategy = "slow_down"
	escalateStrategy = "escalate"
	waitStrategy     = "wait_for_late_data"
	failoverStrategy = "failover"
	shrinkStrategy   = "reduce_chunk_size"
)

// retryable are the categories a retry can heal.
var retryable = map[Category]bool{
	Transient: true, SourceUnavailable: true, Timeout: true, Deadlock: true, RateLimited: true, ResourceExhaustion: true,
}

// RecordTask implements pipeline.TaskRecorder: one action per cause of
// the extraction's retried failures (applied when the extraction then
// succeeded, failed when it gave up), and for a failure that no retry
// can fix, an escalation that names the cause.
func (e *Engine) RecordTask(ctx context.Context, rep pipeline.TaskReport) error {
	if rep.Waited > 0 {
		return e.recordWait(ctx, rep)
	}
	m, err := e.model(ctx)
	if err != nil {
		return fmt.Errorf("diagnosis model: %w", err)
	}
	type group struct {
		d       Diagnosis
		issue   Issue
		retries int
		waited  time.Duration
	}
	groups := map[Category]*group{}
	var order []Category
	for _, r := range rep.Retries {
		is := FromError(r.Err, rep.SourceType)
		d := Diagnose(is, m)
		g := groups[d.Category]
		if g == nil {
			g = &group{d: d, issue: is}
			groups[d.Category] = g
			order = append(order, d.Category)
		}
		g.retries++
		g.waited += r.Wait
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	var finalCat Category
	var final Diagnosis
	var finalIssue Issue
	if rep.Err != nil {
		finalIssue = FromError(rep.Err, rep.SourceType)
		final = Diagnose(finalIssue, m)
		finalCat = final.Category
	}
	for _, c := range order {
		g := groups[c]
		strategy := retryStrategy
		if c == RateLimited {
			strategy = slowDownStrategy
		}
		params, _ := json.Marshal(map[string]any{"source": rep.Source, "retries": g.retries, "waited_ms": g.waited.Milliseconds()})
		a := metadata.HealingAction{
			RunID: rep.RunID, Pipeline: rep.Pipeline, ObjectKey: rep.Source, Issue: firstLine(g.issue.Text),
			Category: string(c), Confidence: g.d.Confidence, DecidedBy: g.d.By, Strategy: strategy,
			Params: string(params), ApprovedBy: "policy",
		}
		how := fmt.Sprintf("retried %d time(s), waiting %s in all (exponential backoff with jitter", g.retries, g.waited.Round(time.Millisecond))
		if strategy == slowDownStrategy {
			how += ", the server's Retry-After honoured"
		}
		how += ")"
		switch {
		case rep.Failover != "":
			a.Status, a.Reason = "failed", how+"; the source stayed unavailable: "+firstLine(fmt.Sprint(rep.FailoverErr))
		case rep.Err == nil:
			a.Status, a.Reason = "applied", how+"; the source recovered and the extraction completed"
		case finalCat == c:
			a.Status, a.Reason = "failed", how+"; "+gaveUp(rep.Err)+": "+firstLine(rep.Err.Error())
		default:
			a.Status, a.Reason = "applied", how+"; that failure passed, a later one ended the extraction"
		}
		if _, err := e.Store.RecordAction(ctx, a); err != nil {
			return err
		}
	}
	for _, adj := range rep.Adjusted {
		is := Issue{Kind: "task", Text: adj, Source: rep.SourceType}
		d := Diagnose(is, m)
		params, _ := json.Marshal(map[string]any{"source": rep.Source, "adjustment": adj})
		a := metadata.HealingAction{
			RunID: rep.RunID, Pipeline: rep.Pipeline, ObjectKey: rep.Source, Issue: firstLine(adj),
			Category: string(d.Category), Confidence: d.Confidence, DecidedBy: d.By, Strategy: shrinkStrategy,
			Params: string(params), ApprovedBy: "policy", Status: "applied",
			Reason: "halved the chunk and read the same key range again; the extraction went on with the smaller chunks",
		}
		if rep.Err != nil {
			a.Status, a.Reason = "failed", "halved the chunk, but the extraction failed: "+firstLine(rep.Err.Error())
		}
		if _, err := e.Store.RecordAction(ctx, a); err != nil {
			return err
		}
	}
	if rep.Failover != "" {
		is := FromError(rep.FailoverErr, rep.SourceType)
		d := Diagnose(is, m)
		params, _ := json.Marshal(map[string]any{"source": rep.Source, "replica": rep.Failover})
		a := metadata.HealingAction{
			RunID: rep.RunID, Pipeline: rep.Pipeline, ObjectKey: rep.Source, Issue: firstLine(is.Text),
			Category: string(d.Category), Confidence: d.Confidence, DecidedBy: d.By, Strategy: failoverStrategy,
			Params: string(params), ApprovedBy: "policy (failover in sources.yaml)",
		}
		if rep.Err == nil {
			a.Status, a.Reason = "applied", fmt.Sprintf("read from the replica %s instead; the extraction completed from the same watermark", rep.Failover)
		} else {
			a.Status, a.Reason = "failed", fmt.Sprintf("read from the replica %s instead, which failed too: %s", rep.Failover, firstLine(rep.Err.Error()))
		}
		if _, err := e.Store.RecordAction(ctx, a); err != nil {
			return err
		}
		return nil
	}
	if rep.Err == nil || groups[finalCat] != nil {
		return nil
	}
	// A failure of another cause than the retried ones, most often one
	// that was not retried at all: retrying cannot fix it.
	a := metadata.HealingAction{
		RunID: rep.RunID, Pipeline: rep.Pipeline, ObjectKey: rep.Source, Issue: firstLine(finalIssue.Text),
		Category: string(finalCat), Confidence: final.Confidence, DecidedBy: final.By, Strategy: escalateStrategy,
		Status: "escalated", Reason: escalation(final, rep.Err), Signature: escalateStrategy + "|" + rep.Source + "|" + string(finalCat),
	}
	_, err = e.Store.RecordAction(ctx, a)
	return err
}

// attempts is how a failed call's retrying ended.
type attempts int

const (
	attemptsUnknown   attempts = iota // the error does not say
	attemptsExhausted                 // every attempt the policy allows was made
	attemptsStopped                   // the last failure was not retryable: retrying stopped early
	attemptsBreaker                   // the source's circuit breaker stopped the retries
	attemptsOnly                      // the policy allows a single attempt
)

// tried says how many attempts the failed call made, of how many its
// retry policy allowed, as the resilience layer reports them (a call
// inside a retried call, such as a request inside an API chunk, counts
// too): "the retries ran out" only when every allowed attempt was made.
func tried(err error) (string, attempts) {
	var chain []*resilience.AttemptsError
	for e := err; ; {
		var ae *resilience.AttemptsError
		if !errors.As(e, &ae) {
			break
		}
		chain = append(chain, ae)
		e = ae.Err
	}
	if len(chain) == 0 {
		return "", attemptsUnknown
	}
	most := chain[0]
	for _, ae := range chain {
		if ae.Exhausted() && ae.MaxAttempts > 1 {
			return fmt.Sprintf("the retries ran out (%d of %d attempts)", ae.Attempts, ae.MaxAttempts), attemptsExhausted
		}
		if ae.Attempts > most.Attempts {
			most = ae
		}
	}
	inner := chain[len(chain)-1]
	switch {
	case errors.Is(inner.Err, resilience.ErrCircuitOpen) && most.Attempts <= 1:
		return "the source's circuit breaker was open (it failed repeatedly); not called", attemptsBreaker
	case errors.Is(inner.Err, resilience.ErrCircuitOpen):
		return fmt.Sprintf("the source's circuit breaker opened after repeated failures, at attempt %d of %d", most.Attempts, most.MaxAttempts), attemptsBreaker
	case most.MaxAttempts <= 1:
		return "failed on its only attempt (the retry policy allows one)", attemptsOnly
	case most.Attempts <= 1:
		return "failed on the first attempt; not retried", attemptsStopped
	}
	return fmt.Sprintf("failed after %d of %d attempts; the last failure was not retried", most.Attempts, most.MaxAttempts), attemptsStopped
}

// gaveUp says how a retried failure ended the extraction: "the retries
// ran out" only when they did.
func gaveUp(err error) string {
	if text, how := tried(err); how != attemptsUnknown {
		return text + "; gave up"
	}
	return "gave up"
}

// escalation is the reason of an escalated failure: how many attempts
// were made and what a person should do.
func escalation(d Diagnosis, err error) string {
	text, how := tried(err)
	var what string
	switch {
	case d.By == shapeSignature:
		what = "a changed response shape is not transient; check what the API now returns against the source's records_path (or pin the API's version)"
	case retryable[d.Category] && how == attemptsStopped:
		what = string(d.Category) + ", but the connector judged the failure permanent and did not retry it to the end; the next scheduled run tries again"
	case retryable[d.Category] && how != attemptsUnknown:
		return string(d.Category) + ": " + text + "; the next scheduled run tries again: " + firstLine(err.Error())
	case retryable[d.Category]:
		what = string(d.Category) + ": the next scheduled run tries again"
	default:
		what = advice(d.Category)
	}
	if how != attemptsUnknown {
		what = text + ": " + what
	}
	return what + ": " + firstLine(err.Error())
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 500 {
		line = line[:500] + "..."
	}
	return line
}

// advice says what a person should do about a failure no action can fix;
// for a category that retries heal, it says the retries ran out, and is
// for failures whose every allowed attempt was made.
func advice(c Category) string {
	switch c {
	case Auth:
		return "authentication or permission failed; retrying cannot fix it, check the credentials and grants"
	case ConfigError:
		return "the configuration or the query is wrong; retrying cannot fix it"
	case Quota:
		return "a quota is exhausted; it resets or needs raising"
	case PartialFile:
		return "the input is truncated; the source must deliver it again"
	}
	if retryable[c] {
		return string(c) + ": the retries ran out; the next scheduled run tries again"
	}
	return string(c) + ": needs a person"
}

// recordWait records a wait for late data: applied when the data came,
// failed (and retried later by the scheduler) when it did not.
func (e *Engine) recordWait(ctx context.Context, rep pipeline.TaskReport) error {
	params, _ := json.Marshal(map[string]any{"source": rep.Source, "waited_ms": rep.Waited.Milliseconds()})
	a := metadata.HealingAction{
		RunID: rep.RunID, Pipeline: rep.Pipeline, ObjectKey: rep.Source, Category: string(LateData), Confidence: 0.99,
		DecidedBy: "signature wait_for_data", Strategy: waitStrategy, Params: string(params), ApprovedBy: "policy",
		Issue: fmt.Sprintf("source %s failed to deliver new data when the run started", rep.Source),
	}
	if rep.Err == nil {
		a.Status, a.Reason = "applied", fmt.Sprintf("waited %s for late data; it arrived and was loaded", rep.Waited.Round(time.Millisecond))
	} else {
		a.Status, a.Reason = "failed", fmt.Sprintf("waited %s for late data; none came: %s", rep.Waited.Round(time.Millisecond), firstLine(rep.Err.Error()))
	}
	_, err := e.Store.RecordAction(ctx, a)
	return err
}

// keepStrategy names the actions that record target values a merge kept.
const keepStrategy = "keep_target_values"

var _ pipeline.CommitRecorder = (*Engine)(nil)

// duplicateStrategy names the actions that record a re-delivered object
// that was not loaded.
const duplicateStrategy = "duplicate_delivery"

// RecordCommit implements pipeline.CommitRecorder: one applied action per
// column whose target values a merge kept because the batch's objects
// lacked the column (nothing is to undo: the target's values stayed), and
// one per re-delivered object that was not loaded.
func (e *Engine) RecordCommit(ctx context.Context, rep pipeline.CommitReport) error {
	for _, d := range rep.Duplicates {
		params, _ := json.Marshal(map[string]any{"object": d.Object, "original": d.Of, "subject": "object " + d.Object,
			"not_revertible": "the object was not loaded, so nothing changed in the target; to load re-deliveries, set duplicate_deliveries: load on the pipeline and run with --full-refresh"})
		_, err := e.Store.RecordAction(ctx, metadata.HealingAction{
			RunID: rep.RunID, Pipeline: rep.Pipeline, ObjectKey: d.Object, Category: string(Duplicates),
			Confidence: 1, DecidedBy: "signature content hash", Strategy: duplicateStrategy, Params: string(params), ApprovedBy: "policy",
			RowsAffected: d.Rows, Status: "applied",
			Issue: fmt.Sprintf("object %s failed to be new: its content is byte for byte that of %s, loaded before", d.Object, d.Of),
			Reason: fmt.Sprintf("not loaded: its %d rows count as de-duplicated (set duplicate_deliveries: load on the pipeline to load re-deliveries)",
				d.Rows),
		})
		if err != nil {
			return err
		}
	}
	cols := make([]string, 0, len(rep.Kept))
	for c := range rep.Kept {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		objs := rep.Lacking[c]
		params, _ := json.Marshal(map[string]any{"column": c, "objects": objs, "subject": "column " + c,
			"not_revertible": "the merge kept the target's values, so nothing changed to undo"})
		_, err := e.Store.RecordAction(ctx, metadata.HealingAction{
			RunID: rep.RunID, Pipeline: rep.Pipeline, ObjectKey: strings.Join(objs, ", "), Category: string(DriftRemoved),
			Confidence: 1, DecidedBy: "signature merge", Strategy: keepStrategy, Params: string(params), ApprovedBy: "policy",
			RowsAffected: rep.Kept[c], Status: "applied",
			Issue: fmt.Sprintf("column %q failed to appear in %s", c, strings.Join(objs, ", ")),
			Reason: fmt.Sprintf("the merge into %s kept the target's values of column %s in the %d rows it replaced, instead of overwriting them with NULL",
				rep.Target, c, rep.Kept[c]),
		})
		if err != nil {
			return err
		}
	}
	return e.recordSchemaChanges(ctx, rep)
}

// schemaStrategy names the actions that record a change to a target's
// schema that no repair of the run asked for (a database source whose
// column appeared or widened).
const schemaStrategy = "evolve_schema"

// recordSchemaChanges records each change the commit made to the
// target's schema, unless an applied repair of the run (add_nullable_column,
// widen_type) already says so.
func (e *Engine) recordSchemaChanges(ctx context.Context, rep pipeline.CommitReport) error {
	if len(rep.SchemaChanges) == 0 {
		return nil
	}
	acts, err := e.Store.ListActions(ctx, metadata.ActionFilter{RunID: rep.RunID, Status: "applied", Limit: 1000})
	if err != nil {
		return err
	}
	covered := func(strategy, column string) bool {
		for _, a := range acts {
			if a.Strategy == strategy && strings.Contains(strings.ToLower(a.Params), strings.ToLower(`"`+column+`"`)) {
				return true
			}
		}
		return false
	}
	for _, c := range rep.SchemaChanges {
		a := metadata.HealingAction{
			RunID: rep.RunID, Pipeline: rep.Pipeline, ObjectKey: rep.Target, Confidence: 1, DecidedBy: "signature commit",
			Strategy: schemaStrategy, ApprovedBy: "policy", Status: "applied",
		}
		var why string
		switch c.Kind {
		case "added":
			if covered("add_nullable_column", c.Column) {
				continue
			}
			a.Category = string(DriftAdded)
			a.Issue = fmt.Sprintf("schema of %s failed to include column %q that the batch carries", rep.Target, c.Column)
			a.Reason = fmt.Sprintf("the commit added column %s (%s) to %s as NULLABLE: earlier rows read NULL", c.Column, c.To, rep.Target)
			why = "a column added to the target is kept; drop it with ALTER TABLE if it must go"
		default:
			if covered("widen_type", c.Column) {
				continue
			}
			a.Category = string(DriftType)
			a.Issue = fmt.Sprintf("type of column %q of %s failed to hold the batch's %s values", c.Column, rep.Target, c.To)
			a.Reason = fmt.Sprintf("the commit widened column %s of %s from %s to %s; every value kept its meaning", c.Column, rep.Target, c.From, c.To)
			why = "narrowing a column back could change or lose values written since"
		}
		params, _ := json.Marshal(map[string]any{"column": c.Column, "change": c.Kind, "from": c.From, "to": c.To,
			"subject": "column " + c.Column, "not_revertible": why})
		a.Params = string(params)
		if _, err := e.Store.RecordAction(ctx, a); err != nil {
			return err
		}
	}
	return nil
}
