package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/service"
)

// The commands here are the REST API's reads and writes on the command
// line; both call the service layer.

// newPipelinesCmd is shp pipelines list|show.
func newPipelinesCmd(e *env) *cobra.Command {
	var dir, outFormat string
	cmd := &cobra.Command{Use: "pipelines", Short: "The project's pipelines: source, target, schedule, rules, quality score and last run"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the pipelines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(outFormat, "table", "json"); err != nil {
				return err
			}
			var ps []service.PipelineView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				ps, err = s.Pipelines(cmd.Context())
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, ps)
			}
			t := newTable(e.stdout, "PIPELINE", "STATUS", "SOURCE", "TARGET", "SCHEDULE", "RULES", "SCORE", "LAST RUN")
			for _, p := range ps {
				score, last := "-", "-"
				if p.Quality.Score != nil {
					score = fmt.Sprintf("%.1f", *p.Quality.Score)
				}
				if p.LastRun != nil {
					last = p.LastRun.ID + " " + p.LastRun.Status
				}
				t.row(p.Name, p.Status, p.Source.Name+" ("+p.Source.Type+")", p.Destination.Config["table"], orDash(p.Schedule), len(p.Quality.Rules), score, last)
			}
			t.flush()
			return nil
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "One pipeline, as the API's GET /pipelines/{id} shows it (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p service.PipelineView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				p, err = s.Pipeline(cmd.Context(), args[0])
				return err
			}); err != nil {
				return serviceErr(err)
			}
			return writeJSON(e.stdout, p)
		},
	}
	list.Flags().StringVar(&outFormat, "format", "table", "output format: table or json")
	cmd.PersistentFlags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.AddCommand(list, show)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// newQualityStoreCmds are shp quality rules, metrics and validations.
