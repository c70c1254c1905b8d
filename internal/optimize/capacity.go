package optimize

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// BigQuery capacity (editions) billing, as Google documents it: slots
// autoscale in multiples of 50, rounded up to the next 50, and stay
// (billed) for at least 60 seconds once scaled up; baseline slots are
// always allocated, so billed every second whether used or not
// (cloud.google.com/bigquery/docs/slots-autoscaling-intro,
// cloud.google.com/bigquery/docs/slots).
const (
	// SlotIncrement is the step of baseline and autoscaled slots.
	SlotIncrement = 50
	// MinSlotBilling is the least time autoscaled slots are billed for.
	MinSlotBilling = time.Minute
	// MonthHours is the month the analysis extrapolates to: 30 days.
	MonthHours = 30 * 24
)

// What Capacity recommends (CapacityAnalysis.Recommended).
const (
	// PlanOnDemand: keep paying per byte billed.
	PlanOnDemand = "on-demand"
	// PlanReservation: a reservation with baseline slots, autoscaling
	// above them.
	PlanReservation = "reservation"
	// PlanAutoscale: a reservation of autoscaled slots only (baseline 0).
	PlanAutoscale = "autoscale"
)

// Prices are what Capacity prices the two models at.
type Prices struct {
	// PerTiB is the on-demand price of a TiB billed, in dollars.
	PerTiB float64 `json:"per_tib_usd"`
	// SlotHour is the capacity price of a slot-hour, in dollars (the
	// edition's pay-as-you-go rate, for baseline and autoscaled slots
	// alike).
	SlotHour float64 `json:"slot_hour_usd"`
}

// RunUsage is what one run's warehouse jobs used, summed over the run.
type RunUsage struct {
	Pipeline string
	Start    time.Time
	// Duration is the run's wall time (0 when unknown).
	Duration time.Duration
	// SlotMillis are the jobs' slot-milliseconds; BytesBilled the bytes
	// they were billed on demand.
	SlotMillis  int64
	BytesBilled int64
}

// CapacityPlan is what a reservation would have cost over the window.
type CapacityPlan struct {
	// BaselineSlots are billed all the time; MaxSlots is the
	// reservation's largest size (BigQuery's autoscale.max_slots is
	// MaxSlots - BaselineSlots).
	BaselineSlots int64 `json:"baseline_slots"`
	MaxSlots      int64 `json:"max_slots"`
	// BaselineSlotHours and AutoscaleSlotHours are the slot-hours billed:
	// the baseline's over the whole window, the autoscaled ones above it.
	BaselineSlotHours  float64 `json:"baseline_slot_hours"`
	AutoscaleSlotHours float64 `json:"autoscale_slot_hours"`
	BaselineUSD        float64 `json:"baseline_usd"`
	AutoscaleUSD       float64 `json:"autoscale_usd"`
	// USD is the plan's cost: BaselineUSD + AutoscaleUSD.
	USD float64 `json:"usd"`
}

// PipelineSlots is one pipeline's share of the usage analysed.
type PipelineSlots struct {
	Pipeline string `json:"pipeline"`
	// Runs counts its runs with slot usage.
	Runs        int     `json:"runs"`
	SlotHours   float64 `json:"slot_hours"`
	BytesBilled int64   `json:"bytes_billed"`
	OnDemandUSD float64 `json:"on_demand_usd"`
}

// CapacityMonth is the analysis extrapolated to a 30-day month at the
// same usage: the window's figures times Factor. It is an estimate, not
// a record.
type CapacityMonth struct {
	// Factor is 720 hours over the window's hours (0 for an empty
	// window: nothing is extrapolated).
	Factor         float64 `json:"factor"`
	OnDemandUSD    float64 `json:"on_demand_usd"`
	AutoscaleUSD   float64 `json:"autoscale_usd"`
	ReservationUSD float64 `json:"reservation_usd"`
	SavingUSD      float64 `json:"saving_usd"`
}

