package quality

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// The distributional expectations: a column compared with an expected
// distribution, given as a partition object (GE's bins and weights, or
// categorical values and weights) or as a named parametric distribution.
// Histograms and value counts are computed by the engine; only the final
// statistics (and, for the KS tests, the column's values, sampled above
// maxDistributionValues) reach Go.
func init() {
	Register("expect_column_kl_divergence_to_be_less_than", klDivergence)
	Register("expect_column_chisquare_test_p_value_to_be_greater_than", chiSquare)
	Register("expect_column_parameterized_distribution_ks_test_p_value_to_be_greater_than", parameterizedKS)
	Register("expect_column_bootstrapped_ks_test_p_value_to_be_greater_than", bootstrappedKS)
}

// maxDistributionValues bounds the values a KS test reads into memory; a
// larger column is tested on a uniform random sample of this size.
const maxDistributionValues = 1_000_000

// partitionObject is GE's partition_object.
type partitionObject struct {
	bins, weights, tailWeights []float64
	values                     []any
	hasTail                    bool
}

func (p *partitionObject) categorical() bool { return p.values != nil }

// parsePartition reads and validates a partition object: bins one longer
// than weights and strictly increasing, or values as many as weights, with
// the weights (and tail weights) summing to one.
func parsePartition(v any) (*partitionObject, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: invalid partition object: want an object with weights and bins or values", ErrInvalidKwargs)
	}
	p := &partitionObject{}
	var err error
	if p.weights, err = floats(m["weights"]); err != nil || m["weights"] == nil {
		return nil, fmt.Errorf("%w: invalid partition object: weights must be a list of numbers", ErrInvalidKwargs)
	}
	sum := 0.0
	for _, w := range p.weights {
		if w < 0 {
			return nil, fmt.Errorf("%w: invalid partition object: weights must not be negative", ErrInvalidKwargs)
		}
		sum += w
	}
	if vals, ok := m["values"].([]any); ok {
		if len(vals) != len(p.weights) || !closeTo(sum, 1) {
			return nil, fmt.Errorf("%w: invalid partition object: values and weights must have the same length and the weights sum to 1", ErrInvalidKwargs)
		}
		p.values = vals
		return p, nil
	}
	if m["bins"] == nil {
		return nil, fmt.Errorf("%w: invalid partition object: it needs bins or values", ErrInvalidKwargs)
	}
	if p.bins, err = floats(m["bins"]); err != nil {
		return nil, fmt.Errorf("%w: invalid partition object: bins must be a list of numbers", ErrInvalidKwargs)
	}
	if tw, ok := m["tail_weights"]; ok {
		p.hasTail = true
		if p.tailWeights, err = floats(tw); err != nil || len(p.tailWeights) != 2 {
			return nil, fmt.Errorf("%w: invalid partition object: tail_weights must be two numbers", ErrInvalidKwargs)
		}
		sum += p.tailWeights[0] + p.tailWeights[1]
	}
	if len(p.bins) != len(p.weights)+1 {
		return nil, fmt.Errorf("%w: invalid partition object: there must be one more bin edge than weights", ErrInvalidKwargs)
	}
	for i := 1; i < len(p.bins); i++ {
		if !(p.bins[i] > p.bins[i-1]) {
			return nil, fmt.Errorf("%w: invalid partition object: bin edges must increase", ErrInvalidKwargs)
		}
	}
	if !closeTo(sum, 1) {
		return nil, fmt.Errorf("%w: invalid partition object: weights must sum to 1, got %v", ErrInvalidKwargs, sum)
	}
	return p, nil
}

// closeTo is numpy's allclose(x, 1).
func closeTo(x, want float64) bool { return math.Abs(x-want) <= 1e-8+1e-5*math.Abs(want) }

// floats reads a list of numbers; "Infinity" and "-Infinity" (Python's
// JSON spelling, quoted) are accepted.
func floats(v any) ([]float64, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("not a list")
	}
	out := make([]float64, len(l))
	for i, x := range l {
		if f, ok := toFloat(x); ok {
			out[i] = f
			continue
		}
		s, _ := x.(string)
		switch strings.ToLower(s) {
		case "infinity", "inf":
			out[i] = math.Inf(1)
		case "-infinity", "-inf":
			out[i] = math.Inf(-1)
		default:
			return nil, fmt.Errorf("%v is not a number", x)
		}
	}
	return out, nil
}

