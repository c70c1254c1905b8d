package quality

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/testutil"
)

var (
	nan    = NonFinite(math.NaN())
	posInf = NonFinite(math.Inf(1))
	negInf = NonFinite(math.Inf(-1))
)

// sameValue is reflect.DeepEqual with NaN equal to NaN.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case NonFinite:
		y, ok := b.(NonFinite)
		return ok && (x == y || (math.IsNaN(float64(x)) && math.IsNaN(float64(y))))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !sameValue(x[k], y[k]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestRewriteNonFinite(t *testing.T) {
	const nanObj, infObj, negObj = `{"$numberDouble":"NaN"}`, `{"$numberDouble":"Infinity"}`, `{"$numberDouble":"-Infinity"}`
	cases := []struct {
		name, in, want string // want "" : unchanged
	}{
		{"value", `{"a": NaN}`, `{"a": ` + nanObj + `}`},
		{"no spaces", `{"a":NaN,"b":-Infinity}`, `{"a":` + nanObj + `,"b":` + negObj + `}`},
		{"array", `[1, NaN, Infinity, -Infinity]`, `[1, ` + nanObj + `, ` + infObj + `, ` + negObj + `]`},
		{"array without spaces", `[NaN,Infinity,-Infinity]`, `[` + nanObj + `,` + infObj + `,` + negObj + `]`},
		{"nested", "{\"a\": {\"b\": [\n\tNaN,\r\n{\"c\": -Infinity}]}}", "{\"a\": {\"b\": [\n\t" + nanObj + ",\r\n{\"c\": " + negObj + "}]}}"},
		{"the whole document", `Infinity`, infObj},
		{"in strings", `{"t": "text NaN", "u": "-Infinity", "v": "a \" NaN", "w": "\\", "x": [NaN]}`, `{"t": "text NaN", "u": "-Infinity", "v": "a \" NaN", "w": "\\", "x": [` + nanObj + `]}`},
		{"keys", `{"NaN": 1, "Infinity": "-Infinity"}`, ""},
		{"no token", `{"a": [1, -2.5e3, null, true]}`, ""},
		{"followed by a letter", `[NaNx, Infinityy, -Infinityx]`, ""},
		{"preceded by a digit", `[1NaN]`, ""},
		{"lower case", `[nan, inf, -inf, infinity]`, ""},
		{"plus sign", `[+Infinity]`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, rw := RewriteNonFinite([]byte(tc.in))
			want := tc.want
			if want == "" {
				want = tc.in
				if rw != nil {
					t.Errorf("a rewrite for %s", tc.in)
				}
			}
			if string(got) != want {
				t.Fatalf("RewriteNonFinite(%s)\n got %s\nwant %s", tc.in, got, want)
			}
			if tc.want != "" && !json.Valid(got) {
				t.Fatalf("not JSON: %s", got)
			}
		})
	}
}

func TestRewriteOffset(t *testing.T) {
	in := `[NaN, 1, -Infinity, x]`
	out, rw := RewriteNonFinite([]byte(in))
	for _, tc := range []struct{ tok, src string }{{"1", "1"}, {"x", "x"}, {`{"$numberDouble":"-Infinity"}`, "-Infinity"}, {`"-Infinity"}`, "-Infinity"}} {
		o := int64(strings.Index(string(out), tc.tok))
		if got, want := rw.Offset(o), int64(strings.Index(in, tc.src)); got != want {
			t.Errorf("offset of %s: %d, want %d", tc.tok, got, want)
		}
	}
	if got := (*Rewrite)(nil).Offset(7); got != 7 {
		t.Errorf("nil rewrite: %d", got)
	}
}

