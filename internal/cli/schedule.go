package cli

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/monitor"
	"github.com/shp-dev/shp/internal/notify"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/scheduler"
	"github.com/shp-dev/shp/internal/service"
)

// orchestrator is a scheduler wired to the pipeline runner.
type orchestrator struct {
	svc    *services
	runner *pipeline.Runner
	sched  *scheduler.Scheduler
	runMu  sync.Mutex // one user of the warehouse at a time: a run or a query
	mu     sync.Mutex
	result map[string]*pipeline.Result // by pipeline and logical date
	// metrics are the pipeline metrics served on /metrics, in a registry
	// of their own.
	metrics    *monitor.Metrics
	metricsReg *prometheus.Registry
	// alerts evaluates monitoring.yaml's rules and notifies (shp serve
	// only).
	alerts *monitor.Engine
	params map[string]string
}

func resultKey(name string, logical time.Time) string {
	return name + "@" + logical.UTC().Format(time.RFC3339Nano)
}

// newOrchestrator opens the services and builds the scheduler. The
// embedded DuckDB warehouse takes one writer, so runs go one at a time.
// attemptRunID is the run id a job asked for; a retry of it gets one of
// its own, named after the first.
func attemptRunID(j scheduler.Job) string {
	if j.RunID == "" || j.Attempt <= 1 {
		return j.RunID
	}
	return fmt.Sprintf("%s-a%d", j.RunID, j.Attempt)
}

func newOrchestrator(ctx context.Context, e *env, p *config.Project) (*orchestrator, error) {
	svc, err := openServices(ctx, p, what{store: true, warehouse: true, staging: true, log: e.logger()})
	if err != nil {
		return nil, err
	}
	runner, err := svc.runner(e, 0)
	if err != nil {
		svc.close()
		return nil, err
	}
	o := &orchestrator{svc: svc, runner: runner, result: map[string]*pipeline.Result{}, metricsReg: prometheus.NewRegistry()}
	o.metrics = monitor.NewMetrics(o.metricsReg, svc.store, nil, e.logger())
	runner.Finished = func(_ context.Context, res *pipeline.Result) {
		o.metrics.ObserveRun(monitor.ReportOf(res))
		if o.alerts != nil {
			o.alerts.Poke() // a run's end is when its alerts change
		}
	}
	// The scheduler's claims and the runs it starts go by one name, this
	// process's.
	o.sched = &scheduler.Scheduler{
		Project: p, Store: svc.store, Owner: runner.Owner,
		MaxConcurrent: 1, Logger: e.logger(),
		// A run a dead process left running ends, for lineage, with a
		// FAIL event; sent aside, so that a slow endpoint holds no tick.
		OnAbandoned: func(r metadata.Run) { go runner.RunAbandoned(context.Background(), r) },
		Execute: func(ctx context.Context, j scheduler.Job) error {
			if j.Trigger == scheduler.TriggerScheduled && j.Attempt <= 1 {
				o.metrics.ObserveSchedulerLag(time.Since(j.Interval.End))
			}
			o.runMu.Lock()
			res, err := runner.Run(ctx, j.Pipeline, pipeline.Options{
				LogicalDate: j.Interval.Start, Trigger: j.Trigger, Attempt: j.Attempt, Params: j.Params, FullRefresh: j.FullRefresh,
				RunID: attemptRunID(j),
			})
			o.runMu.Unlock()
			if res != nil {
				o.mu.Lock()
				o.result[resultKey(j.Pipeline, j.Interval.Start)] = res
				o.mu.Unlock()
				if c, found, cerr := svc.store.GetClaim(ctx, j.Pipeline, j.Interval.Start); cerr == nil && found {
					c.RunID = res.RunID
					_ = svc.store.UpdateClaim(context.WithoutCancel(ctx), c)
				}
			}
			return err
		},
	}
	return o, nil
}

