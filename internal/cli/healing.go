package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/healing"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/service"
)

func newHealingCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "healing", Short: "The self-healing engine: diagnose issues, train and evaluate the classifier"}
	var dir, outFormat, out, source, category string

	train := &cobra.Command{
		Use:   "train",
		Short: "Train the diagnosis model on the labeled corpus and the recorded feedback; promote it if it beats the active one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, err := openStore(cmd.Context(), dir)
			if err != nil {
				return err
			}
			defer svc.close()
			res, err := healing.TrainAndPromote(cmd.Context(), svc.store)
			if err != nil {
				return failedErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, res)
			}
			state := "kept inactive"
			if res.Promoted {
				state = "promoted: now active"
			}
			fmt.Fprintf(e.stdout, "model v%d trained on %d examples, evaluated on %d held out: accuracy %.1f%%, macro F1 %.3f, calibration error %.3f\n",
				res.Version, res.Train, res.HeldOut, 100*res.New.Accuracy, res.New.MacroF1, res.New.ECE)
			fmt.Fprintf(e.stdout, "%s (%s)\n", state, res.Reason)
			return nil
		},
	}
	eval := &cobra.Command{
		Use:   "eval",
		Short: "Report the active model's per-category precision, recall, calibration and suggested thresholds, against the version before it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, err := openStore(cmd.Context(), dir)
			if err != nil {
				return err
			}
			defer svc.close()
			m, found, err := healing.ActiveModel(cmd.Context(), svc.store)
			if err != nil {
				return failedErr(err)
			}
			if !found {
				return failedErr(fmt.Errorf("no active model: run shp healing train first"))
			}
			all, hand, err := healing.HeldOut(cmd.Context(), svc.store)
			if err != nil {
				return failedErr(err)
			}
			evAll, evHand := healing.Evaluate(m, all), healing.Evaluate(m, hand)
			prev, err := previousModel(cmd.Context(), svc.store, m.Version)
			if err != nil {
				return failedErr(err)
			}
			var evPrev healing.Evaluation
			if prev != nil {
				evPrev = healing.Evaluate(prev, all)
			}
			if outFormat == "json" {
				doc := map[string]any{"model_version": m.Version, "held_out": evAll, "hand_labeled_held_out": evHand}
				if prev != nil {
					doc["previous"] = map[string]any{"model_version": prev.Version, "held_out": evPrev}
				}
				return writeJSON(e.stdout, doc)
			}
			w := e.stdout
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return failedErr(err)
				}
				defer f.Close()
				w = f
			}
			evAll.WriteReport(w, fmt.Sprintf("Diagnosis model v%d: evaluation on the held-out set", m.Version))
			fmt.Fprintf(w, "\nThe held-out set mixes hand-labeled real messages with fault-injection examples, which resemble their training siblings. On the hand-labeled held-out examples alone (%d), accuracy is %.1f%% and macro F1 %.3f.\n",
				evHand.Examples, 100*evHand.Accuracy, evHand.MacroF1)
			if prev != nil {
				evAll.WriteComparison(w, m.Version, evPrev, prev.Version)
			}
			if out != "" {
				fmt.Fprintf(e.stdout, "wrote %s\n", out)
			}
			return nil
		},
	}
	diagnose := &cobra.Command{
		Use:   `diagnose "ERROR TEXT"`,
		Short: "Diagnose an error message: category, confidence, and how it was decided",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openStore(cmd.Context(), dir)
			if err != nil {
				return err
			}
			defer svc.close()
			m, err := healing.LoadModel(cmd.Context(), svc.store)
			if err != nil {
				return failedErr(err)
			}
			d := healing.Diagnose(healing.Issue{Kind: "task", Text: args[0], Source: source}, m)
			if outFormat == "json" {
				return writeJSON(e.stdout, d)
			}
			fmt.Fprintf(e.stdout, "%s (confidence %.2f, by %s)", d.Category, d.Confidence, d.By)
			if d.RunnerUp != "" {
				fmt.Fprintf(e.stdout, "; runner-up %s (%.2f)", d.RunnerUp, d.RunnerUpConfidence)
			}
			fmt.Fprintln(e.stdout)
			return nil
		},
	}
	label := &cobra.Command{
		Use:   `label --category C "ERROR TEXT"`,
		Short: "Record a labeled example (feedback) for the next training",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := healing.ParseCategory(category)
			if err != nil {
				return usageErr(err)
			}
			svc, err := openStore(cmd.Context(), dir)
			if err != nil {
				return err
			}
			defer svc.close()
			b, _ := json.Marshal(healing.Example{Issue: healing.Issue{Kind: "task", Text: args[0], Source: source}, Category: c, Origin: "feedback"})
			if err := svc.store.AddExample(cmd.Context(), string(b)); err != nil {
				return failedErr(err)
			}
			fmt.Fprintf(e.stdout, "recorded as %s; shp healing train uses it\n", c)
			return nil
		},
	}
	models := &cobra.Command{
		Use:   "models",
		Short: "List the diagnosis model versions, their evaluation and which is active",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ms []service.ModelView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				ms, err = s.Models(cmd.Context())
				return err
			}); err != nil {
				return serviceErr(err)
			}
			t := newTable(e.stdout, "VERSION", "TRAINED", "ACCURACY", "MACRO F1", "ECE", "ACTIVE")
			for _, m := range ms {
				var ev healing.Evaluation
				_ = json.Unmarshal(m.Evaluation, &ev)
				active := ""
				if m.Active {
					active = "yes"
				}
				t.row(m.Version, m.TrainedAt.Format(time.RFC3339), fmt.Sprintf("%.1f%%", 100*ev.Accuracy), fmt.Sprintf("%.3f", ev.MacroF1), fmt.Sprintf("%.3f", ev.ECE), active)
			}
			t.flush()
			return nil
		},
	}
	var pipelineName string
	detect := &cobra.Command{
		Use:   "detect [RUN_ID]",
		Short: "Score a run (or a pipeline's latest) against its history: volume, quarantined share, duration; diagnose what is out of line",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := openStore(cmd.Context(), dir)
			if err != nil {
				return err
			}
			defer svc.close()
			runID := ""
			if len(args) == 1 {
				runID = args[0]
			} else {
				if pipelineName == "" {
					return usageErr(fmt.Errorf("give a RUN_ID or --pipeline"))
				}
				runs, err := svc.store.ListRuns(cmd.Context(), metadata.RunFilter{Pipeline: pipelineName, Limit: 1})
				if err != nil {
					return failedErr(err)
				}
				if len(runs) == 0 {
					return usageErr(fmt.Errorf("pipeline %s has no runs", pipelineName))
				}
				runID = runs[0].ID
			}
			anomalies, err := healing.DetectRun(cmd.Context(), svc.store, runID)
			if err != nil {
				return failedErr(err)
			}
			m, err := healing.LoadModel(cmd.Context(), svc.store)
			if err != nil {
				return failedErr(err)
			}
			type finding struct {
				healing.Anomaly
				Diagnosis healing.Diagnosis `json:"diagnosis"`
			}
			var out []finding
			for _, a := range anomalies {
				out = append(out, finding{a, healing.Diagnose(a.Issue, m)})
			}
			if outFormat == "json" {
				if out == nil {
					out = []finding{}
				}
				return writeJSON(e.stdout, out)
			}
			if len(out) == 0 {
				fmt.Fprintf(e.stdout, "run %s: nothing out of line (or fewer than %d earlier runs to compare with)\n", runID, healing.MinHistory)
				return nil
			}
			for _, f := range out {
				fmt.Fprintf(e.stdout, "run %s: %s -> %s (confidence %.2f, by %s)\n", termSafe(runID), termSafe(f.Issue.Text), f.Diagnosis.Category, f.Diagnosis.Confidence, f.Diagnosis.By)
			}
			return nil
		},
	}
	detect.Flags().StringVarP(&pipelineName, "pipeline", "p", "", "the pipeline whose latest run to score")
	cmd.AddCommand(newHealingActionsCmd(e), newDecideCmd(e, true), newDecideCmd(e, false), newRevertCmd(e), newResolveCmd(e), newStrategiesCmd(e))
	for _, c := range []*cobra.Command{train, eval, diagnose, label, models, detect} {
		c.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
		if c != models && c != label {
			c.Flags().StringVar(&outFormat, "format", "text", "output format: text or json")
		}
		cmd.AddCommand(c)
	}
	eval.Flags().StringVar(&out, "out", "", "write the Markdown report to this file")
	for _, c := range []*cobra.Command{diagnose, label} {
		c.Flags().StringVar(&source, "source", "", "the source type the error came from (postgres, api ...)")
	}
	label.Flags().StringVar(&category, "category", "", "the right category")
	_ = label.MarkFlagRequired("category")
	return cmd
}

