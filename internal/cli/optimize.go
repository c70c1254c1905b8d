package cli

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/service"
)

// newOptimizeCmd is shp optimize: the optimisation layer.
func newOptimizeCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "optimize", Short: "Read how the warehouse's tables are queried, and propose, try, apply and revert layout changes"}
	var dir, outFormat, table string
	var since time.Duration
	addFlags := func(c *cobra.Command) {
		c.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
		c.Flags().StringVar(&outFormat, "format", "table", "output format: table or json")
	}
	sinceTime := func() time.Time {
		if since <= 0 {
			return time.Time{}
		}
		return time.Now().Add(-since)
	}
	checkFormat := func() error {
		if outFormat != "table" && outFormat != "json" {
			return usageErr(fmt.Errorf("--format must be table or json, not %q", outFormat))
		}
		return nil
	}

	analyze := &cobra.Command{
		Use:   "analyze [--since 720h]",
		Short: "Sum up the recorded queries by table: how often each column is filtered by range or equality, grouped, joined",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(); err != nil {
				return err
			}
			return withService(cmd.Context(), dir, func(svc *service.Service) error {
				work, err := svc.Workload(cmd.Context(), sinceTime())
				if err != nil {
					return serviceErr(err)
				}
				own, err := svc.OwnQueriesSince(cmd.Context(), sinceTime())
				if err != nil {
					return serviceErr(err)
				}
				if outFormat == "json" {
					return writeJSON(e.stdout, struct {
						Tables map[string]*optimize.Usage `json:"tables"`
						Own    []service.OwnQueries       `json:"shp_own"`
					}{work, own})
				}
				printWorkload(e, work)
				printOwn(e, own)
				return nil
			})
		},
	}
	addFlags(analyze)
	analyze.Flags().DurationVar(&since, "since", 0, "only the queries of this long ago (default: all recorded)")

	recommend := &cobra.Command{
		Use:   "recommend [--table T] [--since 720h]",
		Short: "Run the rules over the recorded queries, try each change on a copy with the slowest queries replayed, and record what gains",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(); err != nil {
				return err
			}
			var recs []service.OptimizationView
			err := withWarehouse(cmd.Context(), e, dir, func(svc *service.Service) (err error) {
				recs, err = svc.RecommendOptimizations(cmd.Context(), table, sinceTime())
				return err
			})
			if err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, recs)
			}
			if len(recs) == 0 {
				fmt.Fprintln(e.stdout, "nothing to recommend: no table is large enough and queried in a way a layout change would serve (shp optimize analyze shows how they are queried)")
				return nil
			}
			for _, r := range recs {
				printOptimization(e, r)
			}
			return nil
		},
	}
	addFlags(recommend)
	recommend.Flags().StringVar(&table, "table", "", "only this pipeline target")
	recommend.Flags().DurationVar(&since, "since", 0, "only the queries of this long ago (default: all recorded)")

	list := &cobra.Command{
		Use:   "list [--table T]",
		Short: "List the recorded layout changes: proposed, declined, applied, reverted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(); err != nil {
				return err
			}
			return withService(cmd.Context(), dir, func(svc *service.Service) error {
				os, err := svc.Optimizations(cmd.Context(), table)
				if err != nil {
					return serviceErr(err)
				}
				if outFormat == "json" {
					return writeJSON(e.stdout, os)
				}
				for _, o := range os {
					printOptimization(e, o)
				}
				return nil
			})
		},
	}
	addFlags(list)
	list.Flags().StringVar(&table, "table", "", "only this table")

	var by, reason string
	decide := func(use, short string, run func(svc *service.Service, cmd *cobra.Command, id int64) (service.OptimizationView, error)) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil {
					return usageErr(fmt.Errorf("optimization id %q is not a number", args[0]))
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
				o, err := run(svc.service(), cmd, id)
				if err != nil {
					return serviceErr(err)
				}
				printOptimization(e, o)
				return nil
			},
		}
		c.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
		c.Flags().StringVar(&by, "by", "", "who decides (default: $USER)")
		return c
	}
	apply := decide("apply ID", "Make a recorded change (the table as it was is kept for revert)",
		func(svc *service.Service, cmd *cobra.Command, id int64) (service.OptimizationView, error) {
			return svc.ApplyOptimization(cmd.Context(), id, by, reason)
		})
	revert := decide("revert ID --reason R", "Undo an applied change, saying why",
		func(svc *service.Service, cmd *cobra.Command, id int64) (service.OptimizationView, error) {
			if reason == "" {
				return service.OptimizationView{}, usageErr(fmt.Errorf("say why with --reason"))
			}
			return svc.RevertOptimization(cmd.Context(), id, by, reason)
		})
	revert.Flags().StringVar(&reason, "reason", "", "why")
	apply.Flags().StringVar(&reason, "reason", "", "why (optional)")
	var days int
	var pipelineName string
	cost := &cobra.Command{
		Use:   "cost [--days 30] [--pipeline P]",
		Short: "What each pipeline's runs cost by day: the warehouse's bill (bytes billed, priced) and the runs' time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(); err != nil {
				return err
			}
			return withService(cmd.Context(), dir, func(svc *service.Service) error {
				out, err := svc.CostByDay(cmd.Context(), days, pipelineName)
				if err != nil {
					return serviceErr(err)
				}
				if outFormat == "json" {
					return writeJSON(e.stdout, out)
				}
				printCost(e, out, svc.Project.Config.Optimization.PricePerTiB)
				return nil
			})
		},
	}
	addFlags(cost)
	cost.Flags().IntVar(&days, "days", 30, "the last this many days (UTC), today included")
	cost.Flags().StringVar(&pipelineName, "pipeline", "", "one pipeline only")
	pricing := &cobra.Command{
		Use:   "pricing [--days 30] [--pipeline P]",
		Short: "BigQuery on demand against capacity pricing: what the runs' slot usage would cost in a reservation (baseline, autoscaling)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(); err != nil {
				return err
			}
			return withService(cmd.Context(), dir, func(svc *service.Service) error {
				a, err := svc.CapacityAnalysis(cmd.Context(), days, pipelineName)
				if err != nil {
					return serviceErr(err)
				}
				if outFormat == "json" {
					return writeJSON(e.stdout, a)
				}
				printPricing(e, a)
				return nil
			})
		},
	}
	addFlags(pricing)
	pricing.Flags().IntVar(&days, "days", 30, "the last this many days (UTC), today included")
	pricing.Flags().StringVar(&pipelineName, "pipeline", "", "one pipeline only")
	importCmd := &cobra.Command{
		Use:   "import",
		Short: "Read the warehouse's own history of queries (PostgreSQL's pg_stat_statements) into the query history, replacing the last import",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withWarehouse(cmd.Context(), e, dir, func(svc *service.Service) error {
				shapes, calls, err := svc.ImportQueryHistory(cmd.Context())
				if err != nil {
					return serviceErr(err)
				}
				fmt.Fprintf(e.stdout, "imported %d query shapes (%d calls) from the warehouse's history\n", shapes, calls)
				return nil
			})
		},
	}
	importCmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.AddCommand(analyze, recommend, list, apply, revert, cost, pricing, importCmd)
	return cmd
}

