package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/lineage"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
)

func newRunCmd(e *env) *cobra.Command {
	var (
		dir, name, outFormat string
		fullRefresh          bool
		lease                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run pipelines: load new source objects into the warehouse",
		Long: `Run loads every object the source has that earlier runs did not, into the
pipeline's target table. Rows that cannot be loaded go to <target>__quarantine
with the reason. Without --pipeline every pipeline runs, in name order.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(outFormat, "text", "json"); err != nil {
				return err
			}
			p, err := loadProject(dir)
			if err != nil {
				return err
			}
			names := p.PipelineNames()
			if name != "" {
				if _, err := pipelineNamed(p, name); err != nil {
					return err
				}
				names = []string{name}
			}
			if done, err := forward(cmd.Context(), e, p, controlRequest{Op: "run", Pipelines: names, FullRefresh: fullRefresh, Format: outFormat}); done {
				return err
			}
			svc, err := openServices(cmd.Context(), p, what{store: true, warehouse: true, staging: true, log: e.logger()})
			if err != nil {
				return err
			}
			defer svc.close()
			runner, err := svc.runner(e, lease)
			if err != nil {
				return err
			}
			if !e.quiet && outFormat == "text" && isTerminal(e.stderr) {
				runner.OnProgress = progressPrinter(e.stderr)
			}
			var results []*pipeline.Result
			var failed []error
			for _, n := range names {
				res, err := runner.Run(cmd.Context(), n, pipeline.Options{FullRefresh: fullRefresh})
				results = append(results, res)
				if err != nil {
					failed = append(failed, fmt.Errorf("pipeline %s: %w", n, err))
				}
				if outFormat == "text" {
					printSummary(e.stdout, res, dir)
					if runner.Healer != nil && res != nil {
						printHealing(cmd.Context(), e.stdout, svc.store, res.RunID, dir)
					}
				}
			}
			if outFormat == "json" {
				if err := writeJSON(e.stdout, resultsJSON(results)); err != nil {
					return err
				}
			}
			if len(failed) > 0 {
				for _, f := range failed {
					if !errors.Is(f, pipeline.ErrHeld) {
						return failedErr(errors.Join(failed...))
					}
				}
				return &exitError{code: ExitHeld, err: errors.Join(failed...)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVarP(&name, "pipeline", "p", "", "run only this pipeline")
	cmd.Flags().BoolVar(&fullRefresh, "full-refresh", false, "re-read every object and rebuild the target")
	cmd.Flags().StringVar(&outFormat, "format", "text", "output format: text or json")
	cmd.Flags().DurationVar(&lease, "lease", metadata.DefaultLease, "how long a run may go without this process's heartbeat before other shp processes mark it abandoned (failed)")
	return cmd
}

// runner is the pipeline runner over the open components, as every
// command that runs pipelines uses it (shp run, and shp serve, trigger,
// backfill and task run through their orchestrator): the metadata store,
// the warehouse and the staging bucket, the self-healing engine
// self_healing.yaml asks for, lineage, and this process's name on its
// runs. A lease of 0 is metadata.DefaultLease.
func (s *services) runner(e *env, lease time.Duration) (*pipeline.Runner, error) {
	p := s.project
	healer, err := healerFor(e, p, s.store)
	if err != nil {
		return nil, err
	}
	return &pipeline.Runner{
		Project: p, Store: s.store, Warehouse: s.warehouse, Staging: s.staging, Logger: e.logger(),
		Healer:  healer,
		Lineage: lineage.New(p, s.store, os.Getenv(p.Config.Lineage.APIKeyEnv), e.logger()),
		Owner:   metadata.ProcessOwner(),
		Lease:   lease,
		Tracer:  e.tracing(context.Background(), p.Config.Project),
	}, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// progressPrinter redraws one status line on a terminal.
func progressPrinter(w io.Writer) func(pipeline.Progress) {
	return func(p pipeline.Progress) {
		rate := 0.0
		if s := p.Elapsed.Seconds(); s > 0 {
			rate = float64(p.Bytes) / s
		}
		line := fmt.Sprintf("%s [%d/%d] %s  %s  %s/s", p.Pipeline, p.Index, p.Total, p.Object, humanBytes(p.Bytes), humanBytes(int64(rate)))
		if p.Rows > 0 {
			line += fmt.Sprintf("  %d rows", p.Rows)
		}
		if p.Done {
			fmt.Fprintf(w, "\r\033[K%s  done in %s\n", line, p.Elapsed.Round(time.Millisecond))
			return
		}
		fmt.Fprintf(w, "\r\033[K%s", line)
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// printSummary tells a person what happened to every file and where the
// data is.
func printSummary(w io.Writer, r *pipeline.Result, dir string) {
	fmt.Fprintf(w, "pipeline %s  run %s  %s in %s\n", r.Pipeline, r.RunID, r.Status, r.Duration.Round(time.Millisecond))
	if len(r.Objects) > 0 {
		tw := newTable(w, "FILE", "ROWS IN", "LOADED", "QUARANTINED")
		for _, o := range r.Objects {
			tw.row(o.Key, o.RowsIn, o.Loaded, o.Quarantined)
		}
		tw.flush()
		for _, o := range r.Objects {
			if q := o.Quality; q != nil {
				line := fmt.Sprintf("  quality of %s: score %.1f, %d rule(s)", o.Key, q.Score, q.Evaluated)
				if len(q.Failed) > 0 {
					line += ", failed: " + strings.Join(q.Failed, ", ")
				}
				if q.Quarantined > 0 {
					line += fmt.Sprintf(", %d row(s) quarantined by rules", q.Quarantined)
				}
				fmt.Fprintln(w, termSafe(line))
			}
			for _, d := range o.Drift {
				fmt.Fprintf(w, "  schema drift in %s: %s\n", termSafe(o.Key), termSafe(fmt.Sprint(d)))
			}
			for _, s := range o.Samples {
				fmt.Fprintf(w, "  quarantined %s\n", termSafe(s.Describe(o.Key)))
			}
			if n := o.Quarantined - int64(len(o.Samples)); n > 0 {
				fmt.Fprintf(w, "  ... and %d more quarantined rows in %s\n", n, termSafe(o.Key))
			}
		}
	}
	if r.Skipped > 0 {
		fmt.Fprintf(w, "  %d file(s) already loaded by earlier runs were skipped (use --full-refresh to reload)\n", r.Skipped)
	}
	if len(r.Objects) == 0 && r.Err == nil {
		fmt.Fprintln(w, "  no new files")
		return
	}
	if !r.Committed {
		// Nothing reached the target or its quarantine: the accounting
		// of a commit that did not happen would only confuse.
		fmt.Fprintf(w, "  rows in %d: nothing was committed", r.RowsIn)
		if r.SetAside > 0 {
			fmt.Fprintf(w, "; %d row(s) set aside are kept with the run:  shp runs show %s --quarantine --config %s", r.SetAside, r.RunID, dir)
		}
		fmt.Fprintln(w)
		return
	}
	check := "ok"
	if !r.InvariantOK {
		check = "MISMATCH"
	}
	fmt.Fprintf(w, "  rows in %d = loaded %d + quarantined %d + de-duplicated %d  [%s]\n",
		r.RowsIn, r.Loaded, r.Quarantined, r.Deduplicated, check)
	if r.Err == nil && r.Target != "" {
		fmt.Fprintf(w, "  query it:  shp query --config %s \"SELECT count(*) FROM %s\"\n", dir, r.Target)
		if r.Quarantined > 0 {
			fmt.Fprintf(w, "  bad rows:  shp query --config %s \"SELECT source_object, line, reason FROM %s__quarantine\"\n", dir, r.Target)
		}
	}
}

// printHealing sums up what the self-healing engine did in a run.
func printHealing(ctx context.Context, w io.Writer, store metadata.Store, runID, dir string) {
	acts, err := store.ListActions(ctx, metadata.ActionFilter{RunID: runID, Limit: 1000})
	if err != nil || len(acts) == 0 {
		return
	}
	counts := map[string]int{}
	var order []string
	for _, a := range acts {
		if counts[a.Status] == 0 {
			order = append(order, a.Status)
		}
		counts[a.Status]++
	}
	sort.Strings(order)
	parts := make([]string, len(order))
	for i, st := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[st], st)
	}
	fmt.Fprintf(w, "  self-healing: %s  (shp healing actions --config %s --run %s)\n", strings.Join(parts, ", "), dir, runID)
}

type objectJSON struct {
	Key         string   `json:"key"`
	Format      string   `json:"format"`
	Bytes       int64    `json:"bytes"`
	RowsIn      int64    `json:"rows_in"`
	Loaded      int64    `json:"rows_loaded"`
	Staged      int64    `json:"rows_staged,omitempty"` // of a run that committed nothing
	Quarantined int64    `json:"rows_quarantined"`
	DuplicateOf string   `json:"duplicate_of,omitempty"`
	Drift       []string `json:"schema_drift,omitempty"`
	Quality     *float64 `json:"quality_score,omitempty"`
	FailedRules []string `json:"failed_rules,omitempty"`
}

type resultJSON struct {
	RunID        string       `json:"run_id"`
	Pipeline     string       `json:"pipeline"`
	Target       string       `json:"target"`
	Status       string       `json:"status"`
	Objects      []objectJSON `json:"objects"`
	Skipped      int          `json:"objects_skipped"`
	RowsIn       int64        `json:"rows_in"`
	Loaded       int64        `json:"rows_loaded"`
	Quarantined  int64        `json:"rows_quarantined"`
	Deduplicated int64        `json:"rows_deduplicated"`
	InvariantOK  bool         `json:"invariant_ok"`
	Committed    bool         `json:"committed"`
	SetAside     int64        `json:"rows_set_aside,omitempty"`
	DurationMS   int64        `json:"duration_ms"`
	Error        string       `json:"error,omitempty"`
}

func resultsJSON(rs []*pipeline.Result) []resultJSON {
	out := make([]resultJSON, 0, len(rs))
	for _, r := range rs {
		j := resultJSON{RunID: r.RunID, Pipeline: r.Pipeline, Target: r.Target, Status: r.Status, Skipped: r.Skipped,
			RowsIn: r.RowsIn, Loaded: r.Loaded, Quarantined: r.Quarantined, Deduplicated: r.Deduplicated,
			InvariantOK: r.InvariantOK, Committed: r.Committed, SetAside: r.SetAside, DurationMS: r.Duration.Milliseconds(), Objects: []objectJSON{}}
		for _, o := range r.Objects {
			oj := objectJSON{Key: o.Key, Format: string(o.Format), Bytes: o.Bytes,
				RowsIn: o.RowsIn, Loaded: o.Loaded, Staged: o.Staged, Quarantined: o.Quarantined, Drift: o.Drift, DuplicateOf: o.DuplicateOf}
			if o.Quality != nil {
				score := o.Quality.Score
				oj.Quality, oj.FailedRules = &score, o.Quality.Failed
			}
			j.Objects = append(j.Objects, oj)
		}
		if r.Err != nil {
			j.Error = r.Err.Error()
		}
		out = append(out, j)
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeJSONCompact(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
