package quality

import (
	"errors"
	"math"
	"testing"
)

// TestDistributionalMisconfiguration: every kwarg GE rejects is an
// invalid configuration, reported on the expectation.
func TestDistributionalMisconfiguration(t *testing.T) {
	halves := map[string]any{"bins": []any{0.0, 0.5, 1.0}, "weights": []any{0.5, 0.5}}
	tails := map[string]any{"bins": []any{0.0, 1.0}, "weights": []any{0.8}, "tail_weights": []any{0.1, 0.1}}
	infinite := map[string]any{"bins": []any{"-Infinity", 0.0, "Infinity"}, "weights": []any{0.5, 0.5}}
	lowerInf := map[string]any{"bins": []any{"-Infinity", 0.0, 1.0}, "weights": []any{0.5, 0.5}, "tail_weights": []any{0.0, 0.0}}
	cats := map[string]any{"values": []any{"a", "b"}, "weights": []any{0.5, 0.5}}
	cases := []struct {
		typ string
		kw  map[string]any
	}{
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "nope", "partition_object": halves}},
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "c1", "partition_object": halves, "tail_weight_holdout": 2.0}},
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "c1", "partition_object": halves, "internal_weight_holdout": -1.0}},
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "c1", "partition_object": halves, "threshold": -1.0}},
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "c1", "partition_object": halves, "threshold": "x"}},
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "c1", "partition_object": tails, "tail_weight_holdout": 0.1}},
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "c1", "partition_object": infinite, "tail_weight_holdout": 0.1}},
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "c1", "partition_object": lowerInf}},
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "c2", "partition_object": cats, "internal_weight_holdout": 0.1}},
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "c1", "partition_object": map[string]any{}}},
		{"expect_column_chisquare_test_p_value_to_be_greater_than", map[string]any{"column": "c1", "partition_object": halves}},
		{"expect_column_chisquare_test_p_value_to_be_greater_than", map[string]any{"column": "c2", "partition_object": cats, "p": "x"}},
		{"expect_column_chisquare_test_p_value_to_be_greater_than", map[string]any{"column": "c2", "partition_object": cats, "tail_weight_holdout": 3.0}},
		{"expect_column_parameterized_distribution_ks_test_p_value_to_be_greater_than", map[string]any{"column": "c1", "distribution": "norm", "params": []any{0.0, 1.0}, "p_value": 1.0}},
		{"expect_column_parameterized_distribution_ks_test_p_value_to_be_greater_than", map[string]any{"column": "c1", "params": []any{0.0, 1.0}}},
		{"expect_column_parameterized_distribution_ks_test_p_value_to_be_greater_than", map[string]any{"column": "c1", "distribution": "t", "params": []any{3.0}}},
		{"expect_column_bootstrapped_ks_test_p_value_to_be_greater_than", map[string]any{"column": "c1", "partition_object": cats}},
		{"expect_column_bootstrapped_ks_test_p_value_to_be_greater_than", map[string]any{"column": "c1", "partition_object": infinite}},
		{"expect_column_bootstrapped_ks_test_p_value_to_be_greater_than", map[string]any{"column": "c1", "partition_object": map[string]any{"bins": []any{0.0, 1.0}, "weights": []any{0.5}, "tail_weights": []any{0.25, 0.25}}}},
		{"expect_column_bootstrapped_ks_test_p_value_to_be_greater_than", map[string]any{"column": "c1", "partition_object": halves, "p": "x"}},
		{"expect_column_values_to_be_of_type", map[string]any{"column": "c1"}},
		{"expect_column_values_to_be_of_type", map[string]any{"column": "c1", "type_": 3.0}},
		{"expect_column_values_to_be_in_type_list", map[string]any{"column": "c1", "type_list": []any{1.0}}},
		{"expect_column_values_to_be_dateutil_parseable", map[string]any{"column": "c1"}},
		{"expect_column_values_to_match_strftime_format", map[string]any{"column": "c2", "strftime_format": "%Q"}},
		{"expect_column_values_to_match_strftime_format", map[string]any{"column": "c1", "strftime_format": "%Y"}},
		{"expect_column_values_to_match_json_schema", map[string]any{"column": "c2"}},
		{"expect_column_values_to_match_json_schema", map[string]any{"column": "c2", "json_schema": map[string]any{"type": 12.0}}},
		{"expect_column_value_z_scores_to_be_less_than", map[string]any{"column": "c1"}},
		{"expect_column_value_z_scores_to_be_less_than", map[string]any{"column": "c1", "threshold": 2.0, "double_sided": "yes"}},
		{"expect_column_values_to_be_increasing", map[string]any{"column": "c1"}}, // the test table has no row order
		{"expect_column_value_lengths_to_be_between", map[string]any{"column": "c1", "min_value": 1.0}},
	}
	for _, c := range cases {
		f, _ := lookupFactory(c.typ)
		if _, err := f(testEnv(), Kwargs(c.kw)); !errors.Is(err, ErrInvalidKwargs) {
			t.Errorf("%s %v: error %v, want ErrInvalidKwargs", c.typ, c.kw, err)
		}
	}
}