// printCost writes the cost by day, with a total per pipeline.
func printCost(e *env, days []service.CostDay, price float64) {
	if len(days) == 0 {
		fmt.Fprintln(e.stdout, "no finished run in those days")
		return
	}
	t := newTable(e.stdout, "DAY", "PIPELINE", "RUNS", "RUN TIME", "JOBS", "PROCESSED", "BILLED", "SLOT-MS", "COST")
	row := func(day string, d service.CostDay) {
		t.row(day, d.Pipeline, d.Runs, time.Duration(d.RunSeconds*float64(time.Second)).Round(time.Millisecond), d.Jobs,
			humanBytes(d.BytesProcessed), humanBytes(d.BytesBilled), d.SlotMillis, fmt.Sprintf("$%.4f", d.USD))
	}
	totals := map[string]*service.CostDay{}
	var names []string
	for _, d := range days {
		row(d.Day, d)
		tot := totals[d.Pipeline]
		if tot == nil {
			tot = &service.CostDay{Pipeline: d.Pipeline}
			totals[d.Pipeline] = tot
			names = append(names, d.Pipeline)
		}
		tot.Add(d)
	}
	slices.Sort(names)
	for _, n := range names {
		row("total", *totals[n])
	}
	t.flush()
	if price > 0 {
		fmt.Fprintf(e.stdout, "priced at $%.2f per TiB billed (optimization.price_per_tib); a warehouse without a bill costs its runs' time\n", price)
	} else {
		fmt.Fprintln(e.stdout, "unpriced (optimization.price_per_tib is 0)")
	}
}