// CapacityAnalysis weighs BigQuery's on-demand pricing against capacity
// (editions) pricing for the runs of a window (see Capacity).
type CapacityAnalysis struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Hours  float64   `json:"hours"`
	Prices Prices    `json:"prices"`
	// Runs counts the runs with slot usage; RunsWithoutSlots the others
	// (a warehouse without slots, or runs that ran no job).
	Runs             int   `json:"runs"`
	RunsWithoutSlots int   `json:"runs_without_slots"`
	SlotMillis       int64 `json:"slot_ms"`
	BytesBilled      int64 `json:"bytes_billed"`
	// AvgSlots is the slots in use on average over the window;
	// MedianHourSlots and PeakHourSlots the median and the highest of
	// HourlySlots; P95RunSlots the 95th percentile of the runs' average
	// slots.
	AvgSlots        float64 `json:"avg_slots"`
	MedianHourSlots float64 `json:"median_hour_slots"`
	PeakHourSlots   float64 `json:"peak_hour_slots"`
	P95RunSlots     float64 `json:"p95_run_slots"`
	// HourlySlots is the average slots in use in each hour of the
	// window, from From on (the last hour may be shorter).
	HourlySlots []float64 `json:"hourly_slots"`
	// ByPipeline is each pipeline's usage, most slot-hours first.
	ByPipeline []PipelineSlots `json:"by_pipeline"`
	// OnDemandUSD is the bytes billed priced per TiB.
	OnDemandUSD float64 `json:"on_demand_usd"`
	// Autoscale is a reservation of autoscaled slots only; Reservation
	// the suggested one, with a baseline (the same as Autoscale when the
	// baseline suggested is 0).
	Autoscale   CapacityPlan `json:"autoscale"`
	Reservation CapacityPlan `json:"reservation"`
	// Cheaper is "on-demand" or "capacity" ("" when there is nothing to
	// compare); Recommended is PlanOnDemand, PlanReservation or
	// PlanAutoscale (""); SavingUSD is what the recommendation saves
	// against the other model's cheapest plan.
	Cheaper     string  `json:"cheaper"`
	Recommended string  `json:"recommended"`
	SavingUSD   float64 `json:"saving_usd"`
	// Month is the window extrapolated to 30 days.
	Month CapacityMonth `json:"month_extrapolated"`
	// Verdict says in one line which is cheaper and by how much; Notes
	// are the caveats of this analysis.
	Verdict string   `json:"verdict"`
	Notes   []string `json:"notes"`
}