// previousModel loads the newest model version older than version; nil
// when there is none.
func previousModel(ctx context.Context, store metadata.Store, version int) (*healing.Model, error) {
	models, err := store.ListModels(ctx)
	if err != nil {
		return nil, err
	}
	for _, mv := range models { // newest first
		if mv.Version < version {
			return healing.ModelVersion(ctx, store, mv.Version)
		}
	}
	return nil, nil
}

// healerFor builds the self-healing engine a project's self_healing.yaml
// asks for; nil when the project has none.
func healerFor(e *env, p *config.Project, store metadata.Store) (pipeline.Healer, error) {
	if p.SelfHealing == nil {
		// No self-healing: nothing is repaired or held, yet what a
		// commit did by itself (schema changes, re-deliveries, kept
		// values) is still recorded as actions.
		return auditOnly{eng: &healing.Engine{Store: store, Logger: e.logger()}}, nil
	}
	policy, err := healing.ParsePolicy(p.SelfHealing)
	if err != nil {
		return nil, usageErr(err)
	}
	eng := &healing.Engine{Store: store, Policy: policy, Logger: e.logger()}
	if !e.quiet {
		eng.OnWait = func(id int64, until time.Time) {
			fmt.Fprintf(e.stderr, "waiting until %s for a decision on action #%d: shp healing approve %d (or reject %d --reason R)\n",
				until.Format(time.TimeOnly), id, id, id)
		}
	}
	return eng, nil
}