// printPricing writes the capacity analysis: the usage, the cost of each
// plan over the window and extrapolated to a month, the verdict and its
// caveats.
func printPricing(e *env, a optimize.CapacityAnalysis) {
	const stamp = "2006-01-02 15:04"
	fmt.Fprintf(e.stdout, "BigQuery on demand against capacity pricing, %s to %s UTC (%.1f days)\n",
		a.From.UTC().Format(stamp), a.To.UTC().Format(stamp), a.Hours/24)
	if a.Runs > 0 {
		fmt.Fprintf(e.stdout, "runs: %d with slot usage (%d without), %.1f slot-hours, %s billed\n",
			a.Runs, a.RunsWithoutSlots, float64(a.SlotMillis)/3.6e6, humanBytes(a.BytesBilled))
		fmt.Fprintf(e.stdout, "slots: %.1f on average, %.1f in the median hour, %.1f in the busiest hour, %.1f in the 95th percentile of runs\n",
			a.AvgSlots, a.MedianHourSlots, a.PeakHourSlots, a.P95RunSlots)
		month := func(x float64) string {
			if a.Month.Factor == 0 {
				return "-"
			}
			return fmt.Sprintf("$%.2f", x)
		}
		t := newTable(e.stdout, "PLAN", "BASELINE", "MAX SLOTS", "SLOT-HOURS", "COST", "MONTH (EXTRAPOLATED)")
		t.row(fmt.Sprintf("on demand ($%.2f per TiB billed)", a.Prices.PerTiB), "-", "-", "-", fmt.Sprintf("$%.2f", a.OnDemandUSD), month(a.Month.OnDemandUSD))
		for _, p := range []struct {
			name string
			plan optimize.CapacityPlan
			usd  float64
		}{{fmt.Sprintf("autoscale only ($%g per slot-hour)", a.Prices.SlotHour), a.Autoscale, a.Month.AutoscaleUSD},
			{"reservation with a baseline", a.Reservation, a.Month.ReservationUSD}} {
			if p.name == "reservation with a baseline" && a.Reservation.BaselineSlots == 0 {
				continue
			}
			t.row(p.name, p.plan.BaselineSlots, p.plan.MaxSlots, fmt.Sprintf("%.1f", p.plan.BaselineSlotHours+p.plan.AutoscaleSlotHours),
				fmt.Sprintf("$%.2f", p.plan.USD), month(p.usd))
		}
		t.flush()
	}
	fmt.Fprintln(e.stdout, a.Verdict)
	if saves, ok := map[string]string{optimize.PlanOnDemand: "staying on demand saves", optimize.PlanReservation: "the reservation saves",
		optimize.PlanAutoscale: "autoscaling alone saves"}[a.Recommended]; ok && a.Month.Factor > 0 {
		fmt.Fprintf(e.stdout, "over a 30-day month at the same usage (extrapolated): %s $%.2f\n", saves, a.Month.SavingUSD)
	}
	for _, n := range a.Notes {
		fmt.Fprintln(e.stdout, "note: "+n)
	}
	if a.Runs > 0 {
		fmt.Fprintln(e.stdout, "note: a run's slots are taken as spread evenly over its run time, so capacity costs are a floor "+
			"(the jobs' own timelines, INFORMATION_SCHEMA.JOBS_TIMELINE, would show their peaks)")
	}
}

// printWorkload writes each table's usage: its queries and the columns
// they filter, group and join on, most first.
func printWorkload(e *env, work map[string]*optimize.Usage) {
	if len(work) == 0 {
		fmt.Fprintln(e.stdout, "no query recorded yet (shp query records what it runs)")
		return
	}
	names := make([]string, 0, len(work))
	for n := range work {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		u := work[n]
		fmt.Fprintf(e.stdout, "%s: %d queries in %d shapes, %s in all; %d select every column\n", n, u.Queries, u.Shapes,
			u.Time.Round(time.Millisecond), u.SelectStar)
		if read := scanText(u.RowsScanned, u.BytesScanned, u.BytesBilled); read != "" {
			fmt.Fprintf(e.stdout, "  read: %s\n", read)
		}
		for _, part := range []struct {
			what string
			m    map[string]int64
		}{{"filtered by range", u.Range}, {"filtered by equality", u.Equality}, {"grouped by", u.GroupBy}, {"joined on", u.Join}} {
			if len(part.m) == 0 {
				continue
			}
			cols := make([]string, 0, len(part.m))
			for c := range part.m {
				cols = append(cols, c)
			}
			slices.SortFunc(cols, func(a, b string) int { return cmp.Or(cmp.Compare(part.m[b], part.m[a]), strings.Compare(a, b)) })
			var items []string
			for _, c := range cols {
				items = append(items, fmt.Sprintf("%s %.0f%%", c, u.Share(part.m[c])*100))
			}
			fmt.Fprintf(e.stdout, "  %s: %s\n", part.what, strings.Join(items, ", "))
		}
	}
}