func TestParseSuiteNonFinite(t *testing.T) {
	suite := `{"name": "py", "evaluation_parameters": {"floor": -Infinity}, "meta": {"note": "NaN means missing", "x": NaN},
	"expectations": [
		{"type": "expect_column_values_to_be_between", "kwargs": {"column": "f", "min_value": -Infinity, "max_value": Infinity}},
		{"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "f", "value_set": [1, NaN, "NaN"]}},
		{"type": "expect_column_mean_to_be_between", "kwargs": {"column": "c1", "min_value": NaN, "max_value": 2.5}},
		{"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": -Infinity, "max_value": 10}},
		{"type": "expect_column_kl_divergence_to_be_less_than", "kwargs": {"column": "f", "partition_object": {"bins": [-Infinity, 0, Infinity], "weights": [0.5, 0.5]}, "threshold": 0.1}},
		{"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "^(NaN|-Infinity)$"}, "meta": {"limit": Infinity}}
	]}`
	s, err := ParseSuite([]byte(suite), "py.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		i    int
		key  string
		want any
	}{
		{0, "min_value", negInf},
		{0, "max_value", posInf},
		{0, "column", "f"},
		{1, "value_set", []any{json.Number("1"), nan, "NaN"}},
		{2, "min_value", nan},
		{2, "max_value", json.Number("2.5")},
		{3, "min_value", negInf},
		{3, "max_value", json.Number("10")},
		{4, "partition_object", map[string]any{"bins": []any{negInf, json.Number("0"), posInf}, "weights": []any{json.Number("0.5"), json.Number("0.5")}}},
		{5, "regex", "^(NaN|-Infinity)$"},
	}
	for _, c := range cases {
		if got := s.Expectations[c.i].Kwargs[c.key]; !sameValue(got, c.want) {
			t.Errorf("expectation %d %s = %#v, want %#v", c.i, c.key, got, c.want)
		}
	}
	if got := s.Expectations[5].Meta["limit"]; got != posInf {
		t.Errorf("meta limit %#v", got)
	}
	if s.Params["floor"] != negInf || s.Meta["note"] != "NaN means missing" || !sameValue(s.Meta["x"], nan) {
		t.Errorf("params %#v meta %#v", s.Params, s.Meta)
	}
	// The values still marshal, and come back as they went.
	b, err := json.Marshal(map[string]any{"expectation": s.Expectations[1].Type, "kwargs": s.Expectations[1].Kwargs})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"value_set":[1,{"$numberDouble":"NaN"},"NaN"]`) {
		t.Errorf("marshalled %s", b)
	}
	c, err := ParseStoredRule(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Kwargs["value_set"]; !sameValue(got, []any{1.0, nan, "NaN"}) {
		t.Errorf("stored and read back: %#v", got)
	}
	// The statistics compare with them: nothing is within a NaN bound, as
	// in Python, and -Infinity is no lower bound for a row count.
	for _, tc := range []struct {
		i       int
		val     any
		success bool
	}{
		{2, 2.0, false},
		{3, int64(10), true},
		{3, int64(11), false},
	} {
		out, err := evalStatic(t, testEnv(), s.Expectations[tc.i].Type, s.Expectations[tc.i].Kwargs, tc.val)
		if err != nil || out.Success != tc.success {
			t.Errorf("expectation %d on %v: %v %v, want success %v", tc.i, tc.val, out.Success, err, tc.success)
		}
	}
}

func TestParseSuiteMalformedNonFinite(t *testing.T) {
	cases := []struct {
		name, in, at string // at: the text the error points to
	}{
		{"NaNx", `{"expectations": [{"type": "t", "kwargs": {"a": NaNx}}]}`, "NaNx"},
		{"Infinityy", `{"expectations": [{"type": "t", "kwargs": {"a": Infinityy}}]}`, "Infinityy"},
		{"-Infinityy after a good token", `{"expectations": [{"type": "t", "kwargs": {"b": NaN, "a": -Infinity, "c": -Infinityy}}]}`, "Infinityy"},
		{"lower case", `{"expectations": [{"type": "t", "kwargs": {"b": -Infinity, "a": nan}}]}`, "an}"}, // "invalid character 'a' in literal null"
		{"on a later line", "{\"expectations\": [\n  {\"type\": \"t\", \"kwargs\": {\"b\": NaN,\n    \"a\": NaN1}}]}", "NaN1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSuite([]byte(tc.in), "s.json")
			var syn *json.SyntaxError
			if err == nil || !errors.As(err, &syn) {
				t.Fatalf("err = %v, want a syntax error", err)
			}
			off := strings.Index(tc.in, tc.at)
			if tc.at == "Infinityy" && strings.Contains(tc.in, "-Infinityy") {
				off = strings.Index(tc.in, "-Infinityy") + 1 // "invalid character 'I' in numeric literal"
			}
			line, col := lineCol([]byte(tc.in), int64(off))
			if want := fmt.Sprintf("s.json:%d:%d: not a GE expectation suite: invalid character", line, col); !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want it to contain %q", err, want)
			}
		})
	}
}

func TestParseRuleNonFinite(t *testing.T) {
	// As YAML gives .inf and .nan, and as a stored rule holds them.
	for _, kw := range []map[string]any{
		{"column": "f", "min_value": math.Inf(-1), "max_value": math.NaN(), "value_set": []any{1.0, math.NaN()}},
		{"column": "f", "min_value": map[string]any{NonFiniteKey: "-Infinity"}, "max_value": map[string]any{NonFiniteKey: "NaN"},
			"value_set": []any{1.0, map[string]any{NonFiniteKey: "NaN"}}},
	} {
		c, err := ParseRule(map[string]any{"expectation": "expect_column_values_to_be_between", "kwargs": kw})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"column": "f", "min_value": negInf, "max_value": nan, "value_set": []any{1.0, nan}}
		if !sameValue(c.Kwargs, want) {
			t.Errorf("ParseRule(%v) kwargs %#v", kw, c.Kwargs)
		}
		if _, changed := kw["min_value"].(NonFinite); changed {
			t.Errorf("ParseRule changed its argument: %v", kw)
		}
	}
	// Not the spelling of a NonFinite: left as it is, and refused as a bound.
	c, err := ParseRule(map[string]any{"expectation": "expect_column_values_to_be_between",
		"kwargs": map[string]any{"column": "c1", "min_value": map[string]any{NonFiniteKey: "1.5"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Kwargs["min_value"].(map[string]any); !ok {
		t.Errorf("min_value %#v", c.Kwargs["min_value"])
	}
	if _, err := ParseRule(map[string]any{"expectation": "expect_column_values_to_not_be_null",
		"kwargs": map[string]any{"column": "c1", "mostly": math.NaN()}}); err != nil {
		t.Fatal(err)
	}
	if err := CheckRule(Config{Type: "expect_column_values_to_not_be_null", Kwargs: map[string]any{"column": "c1", "mostly": nan}}, nil); !errors.Is(err, ErrInvalidKwargs) {
		t.Errorf("mostly NaN: %v", err)
	}
}

// TestNonFiniteSQL checks the SQL an infinite or NaN kwarg compiles to:
// a double literal of the dialect, never a bound value.
func TestNonFiniteSQL(t *testing.T) {
	cases := []struct {
		typ  string
		kw   map[string]any
		want map[string]string // dialect name: the unexpected rows' predicate
	}{
		{"expect_column_values_to_be_between", map[string]any{"column": "c1", "min_value": negInf, "max_value": posInf}, map[string]string{
			"duckdb":   `"c1" > CAST('Infinity' AS DOUBLE)`,
			"postgres": `"c1" > CAST('Infinity' AS DOUBLE PRECISION)`}},
		{"expect_column_values_to_be_between", map[string]any{"column": "c1", "min_value": negInf, "strict_min": true, "max_value": json.Number("3")}, map[string]string{
			"duckdb":   `"c1" <= CAST('-Infinity' AS DOUBLE) OR "c1" > ?`,
			"postgres": `"c1" <= CAST('-Infinity' AS DOUBLE PRECISION) OR "c1" > $1`}},
		{"expect_column_values_to_be_between", map[string]any{"column": "c1", "min_value": negInf}, map[string]string{
			"duckdb": `FALSE`, "postgres": `FALSE`}},
		{"expect_column_values_to_be_between", map[string]any{"column": "c1", "min_value": nan}, map[string]string{
			"duckdb": `"c1" < CAST('NaN' AS DOUBLE)`, "postgres": `"c1" < CAST('NaN' AS DOUBLE PRECISION)`}},
		{"expect_column_values_to_be_in_set", map[string]any{"column": "c1", "value_set": []any{json.Number("1"), nan}}, map[string]string{
			"duckdb":   `NOT ("c1" IN (?, CAST('NaN' AS DOUBLE)))`,
			"postgres": `NOT ("c1" IN ($1, CAST('NaN' AS DOUBLE PRECISION)))`}},
		{"expect_column_values_to_not_be_in_set", map[string]any{"column": "c1", "value_set": []any{posInf}}, map[string]string{
			"duckdb": `"c1" IN (CAST('Infinity' AS DOUBLE))`, "postgres": `"c1" IN (CAST('Infinity' AS DOUBLE PRECISION))`}},
		{"expect_column_value_lengths_to_be_between", map[string]any{"column": "c2", "min_value": negInf, "max_value": posInf}, map[string]string{
			"duckdb": `length(CAST("c2" AS VARCHAR)) > CAST('Infinity' AS DOUBLE)`, "postgres": `char_length(CAST("c2" AS TEXT)) > CAST('Infinity' AS DOUBLE PRECISION)`}},
	}
	for _, c := range cases {
		for _, d := range []Dialect{DuckDB, Postgres} {
			env := testEnv()
			env.D = d
			p, err := lookupFactoryOrFail(t, c.typ)(env, Kwargs(c.kw))
			if err != nil {
				t.Errorf("%s %v on %s: %v", c.typ, c.kw, d.Name(), err)
				continue
			}
			got, args := env.render(p.Unexpected)
			if want := c.want[d.Name()]; !strings.Contains(got, want) {
				t.Errorf("%s %v on %s: predicate %s, want %s", c.typ, c.kw, d.Name(), got, want)
			}
			for _, a := range args {
				if _, bad := isNonFinite(a); bad {
					t.Errorf("%s on %s binds %v", c.typ, d.Name(), a)
				}
			}
		}
	}
}

func lookupFactoryOrFail(t *testing.T, typ string) Factory {
	t.Helper()
	f, ok := lookupFactory(typ)
	if !ok {
		t.Fatalf("%s is not registered", typ)
	}
	return f
}

// TestPostgresNonFinite runs a suite that Python wrote, NaN and infinities
// included, on PostgreSQL, whose driver cannot bind them to an integer.
func TestPostgresNonFinite(t *testing.T) {
	db, err := sql.Open("pgx", testutil.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE py (pos INTEGER, i INTEGER, f DOUBLE PRECISION, d DATE)`,
		`INSERT INTO py VALUES (0, 1, 1.5, '2025-01-01'), (1, 2, 'NaN', '2025-01-02'), (2, 3, '-Infinity', '2025-01-03'), (3, 4, 'Infinity', NULL)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	table := Table{Name: "py", Index: `"pos"`, Columns: []Column{{"pos", "INTEGER"}, {"i", "INTEGER"}, {"f", "DOUBLE PRECISION"}, {"d", "DATE"}}}
	cases := []struct {
		kwargs     string // a GE suite's expectation, as Python writes it
		success    bool
		unexpected int64 // -1: an aggregate
	}{
		{`"type": "expect_column_values_to_be_between", "kwargs": {"column": "i", "min_value": -Infinity, "max_value": 3}`, false, 1},
		{`"type": "expect_column_values_to_be_between", "kwargs": {"column": "i", "min_value": 2, "max_value": Infinity}`, false, 1},
		{`"type": "expect_column_values_to_be_between", "kwargs": {"column": "i", "min_value": -Infinity, "max_value": Infinity}`, true, 0},
		// NaN is above Infinity in PostgreSQL, as in DuckDB.
		{`"type": "expect_column_values_to_be_between", "kwargs": {"column": "f", "min_value": -Infinity, "max_value": Infinity}`, false, 1},
		{`"type": "expect_column_values_to_be_between", "kwargs": {"column": "f", "min_value": -Infinity, "strict_min": true, "max_value": 2}`, false, 3},
		{`"type": "expect_column_values_to_be_between", "kwargs": {"column": "d", "min_value": -Infinity, "max_value": "2025-01-02"}`, false, 1},
		{`"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "i", "value_set": [1, 2, NaN]}`, false, 2},
		{`"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "f", "value_set": [1.5, NaN, -Infinity]}`, false, 1},
		{`"type": "expect_column_values_to_not_be_in_set", "kwargs": {"column": "f", "value_set": [NaN]}`, false, 1},
		{`"type": "expect_column_max_to_be_between", "kwargs": {"column": "i", "min_value": -Infinity, "max_value": Infinity}`, true, -1},
		{`"type": "expect_column_min_to_be_between", "kwargs": {"column": "d", "min_value": -Infinity, "max_value": "2025-01-01"}`, true, -1},
		{`"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": -Infinity, "max_value": 3}`, false, -1},
	}
	var exps []string
	for _, c := range cases {
		exps = append(exps, "{"+c.kwargs+"}")
	}
	suite, err := ParseSuite([]byte(`{"name": "py", "expectations": [`+strings.Join(exps, ",\n")+`]}`), "py.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Validate(ctx, sqlQueryer(db), Postgres, table, suite, Complete)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		r := res.Results[i]
		if r.Exception.Raised {
			t.Errorf("%s raised: %s", c.kwargs, r.Exception.Message)
			continue
		}
		if r.Success != c.success {
			t.Errorf("%s: success %v, want %v (%v)", c.kwargs, r.Success, c.success, r.Result)
		}
		if got := toInt(r.Result["unexpected_count"]); c.unexpected >= 0 && got != c.unexpected {
			t.Errorf("%s: %d unexpected, want %d (%v)", c.kwargs, got, c.unexpected, r.Result)
		}
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("the result does not marshal: %v", err)
	}
}
