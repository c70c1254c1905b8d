package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/metadata"
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
			svc, err := openStore(cmd.Context(), dir)
			if err != nil {
				return err
			}
			defer svc.close()
			runs, err := svc.store.ListRuns(cmd.Context(), metadata.RunFilter{Pipeline: name, Status: status, Limit: limit})
			if err != nil {
				return failedErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, runsJSON(runs))
			}
			t := newTable(e.stdout, "RUN", "PIPELINE", "STATUS", "STARTED", "DURATION", "IN", "LOADED", "QUARANTINED", "DEDUPLICATED", "CHECK", "ERROR")
			for _, r := range runs {
				dur := ""
				if !r.EndedAt.IsZero() {
					dur = r.EndedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
				}
				check := "ok"
				if !r.InvariantOK {
					check = "-"
				}
				t.row(r.ID, r.Pipeline, r.Status, r.StartedAt, dur, r.RowsIn, r.RowsLoaded, r.RowsQuarantined, r.RowsDeduplicated, check, firstLine(r.Error))
			}
			t.flush()
			return nil
		},
	}
	var showDir, showFormat string
	show := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "One run: its logical date, trigger, rows and its tasks with attempts, durations and errors",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(showFormat, "table", "json"); err != nil {
				return err
			}
			svc, err := openStore(cmd.Context(), showDir)
			if err != nil {
				return err
			}
			defer svc.close()
			return runsShow(cmd.Context(), e, svc.store, args[0], showFormat)
		},
	}
	show.Flags().StringVarP(&showDir, "config", "c", ".", "project config folder")
	show.Flags().StringVar(&showFormat, "format", "table", "output format: table or json")
	cmd.AddCommand(show)
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVarP(&name, "pipeline", "p", "", "only this pipeline's runs")
	cmd.Flags().StringVar(&status, "status", "", "only runs with this status (running, succeeded, failed)")
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "at most this many runs, newest first")
	cmd.Flags().StringVar(&outFormat, "format", "table", "output format: table or json")
	return cmd
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i] + " ..."
		}
	}
	return s
}

type runJSON struct {
	ID           string     `json:"id"`
	Pipeline     string     `json:"pipeline"`
	Status       string     `json:"status"`
	StartedAt    time.Time  `json:"started_at"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	RowsIn       int64      `json:"rows_in"`
	Loaded       int64      `json:"rows_loaded"`
	Quarantined  int64      `json:"rows_quarantined"`
	Deduplicated int64      `json:"rows_deduplicated"`
	Objects      int64      `json:"objects"`
	Bytes        int64      `json:"bytes"`
	InvariantOK  bool       `json:"invariant_ok"`
	FullRefresh  bool       `json:"full_refresh"`
	Error        string     `json:"error,omitempty"`
	LogicalDate  *time.Time `json:"logical_date,omitempty"`
	Trigger      string     `json:"trigger"`
	Attempt      int        `json:"attempt"`
	// Metrics are the batch's measures for anomaly detection.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

func runsJSON(runs []metadata.Run) []runJSON {
	out := make([]runJSON, 0, len(runs))
	for _, r := range runs {
		var logical *time.Time
		if !r.LogicalDate.IsZero() {
			l := r.LogicalDate.UTC()
			logical = &l
		}
		j := runJSON{LogicalDate: logical, ID: r.ID, Pipeline: r.Pipeline, Status: r.Status, StartedAt: r.StartedAt.UTC(), RowsIn: r.RowsIn,
			Trigger: r.Trigger, Attempt: r.Attempt,
			Loaded: r.RowsLoaded, Quarantined: r.RowsQuarantined, Deduplicated: r.RowsDeduplicated, Objects: r.Objects,
			Bytes: r.Bytes, InvariantOK: r.InvariantOK, FullRefresh: r.FullRefresh, Error: r.Error, Metrics: r.Metrics}
		if !r.EndedAt.IsZero() {
			t := r.EndedAt.UTC()
			j.EndedAt = &t
		}
		out = append(out, j)
	}
	return out
}
