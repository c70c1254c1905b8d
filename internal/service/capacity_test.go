package service

import (
	"math"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/optimize"
)

// TestCapacityAnalysis: the finished runs of the days asked for, with the
// slot usage and bytes billed their metrics record, priced at the
// configured prices ($6.25 per TiB, $0.04 per slot-hour by default);
// runs going on, and runs before the window, are left out.
func TestCapacityAnalysis(t *testing.T) {
	f := newFixture(t, nil) // now: 2026-12-01 12:00 UTC
	const tib = 1 << 40
	rec := func(id, pipeline, status string, start time.Time, d time.Duration, metrics map[string]float64) {
		t.Helper()
		f.must(f.store.CreateRun(f.ctx, metadata.Run{ID: id, Pipeline: pipeline, StartedAt: start, Trigger: "manual", Attempt: 1}))
		if status == metadata.StatusRunning {
			return
		}
		f.must(f.store.FinishRun(f.ctx, metadata.Run{ID: id, Status: status, EndedAt: start.Add(d), InvariantOK: true, Metrics: metrics}))
	}
	bq := func(slotMs, billed float64) map[string]float64 {
		return map[string]float64{"warehouse_jobs": 3, "warehouse_bytes_processed": billed, "warehouse_bytes_billed": billed,
			"warehouse_slot_ms": slotMs, "warehouse_cost_usd": billed / tib * 6.25}
	}
	at := func(day, hour int) time.Time {
		return time.Date(2026, 11, 30, hour, 0, 0, 0, time.UTC).AddDate(0, 0, day)
	}
	// 100 slots for 30 minutes, 300 slots for 10 (failed: billed all the
	// same), 3,000,000 slot-ms in no time (taken as 1 minute: 50 slots).
	rec("r1", "orders", metadata.StatusSucceeded, at(0, 1), 30*time.Minute, bq(100*1_800_000, tib))
	rec("r2", "orders", metadata.StatusFailed, at(1, 3), 10*time.Minute, bq(300*600_000, tib))
	rec("e1", "events", metadata.StatusSucceeded, at(1, 4), time.Minute, map[string]float64{"rows": 3}) // DuckDB: no slots
	rec("e2", "events", metadata.StatusSucceeded, at(1, 5), 0, bq(3_000_000, 0))
	rec("r3", "orders", metadata.StatusRunning, at(1, 11), 0, nil)
	rec("r0", "orders", metadata.StatusSucceeded, at(-2, 1), time.Hour, bq(50*3_600_000, tib)) // three days back

	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Max(1, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	a, err := f.svc.CapacityAnalysis(f.ctx, 2, "")
	wantErr(t, err, "")
	if !a.From.Equal(at(0, 0)) || !a.To.Equal(f.now) || a.Hours != 36 || len(a.HourlySlots) != 36 {
		t.Fatalf("window %s to %s (%v hours, %d in the profile)", a.From, a.To, a.Hours, len(a.HourlySlots))
	}
	if a.Runs != 3 || a.RunsWithoutSlots != 1 || a.SlotMillis != 363_000_000 || a.BytesBilled != 2*tib {
		t.Fatalf("runs %d (%d without slots), %d slot-ms, %d billed", a.Runs, a.RunsWithoutSlots, a.SlotMillis, a.BytesBilled)
	}
	// 100 × 0.5h + 300 × 1/6h + 50 × 1/60h slot-hours, against 2 TiB.
	near("on demand", a.OnDemandUSD, 12.5)
	near("autoscale slot-hours", a.Autoscale.AutoscaleSlotHours, 100+50.0/60)
	near("autoscale", a.Autoscale.USD, (100+50.0/60)*0.04)
	near("hour 1", a.HourlySlots[1], 50)
	if a.Prices != (optimize.Prices{PerTiB: 6.25, SlotHour: 0.04}) || a.Reservation.BaselineSlots != 0 || a.Reservation.MaxSlots != 300 ||
		a.Cheaper != "capacity" || a.Recommended != optimize.PlanAutoscale || a.Verdict == "" {
		t.Fatalf("analysis: %+v", a)
	}

	a, err = f.svc.CapacityAnalysis(f.ctx, 2, "orders")
	wantErr(t, err, "")
	if a.Runs != 2 || a.RunsWithoutSlots != 0 || len(a.ByPipeline) != 1 || a.ByPipeline[0].Pipeline != "orders" {
		t.Fatalf("orders: %+v", a)
	}
	near("orders' autoscale", a.Autoscale.USD, 4)
	a, err = f.svc.CapacityAnalysis(f.ctx, 5, "orders")
	wantErr(t, err, "")
	if a.Runs != 3 || a.Hours != 4*24+12 {
		t.Fatalf("orders over 5 days: %d runs in %v hours", a.Runs, a.Hours)
	}
	a, err = f.svc.CapacityAnalysis(f.ctx, 1, "events")
	wantErr(t, err, "")
	if a.Runs != 1 || a.RunsWithoutSlots != 1 || a.OnDemandUSD != 0 || a.Notes == nil {
		t.Fatalf("today's events: %+v", a)
	}
	a, err = f.svc.CapacityAnalysis(f.ctx, 30, "items")
	wantErr(t, err, "")
	if a.Runs != 0 || a.Cheaper != "" || a.Verdict == "" {
		t.Fatalf("a pipeline without runs: %+v", a)
	}

	for _, days := range []int{0, -1, MaxCostDays + 1} {
		_, err := f.svc.CapacityAnalysis(f.ctx, days, "")
		wantErr(t, err, "field:days")
	}
	_, err = f.svc.CapacityAnalysis(f.ctx, 30, "nope")
	wantErr(t, err, "not found")
}
