package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/healing"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// newResolveCmd is shp healing resolve ID --choose C: a person's way
// forward for an escalated action, one of the options it offers (the
// layout of an ambiguous date column). The strategy follows the choice on
// the same column from the next run, and the choice teaches the
// diagnosis.
func newResolveCmd(e *env) *cobra.Command {
	var dir, by, reason, choice string
	cmd := &cobra.Command{
		Use:   "resolve ID --choose OPTION --reason R",
		Short: "Resolve an escalated action with one of the options it offers (e.g. a date column's layout)",
		Long: `Resolve records a person's choice on an escalated action. An ambiguous date
column (03/04/2026 reads as 3 April and as March 4) offers its candidate
layouts: choose one by its layout ("%d/%m/%Y") or its name ("day/month/year").
From the next run the column is read with it, and rows that do not fit it
stay set aside. A choice the action does not offer is refused, and so is
resolving an escalation that offers no options (the message says what to do
instead). See the options with: shp healing actions --status escalated --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _, err := decisionArgs(args[0], reason, "", true)
			if err != nil {
				return err
			}
			if choice == "" {
				return usageErr(fmt.Errorf("say what you choose with --choose (one of the options the action offers)"))
			}
			svc, err := openStore(cmd.Context(), dir)
			if err != nil {
				return err
			}
			defer svc.close()
			by = whoDecides(by)
			s := svc.service()
			a, err := s.Resolve(cmd.Context(), service.Resolution{ActionID: id, Choice: choice, By: by, Reason: reason})
			if err != nil {
				return serviceErr(err)
			}
			var p struct {
				Subject string           `json:"subject"`
				Choice  string           `json:"choice"`
				Options []healing.Option `json:"options"`
			}
			_ = json.Unmarshal(a.Params, &p)
			chosen := p.Choice
			for _, o := range p.Options {
				if o.Choice == p.Choice && o.Name != "" {
					chosen = fmt.Sprintf("%s (%s)", o.Name, o.Choice)
				}
			}
			fmt.Fprintf(e.stdout, "action #%d resolved by %s: %s\n", id, by, chosen)
			fmt.Fprintf(e.stdout, "%s follows it on %s of pipeline %s from the next run (shp run, shp trigger or shp backfill --rerun)\n",
				a.Strategy, p.Subject, a.Pipeline)
			if run, err := s.Store.GetRun(cmd.Context(), a.RunID); err == nil && run.Status == metadata.StatusSucceeded {
				target := a.Pipeline
				if pl, ok := s.Project.Pipeline(a.Pipeline); ok {
					target = pl.Target
				}
				fmt.Fprintf(e.stdout, "run %s committed its other rows: the rows it set aside stay in %s__quarantine; "+
					"shp run --full-refresh reloads its files with the choice\n", run.ID, target)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVar(&choice, "choose", "", "the option chosen: a layout such as %d/%m/%Y, or its name such as day/month/year")
	cmd.Flags().StringVar(&by, "by", "", "who resolves (default: $USER)")
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	return cmd
}