// unitKwarg reads an optional number between 0 and 1 (default 0).
func unitKwarg(kw Kwargs, name string) (float64, error) {
	v, err := kw.Number(name)
	if err != nil || v == nil {
		return 0, err
	}
	if *v < 0 || *v > 1 {
		return 0, fmt.Errorf("%w: %s must be greater than or equal to 0 and less than or equal to 1, got %v", ErrInvalidKwargs, name, *v)
	}
	return *v, nil
}

// histogramAggs are the shared-scan aggregates of a continuous partition:
// one count per bin ([b_i, b_i+1), the last bin closed, infinite edges
// open), then the non-null count and the counts below and above the bins.
func histogramAggs(env *Env, col string, bins []float64) []string {
	f := env.D.Float(col)
	k := len(bins) - 1
	var aggs []string
	count := func(pred string) string { return "sum(CASE WHEN " + pred + " THEN 1 ELSE 0 END)" }
	for i := 0; i < k; i++ {
		lo, hi := bins[i], bins[i+1]
		var parts []string
		if !math.IsInf(lo, -1) {
			parts = append(parts, f+" >= "+env.Bind(lo))
		}
		if !math.IsInf(hi, 1) {
			op := " < "
			if i == k-1 {
				op = " <= "
			}
			parts = append(parts, f+op+env.Bind(hi))
		}
		if len(parts) == 0 {
			parts = []string{col + " IS NOT NULL"}
		}
		aggs = append(aggs, count(strings.Join(parts, " AND ")))
	}
	aggs = append(aggs, "count("+col+")")
	below, above := "sum(0)", "sum(0)"
	if !math.IsInf(bins[0], -1) {
		below = count(f + " < " + env.Bind(bins[0]))
	}
	if !math.IsInf(bins[k], 1) {
		above = count(f + " > " + env.Bind(bins[k]))
	}
	return append(aggs, below, above)
}

// countValues counts the column's non-null values.
func countValues(ctx context.Context, q Queryer, env *Env, col string) ([]any, []float64, float64, error) {
	vals, ints, err := valueCounts(ctx, q, env, col)
	if err != nil {
		return nil, nil, 0, err
	}
	counts := make([]float64, len(ints))
	var n float64
	for i, c := range ints {
		counts[i] = float64(c)
		n += counts[i]
	}
	return vals, counts, n, nil
}

// valueKey compares partition values with column values across their
// representations (1, 1.0 and "1" differ; 1 and 1.0 do not).
func valueKey(v any) string {
	if f, ok := toFloat(v); ok {
		return "n:" + strconv.FormatFloat(f, 'g', -1, 64)
	}
	switch x := v.(type) {
	case bool:
		return "b:" + strconv.FormatBool(x)
	case string:
		return "s:" + x
	}
	return fmt.Sprintf("?:%v", v)
}

// categoricalFrame joins expected weights with observed counts over the
// union of values, as GE's pandas concat does: expected values first.
// scale multiplies the expected weights (1, or the element count).
func categoricalFrame(p *partitionObject, vals []any, counts []float64, tail, scale float64) (values []any, observed, expected []float64) {
	idx := map[string]int{}
	for i, v := range p.values {
		idx[valueKey(v)] = i
		values = append(values, v)
		observed = append(observed, 0)
		expected = append(expected, p.weights[i]*scale)
	}
	var unexpected []int
	for i, v := range vals {
		j, ok := idx[valueKey(v)]
		if !ok {
			j = len(values)
			idx[valueKey(v)] = j
			values = append(values, v)
			observed = append(observed, 0)
			expected = append(expected, math.NaN())
			unexpected = append(unexpected, j)
		}
		observed[j] += counts[i]
	}
	if len(unexpected) > 0 {
		for i := range expected {
			if !math.IsNaN(expected[i]) {
				expected[i] *= 1 - tail
			}
		}
		for _, j := range unexpected {
			expected[j] = scale * tail / float64(len(unexpected))
		}
	}
	return values, observed, expected
}