// Capacity weighs on-demand pricing (per TiB billed) against capacity
// pricing (slot-hours) for the runs of the window [from, to), from the
// totals each run recorded: its jobs' slot-milliseconds and bytes billed,
// and its wall time.
//
// The model, and what it assumes:
//   - A run's slot-milliseconds are spread evenly over its wall time: its
//     average slots are SlotMillis / duration. Its jobs' true timeline
//     (BigQuery's INFORMATION_SCHEMA.JOBS_TIMELINE, which the emulator
//     here lacks) peaks higher and idles between jobs, so capacity costs
//     are a floor; a run without a duration is taken as 1 minute long.
//   - Autoscaling follows the demand of the runs running at each moment
//     (their average slots summed), rounded up to a multiple of 50, and
//     holds each run's slots at least 1 minute (MinSlotBilling).
//     Scale-up delays and the autoscaler over-shooting are not modelled.
//   - The suggested baseline is the median of the hourly average slots,
//     rounded down to 50: the level most hours sustain. It is 0 when most
//     hours are idle, and with less than a day of history (a baseline is
//     billed around the clock). MaxSlots is the 95th percentile of the
//     runs' average slots rounded up to 50 (at least the baseline); the
//     costs do not cap demand at it (a capped run takes longer on the
//     same slot-seconds).
//   - Baseline and autoscaled slots cost the same (pay as you go): a
//     baseline never lowers this model's cost, it buys capacity that is
//     always there (and is what a commitment discount would apply to).
//   - On demand is bytes billed / 2^40 × PerTiB, with no free tier.
//   - The month is the window's figures scaled to 30 days.
func Capacity(runs []RunUsage, from, to time.Time, p Prices) CapacityAnalysis {
	a := CapacityAnalysis{From: from, To: to, Prices: p, HourlySlots: []float64{}, ByPipeline: []PipelineSlots{}, Notes: []string{}}
	window := max(to.Sub(from), 0)
	a.Hours = window.Hours()
	buckets := make([]float64, (window+time.Hour-1)/time.Hour) // slot-ms in each hour
	var spans []slotSpan
	var runSlots []float64
	pipes := map[string]*PipelineSlots{}
	guessed := 0
	for _, r := range runs {
		ps := pipes[r.Pipeline]
		if ps == nil {
			ps = &PipelineSlots{Pipeline: r.Pipeline}
			pipes[r.Pipeline] = ps
		}
		if r.BytesBilled > 0 {
			a.BytesBilled += r.BytesBilled
			ps.BytesBilled += r.BytesBilled
		}
		if r.SlotMillis <= 0 {
			a.RunsWithoutSlots++
			continue
		}
		a.Runs++
		a.SlotMillis += r.SlotMillis
		ps.Runs++
		ps.SlotHours += float64(r.SlotMillis) / capMsPerHour
		d := r.Duration
		if d <= 0 {
			d = MinSlotBilling
			guessed++
		}
		slots := float64(r.SlotMillis) / capMillis(d)
		runSlots = append(runSlots, slots)
		spans = append(spans, slotSpan{start: r.Start, end: r.Start.Add(max(d, MinSlotBilling)), slots: slots})
		capSpread(buckets, from, to, r.Start, d, float64(r.SlotMillis))
	}
	for _, ps := range pipes {
		ps.OnDemandUSD = capTiB(ps.BytesBilled) * p.PerTiB
		if ps.Runs > 0 || ps.BytesBilled > 0 {
			a.ByPipeline = append(a.ByPipeline, *ps)
		}
	}
	slices.SortFunc(a.ByPipeline, func(x, y PipelineSlots) int {
		return cmp.Or(cmp.Compare(y.SlotHours, x.SlotHours), cmp.Compare(y.BytesBilled, x.BytesBilled), strings.Compare(x.Pipeline, y.Pipeline))
	})
	a.OnDemandUSD = capTiB(a.BytesBilled) * p.PerTiB

	// The hourly profile.
	var inWindow float64
	for i, slotMs := range buckets {
		start := from.Add(time.Duration(i) * time.Hour)
		length := capMinTime(start.Add(time.Hour), to).Sub(start)
		a.HourlySlots = append(a.HourlySlots, slotMs/capMillis(length))
		inWindow += slotMs
	}
	if window > 0 {
		a.AvgSlots = inWindow / capMillis(window)
	}
	a.MedianHourSlots = capMedian(a.HourlySlots)
	if len(a.HourlySlots) > 0 {
		a.PeakHourSlots = slices.Max(a.HourlySlots)
	}
	a.P95RunSlots = capPercentile(runSlots, 0.95)

	if a.Runs == 0 {
		a.Verdict = "nothing to analyse: no run in the window recorded BigQuery slot usage (not a BigQuery warehouse, or no jobs recorded)"
		if a.RunsWithoutSlots > 0 {
			a.Notes = append(a.Notes, fmt.Sprintf("%s recorded no slot usage", capRuns(a.RunsWithoutSlots)))
		}
		return a
	}

	// The plans.
	var baseline int64
	switch {
	case window < 24*time.Hour:
		a.Notes = append(a.Notes, "less than a day of history: no baseline suggested (baseline slots are billed around the clock)")
	default:
		baseline = floorSlots(a.MedianHourSlots)
	}
	maxSlots := max(ceilSlots(a.P95RunSlots), baseline)
	auto, above := autoscaledSlotMillis(spans, float64(baseline))
	a.Autoscale = capPlan(0, maxSlots, 0, auto, p.SlotHour)
	a.Reservation = capPlan(baseline, maxSlots, float64(baseline)*a.Hours, above, p.SlotHour)

	if window > 0 {
		a.Month.Factor = MonthHours / a.Hours
	}
	switch {
	case window == 0:
		a.Notes = append(a.Notes, "the window is empty: nothing is extrapolated to a month")
	case window < time.Hour:
		a.Notes = append(a.Notes, "less than an hour of history: the month's figures are a rough guess")
	}
	if guessed > 0 {
		a.Notes = append(a.Notes, fmt.Sprintf("%s recorded no duration, taken as 1 minute", capRuns(guessed)))
	}
	if baseline > 0 {
		a.Notes = append(a.Notes, "baseline slots cost what autoscaled ones do (pay as you go) but are billed even when idle: "+
			"they pay off with a commitment discount, or to have the capacity without scaling up")
	}

	if p.PerTiB <= 0 || p.SlotHour <= 0 {
		a.Verdict = "cannot compare: the on-demand price per TiB and the slot-hour price must both be above 0"
		a.monthly()
		return a
	}
	capacity := min(a.Autoscale.USD, a.Reservation.USD)
	reservation := fmt.Sprintf("a reservation of %d baseline slots autoscaling to %d", baseline, maxSlots)
	autoscale := fmt.Sprintf("a reservation autoscaling from 0 to %d slots", maxSlots)
	switch {
	case a.OnDemandUSD <= capacity:
		a.Cheaper, a.Recommended, a.SavingUSD = "on-demand", PlanOnDemand, capacity-a.OnDemandUSD
		a.Verdict = fmt.Sprintf("on-demand is cheaper: %s for %s billed, against %s for %s (%s more); keep on-demand pricing",
			capUSD(a.OnDemandUSD), capBytes(a.BytesBilled), capUSD(a.Autoscale.USD), autoscale, capUSD(a.SavingUSD))
		if baseline > 0 {
			a.Verdict += fmt.Sprintf(", or %s for %s", capUSD(a.Reservation.USD), reservation)
		}
	case baseline > 0 && a.Reservation.USD < a.OnDemandUSD && a.Reservation.USD <= a.Autoscale.USD:
		// Only when the baseline costs no more than autoscaling alone
		// (a model where it always does leaves this to a commitment's
		// discount, which the price given may include).
		a.Cheaper, a.Recommended, a.SavingUSD = "capacity", PlanReservation, a.OnDemandUSD-a.Reservation.USD
		a.Verdict = fmt.Sprintf("capacity is cheaper: %s would cost %s against %s on demand (%s less); with no baseline, autoscaling alone would cost %s",
			reservation, capUSD(a.Reservation.USD), capUSD(a.OnDemandUSD), capUSD(a.SavingUSD), capUSD(a.Autoscale.USD))
	default:
		a.Cheaper, a.Recommended, a.SavingUSD = "capacity", PlanAutoscale, a.OnDemandUSD-a.Autoscale.USD
		a.Verdict = fmt.Sprintf("capacity is cheaper: %s would cost %s against %s on demand (%s less)",
			autoscale, capUSD(a.Autoscale.USD), capUSD(a.OnDemandUSD), capUSD(a.SavingUSD))
		if baseline > 0 {
			than := "more than on demand"
			if a.Reservation.USD < a.OnDemandUSD {
				than = "more than autoscaling alone"
			}
			a.Verdict += fmt.Sprintf("; a baseline of %d slots would bring it to %s, %s", baseline, capUSD(a.Reservation.USD), than)
		}
	}
	a.monthly()
	return a
}