// printOwn writes what shp's own statements took, by pipeline, with
// the slowest shapes.
func printOwn(e *env, own []service.OwnQueries) {
	if len(own) == 0 {
		return
	}
	fmt.Fprintln(e.stdout, "shp's own statements (loads, merges, validations, repairs), not counted above:")
	for _, o := range own {
		runs := "runs"
		if o.Runs == 1 {
			runs = "run"
		}
		line := fmt.Sprintf("  %s: %d statements in %d shapes over %d %s, %s in all", o.Pipeline, o.Statements, o.Shapes, o.Runs, runs,
			o.Time.Round(time.Millisecond))
		if o.BytesBilled > 0 {
			line += ", " + humanBytes(o.BytesBilled) + " billed"
		}
		if o.Errors > 0 {
			line += fmt.Sprintf(", %d failed", o.Errors)
		}
		fmt.Fprintln(e.stdout, line)
		for _, sh := range o.Top {
			fmt.Fprintf(e.stdout, "    %9s  %4dx  %s\n", sh.Time.Round(time.Millisecond), sh.Calls, clipQuery(sh.Example))
		}
	}
}

func printOptimization(e *env, o service.OptimizationView) {
	fmt.Fprintf(e.stdout, "#%d %s  %s: %s  (rule %s)\n", o.ID, o.Status, o.Table, o.Change, o.Rule)
	for _, ev := range o.Evidence {
		fmt.Fprintf(e.stdout, "   evidence: %s\n", ev)
	}
	if o.Trial != nil {
		fmt.Fprintf(e.stdout, "   tried:    %s\n", o.Trial.Why)
		for _, t := range o.Trial.Timings {
			if t.ErrorBefore != "" {
				continue
			}
			fmt.Fprintf(e.stdout, "             %8s -> %8s  %s\n", t.Before.Round(10*time.Microsecond), t.After.Round(10*time.Microsecond), firstLine(clipQuery(t.Query)))
			if t.RowsScannedBefore > 0 || t.BytesBefore > 0 {
				after := cmp.Or(scanText(t.RowsScannedAfter, t.BytesAfter, 0), "nothing")
				fmt.Fprintf(e.stdout, "             read %s -> %s\n", scanText(t.RowsScannedBefore, t.BytesBefore, 0), after)
			}
		}
	} else if o.Reason != "" {
		fmt.Fprintf(e.stdout, "   why:      %s\n", o.Reason)
	}
	if o.Benefit != "" {
		fmt.Fprintf(e.stdout, "   benefit:  %s\n   risk:     %s\n", o.Benefit, o.Risk)
	}
	switch o.Status {
	case service.OptAdvice:
		fmt.Fprintln(e.stdout, "   advice:   for the queries' owners; nothing to apply to the table")
	case service.OptProposed, service.OptDeclined:
		fmt.Fprintf(e.stdout, "   apply it: shp optimize apply %d\n", o.ID)
	case service.OptApplied:
		fmt.Fprintf(e.stdout, "   applied by %s; undo: shp optimize revert %d --reason R\n", o.DecidedBy, o.ID)
	case service.OptReverted:
		fmt.Fprintf(e.stdout, "   reverted by %s: %s\n", o.DecidedBy, o.Reason)
	}
}

// scanText says what queries read, in the figures the engine gave.
func scanText(rows, bytes, billed int64) string {
	var parts []string
	if rows > 0 {
		parts = append(parts, fmt.Sprintf("%d rows scanned", rows))
	}
	if bytes > 0 {
		parts = append(parts, humanBytes(bytes)+" read")
	}
	if billed > 0 {
		parts = append(parts, humanBytes(billed)+" billed")
	}
	return strings.Join(parts, ", ")
}

func clipQuery(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 100 {
		return q[:100] + "…"
	}
	return q
}
