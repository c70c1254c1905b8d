package quality

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestColumnStatisticBounds(t *testing.T) {
	n := func(s string) json.Number { return json.Number(s) }
	cases := []struct {
		typ     string
		kw      map[string]any
		val     any
		success bool
		obs     any
		invalid bool
	}{
		{"expect_column_min_to_be_between", map[string]any{"column": "c1", "min_value": n("-10"), "max_value": n("5")}, int32(1), true, int32(1), false},
		{"expect_column_min_to_be_between", map[string]any{"column": "c1", "min_value": n("4"), "max_value": nil}, int32(1), false, int32(1), false},
		{"expect_column_min_to_be_between", map[string]any{"column": "c1", "min_value": n("1"), "strict_min": true}, int32(1), false, int32(1), false},
		{"expect_column_min_to_be_between", map[string]any{"column": "c1"}, nil, false, nil, true},
		{"expect_column_min_to_be_between", map[string]any{"column": "nope", "min_value": n("1")}, nil, false, nil, true},
		{"expect_column_max_to_be_between", map[string]any{"column": "c1", "max_value": n("5"), "strict_max": true}, int32(5), false, int32(5), false},
		{"expect_column_max_to_be_between", map[string]any{"column": "c2", "min_value": "2001-01-01T12:00:01", "max_value": "2001-01-01T12:00:01"}, "2001-01-01 12:00:01", true, "2001-01-01 12:00:01", false},
		{"expect_column_max_to_be_between", map[string]any{"column": "c2", "min_value": "2002-01-01"}, "2001-01-01 12:00:01", false, "2001-01-01 12:00:01", false},
		{"expect_column_max_to_be_between", map[string]any{"column": "c1", "max_value": map[string]any{"$PARAMETER": "now()"}}, nil, false, nil, true},
		{"expect_column_mean_to_be_between", map[string]any{"column": "c1", "min_value": nil, "max_value": nil}, 3.5, true, 3.5, false},
		{"expect_column_mean_to_be_between", map[string]any{"column": "c1", "min_value": n("1"), "max_value": n("2")}, 3.5, false, 3.5, false},
		{"expect_column_mean_to_be_between", map[string]any{"column": "c1", "min_value": n("0"), "max_value": n("1")}, nil, false, nil, false},
		{"expect_column_mean_to_be_between", map[string]any{"column": "c1", "min_value": "s"}, nil, false, nil, true},
		{"expect_column_mean_to_be_between", map[string]any{"column": "c1", "min_value": n("2"), "max_value": n("1")}, nil, false, nil, true},
		{"expect_column_mean_to_be_between", map[string]any{"column": "c1", "min_value": n("1")}, "1.5000", true, 1.5, false},
		{"expect_column_sum_to_be_between", map[string]any{"column": "c1", "min_value": n("30"), "max_value": n("30")}, 30.0, true, int64(30), false},
		{"expect_column_stdev_to_be_between", map[string]any{"column": "c1", "max_value": n("1")}, 0.5, true, 0.5, false},
		{"expect_column_median_to_be_between", map[string]any{"column": "c1", "min_value": n("2")}, 1.5, false, 1.5, false},
		{"expect_column_unique_value_count_to_be_between", map[string]any{"column": "c1", "min_value": n("2"), "max_value": nil}, int64(1), false, int64(1), false},
	}
	for _, c := range cases {
		var vals []any
		if !c.invalid {
			vals = []any{c.val}
		}
		out, err := evalStatic(t, testEnv(), c.typ, c.kw, vals...)
		if c.invalid {
			if !errors.Is(err, ErrInvalidKwargs) {
				t.Errorf("%s %v: error %v, want ErrInvalidKwargs", c.typ, c.kw, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %v: %v", c.typ, c.kw, err)
			continue
		}
		if out.Success != c.success || !reflect.DeepEqual(out.Result["observed_value"], c.obs) {
			t.Errorf("%s %v: success %v observed %#v, want %v %#v", c.typ, c.kw, out.Success, out.Result["observed_value"], c.success, c.obs)
		}
	}
}

func TestUniqueProportionAndQuantiles(t *testing.T) {
	n := func(s string) json.Number { return json.Number(s) }
	out, err := evalStatic(t, testEnv(), "expect_column_proportion_of_unique_values_to_be_between",
		map[string]any{"column": "c1", "min_value": n("0.5"), "max_value": n("1")}, int64(2), int64(3))
	if err != nil || !out.Success || out.Result["observed_value"] != 2.0/3 {
		t.Fatalf("proportion: %v %v", out, err)
	}
	out, err = evalStatic(t, testEnv(), "expect_column_proportion_of_unique_values_to_be_between",
		map[string]any{"column": "c1", "min_value": n("0.5")}, int64(0), int64(0))
	if err != nil || out.Success || out.Result["observed_value"] != 0.0 {
		t.Fatalf("proportion of an empty column: %v %v", out, err)
	}
	qr := map[string]any{"quantiles": []any{n("0"), n("0.5"), n("1")}, "value_ranges": []any{[]any{nil, n("0")}, []any{n("1"), n("2")}, []any{n("3"), nil}}}
	out, err = evalStatic(t, testEnv(), "expect_column_quantile_values_to_be_between", map[string]any{"column": "c1", "quantile_ranges": qr}, int32(-1), int32(2), int32(5))
	if err != nil || !out.Success {
		t.Fatalf("quantiles: %v %v", out, err)
	}
	want := map[string]any{"quantiles": []any{0.0, 0.5, 1.0}, "values": []any{int32(-1), int32(2), int32(5)}}
	if !reflect.DeepEqual(out.Result["observed_value"], want) {
		t.Fatalf("quantiles observed %#v", out.Result["observed_value"])
	}
	out, _ = evalStatic(t, testEnv(), "expect_column_quantile_values_to_be_between", map[string]any{"column": "c1", "quantile_ranges": qr}, int32(-1), int32(3), nil)
	if out.Success || !reflect.DeepEqual(out.Result["details"], map[string]any{"success_details": []any{true, false, false}}) {
		t.Fatalf("quantiles out of range: %v", out)
	}
	bad := map[string]any{"quantiles": []any{n("0.5")}, "value_ranges": []any{[]any{n("2"), n("1")}}}
	if _, err := evalStatic(t, testEnv(), "expect_column_quantile_values_to_be_between", map[string]any{"column": "c1", "quantile_ranges": bad}); !errors.Is(err, ErrInvalidKwargs) {
		t.Fatalf("disordered range: %v", err)
	}
}

func TestSameElementAndSubset(t *testing.T) {
	cases := []struct {
		a, b any
		want bool
	}{
		{int32(1), json.Number("1"), true},
		{int16(2), 2.0, true},
		{int64(1), "1", false},
		{"a", "a", true},
		{"2016-01-01", "2016-01-01T00:00:00", true},
		{"2016-01-01", "2016-01-02", false},
		{true, true, true},
		{nil, nil, true},
		{nil, 0.0, false},
	}
	for _, c := range cases {
		if got := sameElement(c.a, c.b); got != c.want {
			t.Errorf("sameElement(%#v, %#v) = %v", c.a, c.b, got)
		}
	}
	if !subset([]any{int32(1), int32(2)}, []any{json.Number("2"), json.Number("1"), json.Number("9")}) || subset([]any{int32(3)}, []any{json.Number("1")}) {
		t.Error("subset")
	}
}

func TestAggregateMisconfiguration(t *testing.T) {
	for _, c := range []struct {
		typ string
		kw  map[string]any
	}{
		{"expect_column_distinct_values_to_contain_set", map[string]any{"column": "c1"}},
		{"expect_column_distinct_values_to_equal_set", map[string]any{"column": "c1", "value_set": "x"}},
		{"expect_column_most_common_value_to_be_in_set", map[string]any{"column": "c1"}},
		{"expect_column_most_common_value_to_be_in_set", map[string]any{"column": "c1", "value_set": []any{}, "ties_okay": "yes"}},
		{"expect_column_quantile_values_to_be_between", map[string]any{"column": "c1"}},
		{"expect_column_pair_values_to_be_equal", map[string]any{"column_A": "c1"}},
		{"expect_column_pair_values_to_be_equal", map[string]any{"column_A": "c1", "column_B": "c2", "ignore_row_if": "sometimes"}},
		{"expect_column_pair_values_to_be_in_set", map[string]any{"column_A": "c1", "column_B": "c2", "value_pairs_set": []any{[]any{1}}}},
		{"expect_compound_columns_to_be_unique", map[string]any{"column_list": []any{"c1", "nope"}}},
		{"expect_compound_columns_to_be_unique", map[string]any{"column_list": []any{"c1"}, "mostly": json.Number("1.1")}},
		{"expect_multicolumn_sum_to_equal", map[string]any{"column_list": []any{"c1"}}},
		{"expect_table_row_count_to_equal_other_table", map[string]any{}},
	} {
		f, _ := lookupFactory(c.typ)
		if _, err := f(testEnv(), Kwargs(c.kw)); !errors.Is(err, ErrInvalidKwargs) {
			t.Errorf("%s %v: error %v, want ErrInvalidKwargs", c.typ, c.kw, err)
		}
	}
}