func newQualityStoreCmds(e *env) []*cobra.Command {
	var dir, pipeline, file, by, since, until, runID, outFormat string
	times := func() (time.Time, time.Time, error) {
		var s, u time.Time
		var err error
		if since != "" {
			if s, err = time.Parse(time.RFC3339, since); err != nil {
				return s, u, usageErr(fmt.Errorf("--since must be an RFC 3339 time: %w", err))
			}
		}
		if until != "" {
			if u, err = time.Parse(time.RFC3339, until); err != nil {
				return s, u, usageErr(fmt.Errorf("--until must be an RFC 3339 time: %w", err))
			}
		}
		return s, u, nil
	}
	rules := &cobra.Command{Use: "rules", Short: "A pipeline's quality rules: quality_rules.yaml's and the stored ones"}
	rulesList := &cobra.Command{
		Use:   "list --pipeline P",
		Short: "List a pipeline's rules (JSON)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rs []service.RuleView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				rs, err = s.Rules(cmd.Context(), pipeline)
				return err
			}); err != nil {
				return serviceErr(err)
			}
			return writeJSON(e.stdout, rs)
		},
	}
	rulesAdd := &cobra.Command{
		Use:   "add --pipeline P --file RULES.yaml",
		Short: "Check and store rules for a pipeline (a YAML or JSON rule or list of them, as in quality_rules.yaml, or a GE suite JSON)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := os.ReadFile(file)
			if err != nil {
				return usageErr(err)
			}
			// Python's json module writes NaN and the infinities as bare
			// tokens; read them in JSON, not in YAML, whose strings need
			// no quotes.
			if j, _ := quality.RewriteNonFinite(b); json.Valid(j) {
				b = j
			}
			var many []service.NewRule
			var probe map[string]any
			if json.Unmarshal(b, &probe) == nil && probe["expectations"] != nil {
				// A Great Expectations suite (JSON).
				suite, err := quality.ParseSuite(b, file)
				if err != nil {
					return usageErr(err)
				}
				many = service.RulesFromSuite(suite)
			} else if err := yaml.UnmarshalWithOptions(b, &many, yaml.Strict(), yaml.UseJSONUnmarshaler()); err != nil {
				var one service.NewRule
				if err1 := yaml.UnmarshalWithOptions(b, &one, yaml.Strict(), yaml.UseJSONUnmarshaler()); err1 != nil {
					return usageErr(fmt.Errorf("%s: not a rule or a list of rules: %w", file, err1))
				}
				many = []service.NewRule{one}
			}
			var added []service.RuleView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				added, err = s.AddRules(cmd.Context(), pipeline, many, whoDecides(by))
				return err
			}); err != nil {
				return serviceErr(err)
			}
			for _, r := range added {
				fmt.Fprintf(e.stdout, "rule #%d %s added to %s\n", r.ID, termSafe(r.Name), pipeline)
			}
			return nil
		},
	}
	rulesAdd.Flags().StringVar(&file, "file", "", "the rules, as YAML or JSON")
	rulesAdd.Flags().StringVar(&by, "by", "", "who adds them (default: $USER)")
	rules.AddCommand(rulesList, rulesAdd)

	metrics := &cobra.Command{
		Use:   "metrics [--pipeline P] [--since T] [--until T]",
		Short: "Quality scores and rule pass rates over time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(outFormat, "table", "json"); err != nil {
				return err
			}
			s, u, err := times()
			if err != nil {
				return err
			}
			var m service.QualityMetrics
			if err := withService(cmd.Context(), dir, func(svc *service.Service) (err error) {
				m, err = svc.QualityMetrics(cmd.Context(), pipeline, s, u)
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, m)
			}
			if m.Summary.MeanScore != nil {
				fmt.Fprintf(e.stdout, "%d runs, mean score %.1f, last %.1f\n", m.Summary.Runs, *m.Summary.MeanScore, *m.Summary.LastScore)
			}
			t := newTable(e.stdout, "PIPELINE", "RULE", "EVALUATED", "PASSED", "PASS RATE")
			for _, r := range m.Rules {
				t.row(r.Pipeline, r.Rule, r.Evaluated, r.Passed, fmt.Sprintf("%.1f%%", 100*r.PassRate))
			}
			t.flush()
			return nil
		},
	}
	metrics.Flags().StringVar(&outFormat, "format", "table", "output format: table or json")

	validations := &cobra.Command{
		Use:   "validations [--pipeline P] [--run ID]",
		Short: "Stored validation results, in Great Expectations' layout (JSON)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, u, err := times()
			if err != nil {
				return err
			}
			var all []service.Validation
			if err := withService(cmd.Context(), dir, func(svc *service.Service) error {
				q := service.ValidationQuery{Pipeline: pipeline, RunID: runID, Since: s, Until: u, PageRequest: service.PageRequest{PageSize: service.MaxPageSize}}
				for {
					page, err := svc.Validations(cmd.Context(), q)
					if err != nil {
						return err
					}
					all = append(all, page.Items...)
					if page.NextPageToken == "" {
						return nil
					}
					q.PageToken = page.NextPageToken
				}
			}); err != nil {
				return serviceErr(err)
			}
			if all == nil {
				all = []service.Validation{}
			}
			return writeJSON(e.stdout, all)
		},
	}
	validations.Flags().StringVar(&runID, "run", "", "one run's results")
	for _, c := range []*cobra.Command{rulesList, rulesAdd, metrics, validations} {
		c.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
		c.Flags().StringVarP(&pipeline, "pipeline", "p", "", "the pipeline")
	}
	for _, c := range []*cobra.Command{metrics, validations} {
		c.Flags().StringVar(&since, "since", "", "runs that started at or after this RFC 3339 time")
		c.Flags().StringVar(&until, "until", "", "runs that started before this RFC 3339 time")
	}
	return []*cobra.Command{rules, metrics, validations}
}

// newStrategiesCmd is shp healing strategies.
func newStrategiesCmd(e *env) *cobra.Command {
	var dir, outFormat string
	cmd := &cobra.Command{
		Use:   "strategies",
		Short: "The correction strategies and what the policy lets each do",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(outFormat, "table", "json"); err != nil {
				return err
			}
			p, err := loadProject(dir)
			if err != nil {
				return err
			}
			st, err := (&service.Service{Project: p}).Strategies()
			if err != nil {
				return usageErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, st)
			}
			t := newTable(e.stdout, "STRATEGY", "STAGE", "ACTS ALONE", "THRESHOLD")
			for _, s := range st {
				alone := "no"
				if s.AutoApproved {
					alone = "yes"
				}
				t.row(s.Name, s.Stage, alone, fmt.Sprintf("%.2f", s.Threshold))
			}
			t.flush()
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVar(&outFormat, "format", "table", "output format: table or json")
	return cmd
}
