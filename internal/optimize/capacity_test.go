package optimize

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// TestCapacity: on demand against capacity pricing, worked by hand for
// each workload (prices: $6.25 per TiB, $0.04 per slot-hour).
func TestCapacity(t *testing.T) {
	prices := Prices{PerTiB: 6.25, SlotHour: 0.04}
	day0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const slotHour = int64(time.Hour / time.Millisecond) // slot-ms of one slot for an hour
	run := func(p string, at time.Time, d time.Duration, slotMs, billed int64) RunUsage {
		return RunUsage{Pipeline: p, Start: at, Duration: d, SlotMillis: slotMs, BytesBilled: billed}
	}
	// Steady: a run every hour of two days, taking the hour, on 120
	// slots in the even hours and 220 in the odd ones, 2 TiB billed each.
	var steady []RunUsage
	for h := range 48 {
		slots, p := int64(120), "hourly"
		if h%2 == 1 {
			slots, p = 220, "odd"
		}
		steady = append(steady, run(p, day0.Add(time.Duration(h)*time.Hour), time.Hour, slots*slotHour, 2<<40))
	}

	// Half-hourly: a run each hour of two days, on 200 slots for its
	// first half hour, 2 TiB billed each.
	var halves []RunUsage
	for h := range 48 {
		halves = append(halves, run("halves", day0.Add(time.Duration(h)*time.Hour), 30*time.Minute, 100*slotHour, 2<<40))
	}

	for _, tc := range []struct {
		name     string
		runs     []RunUsage
		from, to time.Time
		prices   Prices

		runs0, without        int
		onDemand              float64
		autoscale, reservaton float64 // USD
		autoscaleSlotHours    float64
		baseline, maxSlots    int64
		cheaper, recommended  string
		saving, factor        float64
		hourly                map[int]float64 // some hours' average slots
		verdict               []string        // what the verdict says, in order
		notes                 []string        // notes that start so
	}{{
		// Median hour (120+220)/2 = 170 → baseline 150; p95 run 220 → 250.
		// Autoscale: 24h × 150 + 24h × 250 = 9600 slot-hours = $384.
		// Reservation: 150 × 48h = 7200 ($288) + above it 24h × 0 +
		// 24h × ceil50(70) = 100 → 2400 ($96) = $384. On demand: 96 TiB =
		// $600: the reservation saves $216.
		name: "steady heavy usage: a reservation with a baseline", runs: steady, from: day0, to: day0.Add(48 * time.Hour), prices: prices,
		runs0: 48, onDemand: 600, autoscale: 384, reservaton: 384, autoscaleSlotHours: 9600, baseline: 150, maxSlots: 250,
		cheaper: "capacity", recommended: PlanReservation, saving: 216, factor: 15,
		hourly:  map[int]float64{0: 120, 1: 220, 47: 220},
		verdict: []string{"capacity is cheaper: a reservation of 150 baseline slots autoscaling to 250 would cost $384.00 against $600.00 on demand ($216.00 less)", "autoscaling alone would cost $384.00"},
		notes:   []string{"baseline slots cost what autoscaled ones do"},
	}, {
		// Every hour averages 100 slots → baseline 100; runs 200 → 200.
		// Autoscale: 48 × 200 × 0.5h = 4800 slot-hours = $192. The
		// reservation: 100 × 48h ($192) + 48 × 100 × 0.5h above it ($96)
		// = $288, below on demand ($600) but above autoscaling alone:
		// autoscaling is recommended, not the dearer plan.
		name: "a baseline that costs more than autoscaling alone", runs: halves, from: day0, to: day0.Add(48 * time.Hour), prices: prices,
		runs0: 48, onDemand: 600, autoscale: 192, reservaton: 288, autoscaleSlotHours: 4800, baseline: 100, maxSlots: 200,
		cheaper: "capacity", recommended: PlanAutoscale, saving: 408, factor: 15,
		hourly: map[int]float64{0: 100, 47: 100},
		verdict: []string{"capacity is cheaper: a reservation autoscaling from 0 to 200 slots would cost $192.00 against $600.00 on demand ($408.00 less)",
			"a baseline of 100 slots would bring it to $288.00, more than autoscaling alone"},
	}, {
		// Three 6-minute runs on 1000 slots in 30 days, 0.5 TiB each:
		// 3 × 1000 × 0.1h = 300 slot-hours = $12 against 1.5 TiB = $9.375.
		name: "bursty rare usage: on demand, no baseline",
		runs: []RunUsage{
			run("nightly", day0.Add(58*time.Hour), 6*time.Minute, 1000*slotHour/10, 1<<39),
			run("nightly", day0.Add(11*24*time.Hour), 6*time.Minute, 1000*slotHour/10, 1<<39),
			run("nightly", day0.Add(24*24*time.Hour), 6*time.Minute, 1000*slotHour/10, 1<<39),
		},
		from: day0, to: day0.Add(MonthHours * time.Hour), prices: prices,
		runs0: 3, onDemand: 9.375, autoscale: 12, reservaton: 12, autoscaleSlotHours: 300, baseline: 0, maxSlots: 1000,
		cheaper: "on-demand", recommended: PlanOnDemand, saving: 2.625, factor: 1,
		hourly:  map[int]float64{57: 0, 58: 100, 59: 0},
		verdict: []string{"on-demand is cheaper: $9.38 for 1.5 TiB billed, against $12.00 for a reservation autoscaling from 0 to 1000 slots", "keep on-demand pricing"},
	}, {
		name: "no slot data: nothing to analyse",
		runs: []RunUsage{run("local", day0, time.Minute, 0, 0), run("local", day0.Add(time.Hour), time.Minute, 0, 0)},
		from: day0, to: day0.Add(48 * time.Hour), prices: prices, without: 2,
		verdict: []string{"nothing to analyse: no run in the window recorded BigQuery slot usage (not a BigQuery warehouse, or no jobs recorded)"},
		notes:   []string{"2 runs recorded no slot usage"},
	}, {
		name: "no runs", from: day0, to: day0.Add(48 * time.Hour), prices: prices,
		verdict: []string{"nothing to analyse"},
	}, {
		// 101 slots on average for 10 minutes: 150 slots × 1/6 h = 25
		// slot-hours = $1, against 1 TiB = $6.25.
		name: "average slots are rounded up to 50",
		runs: []RunUsage{run("p", day0.Add(time.Hour), 10*time.Minute, 101*slotHour/6, 1<<40)},
		from: day0, to: day0.Add(48 * time.Hour), prices: prices,
		runs0: 1, onDemand: 6.25, autoscale: 1, reservaton: 1, autoscaleSlotHours: 25, maxSlots: 150,
		cheaper: "capacity", recommended: PlanAutoscale, saving: 5.25, factor: 15,
		verdict: []string{"capacity is cheaper: a reservation autoscaling from 0 to 150 slots would cost $1.00 against $6.25 on demand ($5.25 less)"},
	}, {
		// Exactly 50 slots stays 50: 50 slot-hours = $2.
		name: "a multiple of 50 stays",
		runs: []RunUsage{run("p", day0, time.Hour, 50*slotHour, 1<<40)},
		from: day0, to: day0.Add(48 * time.Hour), prices: prices,
		runs0: 1, onDemand: 6.25, autoscale: 2, reservaton: 2, autoscaleSlotHours: 50, maxSlots: 50,
		cheaper: "capacity", recommended: PlanAutoscale, saving: 4.25, factor: 15, hourly: map[int]float64{0: 50, 1: 0},
	}, {
		// 10 s on 50 slots, and a run of 3,000,000 slot-ms with no
		// duration (taken as 1 minute: 50 slots): each billed 50 slots
		// for a minute, 2 × 50/60 slot-hours = $0.0667.
		name: "the 1-minute minimum, and runs without a duration",
		runs: []RunUsage{
			run("p", day0.Add(time.Hour), 10*time.Second, 500_000, 10<<30),
			run("p", day0.Add(2*time.Hour), 0, 3_000_000, 10<<30),
		},
		from: day0, to: day0.Add(48 * time.Hour), prices: prices,
		runs0: 2, onDemand: 20.0 / 1024 * 6.25, autoscale: 100.0 / 60 * 0.04, reservaton: 100.0 / 60 * 0.04, autoscaleSlotHours: 100.0 / 60,
		maxSlots: 50, cheaper: "capacity", recommended: PlanAutoscale, saving: 20.0/1024*6.25 - 100.0/60*0.04, factor: 15,
		hourly: map[int]float64{1: 500_000.0 / float64(slotHour), 2: 3_000_000.0 / float64(slotHour)},
		notes:  []string{"1 run recorded no duration, taken as 1 minute"},
	}, {
		// Two runs at once on 20 slots each share one step of 50: 50
		// slot-hours ($2), not 2 × 50. A run across the hour is spread
		// over both: 30 minutes of 100 slots in each.
		name: "runs at once share the autoscaled slots",
		runs: []RunUsage{
			run("a", day0.Add(5*time.Hour), time.Hour, 20*slotHour, 1<<40),
			run("b", day0.Add(5*time.Hour), time.Hour, 20*slotHour, 1<<40),
			run("c", day0.Add(9*time.Hour+30*time.Minute), time.Hour, 100*slotHour, 1<<40),
		},
		from: day0, to: day0.Add(48 * time.Hour), prices: prices,
		runs0: 3, onDemand: 18.75, autoscale: 6, reservaton: 6, autoscaleSlotHours: 150, maxSlots: 100,
		cheaper: "capacity", recommended: PlanAutoscale, saving: 12.75, factor: 15,
		hourly: map[int]float64{5: 40, 9: 50, 10: 50, 11: 0},
	}, {
		// Half an hour of history: one bucket, 10 minutes of 300 slots =
		// 100 on average; 300 × 1/6 h = 50 slot-hours ($2); no baseline;
		// the month is 1440 times the window.
		name: "a window of less than an hour",
		runs: []RunUsage{run("p", day0.Add(12*time.Hour+5*time.Minute), 10*time.Minute, 300*slotHour/6, 1<<40)},
		from: day0.Add(12 * time.Hour), to: day0.Add(12*time.Hour + 30*time.Minute), prices: prices,
		runs0: 1, onDemand: 6.25, autoscale: 2, reservaton: 2, autoscaleSlotHours: 50, maxSlots: 300,
		cheaper: "capacity", recommended: PlanAutoscale, saving: 4.25, factor: 1440, hourly: map[int]float64{0: 100},
		notes: []string{"less than a day of history: no baseline suggested", "less than an hour of history"},
	}, {
		name: "unpriced",
		runs: []RunUsage{run("p", day0, time.Hour, 50*slotHour, 1<<40)},
		from: day0, to: day0.Add(48 * time.Hour), prices: Prices{SlotHour: 0.04},
		runs0: 1, autoscale: 2, reservaton: 2, autoscaleSlotHours: 50, maxSlots: 50, factor: 15,
		verdict: []string{"cannot compare: the on-demand price per TiB and the slot-hour price must both be above 0"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			a := Capacity(tc.runs, tc.from, tc.to, tc.prices)
			t.Logf("verdict: %s; notes: %q", a.Verdict, a.Notes)
			near := func(what string, got, want float64) {
				t.Helper()
				if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			if a.Runs != tc.runs0 || a.RunsWithoutSlots != tc.without {
				t.Errorf("runs %d without slots %d, want %d and %d", a.Runs, a.RunsWithoutSlots, tc.runs0, tc.without)
			}
			near("on demand", a.OnDemandUSD, tc.onDemand)
			near("autoscale", a.Autoscale.USD, tc.autoscale)
			near("autoscaled slot-hours", a.Autoscale.AutoscaleSlotHours, tc.autoscaleSlotHours)
			near("reservation", a.Reservation.USD, tc.reservaton)
			near("reservation's parts", a.Reservation.BaselineUSD+a.Reservation.AutoscaleUSD, a.Reservation.USD)
			near("baseline slot-hours", a.Reservation.BaselineSlotHours, float64(tc.baseline)*tc.to.Sub(tc.from).Hours())
			if a.Reservation.BaselineSlots != tc.baseline || a.Reservation.MaxSlots != tc.maxSlots || a.Autoscale.BaselineSlots != 0 ||
				a.Autoscale.MaxSlots != tc.maxSlots {
				t.Errorf("reservation %+v autoscale %+v, want baseline %d max %d", a.Reservation, a.Autoscale, tc.baseline, tc.maxSlots)
			}
			if a.Cheaper != tc.cheaper || a.Recommended != tc.recommended {
				t.Errorf("cheaper %q recommended %q, want %q %q", a.Cheaper, a.Recommended, tc.cheaper, tc.recommended)
			}
			near("saving", a.SavingUSD, tc.saving)
			near("month factor", a.Month.Factor, tc.factor)
			near("month on demand", a.Month.OnDemandUSD, tc.onDemand*tc.factor)
			near("month reservation", a.Month.ReservationUSD, tc.reservaton*tc.factor)
			near("month autoscale", a.Month.AutoscaleUSD, tc.autoscale*tc.factor)
			near("month saving", a.Month.SavingUSD, tc.saving*tc.factor)
			if want := int(math.Ceil(tc.to.Sub(tc.from).Hours())); len(a.HourlySlots) != want {
				t.Errorf("%d hours in the profile, want %d", len(a.HourlySlots), want)
			}
			for h, want := range tc.hourly {
				near("hour "+time.Duration(h*int(time.Hour)).String(), a.HourlySlots[h], want)
			}
			rest := a.Verdict
			for _, v := range tc.verdict {
				i := strings.Index(rest, v)
				if i < 0 {
					t.Fatalf("verdict %q\nwant it to say %q", a.Verdict, v)
				}
				rest = rest[i+len(v):]
			}
			if a.Verdict == "" || strings.Contains(a.Verdict, "\n") {
				t.Errorf("verdict %q: want one line", a.Verdict)
			}
			for _, n := range tc.notes {
				found := false
				for _, got := range a.Notes {
					found = found || strings.HasPrefix(got, n)
				}
				if !found {
					t.Errorf("notes %q lack %q", a.Notes, n)
				}
			}
			if _, err := json.Marshal(a); err != nil {
				t.Errorf("as JSON: %v", err)
			}
		})
	}
}

// TestCapacityProfile: the steady workload's summary figures, and the
// pipelines by slot-hours.
func TestCapacityProfile(t *testing.T) {
	day0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var runs []RunUsage
	for h := range 48 {
		slots, p := int64(120), "even"
		if h%2 == 1 {
			slots, p = 220, "odd"
		}
		runs = append(runs, RunUsage{Pipeline: p, Start: day0.Add(time.Duration(h) * time.Hour), Duration: time.Hour,
			SlotMillis: slots * 3_600_000, BytesBilled: 1 << 40})
	}
	runs = append(runs, RunUsage{Pipeline: "duck", Start: day0})
	a := Capacity(runs, day0, day0.Add(48*time.Hour), Prices{PerTiB: 6.25, SlotHour: 0.04})
	if a.AvgSlots != 170 || a.MedianHourSlots != 170 || a.PeakHourSlots != 220 || a.P95RunSlots != 220 || a.SlotMillis != 24*340*3_600_000 ||
		a.BytesBilled != 48<<40 || a.Runs != 48 || a.RunsWithoutSlots != 1 || a.Hours != 48 {
		t.Fatalf("summary: %+v", a)
	}
	if len(a.ByPipeline) != 2 || a.ByPipeline[0].Pipeline != "odd" || a.ByPipeline[0].SlotHours != 24*220 || a.ByPipeline[0].Runs != 24 ||
		a.ByPipeline[0].OnDemandUSD != 24*6.25 || a.ByPipeline[1].Pipeline != "even" || a.ByPipeline[1].BytesBilled != 24<<40 {
		t.Fatalf("by pipeline: %+v", a.ByPipeline)
	}
	// Nothing, and an empty window: no NaN, empty lists rather than null.
	for _, a := range []CapacityAnalysis{Capacity(nil, day0, day0, Prices{}), Capacity(runs[:1], day0, day0, Prices{PerTiB: 6.25, SlotHour: 0.04})} {
		b, err := json.Marshal(a)
		if err != nil || strings.Contains(string(b), "null") {
			t.Fatalf("empty window: %v %s", err, b)
		}
	}
}

// TestSlotRounding: slots round to multiples of 50, float residue aside.
func TestSlotRounding(t *testing.T) {
	for _, tc := range []struct {
		in         float64
		ceil, flor int64
	}{{0, 0, 0}, {1e-9, 0, 0}, {0.1, 50, 0}, {50, 50, 50}, {50.0000000001, 50, 50}, {49.9999999999, 50, 50}, {50.1, 100, 50},
		{101, 150, 100}, {170, 200, 150}, {-3, 0, 0}} {
		if c, f := ceilSlots(tc.in), floorSlots(tc.in); c != tc.ceil || f != tc.flor {
			t.Errorf("%v: ceil %d floor %d, want %d %d", tc.in, c, f, tc.ceil, tc.flor)
		}
	}
}