// auditOnly is the healer of a project without self_healing.yaml: it
// repairs nothing and records what commits did.
type auditOnly struct{ eng *healing.Engine }

func (auditOnly) Heal(context.Context, pipeline.HealRequest) (bool, error) { return false, nil }

func (a auditOnly) RecordCommit(ctx context.Context, rep pipeline.CommitReport) error {
	return a.eng.RecordCommit(ctx, rep)
}

func newHealingActionsCmd(e *env) *cobra.Command {
	var dir, runID, status, name, outFormat string
	var limit int
	cmd := &cobra.Command{
		Use:   "actions",
		Short: "What the self-healing engine did or proposed, and why",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > service.MaxPageSize {
				return usageErr(fmt.Errorf("--limit must be from 1 to %d, got %d", service.MaxPageSize, limit))
			}
			var acts []service.ActionView
			if err := withService(cmd.Context(), dir, func(s *service.Service) error {
				page, err := s.Actions(cmd.Context(), service.ActionQuery{RunID: runID, Pipeline: name, Status: status, PageRequest: service.PageRequest{PageSize: limit}})
				acts = page.Items
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, acts)
			}
			for _, a := range acts {
				fmt.Fprintf(e.stdout, "#%d %s  %s on %s (%s)  rows %d  confidence %.2f  %s\n", a.ID, a.Status, a.Strategy, termSafe(a.Object), a.RunID, a.RowsAffected, a.Confidence, termSafe(a.ApprovedBy))
				fmt.Fprintf(e.stdout, "   issue: %s\n   diagnosis: %s (%s)\n   what: %s\n", termSafe(a.Issue), a.Category, a.DecidedBy, termSafe(a.Reason))
				if a.Occurrences > 1 && a.LastSeenAt != nil {
					fmt.Fprintf(e.stdout, "   seen: %d times, last %s\n", a.Occurrences, a.LastSeenAt.Format(time.RFC3339))
				}
				if b := string(a.Before); b != "[]" && b != "null" && b != "" {
					fmt.Fprintf(e.stdout, "   before: %s\n", termSafe(string(a.Before)))
				}
				if b := string(a.After); b != "[]" && b != "null" && b != "" {
					fmt.Fprintf(e.stdout, "   after:  %s\n", termSafe(string(a.After)))
				}
				if opts := healing.OptionsOf(metadata.HealingAction{Params: string(a.Params)}); len(opts) > 0 && a.Status == "escalated" {
					fmt.Fprintf(e.stdout, "   options (shp healing resolve %d --choose OPTION --reason R):\n", a.ID)
					for _, o := range opts {
						fmt.Fprintf(e.stdout, "     %s  %s  %s\n", termSafe(o.Choice), termSafe(o.Name), termSafe(o.Reads))
					}
				}
			}
			if len(acts) == 0 {
				fmt.Fprintln(e.stdout, "no healing actions")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVar(&runID, "run", "", "only this run's actions")
	cmd.Flags().StringVarP(&name, "pipeline", "p", "", "only this pipeline's actions")
	cmd.Flags().StringVar(&status, "status", "", "only actions with this status (applied, rolled_back, proposed, escalated, resolved, dry_run, ...)")
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "at most this many, newest first")
	cmd.Flags().StringVar(&outFormat, "format", "text", "output format: text or json")
	return cmd
}

// newDecideCmd is shp healing approve|reject ID: a person's decision on a
// proposed action. An approval lets the strategy act on the same rule of
// the pipeline from the next run (retry it with shp backfill --rerun or
// shp trigger); both decisions become labeled examples for training.
func newDecideCmd(e *env, approve bool) *cobra.Command {
	var dir, by, reason, category string
	use, short := "approve ID", "Approve a proposed action: its strategy may act on that rule from the next run"
	if !approve {
		use, short = "reject ID --reason R", "Reject a proposed action, saying why (and, with --category, what the issue really was)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, corrected, err := decisionArgs(args[0], reason, category, !approve)
			if err != nil {
				return err
			}
			svc, err := openStore(cmd.Context(), dir)
			if err != nil {
				return err
			}
			defer svc.close()
			by = whoDecides(by)
			a, err := svc.service().Decide(cmd.Context(), service.Decision{ActionID: id, Approve: approve, By: by, Reason: reason, Category: string(corrected)})
			if err != nil {
				return serviceErr(err)
			}
			status := a.Status
			fmt.Fprintf(e.stdout, "action #%d %s by %s\n", id, status, by)
			if approve {
				fmt.Fprintf(e.stdout, "%s may now act on this %s of pipeline %s; a run waiting for the decision goes on, "+
					"else run it again (shp backfill --rerun or shp trigger) to apply\n", a.Strategy, subjectKind(string(a.Params)), a.Pipeline)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVar(&by, "by", "", "who decides (default: $USER)")
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	if !approve {
		cmd.Flags().StringVar(&category, "category", "", "what the issue really was, to teach the diagnosis")
	}
	return cmd
}

// newRevertCmd is shp healing revert ID: undo an applied repair in the
// target. The strategy then waits for a person on that rule or column, and
// with --category the revert teaches the diagnosis.
func newRevertCmd(e *env) *cobra.Command {
	var dir, by, reason, category string
	cmd := &cobra.Command{
		Use:   "revert ID --reason R",
		Short: "Restore the values an applied repair changed in the target, saying why",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, corrected, err := decisionArgs(args[0], reason, category, true)
			if err != nil {
				return err
			}
			p, err := loadProject(dir)
			if err != nil {
				return err
			}
			svc, err := openServices(cmd.Context(), p, what{store: true, warehouse: true, log: e.logger()})
			if err != nil {
				return err
			}
			defer svc.close()
			by = whoDecides(by)
			rv, err := svc.service().Revert(cmd.Context(), id, by, reason, string(corrected))
			if err != nil {
				return serviceErr(err)
			}
			a := rv.Action
			fmt.Fprintf(e.stdout, "action #%d reverted by %s: %s\n", id, by, rv.Summary)
			fmt.Fprintf(e.stdout, "%s now waits for approval on this %s of pipeline %s\n", a.Strategy, subjectKind(string(a.Params)), a.Pipeline)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVar(&by, "by", "", "who reverts (default: $USER)")
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	cmd.Flags().StringVar(&category, "category", "", "what the issue really was, to teach the diagnosis")
	return cmd
}

// decisionArgs checks a decision's action id, reason (when needed) and
// corrected category.
func decisionArgs(arg, reason, category string, needReason bool) (int64, healing.Category, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return 0, "", usageErr(fmt.Errorf("action id %q is not a number", arg))
	}
	if needReason && reason == "" {
		return 0, "", usageErr(fmt.Errorf("say why with --reason"))
	}
	var corrected healing.Category
	if category != "" {
		if corrected, err = healing.ParseCategory(category); err != nil {
			return 0, "", usageErr(err)
		}
	}
	return id, corrected, nil
}

// whoDecides is --by, else $USER.
func whoDecides(by string) string {
	if by == "" {
		by = os.Getenv("USER")
	}
	if by == "" {
		by = "someone"
	}
	return by
}

// subjectKind names what a reverted action's strategy now waits on: the
// subject a stage repair recorded ("column day"), or the rule.
func subjectKind(params string) string {
	var p struct {
		Subject string `json:"subject"`
	}
	if json.Unmarshal([]byte(params), &p) == nil && p.Subject != "" {
		return p.Subject
	}
	return "rule"
}