func klDivergence(env *Env, kw Kwargs) (*Plan, error) {
	_, col, err := env.Column(kw)
	if err != nil {
		return nil, err
	}
	tail, err := unitKwarg(kw, "tail_weight_holdout")
	if err != nil {
		return nil, err
	}
	internal, err := unitKwarg(kw, "internal_weight_holdout")
	if err != nil {
		return nil, err
	}
	threshold, err := kw.Number("threshold")
	if err != nil {
		return nil, err
	}
	if threshold != nil && *threshold < 0 {
		return nil, fmt.Errorf("%w: threshold must be greater than or equal to zero", ErrInvalidKwargs)
	}
	judge := func(kl float64, res map[string]any) Outcome {
		if math.IsInf(kl, 0) || math.IsNaN(kl) {
			res["observed_value"] = nil
		} else {
			res["observed_value"] = kl
		}
		return Outcome{Success: threshold == nil || kl <= *threshold, Result: res}
	}
	if kw["partition_object"] == nil {
		// GE partitions the column's own values and so compares it with
		// itself: the divergence is zero.
		return &Plan{Aggregates: []string{"count(" + col + ")"}, Evaluate: func(context.Context, Queryer, []any) (Outcome, error) {
			return judge(0, map[string]any{}), nil
		}}, nil
	}
	p, err := parsePartition(kw["partition_object"])
	if err != nil {
		return nil, err
	}
	if tail != 0 && p.hasTail {
		return nil, fmt.Errorf("%w: tail_weight_holdout must be 0 when using tail_weights in partition object", ErrInvalidKwargs)
	}
	if p.categorical() {
		if internal > 0 {
			return nil, fmt.Errorf("%w: internal_weight_holdout cannot be used for discrete data", ErrInvalidKwargs)
		}
		return &Plan{Evaluate: func(ctx context.Context, q Queryer, _ []any) (Outcome, error) {
			vals, counts, n, err := countValues(ctx, q, env, col)
			if err != nil {
				return Outcome{}, err
			}
			values, observed, expected := categoricalFrame(p, vals, counts, tail, 1)
			for i := range observed {
				observed[i] /= n
			}
			return judge(entropy(observed, expected), map[string]any{"details": map[string]any{
				"observed_partition": map[string]any{"values": values, "weights": observed},
				"expected_partition": map[string]any{"values": values, "weights": expected},
			}}), nil
		}}, nil
	}
	lowerInf, upperInf := math.IsInf(p.bins[0], -1), math.IsInf(p.bins[len(p.bins)-1], 1)
	if (lowerInf || upperInf) && p.hasTail {
		return nil, fmt.Errorf("%w: there can be no tail weights for partitions with one or both endpoints at infinity", ErrInvalidKwargs)
	}
	if lowerInf && upperInf && tail > 0 {
		return nil, fmt.Errorf("%w: tail_weight_holdout cannot be used for partitions with infinite endpoints", ErrInvalidKwargs)
	}
	return &Plan{
		Aggregates: histogramAggs(env, col, p.bins),
		Evaluate: func(_ context.Context, _ Queryer, v []any) (Outcome, error) {
			k := len(p.weights)
			n := float64(toInt(v[k]))
			below, above := float64(toInt(v[k+1]))/n, float64(toInt(v[k+2]))/n
			obs := make([]float64, k)
			exp := make([]float64, k)
			zeros := 0
			for i := 0; i < k; i++ {
				obs[i] = float64(toInt(v[i])) / n
				exp[i] = p.weights[i] * (1 - tail - internal)
				if exp[i] == 0 {
					zeros++
				}
			}
			if internal > 0 && zeros > 0 {
				for i := range exp {
					if exp[i] == 0 {
						exp[i] = internal / float64(zeros)
					}
				}
			}
			var combObs, combExp []float64
			switch {
			case lowerInf && upperInf:
				combObs, combExp = obs, exp
			case lowerInf:
				combObs, combExp = append(obs, above), append(exp, tail)
			case upperInf:
				combObs, combExp = append([]float64{below}, obs...), append([]float64{tail}, exp...)
			default:
				lo, hi := tail/2, tail/2
				if p.hasTail {
					lo, hi = p.tailWeights[0], p.tailWeights[1]
				}
				combObs = append(append([]float64{below}, obs...), above)
				combExp = append(append([]float64{lo}, exp...), hi)
			}
			return judge(entropy(combObs, combExp), map[string]any{"details": map[string]any{
				"observed_partition": map[string]any{"bins": finiteBins(p.bins), "weights": combObs},
				"expected_partition": map[string]any{"bins": finiteBins(p.bins), "weights": combExp},
			}}), nil
		},
	}, nil
}