func TestKLDivergenceFromHistogram(t *testing.T) {
	// Counts of bins [0,1) [1,2], then non-null, below and above.
	cases := []struct {
		part      map[string]any
		extra     map[string]any
		vals      []any
		success   bool
		observed  any
		tolerance float64
	}{
		{map[string]any{"bins": []any{0.0, 1.0, 2.0}, "weights": []any{0.5, 0.5}}, nil, []any{int64(5), int64(5), int64(10), int64(0), int64(0)}, true, 0.0, 0},
		{map[string]any{"bins": []any{0.0, 1.0, 2.0}, "weights": []any{0.5, 0.5}}, nil, []any{int64(4), int64(4), int64(10), int64(1), int64(1)}, false, nil, 0},
		{map[string]any{"bins": []any{0.0, 1.0, 2.0}, "weights": []any{0.5, 0.5}}, map[string]any{"tail_weight_holdout": 0.2}, []any{int64(4), int64(4), int64(10), int64(1), int64(1)}, true, 0.8*math.Log(0.8/0.8) + 0.2*math.Log(0.2/0.2), 1e-12},
		{map[string]any{"bins": []any{"-Infinity", 1.0, 2.0}, "weights": []any{0.5, 0.5}}, map[string]any{"tail_weight_holdout": 0.1}, []any{int64(5), int64(4), int64(10), int64(0), int64(1)}, true, nil, -1},
		{map[string]any{"bins": []any{0.0, 1.0, "Infinity"}, "weights": []any{0.5, 0.5}}, nil, []any{int64(5), int64(5), int64(10), int64(0), int64(0)}, true, 0.0, 0},
		{map[string]any{"bins": []any{0.0, 1.0, 2.0}, "weights": []any{1.0, 0.0}}, map[string]any{"internal_weight_holdout": 0.5}, []any{int64(5), int64(5), int64(10), int64(0), int64(0)}, true, 0.0, 0},
		{map[string]any{"bins": []any{0.0, 1.0, 2.0}, "weights": []any{0.5, 0.5}}, nil, []any{int64(0), int64(0), int64(0), int64(0), int64(0)}, false, nil, 0},
	}
	for i, c := range cases {
		kw := map[string]any{"column": "c1", "partition_object": c.part, "threshold": 0.1}
		for k, v := range c.extra {
			kw[k] = v
		}
		out, err := evalStatic(t, testEnv(), "expect_column_kl_divergence_to_be_less_than", kw, c.vals...)
		if err != nil {
			t.Errorf("case %d: %v", i, err)
			continue
		}
		if out.Success != c.success {
			t.Errorf("case %d: success %v, want %v (%v)", i, out.Success, c.success, out.Result)
		}
		if c.tolerance < 0 {
			continue
		}
		got := out.Result["observed_value"]
		if c.observed == nil {
			if got != nil {
				t.Errorf("case %d: observed %v, want null", i, got)
			}
		} else if g, ok := got.(float64); !ok || math.Abs(g-c.observed.(float64)) > c.tolerance {
			t.Errorf("case %d: observed %v, want %v", i, got, c.observed)
		}
	}
	out, err := evalStatic(t, testEnv(), "expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "c1", "partition_object": nil, "threshold": nil}, int64(3))
	if err != nil || !out.Success || out.Result["observed_value"] != 0.0 {
		t.Errorf("no partition: %v %v", out, err)
	}
}

func TestCategoricalFrame(t *testing.T) {
	p := &partitionObject{values: []any{"a", 1.0, true}, weights: []float64{0.5, 0.25, 0.25}}
	values, observed, expected := categoricalFrame(p, []any{"a", int64(1), "z", true}, []float64{2, 1, 1, 0}, 0.2, 4)
	if len(values) != 4 || values[3] != "z" {
		t.Fatalf("values %v", values)
	}
	wantObs := []float64{2, 1, 0, 1}
	wantExp := []float64{0.5 * 4 * 0.8, 0.25 * 4 * 0.8, 0.25 * 4 * 0.8, 4 * 0.2}
	for i := range wantObs {
		if observed[i] != wantObs[i] || math.Abs(expected[i]-wantExp[i]) > 1e-12 {
			t.Errorf("row %d: observed %v expected %v, want %v %v", i, observed[i], expected[i], wantObs[i], wantExp[i])
		}
	}
}
