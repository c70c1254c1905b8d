package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

func newRunsCmd(e *env) *cobra.Command {
	var dir, name, status, outFormat string
	var limit int
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List recent runs with their row accounting",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(outFormat, "table", "json"); err != nil {
				return err
			}
			if limit < 0 {
				return usageErr(fmt.Errorf("--limit must be 0 (all) or more, got %d", limit))
			}
			runs := []service.RunView{}
			if err := withService(cmd.Context(), dir, func(s *service.Service) error {
				q := service.RunQuery{Pipeline: name, Status: status, PageRequest: service.PageRequest{PageSize: service.MaxPageSize}}
				for {
					if limit > 0 {
						q.PageSize = min(service.MaxPageSize, limit-len(runs))
					}
					page, err := s.Runs(cmd.Context(), q)
					if err != nil {
						return err
					}
					runs = append(runs, page.Items...)
					if page.NextPageToken == "" || limit > 0 && len(runs) >= limit {
						return nil
					}
					q.PageToken = page.NextPageToken
				}
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, runs)
			}
			t := newTable(e.stdout, "RUN", "PIPELINE", "STATUS", "STARTED", "DURATION", "IN", "LOADED", "QUARANTINED", "DEDUPLICATED", "CHECK", "ERROR")
			for _, r := range runs {
				dur, started := "", ""
				if r.DurationSeconds != nil {
					dur = time.Duration(*r.DurationSeconds * float64(time.Second)).Round(time.Millisecond).String()
				}
				if r.StartedAt != nil {
					started = r.StartedAt.Format("2006-01-02 15:04:05")
				}
				check := "ok"
				if !r.InvariantOK {
					check = "-"
				}
				t.row(r.ID, r.Pipeline, r.Status, started, dur, r.RowsIn, r.RowsLoaded, r.RowsQuarantined, r.RowsDeduplicated, check, firstLine(r.Error))
			}
			t.flush()
			return nil
		},
	}
	var showDir, showFormat string
	var showQuarantine bool
	show := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "One run: its logical date, trigger, rows and its tasks with attempts, durations and errors",
		Long: "One run: its logical date, trigger, rows and its tasks with attempts, durations and errors.\n" +
			"With --quarantine, the rows the run set aside instead: those its commit wrote to the target's quarantine\n" +
			"(state committed) and those of a batch it did not commit, failed or held (state not committed).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(showFormat, "table", "json", "csv"); err != nil {
				return err
			}
			if showFormat == "csv" && !showQuarantine {
				return usageErr(fmt.Errorf("--format csv needs --quarantine"))
			}
			var d service.RunDetail
			if err := withService(cmd.Context(), showDir, func(s *service.Service) (err error) {
				d, err = s.Run(cmd.Context(), args[0])
				return err
			}); err != nil {
				if errors.Is(err, service.ErrNotFound) {
					return usageErr(fmt.Errorf("run %s is not on record", args[0]))
				}
				return serviceErr(err)
			}
			if showQuarantine {
				return runQuarantine(cmd.Context(), e, showDir, d, showFormat)
			}
			return runsShow(e, d, showFormat)
		},
	}
	show.Flags().BoolVar(&showQuarantine, "quarantine", false, "print the rows the run set aside, committed or not")
	show.Flags().StringVarP(&showDir, "config", "c", ".", "project config folder")
	show.Flags().StringVar(&showFormat, "format", "table", "output format: table or json (or csv with --quarantine)")
	cmd.AddCommand(show)
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVarP(&name, "pipeline", "p", "", "only this pipeline's runs")
	cmd.Flags().StringVar(&status, "status", "", "only runs with this status (running, succeeded, failed, held)")
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "at most this many runs, newest first")
	cmd.Flags().StringVar(&outFormat, "format", "table", "output format: table or json")
	return cmd
}

// runQuarantine prints the rows a run set aside: from the target's
// quarantine when its batch was committed, from the warehouse's
// set-aside table when it was not.
func runQuarantine(ctx context.Context, e *env, dir string, d service.RunDetail, outFormat string) error {
	p, err := loadProject(dir)
	if err != nil {
		return err
	}
	req := controlRequest{Op: "quarantine", RunID: d.ID, Format: outFormat}
	if pl, ok := p.Pipeline(d.Pipeline); ok && d.Status == metadata.StatusSucceeded && d.RowsQuarantined > 0 {
		req.Target = pl.Target
	}
	return readRows(ctx, e, p, req)
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i] + " ..."
		}
	}
	return s
}