// finiteBins drops infinite end points, which JSON cannot carry.
func finiteBins(b []float64) []float64 {
	var out []float64
	for _, x := range b {
		if !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}

func chiSquare(env *Env, kw Kwargs) (*Plan, error) {
	_, col, err := env.Column(kw)
	if err != nil {
		return nil, err
	}
	p, err := parsePartition(kw["partition_object"])
	if err != nil {
		return nil, err
	}
	if !p.categorical() {
		return nil, fmt.Errorf("%w: invalid partition object: the chi-squared test needs a categorical partition (values and weights)", ErrInvalidKwargs)
	}
	pv := 0.05
	if x, err := kw.Number("p"); err != nil {
		return nil, err
	} else if x != nil {
		pv = *x
	}
	tail, err := unitKwarg(kw, "tail_weight_holdout")
	if err != nil {
		return nil, err
	}
	return &Plan{Evaluate: func(ctx context.Context, q Queryer, _ []any) (Outcome, error) {
		vals, counts, n, err := countValues(ctx, q, env, col)
		if err != nil {
			return Outcome{}, err
		}
		values, observed, expected := categoricalFrame(p, vals, counts, tail, n)
		var stat float64
		for i := range observed {
			d := observed[i] - expected[i]
			stat += d * d / expected[i]
		}
		pval := math.NaN()
		if len(observed) > 1 && !math.IsNaN(stat) {
			pval = distuv.ChiSquared{K: float64(len(observed) - 1)}.Survival(stat)
			if math.IsInf(stat, 1) {
				pval = 0
			}
		}
		res := map[string]any{
			"observed_value": jsonFloat(pval), "element_count": int64(n), "missing_count": nil, "missing_percent": nil,
			"details": map[string]any{
				"observed_partition": map[string]any{"values": values, "weights": observed},
				"expected_partition": map[string]any{"values": values, "weights": expected},
			},
		}
		return Outcome{Success: pval > pv, Result: res}, nil
	}}, nil
}

// jsonFloat is nil for values JSON cannot hold.
func jsonFloat(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// columnValues reads a column's non-null values as numbers, sorted; above
// maxDistributionValues a uniform random sample of that size.
func columnValues(ctx context.Context, q Queryer, env *Env, col string, n int64) ([]float64, error) {
	sqlText := "SELECT " + env.D.Float(col) + " FROM " + env.From() + env.Where(col+" IS NOT NULL")
	if n > maxDistributionValues {
		sqlText += fmt.Sprintf(" ORDER BY random() LIMIT %d", maxDistributionValues)
	}
	rows, err := env.Query(ctx, q, sqlText)
	if err != nil {
		return nil, err
	}
	out := make([]float64, 0, len(rows))
	for _, r := range rows {
		if f, ok := toFloat(r[0]); ok {
			out = append(out, f)
		}
	}
	sort.Float64s(out)
	return out, nil
}

// distribution is a named SciPy distribution with its positional
// parameters: the shape parameters, then loc and scale.
type distribution struct {
	name     string
	shapes   []string // GE's names of the shape parameters, in order
	defaults int      // how many trailing positional parameters may be left out
}

var distributions = map[string]distribution{
	"norm":    {name: "norm", shapes: []string{"mean", "std_dev"}},
	"beta":    {name: "beta", shapes: []string{"alpha", "beta", "loc", "scale"}, defaults: 2},
	"gamma":   {name: "gamma", shapes: []string{"alpha", "loc", "scale"}, defaults: 2},
	"uniform": {name: "uniform", shapes: []string{"min", "max"}},
	"chi2":    {name: "chi2", shapes: []string{"df", "loc", "scale"}, defaults: 2},
	"expon":   {name: "expon", shapes: []string{"loc", "scale"}, defaults: 2},
}

// distributionCDF validates the parameters (a dict by GE's names, or a
// positional list as SciPy takes them) and returns the CDF.
func distributionCDF(name string, params any) (func(float64) float64, []float64, error) {
	d, ok := distributions[name]
	if !ok {
		return nil, nil, fmt.Errorf("%w: distribution %q is not supported (norm, beta, gamma, uniform, chi2, expon)", ErrInvalidKwargs, name)
	}
	var args []float64
	switch x := params.(type) {
	case map[string]any:
		for i, k := range d.shapes {
			v, ok := x[k]
			if !ok {
				if i >= len(d.shapes)-d.defaults {
					if k == "scale" {
						args = append(args, 1)
					} else {
						args = append(args, 0)
					}
					continue
				}
				return nil, nil, fmt.Errorf("%w: params for %s need %q", ErrInvalidKwargs, name, k)
			}
			f, ok := toFloat(v)
			if !ok {
				return nil, nil, fmt.Errorf("%w: params.%s must be a number", ErrInvalidKwargs, k)
			}
			args = append(args, f)
		}
	case []any:
		fs, err := floats(x)
		if err != nil || len(fs) < len(d.shapes)-d.defaults || len(fs) > len(d.shapes) {
			return nil, nil, fmt.Errorf("%w: params for %s must be %d to %d numbers (%s)", ErrInvalidKwargs, name,
				len(d.shapes)-d.defaults, len(d.shapes), strings.Join(d.shapes, ", "))
		}
		args = fs
		for len(args) < len(d.shapes) {
			if d.shapes[len(args)] == "scale" {
				args = append(args, 1)
			} else {
				args = append(args, 0)
			}
		}
	default:
		return nil, nil, fmt.Errorf("%w: params must be an object or a list", ErrInvalidKwargs)
	}
	positive := func(v float64, what string) error {
		if !(v > 0) {
			return fmt.Errorf("%w: %s for %s must be positive, got %v", ErrInvalidKwargs, what, name, v)
		}
		return nil
	}
	std := func(loc, scale float64, f func(float64) float64) func(float64) float64 {
		return func(x float64) float64 { return f((x - loc) / scale) }
	}
	switch name {
	case "norm":
		if err := positive(args[1], "std_dev"); err != nil {
			return nil, nil, err
		}
		return distuv.Normal{Mu: args[0], Sigma: args[1]}.CDF, args, nil
	case "beta":
		for i, w := range []string{"alpha", "beta", "", "scale"} {
			if w != "" {
				if err := positive(args[i], w); err != nil {
					return nil, nil, err
				}
			}
		}
		b := distuv.Beta{Alpha: args[0], Beta: args[1]}
		return std(args[2], args[3], func(z float64) float64 { return b.CDF(math.Min(1, math.Max(0, z))) }), args, nil
	case "gamma":
		if err := positive(args[0], "alpha"); err != nil {
			return nil, nil, err
		}
		if err := positive(args[2], "scale"); err != nil {
			return nil, nil, err
		}
		g := distuv.Gamma{Alpha: args[0], Beta: 1}
		return std(args[1], args[2], func(z float64) float64 { return g.CDF(math.Max(0, z)) }), args, nil
	case "uniform":
		// SciPy's uniform(loc, scale) covers [loc, loc+scale]; GE passes
		// min and max as those two positional arguments.
		if err := positive(args[1], "max (the scale)"); err != nil {
			return nil, nil, err
		}
		return std(args[0], args[1], func(z float64) float64 { return math.Min(1, math.Max(0, z)) }), args, nil
	case "chi2":
		if err := positive(args[0], "df"); err != nil {
			return nil, nil, err
		}
		if err := positive(args[2], "scale"); err != nil {
			return nil, nil, err
		}
		c := distuv.ChiSquared{K: args[0]}
		return std(args[1], args[2], func(z float64) float64 { return c.CDF(math.Max(0, z)) }), args, nil
	}
	// expon
	if err := positive(args[1], "scale"); err != nil {
		return nil, nil, err
	}
	return std(args[0], args[1], func(z float64) float64 {
		if z <= 0 {
			return 0
		}
		return -math.Expm1(-z)
	}), args, nil
}

func parameterizedKS(env *Env, kw Kwargs) (*Plan, error) {
	_, col, err := env.Column(kw)
	if err != nil {
		return nil, err
	}
	dist, err := kw.requiredString("distribution")
	if err != nil {
		return nil, err
	}
	pv := 0.05
	if x, err := kw.Number("p_value"); err != nil {
		return nil, err
	} else if x != nil {
		pv = *x
	}
	if pv <= 0 || pv >= 1 {
		return nil, fmt.Errorf("%w: p_value must be between 0 and 1 exclusive", ErrInvalidKwargs)
	}
	cdf, args, err := distributionCDF(dist, kw["params"])
	if err != nil {
		return nil, err
	}
	return &Plan{
		Aggregates: []string{"count(" + col + ")"},
		Evaluate: func(ctx context.Context, q Queryer, v []any) (Outcome, error) {
			xs, err := columnValues(ctx, q, env, col, toInt(v[0]))
			if err != nil {
				return Outcome{}, err
			}
			d := ksStatistic(xs, cdf)
			p := ksPValue(len(xs), d)
			return Outcome{Success: p >= pv, Result: map[string]any{
				"observed_value": jsonFloat(p),
				"details": map[string]any{
					"expected_params":    args,
					"observed_ks_result": []any{jsonFloat(d), jsonFloat(p)},
				},
			}}, nil
		},
	}, nil
}

func bootstrappedKS(env *Env, kw Kwargs) (*Plan, error) {
	_, col, err := env.Column(kw)
	if err != nil {
		return nil, err
	}
	p, err := parsePartition(kw["partition_object"])
	if err != nil {
		return nil, err
	}
	if p.categorical() {
		return nil, fmt.Errorf("%w: invalid partition object: the bootstrapped KS test needs bins", ErrInvalidKwargs)
	}
	if math.IsInf(p.bins[0], 0) || math.IsInf(p.bins[len(p.bins)-1], 0) {
		return nil, fmt.Errorf("%w: Partition endpoints must be finite", ErrInvalidKwargs)
	}
	if p.hasTail && p.tailWeights[0]+p.tailWeights[1] > 0 {
		return nil, fmt.Errorf("%w: Partition cannot have tail weights -- endpoints must be finite", ErrInvalidKwargs)
	}
	pv := 0.05
	if x, err := kw.Number("p"); err != nil {
		return nil, err
	} else if x != nil {
		pv = *x
	}
	samples, size := 1000, 2*len(p.weights)
	if x, err := kw.Number("bootstrap_samples"); err != nil {
		return nil, err
	} else if x != nil && *x >= 1 {
		samples = int(*x)
	}
	if x, err := kw.Number("bootstrap_sample_size"); err != nil {
		return nil, err
	} else if x != nil && *x >= 1 {
		size = int(*x)
	}
	cum := make([]float64, len(p.bins))
	for i, w := range p.weights {
		cum[i+1] = cum[i] + w
	}
	// The partition's CDF, linear within each bin (numpy.interp).
	cdf := func(x float64) float64 {
		b := p.bins
		if x <= b[0] {
			return cum[0]
		}
		if x >= b[len(b)-1] {
			return cum[len(cum)-1]
		}
		i := sort.SearchFloat64s(b, x)
		if b[i] == x {
			return cum[i]
		}
		t := (x - b[i-1]) / (b[i] - b[i-1])
		return cum[i-1] + t*(cum[i]-cum[i-1])
	}
	return &Plan{
		Aggregates: []string{"count(" + col + ")"},
		Evaluate: func(ctx context.Context, q Queryer, v []any) (Outcome, error) {
			xs, err := columnValues(ctx, q, env, col, toInt(v[0]))
			if err != nil {
				return Outcome{}, err
			}
			if len(xs) == 0 {
				return Outcome{Success: false, Result: map[string]any{"observed_value": nil}}, nil
			}
			// A fixed seed makes a validation repeatable.
			rng := rand.New(rand.NewPCG(uint64(len(xs)), 0x5eed))
			sample := make([]float64, size)
			passed := 0
			for s := 0; s < samples; s++ {
				for i := range sample {
					sample[i] = xs[rng.IntN(len(xs))]
				}
				sort.Float64s(sample)
				if ksPValue(size, ksStatistic(sample, cdf)) >= pv {
					passed++
				}
			}
			result := float64(1+passed) / float64(samples+1)
			return Outcome{Success: result > pv, Result: map[string]any{
				"observed_value": result,
				"details": map[string]any{
					"bootstrap_samples":     samples,
					"bootstrap_sample_size": size,
					"expected_partition":    map[string]any{"bins": p.bins, "weights": p.weights},
				},
			}}, nil
		},
	}, nil
}
