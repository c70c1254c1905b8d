package api

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/service"
)

// slotRun records a finished run of pipeline that took d on slots slots
// on average, billed tib TiB.
func (e *env) slotRun(id, pipeline string, at time.Time, d time.Duration, slots, tib float64) {
	ctx := context.Background()
	must(e.t, e.store.CreateRun(ctx, metadata.Run{ID: id, Pipeline: pipeline, StartedAt: at, Trigger: "manual"}))
	must(e.t, e.store.FinishRun(ctx, metadata.Run{ID: id, Status: "succeeded", EndedAt: at.Add(d), InvariantOK: true,
		Metrics: map[string]float64{"warehouse_jobs": 2, "warehouse_bytes_processed": tib * (1 << 40), "warehouse_bytes_billed": tib * (1 << 40),
			"warehouse_slot_ms": slots * float64(d/time.Millisecond), "warehouse_cost_usd": tib * 6.25}}))
}

// TestCapacityPricing: on demand against capacity pricing for the runs
// of the days asked for, by pipeline, as the contract describes it; days
// out of range, and a pipeline that is not there, are refused.
func TestCapacityPricing(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	yesterday := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	// orders: 10 minutes on 300 slots, 1 TiB: $6.25 on demand, 300 ×
	// 1/6 h = 50 slot-hours = $2 autoscaled. events: 6 minutes on 1000
	// slots, 0.5 TiB: $3.125 on demand, 100 slot-hours = $4.
	e.slotRun("run-p1", "orders", yesterday.Add(2*time.Hour), 10*time.Minute, 300, 1)
	e.slotRun("run-p2", "events", yesterday.Add(3*time.Hour), 6*time.Minute, 1000, 0.5)

	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	var a optimize.CapacityAnalysis
	e.get("/api/v1/optimization/pricing?days=2&pipeline=orders", service.Viewer, &a)
	near("orders on demand", a.OnDemandUSD, 6.25)
	near("orders autoscaled", a.Autoscale.USD, 2)
	if a.Runs != 1 || a.Autoscale.MaxSlots != 300 || a.Cheaper != "capacity" || a.Recommended != optimize.PlanAutoscale ||
		!strings.HasPrefix(a.Verdict, "capacity is cheaper: a reservation autoscaling from 0 to 300 slots would cost $2.00 against $6.25 on demand") ||
		!a.From.Equal(yesterday) || a.Prices != (optimize.Prices{PerTiB: 6.25, SlotHour: 0.04}) {
		t.Fatalf("orders: %+v", a)
	}
	e.get("/api/v1/optimization/pricing?days=2&pipeline=events", service.Viewer, &a)
	near("events on demand", a.OnDemandUSD, 3.125)
	near("events autoscaled", a.Autoscale.USD, 4)
	if a.Runs != 1 || a.Cheaper != "on-demand" || a.Recommended != optimize.PlanOnDemand || !strings.HasPrefix(a.Verdict, "on-demand is cheaper: ") {
		t.Fatalf("events: %+v", a)
	}
	// By default the last 30 days: both pipelines (the fixture's own
	// runs, without slots, are older).
	e.get("/api/v1/optimization/pricing", service.Viewer, &a)
	if a.Runs != 2 || len(a.ByPipeline) != 2 || a.ByPipeline[0].Pipeline != "events" || len(a.HourlySlots) < 29*24 || a.Month.Factor == 0 {
		t.Fatalf("30 days: runs %d, by pipeline %+v, %d hours, month %+v", a.Runs, a.ByPipeline, len(a.HourlySlots), a.Month)
	}
	e.get("/api/v1/optimization/pricing?pipeline=items", service.Viewer, &a)
	if a.Runs != 0 || a.Cheaper != "" || !strings.HasPrefix(a.Verdict, "nothing to analyse") || a.HourlySlots == nil || a.Notes == nil {
		t.Fatalf("a pipeline without slot usage: %+v", a)
	}

	for _, q := range []string{"days=0", "days=401", "days=week"} {
		code, h, body := e.do("GET", "/api/v1/optimization/pricing?"+q, e.keys[service.Viewer], nil)
		if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != "days" {
			t.Errorf("%s: %+v", q, p)
		}
	}
	code, h, body := e.do("GET", "/api/v1/optimization/pricing?pipeline=nope", e.keys[service.Viewer], nil)
	if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != "pipeline" {
		t.Errorf("an unknown pipeline: %+v", p)
	}
	code, h, body = e.do("GET", "/api/v1/optimization/pricing", "", nil)
	e.problem(code, h, body, 401, ProblemUnauthorized)
}
