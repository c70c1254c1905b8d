package monitor

import (
	"math"
	"sort"
	"time"
)

// Robust baselines: a metric of a run against the same metric of the
// pipeline's earlier successful runs, as the median and the median
// absolute deviation (MAD), on the same weekday once there is enough
// history of it. The alert rules' anomalies (KindAnomaly) and the
// self-healing engine's circuit breaker (internal/healing) both score
// with it.

// Point is one run's value of a metric.
type Point struct {
	At    time.Time
	Value float64
}

// Scored is a value against its baseline.
type Scored struct {
	Median float64
	// MADs is the signed distance from the median in scaled MADs.
	MADs float64
	// Seasonal says the baseline is the runs of the same weekday.
	Seasonal bool
	// History is how many runs the baseline holds.
	History int
}

// minSeasonal is how many runs of the same weekday make a seasonal
// baseline.
const minSeasonal = 4

// Score compares value, of a run started at at, with history. ok is false
// with fewer than minHistory points. The scale is 1.4826 × MAD (the
// standard deviation of normal data), at least 5% of the median and at
// least minScale, so that a perfectly steady metric does not make every
// small change an anomaly.
func Score(history []Point, at time.Time, value, minScale float64, minHistory int) (Scored, bool) {
	if len(history) < minHistory || len(history) == 0 {
		return Scored{History: len(history)}, false
	}
	same := make([]float64, 0, len(history)/7+1)
	all := make([]float64, 0, len(history))
	for _, p := range history {
		all = append(all, p.Value)
		if p.At.Weekday() == at.Weekday() {
			same = append(same, p.Value)
		}
	}
	use, seasonal := all, false
	if len(same) >= minSeasonal {
		use, seasonal = same, true
	}
	median, scale := robust(use, minScale)
	return Scored{Median: median, MADs: (value - median) / scale, Seasonal: seasonal, History: len(use)}, true
}

// robust returns the median and the scaled MAD, with its floor. It
// sorts xs in place and reuses it for the deviations.
func robust(xs []float64, minScale float64) (median, scale float64) {
	sort.Float64s(xs)
	median = quantile(xs, 0.5)
	dev := xs
	for i, x := range xs {
		dev[i] = math.Abs(x - median)
	}
	sort.Float64s(dev)
	scale = 1.4826 * quantile(dev, 0.5)
	if floor := math.Max(0.05*math.Abs(median), minScale); scale < floor {
		scale = floor
	}
	if scale == 0 {
		scale = 1
	}
	return median, scale
}

// quantile is the q-quantile of sorted values, interpolated.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}