func newServeCmd(e *env) *cobra.Command {
	var dir string
	var grace, lease time.Duration
	var resume, alerts, ui bool
	var apiListen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the scheduler: every pipeline on its schedule, until SIGTERM",
		Long: `serve runs each scheduled pipeline when its interval ends (catchup: true runs every
missed interval), after the pipelines it depends_on succeeded for the same interval, with
retries and timeouts. On SIGTERM or Ctrl-C it starts nothing new and lets running runs finish
within --grace. Intervals are claimed in the metadata store: with PostgreSQL as the store,
several serve processes can run side by side without running an interval twice.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loadProject(dir)
			if err != nil {
				return err
			}
			o, err := newOrchestrator(cmd.Context(), e, p)
			if err != nil {
				return err
			}
			defer o.svc.close()
			o.sched.ResumeAbandoned = resume
			o.sched.LeaseTTL = lease
			o.runner.Lease = lease
			eng, err := monitor.NewEngine(p, o.svc.store, o.metrics, e.logger(), notify.Options{})
			if err != nil {
				return failedErr(err)
			}
			eng.Owner = o.runner.Owner
			// With an OTLP endpoint, the pipeline metrics go there too.
			stopMeter, err := monitor.Metering(cmd.Context(), e.getenv, o.metricsReg, p.Config.Project, Version)
			if err != nil {
				return failedErr(err)
			}
			defer func() {
				sctx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), 5*time.Second)
				defer cancel()
				_ = stopMeter(sctx)
			}()
			var optimizeSched *scheduler.Schedule
			if spec := p.Config.Optimization.Schedule; spec != "" && alerts {
				if optimizeSched, err = scheduler.ParseSchedule(spec, ""); err != nil {
					return failedErr(err)
				}
			}
			monitorCtx, stopMonitor := context.WithCancel(context.WithoutCancel(cmd.Context()))
			monitorDone := make(chan struct{})
			optimizeDone := make(chan struct{})
			if alerts {
				o.alerts = eng
				go func() {
					defer close(monitorDone)
					eng.Run(monitorCtx)
				}()
			} else {
				close(monitorDone)
			}
			// The optimisation rounds run in the process that evaluates
			// the alerts: one per metadata store.
			if spec := p.Config.Optimization.Schedule; optimizeSched != nil {
				sched := optimizeSched
				svc := o.svc.service()
				svc.Logger = e.logger()
				go func() {
					defer close(optimizeDone)
					recommendOnSchedule(monitorCtx, sched, scheduler.WallClock, e.logger(), func(ctx context.Context, since time.Time) ([]service.OptimizationView, error) {
						return svc.RecommendOptimizations(ctx, "", since)
					})
				}()
				fmt.Fprintf(e.stderr, "shp serve: optimisation rounds on %q (UTC), auto_apply %v\n", spec, p.Config.Optimization.AutoApply)
			} else {
				close(optimizeDone)
			}
			defer func() {
				// The engine stops before the store closes.
				stopMonitor()
				<-monitorDone
				<-optimizeDone
			}()
			var scheduled []string
			for _, name := range p.PipelineNames() {
				if pl, _ := p.Pipeline(name); pl.Schedule != "" {
					scheduled = append(scheduled, name+" ("+pl.Schedule+")")
				}
			}
			stopControl, err := serveControl(cmd.Context(), e, o, controlPath(p))
			if err != nil {
				return failedErr(err)
			}
			defer stopControl()
			if apiListen == "" {
				apiListen = p.Config.API.Listen
			}
			if apiListen != "" {
				srv, err := o.apiServer(cmd.Context(), e, ui)
				if err != nil {
					return failedErr(err)
				}
				stopAPI, bound, err := serveAPI(cmd.Context(), e, srv, apiListen)
				if err != nil {
					return failedErr(err)
				}
				defer stopAPI()
				scheme := "http"
				if p.Config.API.TLSCert != "" {
					scheme = "https"
				}
				fmt.Fprintf(e.stderr, "shp serve: REST API on %s://%s/api/v1 (contract: /api/v1/openapi.json)\n", scheme, bound)
				if ui {
					fmt.Fprintf(e.stderr, "shp serve: web UI on %s://%s/ (sign in with an API key: shp apikey create --name NAME --role operator)\n", scheme, browserHost(bound))
				}
			}
			if sub := p.Config.Events.Subscription; sub != "" {
				stopEvents, err := o.serveEvents(cmd.Context(), e, sub)
				if err != nil {
					return failedErr(err)
				}
				defer stopEvents()
				fmt.Fprintf(e.stderr, "shp serve: runs the pipelines whose objects arrive, as %s says\n", sub)
			}
			fmt.Fprintf(e.stderr, "shp serve: scheduling %s; shp run and shp query are handed to this server; stop with Ctrl-C\n", strings.Join(scheduled, ", "))
			err = o.sched.Serve(cmd.Context(), grace)
			fmt.Fprintln(e.stderr, "shp serve: stopped")
			return err
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().DurationVar(&grace, "grace", 30*time.Second, "how long running runs may take to finish after SIGTERM")
	cmd.Flags().DurationVar(&lease, "lease", metadata.DefaultLease, "how long a running interval, or run, may go without its process's heartbeat before it counts as abandoned (marked failed)")
	cmd.Flags().BoolVar(&resume, "resume-abandoned", false, "run again the intervals a dead scheduler left running (default: mark them failed)")
	cmd.Flags().BoolVar(&alerts, "alerts", true, "evaluate monitoring.yaml's alert rules and send notifications (one serve process per metadata store should)")
	cmd.Flags().BoolVar(&ui, "ui", true, "serve the web UI (the dashboards) at / beside the REST API")
	cmd.Flags().StringVar(&apiListen, "api-listen", "", "serve the REST API on this host:port (default: api.listen in config.yaml; none when both are empty)")
	return cmd
}

// parseDate reads 2026-01-02 or an RFC 3339 time.
func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", time.RFC3339, "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q: use 2026-01-02 or 2026-01-02T15:04:05Z", s)
}

func newBackfillCmd(e *env) *cobra.Command {
	var dir, name, from, to string
	var rerun bool
	cmd := &cobra.Command{
		Use:   "backfill --pipeline P --from DATE --to DATE",
		Short: "Run a pipeline once for each interval of its schedule whose logical date is in [from, to]",
		Long: `backfill runs the pipeline for every interval of its schedule (@daily when it has none)
whose logical date lies between --from and --to, oldest first; {{ds}} in the source's path,
query or parameters is each interval's date. Intervals that already succeeded are skipped
unless --rerun.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loadProject(dir)
			if err != nil {
				return err
			}
			pl, err := pipelineNamed(p, name)
			if err != nil {
				return err
			}
			start, err := parseDate(from)
			if err != nil {
				return usageErr(err)
			}
			end, err := parseDate(to)
			if err != nil {
				return usageErr(err)
			}
			if end.Before(start) {
				return usageErr(fmt.Errorf("--to %s is before --from %s", to, from))
			}
			spec := pl.Schedule
			if spec == "" {
				spec = "@daily"
			}
			sc, err := scheduler.ParseSchedule(spec, pl.Timezone)
			if err != nil {
				return usageErr(err)
			}
			intervals := sc.Between(start, end)
			if len(intervals) == 0 {
				return usageErr(fmt.Errorf("no interval of %q has its logical date between %s and %s", spec, from, to))
			}
			o, err := newOrchestrator(cmd.Context(), e, p)
			if err != nil {
				return err
			}
			defer o.svc.close()
			var jobs []scheduler.Job
			skipped := 0
			for _, iv := range intervals {
				c, found, err := o.svc.store.GetClaim(cmd.Context(), name, iv.Start)
				if err != nil {
					return failedErr(err)
				}
				if found && c.Status == metadata.StatusSucceeded && !rerun {
					skipped++
					continue
				}
				jobs = append(jobs, scheduler.Job{Pipeline: name, Interval: iv, Trigger: scheduler.TriggerBackfill})
			}
			return o.runAll(cmd.Context(), e, jobs, skipped)
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVarP(&name, "pipeline", "p", "", "the pipeline to backfill")
	cmd.Flags().StringVar(&from, "from", "", "first logical date (2026-01-02 or RFC 3339)")
	cmd.Flags().StringVar(&to, "to", "", "last logical date")
	cmd.Flags().BoolVar(&rerun, "rerun", false, "run intervals that already succeeded again")
	_ = cmd.MarkFlagRequired("pipeline")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// runAll runs jobs through the scheduler, waits for them and for the
// runs they start (their dependents), and prints one line per interval.
func (o *orchestrator) runAll(ctx context.Context, e *env, jobs []scheduler.Job, skipped int) error {
	if err := o.waitJobs(ctx, jobs); err != nil {
		return err
	}
	o.sched.Wait()
	failed := 0
	t := newTable(e.stdout, "PIPELINE", "LOGICAL DATE", "STATUS", "RUN", "IN", "LOADED", "ERROR")
	for _, j := range jobs {
		c, _, err := o.svc.store.GetClaim(ctx, j.Pipeline, j.Interval.Start)
		if err != nil {
			return failedErr(err)
		}
		o.mu.Lock()
		res := o.result[resultKey(j.Pipeline, j.Interval.Start)]
		o.mu.Unlock()
		var in, loaded int64
		msg := ""
		if res != nil {
			in, loaded = res.RowsIn, res.Loaded
			if res.Err != nil {
				msg = firstLine(res.Err.Error())
			}
		}
		if c.Status != metadata.StatusSucceeded {
			failed++
		}
		t.row(j.Pipeline, j.Interval.Start.UTC().Format(time.RFC3339), c.Status, c.RunID, in, loaded, msg)
	}
	t.flush()
	if skipped > 0 {
		fmt.Fprintf(e.stdout, "%d interval(s) already succeeded, skipped (--rerun runs them again)\n", skipped)
	}
	if failed > 0 {
		return failedErr(fmt.Errorf("%d of %d interval(s) did not succeed", failed, len(jobs)))
	}
	return nil
}

func newTriggerCmd(e *env) *cobra.Command {
	var dir, date string
	var params []string
	cmd := &cobra.Command{
		Use:   "trigger PIPELINE",
		Short: "Run a pipeline now, for a logical date (now by default), with parameters, and the pipelines that depend on it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(dir)
			if err != nil {
				return err
			}
			if _, err := pipelineNamed(p, args[0]); err != nil {
				return err
			}
			logical := time.Now().UTC().Truncate(time.Second)
			if date != "" {
				if logical, err = parseDate(date); err != nil {
					return usageErr(err)
				}
			}
			kv := map[string]string{}
			for _, prm := range params {
				k, v, ok := strings.Cut(prm, "=")
				if !ok || k == "" {
					return usageErr(fmt.Errorf("--param %q: want KEY=VALUE", prm))
				}
				kv[k] = v
			}
			// The parameters are checked as the run will read them, so
			// that a bad one stops here, before anything runs.
			if pl, ok := p.Pipeline(args[0]); ok {
				if src, ok := p.Source(pl.Source); ok {
					if _, err := src.Templated(logical, kv, true); err != nil {
						return usageErr(err)
					}
				}
			}
			o, err := newOrchestrator(cmd.Context(), e, p)
			if err != nil {
				return err
			}
			defer o.svc.close()
			job := scheduler.Job{Pipeline: args[0], Interval: scheduler.Interval{Start: logical, End: logical}, Trigger: scheduler.TriggerManual, Params: kv}
			return o.runAll(cmd.Context(), e, []scheduler.Job{job}, 0)
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().StringVar(&date, "logical-date", "", "the logical date ({{ds}}); now when empty")
	cmd.Flags().StringArrayVar(&params, "param", nil, "KEY=VALUE, as {{params.KEY}} in the source's settings, of the type the source declares (repeatable)")
	return cmd
}

func newPauseCmd(e *env, pause bool) *cobra.Command {
	var dir string
	use, short := "pause PIPELINE", "Stop scheduling a pipeline (runs in progress finish)"
	if !pause {
		use, short = "unpause PIPELINE", "Schedule a paused pipeline again"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject(dir)
			if err != nil {
				return err
			}
			if _, err := pipelineNamed(p, args[0]); err != nil {
				return err
			}
			svc, err := openServices(cmd.Context(), p, what{store: true})
			if err != nil {
				return err
			}
			defer svc.close()
			if err := svc.store.SetPaused(cmd.Context(), args[0], pause); err != nil {
				return failedErr(err)
			}
			state := "paused"
			if !pause {
				state = "scheduled again"
			}
			fmt.Fprintf(e.stdout, "pipeline %s %s\n", args[0], state)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	return cmd
}

// runsShow prints one run with its tasks and attempts.
func runsShow(e *env, d service.RunDetail, outFormat string) error {
	if outFormat == "json" {
		return writeJSON(e.stdout, d)
	}
	fmt.Fprintf(e.stdout, "run %s  pipeline %s  %s  trigger %s  attempt %d\n", d.ID, d.Pipeline, d.Status, d.Trigger, d.Attempt)
	if d.LogicalDate != nil {
		fmt.Fprintf(e.stdout, "  logical date %s\n", d.LogicalDate.Format(time.RFC3339))
	}
	fmt.Fprintf(e.stdout, "  rows in %d = loaded %d + quarantined %d + de-duplicated %d\n", d.RowsIn, d.RowsLoaded, d.RowsQuarantined, d.RowsDeduplicated)
	if c := d.Warehouse; c != nil {
		fmt.Fprintf(e.stdout, "  warehouse: %d jobs, %s processed, %s billed, %d slot-ms\n",
			c.Jobs, humanBytes(c.BytesProcessed), humanBytes(c.BytesBilled), c.SlotMillis)
	}
	if d.Error != "" {
		fmt.Fprintf(e.stdout, "  error: %s\n", termSafe(d.Error))
	}
	t := newTable(e.stdout, "TASK", "ATTEMPT", "STATUS", "DURATION", "IN", "LOADED", "QUARANTINED", "ERROR")
	for _, task := range d.Tasks {
		dur := ""
		if task.StartedAt != nil && task.EndedAt != nil {
			dur = task.EndedAt.Sub(*task.StartedAt).Round(time.Millisecond).String()
		}
		t.row(task.Task, task.Attempt, task.Status, dur, task.RowsIn, task.RowsLoaded, task.RowsQuarantined, firstLine(task.Error))
	}
	t.flush()
	return nil
}
