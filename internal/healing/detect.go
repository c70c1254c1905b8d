package healing

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/monitor"
)

// Anomaly detection scores a run's metrics against robust baselines of
// the pipeline's earlier successful runs: the median and the median
// absolute deviation (MAD), on the same weekday once there is enough
// history of it, and nothing before MinHistory runs.

// MinHistory is how many earlier runs a baseline needs.
const MinHistory = 7

// Threshold is how many MADs from the median make an anomaly.
const Threshold = 4.0

// Anomaly is one metric out of line.
type Anomaly struct {
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
	Median   float64 `json:"median"`
	MADs     float64 `json:"mads"` // signed distance in MADs
	Seasonal bool    `json:"seasonal"`
	History  int     `json:"history"`
	Issue    Issue   `json:"issue"`
}

// score compares a value with its history (monitor.Score, the baseline
// the alert rules use too); ok is false without MinHistory runs.
func score(history []monitor.Point, at time.Time, value, minScale float64) (median, mads float64, seasonal bool, n int, ok bool) {
	s, ok := monitor.Score(history, at, value, minScale, MinHistory)
	return s.Median, s.MADs, s.Seasonal, s.History, ok
}

// DetectRun scores a finished run of a pipeline against the pipeline's
// earlier successful runs: rows in (volume), the quarantined share, the
// duration, the null rate of each column, the quality score and the
// freshness (how old the newest event was).
func DetectRun(ctx context.Context, store RunHistory, runID string) ([]Anomaly, error) {
	run, err := store.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	return detectAgainstHistory(ctx, store, run)
}

// detectAgainstHistory scores a run against its pipeline's earlier
// successful runs.
func detectAgainstHistory(ctx context.Context, store RunHistory, run metadata.Run) ([]Anomaly, error) {
	runs, err := store.ListRuns(ctx, metadata.RunFilter{Pipeline: run.Pipeline, Status: metadata.StatusSucceeded, Limit: 400})
	if err != nil {
		return nil, err
	}
	return detect(run, runs), nil
}

// detect scores run against the earlier runs among runs.
func detect(run metadata.Run, runs []metadata.Run) []Anomaly {
	var volume, quarantine, duration []monitor.Point
	for _, r := range runs {
		if r.ID == run.ID || !r.StartedAt.Before(run.StartedAt) {
			continue
		}
		volume = append(volume, monitor.Point{At: r.StartedAt, Value: float64(r.RowsIn)})
		quarantine = append(quarantine, monitor.Point{At: r.StartedAt, Value: ratio(r.RowsQuarantined, r.RowsIn)})
		if !r.EndedAt.IsZero() {
			duration = append(duration, monitor.Point{At: r.StartedAt, Value: r.EndedAt.Sub(r.StartedAt).Seconds()})
		}
	}
	var out []Anomaly
	// upOnly metrics count only a rise: a quarantine rise is a quality
	// anomaly whatever its cause, and a faster run is not a problem.
	check := func(metric string, upOnly bool, history []monitor.Point, value, minScale float64, describe func(median, mads float64, n int, seasonal bool) string) {
		median, mads, seasonal, n, ok := score(history, run.StartedAt, value, minScale)
		if !ok || math.Abs(mads) < Threshold || upOnly && mads < 0 {
			return
		}
		text := describe(median, mads, n, seasonal)
		out = append(out, Anomaly{Metric: metric, Value: value, Median: median, MADs: mads, Seasonal: seasonal, History: n,
			Issue: Issue{Kind: "anomaly", Text: text}})
	}
	when := func(n int, seasonal bool, at time.Time) string {
		if seasonal {
			return fmt.Sprintf("the last %d %ss", n, at.Weekday())
		}
		return fmt.Sprintf("the last %d runs", n)
	}
	check("rows_in", false, volume, float64(run.RowsIn), 1, func(median, mads float64, n int, seasonal bool) string {
		dir := "below"
		if mads > 0 {
			dir = "above"
		}
		return fmt.Sprintf("row count %d is %.0f%% %s the median %.0f of %s (%.1f MADs)", run.RowsIn,
			100*math.Abs(float64(run.RowsIn)-median)/math.Max(median, 1), dir, median, when(n, seasonal, run.StartedAt), math.Abs(mads))
	})
	// A share moves by at least half a percentage point before it counts.
	check("quarantined_share", true, quarantine, ratio(run.RowsQuarantined, run.RowsIn), 0.005, func(median, mads float64, n int, seasonal bool) string {
		return fmt.Sprintf("quarantined share rose to %.1f%% (median %.1f%% of %s, %.1f MADs above)",
			100*ratio(run.RowsQuarantined, run.RowsIn), 100*median, when(n, seasonal, run.StartedAt), mads)
	})
	// Per-column null rates and the quality score, from the runs'
	// metrics: a null rate counts only when it rises by at least two
	// percentage points, a score only when it falls by at least one.
	metric := func(name string) []monitor.Point {
		var h []monitor.Point
		for _, r := range runs {
			if v, ok := r.Metrics[name]; ok && r.ID != run.ID && r.StartedAt.Before(run.StartedAt) {
				h = append(h, monitor.Point{At: r.StartedAt, Value: v})
			}
		}
		return h
	}
	var names []string
	for name := range run.Metrics {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := run.Metrics[name]
		if col, ok := strings.CutPrefix(name, "null_rate:"); ok {
			check(name, true, metric(name), v, 0.02, func(median, mads float64, n int, seasonal bool) string {
				return fmt.Sprintf("null rate of column %s rose to %.1f%% (median %.1f%% of %s, %.1f MADs above)",
					col, 100*v, 100*median, when(n, seasonal, run.StartedAt), mads)
			})
		}
	}
	if v, ok := run.Metrics["quality_score"]; ok {
		// Scored as a loss, so that only a fall counts.
		var loss []monitor.Point
		for _, p := range metric("quality_score") {
			loss = append(loss, monitor.Point{At: p.At, Value: 100 - p.Value})
		}
		check("quality_score", true, loss, 100-v, 1, func(median, mads float64, n int, seasonal bool) string {
			return fmt.Sprintf("quality score fell to %.1f (median %.1f of %s, %.1f MADs)", v, 100-median, when(n, seasonal, run.StartedAt), mads)
		})
	}
	if v, ok := run.Metrics["freshness_s"]; ok {
		// Data counts as late once its newest event is a minute older
		// than usual at least.
		check("freshness_s", true, metric("freshness_s"), v, 60, func(median, mads float64, n int, seasonal bool) string {
			return fmt.Sprintf("data is later than usual: the newest event was %s old when the run started (median %s of %s, %.1f MADs)",
				age(v), age(median), when(n, seasonal, run.StartedAt), mads)
		})
	}
	if !run.EndedAt.IsZero() {
		d := run.EndedAt.Sub(run.StartedAt).Seconds()
		check("duration_s", true, duration, d, 1, func(median, mads float64, n int, seasonal bool) string {
			return fmt.Sprintf("the run took %.1fs, median %.1fs of %s (%.1f MADs)", d, median, when(n, seasonal, run.StartedAt), mads)
		})
	}
	return out
}

// age renders seconds as a rounded duration: "26h0m0s", "45m0s".
func age(seconds float64) string {
	return time.Duration(seconds * float64(time.Second)).Round(time.Minute).String()
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