// monthly extrapolates the window's costs to a month.
func (a *CapacityAnalysis) monthly() {
	f := a.Month.Factor
	a.Month.OnDemandUSD = a.OnDemandUSD * f
	a.Month.AutoscaleUSD = a.Autoscale.USD * f
	a.Month.ReservationUSD = a.Reservation.USD * f
	a.Month.SavingUSD = a.SavingUSD * f
}

const capMsPerHour = float64(time.Hour / time.Millisecond)

// capMillis is d in milliseconds, with their fractions.
func capMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// capTiB is bytes in TiB.
func capTiB(bytes int64) float64 { return float64(bytes) / (1 << 40) }

// capRuns is "1 run" or "n runs".
func capRuns(n int) string {
	if n == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs", n)
}

// capUSD writes dollars with cents.
func capUSD(x float64) string { return fmt.Sprintf("$%.2f", x) }

// capBytes writes bytes in TiB, or GiB under a tenth of a TiB.
func capBytes(bytes int64) string {
	if t := capTiB(bytes); t >= 0.1 {
		return fmt.Sprintf("%.1f TiB", t)
	}
	return fmt.Sprintf("%.1f GiB", float64(bytes)/(1<<30))
}

// slotSpan is a run's average slots, held from start to end.
type slotSpan struct {
	start, end time.Time
	slots      float64
}

