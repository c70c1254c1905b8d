package quality

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// evalStatic compiles an expectation and evaluates it with the given
// aggregate values, without a database.
func evalStatic(t *testing.T, env *Env, typ string, kw map[string]any, vals ...any) (Outcome, error) {
	t.Helper()
	f, ok := lookupFactory(typ)
	if !ok {
		t.Fatalf("%s is not registered", typ)
	}
	p, err := f(env, Kwargs(kw))
	if err != nil {
		return Outcome{}, err
	}
	if len(vals) != len(p.Aggregates) {
		t.Fatalf("%s: %d aggregates %v, test gives %d values", typ, len(p.Aggregates), p.Aggregates, len(vals))
	}
	return p.Evaluate(context.Background(), nil, vals)
}

func testEnv() *Env {
	return &Env{D: DuckDB, Format: Complete, T: Table{Name: "t", Columns: []Column{
		{"c1", "INTEGER"}, {"c2", "VARCHAR"}, {"c3", "VARCHAR"},
	}}}
}

func TestTableExpectations(t *testing.T) {
	n := func(s string) json.Number { return json.Number(s) }
	cases := []struct {
		typ     string
		kw      map[string]any
		vals    []any
		success bool
		obs     any
		invalid bool
	}{
		{"expect_table_row_count_to_be_between", map[string]any{"min_value": n("3"), "max_value": n("5")}, []any{int64(4)}, true, int64(4), false},
		{"expect_table_row_count_to_be_between", map[string]any{}, []any{int64(4)}, true, int64(4), false},
		{"expect_table_row_count_to_be_between", map[string]any{"min_value": nil, "max_value": n("3")}, []any{int64(4)}, false, int64(4), false},
		{"expect_table_row_count_to_be_between", map[string]any{"max_value": n("4"), "strict_max": true}, []any{int64(4)}, false, int64(4), false},
		{"expect_table_row_count_to_be_between", map[string]any{"min_value": n("1"), "max_value": n("0")}, nil, false, nil, true},
		{"expect_table_row_count_to_be_between", map[string]any{"min_value": "quack"}, nil, false, nil, true},
		{"expect_table_row_count_to_be_between", map[string]any{"min_value": n("1.5")}, nil, false, nil, true},
		{"expect_table_row_count_to_equal", map[string]any{"value": n("4")}, []any{int64(4)}, true, int64(4), false},
		{"expect_table_row_count_to_equal", map[string]any{"value": n("5")}, []any{int64(4)}, false, int64(4), false},
		{"expect_table_row_count_to_equal", map[string]any{"value": "hello"}, nil, false, nil, true},
		{"expect_table_row_count_to_equal", map[string]any{}, nil, false, nil, true},
		{"expect_table_column_count_to_be_between", map[string]any{"min_value": n("1"), "max_value": n("3")}, nil, true, int64(3), false},
		{"expect_table_column_count_to_be_between", map[string]any{"min_value": n("4")}, nil, false, int64(3), false},
		{"expect_table_column_count_to_equal", map[string]any{"value": n("3")}, nil, true, int64(3), false},
		{"expect_table_column_count_to_equal", map[string]any{"value": n("2")}, nil, false, int64(3), false},
		{"expect_table_columns_to_match_set", map[string]any{"column_set": []any{"c3", "c2", "c1"}}, nil, true, []any{"c1", "c2", "c3"}, false},
		{"expect_table_columns_to_match_set", map[string]any{"column_set": []any{"c1", "c2"}}, nil, false, []any{"c1", "c2", "c3"}, false},
		{"expect_table_columns_to_match_set", map[string]any{"column_set": []any{"c1", "c2"}, "exact_match": false}, nil, true, []any{"c1", "c2", "c3"}, false},
		{"expect_table_columns_to_match_set", map[string]any{"column_set": []any{"c1", "c4"}, "exact_match": false}, nil, false, []any{"c1", "c2", "c3"}, false},
		{"expect_table_columns_to_match_set", map[string]any{"column_set": nil}, nil, false, []any{"c1", "c2", "c3"}, false},
		{"expect_table_columns_to_match_set", map[string]any{"column_set": nil, "exact_match": false}, nil, true, []any{"c1", "c2", "c3"}, false},
		{"expect_table_columns_to_match_ordered_list", map[string]any{"column_list": []any{"c1", "c2", "c3"}}, nil, true, []any{"c1", "c2", "c3"}, false},
		{"expect_table_columns_to_match_ordered_list", map[string]any{"column_list": []any{"c2", "c1", "c3"}}, nil, false, []any{"c1", "c2", "c3"}, false},
		{"expect_table_columns_to_match_ordered_list", map[string]any{"column_list": []any{"c1", "c2"}}, nil, false, []any{"c1", "c2", "c3"}, false},
		{"expect_column_to_exist", map[string]any{"column": "c2"}, nil, true, nil, false},
		{"expect_column_to_exist", map[string]any{"column": "nope"}, nil, false, nil, false},
		{"expect_column_to_exist", map[string]any{"column": "c2", "column_index": n("1")}, nil, true, nil, false},
		{"expect_column_to_exist", map[string]any{"column": "c3", "column_index": n("4")}, nil, false, nil, false},
		{"expect_column_to_exist", map[string]any{"column": "c3", "column_index": n("0")}, nil, false, nil, false},
	}
	for _, c := range cases {
		out, err := evalStatic(t, testEnv(), c.typ, c.kw, c.vals...)
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

func TestColumnsToMatchSetDetails(t *testing.T) {
	out, err := evalStatic(t, testEnv(), "expect_table_columns_to_match_set", map[string]any{"column_set": []any{"b1", "c2", "c3"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"mismatched": map[string]any{"unexpected": []any{"c1"}, "missing": []any{"b1"}}}
	if out.Success || !reflect.DeepEqual(out.Result["details"], want) {
		t.Fatalf("got %v %v", out.Success, out.Result)
	}
}