// slotEpsilon absorbs the float error of sums of slots before rounding.
const slotEpsilon = 1e-6

// ceilSlots rounds slots up to a multiple of SlotIncrement.
func ceilSlots(slots float64) int64 {
	if slots <= slotEpsilon {
		return 0
	}
	return int64(math.Ceil((slots-slotEpsilon)/SlotIncrement)) * SlotIncrement
}

// floorSlots rounds slots down to a multiple of SlotIncrement.
func floorSlots(slots float64) int64 {
	if slots <= 0 {
		return 0
	}
	return int64(math.Floor((slots+slotEpsilon)/SlotIncrement)) * SlotIncrement
}

// autoscaledSlotMillis sweeps the spans in time order and sums the
// autoscaled slot-milliseconds: the demand of the spans open at each
// moment rounded up to 50, with no baseline (all) and above baseline
// (above).
func autoscaledSlotMillis(spans []slotSpan, baseline float64) (all, above float64) {
	type event struct {
		at    time.Time
		slots float64
		open  int
	}
	events := make([]event, 0, 2*len(spans))
	for _, s := range spans {
		events = append(events, event{s.start, s.slots, 1}, event{s.end, -s.slots, -1})
	}
	slices.SortFunc(events, func(x, y event) int { return x.at.Compare(y.at) })
	var demand float64
	open := 0
	for i := 0; i < len(events); {
		at := events[i].at
		for ; i < len(events) && events[i].at.Equal(at); i++ {
			demand += events[i].slots
			open += events[i].open
		}
		if open == 0 {
			demand = 0 // no float residue between runs
		}
		if i < len(events) {
			d := capMillis(events[i].at.Sub(at))
			all += float64(ceilSlots(demand)) * d
			above += float64(ceilSlots(demand-baseline)) * d
		}
	}
	return all, above
}

// capPlan prices a reservation's slot-hours.
func capPlan(baseline, maxSlots int64, baselineSlotHours, autoscaledSlotMs, price float64) CapacityPlan {
	c := CapacityPlan{BaselineSlots: baseline, MaxSlots: maxSlots, BaselineSlotHours: baselineSlotHours,
		AutoscaleSlotHours: autoscaledSlotMs / capMsPerHour}
	c.BaselineUSD = c.BaselineSlotHours * price
	c.AutoscaleUSD = c.AutoscaleSlotHours * price
	c.USD = c.BaselineUSD + c.AutoscaleUSD
	return c
}

// capSpread adds a run's slot-ms to the hours of [from, to) its wall time
// [start, start+d) covers, in proportion to the time in each.
func capSpread(buckets []float64, from, to, start time.Time, d time.Duration, slotMs float64) {
	end := start.Add(d)
	if len(buckets) == 0 || !end.After(from) || !start.Before(to) {
		return
	}
	first := max(int(start.Sub(from)/time.Hour), 0)
	for i := first; i < len(buckets); i++ {
		bs := from.Add(time.Duration(i) * time.Hour)
		if !bs.Before(end) {
			break
		}
		be := capMinTime(bs.Add(time.Hour), to)
		overlap := capMinTime(be, end).Sub(capMaxTime(bs, start))
		if overlap > 0 {
			buckets[i] += slotMs * capMillis(overlap) / capMillis(d)
		}
	}
}

func capMinTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func capMaxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// capMedian is the middle of xs (the mean of the two middle ones for an
// even count); 0 for none.
func capMedian(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// capPercentile is the nearest-rank q-th percentile of xs; 0 for none.
func capPercentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
