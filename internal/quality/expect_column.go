package quality

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The column map expectations that look beyond one value: uniqueness,
// order, z-scores, the column's type, date parsing and JSON Schema.
func init() {
	Register("expect_column_values_to_be_unique", func(env *Env, kw Kwargs) (*Plan, error) {
		return columnMap(env, kw, func(col string) (string, error) {
			dup := "SELECT " + col + " FROM " + env.From() + env.Where(col+" IS NOT NULL") +
				" GROUP BY " + col + " HAVING count(*) > 1"
			return col + " IN (" + dup + ")", nil
		}, false)
	})
	Register("expect_column_values_to_be_increasing", orderExpectation(false))
	Register("expect_column_values_to_be_decreasing", orderExpectation(true))
	Register("expect_column_value_z_scores_to_be_less_than", zScores)
	Register("expect_column_values_to_be_of_type", func(env *Env, kw Kwargs) (*Plan, error) {
		v, ok := kw["type_"]
		if !ok {
			return nil, fmt.Errorf("%w: type_ is required", ErrInvalidKwargs)
		}
		var list []any
		if v != nil {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%w: type_ must be a string, got %v", ErrInvalidKwargs, v)
			}
			list = []any{s}
		}
		return typePlan(env, kw, list, v != nil)
	})
	Register("expect_column_values_to_be_in_type_list", func(env *Env, kw Kwargs) (*Plan, error) {
		list, ok, err := kw.List("type_list")
		if err != nil {
			return nil, err
		}
		return typePlan(env, kw, list, ok)
	})
	Register("expect_column_values_to_be_dateutil_parseable", func(env *Env, kw Kwargs) (*Plan, error) {
		name, err := kw.Column()
		if err != nil {
			return nil, err
		}
		switch t := env.T.TypeOf(name); typeFamily(t) {
		case "date", "timestamp", "timestamptz":
			// Read as dates already (the loader parsed them): all parse.
		default:
			if t != "" && !isTextType(t) {
				return nil, fmt.Errorf("%w: column %q is of type %s; values passed to expect_column_values_to_be_dateutil_parseable must be of type string", ErrInvalidKwargs, name, t)
			}
		}
		return columnMap(env, kw, func(col string) (string, error) {
			return "NOT " + env.D.RegexMatch(env.D.Text(col), env.Bind(dateLike)), nil
		}, false)
	})
	Register("expect_column_values_to_match_strftime_format", func(env *Env, kw Kwargs) (*Plan, error) {
		f, err := kw.requiredString("strftime_format")
		if err != nil {
			return nil, err
		}
		re, err := strftimeRegex(f)
		if err != nil {
			return nil, err
		}
		if err := requireText(env, kw); err != nil {
			return nil, err
		}
		return columnMap(env, kw, func(col string) (string, error) {
			return "NOT " + env.D.RegexMatch(env.D.Text(col), env.Bind(re)), nil
		}, false)
	})
	Register("expect_column_values_to_match_json_schema", jsonSchemaExpectation)
}

// orderExpectation: each non-null value is at least (strictly: more than)
// the previous non-null value in row order, or at most for decreasing.
func orderExpectation(decreasing bool) Factory {
	return func(env *Env, kw Kwargs) (*Plan, error) {
		if env.T.Index == "" {
			return nil, fmt.Errorf("%w: the table has no row order to check", ErrInvalidKwargs)
		}
		strictly, err := kw.Bool("strictly", false)
		if err != nil {
			return nil, err
		}
		return columnMap(env, kw, func(col string) (string, error) {
			op := " < "
			if decreasing {
				op = " > "
			}
			if strictly {
				op = strings.TrimSpace(op) + "= "
				op = " " + op
			}
			ordered := "SELECT " + env.T.Index + " AS shp_i, " + col + " AS shp_v, lag(" + col + ") OVER (ORDER BY " +
				env.T.Index + ") AS shp_p FROM " + env.From() + env.Where(col+" IS NOT NULL")
			return env.T.Index + " IN (SELECT shp_i FROM (" + ordered + ") shp_o WHERE shp_v" + op + "shp_p)", nil
		}, false)
	}
}

// zScores: |value - mean| / stddev (sample) below threshold, or the signed
// z-score below it when double_sided is false.
func zScores(env *Env, kw Kwargs) (*Plan, error) {
	th, err := kw.Number("threshold")
	if err != nil {
		return nil, err
	}
	if th == nil {
		return nil, fmt.Errorf("%w: threshold is required", ErrInvalidKwargs)
	}
	double, err := kw.Bool("double_sided", true)
	if err != nil {
		return nil, err
	}
	return columnMap(env, kw, func(col string) (string, error) {
		f := env.D.Float(col)
		mean := "(SELECT avg(" + f + ") FROM " + env.From() + env.Where("") + ")"
		sd := "(SELECT " + env.D.StdDev(f) + " FROM " + env.From() + env.Where("") + ")"
		z := "((" + f + " - " + mean + ") / nullif(" + sd + ", 0))"
		if double {
			z = "abs" + z
		}
		return z + " >= " + env.Bind(*th), nil
	}, false)
}

// typeFamilies maps a type name (SQL, BigQuery or Python/pandas) to the
// family it belongs to, so that type_ "INTEGER" matches a BIGINT column.
var typeFamilies = map[string]string{}

func init() {
	for fam, names := range map[string][]string{
		"integer":     {"INTEGER", "INT", "INT2", "INT4", "INT8", "INT16", "INT32", "INT64", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT", "SERIAL", "BIGSERIAL", "LONG", "INT64DTYPE", "INT32DTYPE", "INTEGERTYPE", "LONGTYPE"},
		"float":       {"FLOAT", "FLOAT4", "FLOAT8", "FLOAT32", "FLOAT64", "DOUBLE", "DOUBLE_PRECISION", "DOUBLE PRECISION", "REAL", "FLOATTYPE", "DOUBLETYPE"},
		"numeric":     {"NUMERIC", "DECIMAL", "BIGNUMERIC", "NUMBER", "DECIMALTYPE"},
		"text":        {"TEXT", "VARCHAR", "STRING", "CHAR", "BPCHAR", "CHARACTER", "CHARACTER VARYING", "NVARCHAR", "STR", "OBJECT", "STRINGTYPE", "UNICODE"},
		"boolean":     {"BOOLEAN", "BOOL", "BOOLEANTYPE"},
		"date":        {"DATE", "DATETYPE"},
		"timestamp":   {"TIMESTAMP", "DATETIME", "DATETIME64", "DATETIME64[NS]", "TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMPTYPE", "TIMESTAMP_NTZ"},
		"timestamptz": {"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"},
		"time":        {"TIME", "TIME WITHOUT TIME ZONE"},
		"json":        {"JSON", "JSONB"},
		"bytes":       {"BLOB", "BYTEA", "BYTES", "VARBINARY", "BINARY"},
		"uuid":        {"UUID"},
	} {
		for _, n := range names {
			typeFamilies[n] = fam
		}
	}
}

// typeFamily names the family of a type, stripping length, precision and
// array suffixes; an unknown type is its own family.
func typeFamily(t string) string {
	t = strings.ToUpper(strings.TrimSpace(t))
	if i := strings.IndexByte(t, '('); i > 0 {
		t = strings.TrimSpace(t[:i])
	}
	if fam, ok := typeFamilies[t]; ok {
		return fam
	}
	return t
}

// typePlan compares the column's engine type with the expected types by
// family; a missing list (GE's placeholder expectation) always succeeds.
func typePlan(env *Env, kw Kwargs, list []any, given bool) (*Plan, error) {
	name, err := kw.Column()
	if err != nil {
		return nil, err
	}
	if _, err := env.Col(name); err != nil {
		return nil, err
	}
	actual := env.T.TypeOf(name)
	if !given {
		return staticPlan(true, map[string]any{"observed_value": actual}), nil
	}
	fam := typeFamily(actual)
	ok := false
	for _, v := range list {
		s, isStr := v.(string)
		if !isStr {
			return nil, fmt.Errorf("%w: type names must be strings, got %v", ErrInvalidKwargs, v)
		}
		if typeFamily(s) == fam {
			ok = true
		}
	}
	return staticPlan(ok, map[string]any{"observed_value": actual}), nil
}

// dateLike approximates what dateutil's parser accepts: ISO dates and
// times, numeric dates with / - or . separators, and dates with month
// names, each optionally followed by a time of day.
const dateLike = `^\s*(` +
	`\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?` +
	`|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}(\s+\d{1,2}:\d{2}(:\d{2})?\s*([AaPp][Mm])?)?` +
	`|\d{4}/\d{1,2}/\d{1,2}(\s+\d{1,2}:\d{2}(:\d{2})?)?` +
	`|([A-Za-z]{3,9},?\s+)?[A-Za-z]{3,9}\.?\s+\d{1,2}(st|nd|rd|th)?,?\s+\d{4}(\s+\d{1,2}:\d{2}(:\d{2})?\s*([AaPp][Mm])?)?` +
	`|\d{1,2}\s+[A-Za-z]{3,9}\.?,?\s+\d{4}(\s+\d{1,2}:\d{2}(:\d{2})?)?` +
	`|\d{8}(T\d{6})?` +
	`)\s*$`

// strftimeRegex turns a strftime format into an anchored regular
// expression accepting the strings the format produces.
func strftimeRegex(f string) (string, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			b.WriteString(regexp.QuoteMeta(string(c)))
			continue
		}
		i++
		if i >= len(f) {
			return "", fmt.Errorf("%w: strftime_format %q ends with %%", ErrInvalidKwargs, f)
		}
		switch f[i] {
		case 'Y':
			b.WriteString(`\d{4}`)
		case 'y', 'C':
			b.WriteString(`\d{2}`)
		case 'm':
			b.WriteString(`(0?[1-9]|1[0-2])`)
		case 'd':
			b.WriteString(`(0?[1-9]|[12]\d|3[01])`)
		case 'e':
			b.WriteString(`( ?[1-9]|[12]\d|3[01])`)
		case 'H':
			b.WriteString(`([01]?\d|2[0-3])`)
		case 'I':
			b.WriteString(`(0?[1-9]|1[0-2])`)
		case 'M':
			b.WriteString(`[0-5]?\d`)
		case 'S':
			b.WriteString(`([0-5]?\d|60)`)
		case 'f':
			b.WriteString(`\d{1,6}`)
		case 'j':
			b.WriteString(`\d{1,3}`)
		case 'p':
			b.WriteString(`([AaPp][Mm])`)
		case 'b', 'h':
			b.WriteString(`(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)`)
		case 'B':
			b.WriteString(`(January|February|March|April|May|June|July|August|September|October|November|December)`)
		case 'a':
			b.WriteString(`(Mon|Tue|Wed|Thu|Fri|Sat|Sun)`)
		case 'A':
			b.WriteString(`(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)`)
		case 'w':
			b.WriteString(`[0-6]`)
		case 'u':
			b.WriteString(`[1-7]`)
		case 'U', 'W', 'V':
			b.WriteString(`\d{2}`)
		case 'z':
			b.WriteString(`([+-]\d{2}:?\d{2}|Z)?`)
		case 'Z':
			b.WriteString(`[A-Za-z]*`)
		case 'T':
			b.WriteString(`([01]?\d|2[0-3]):[0-5]\d:[0-5]\d`)
		case 'D':
			b.WriteString(`\d{2}/\d{2}/\d{2}`)
		case 'F':
			b.WriteString(`\d{4}-\d{2}-\d{2}`)
		case '%':
			b.WriteString("%")
		default:
			return "", fmt.Errorf("%w: strftime_format %q: unknown directive %%%c", ErrInvalidKwargs, f, f[i])
		}
	}
	b.WriteString("$")
	return b.String(), nil
}

// jsonSchemaExpectation checks each distinct value against a JSON Schema in
// Go, then counts and samples the failing values in SQL.
func jsonSchemaExpectation(env *Env, kw Kwargs) (*Plan, error) {
	raw, ok := kw["json_schema"]
	if !ok || raw == nil {
		return nil, fmt.Errorf("%w: json_schema is required", ErrInvalidKwargs)
	}
	doc, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: json_schema: %v", ErrInvalidKwargs, err)
	}
	parsed, err := jsonschema.UnmarshalJSON(strings.NewReader(string(doc)))
	if err != nil {
		return nil, fmt.Errorf("%w: json_schema: %v", ErrInvalidKwargs, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", parsed); err != nil {
		return nil, fmt.Errorf("%w: json_schema: %v", ErrInvalidKwargs, err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		return nil, fmt.Errorf("%w: json_schema: %v", ErrInvalidKwargs, err)
	}
	return goCheckedMap(env, kw, func(s string) bool {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
		return err == nil && sch.Validate(v) == nil
	})
}

// goCheckedMap is a column map expectation whose check runs in Go: each
// distinct non-null value (as text) is checked once, then the engine
// counts and samples the rows holding failing values.
func goCheckedMap(env *Env, kw Kwargs, ok func(string) bool) (*Plan, error) {
	name, col, err := env.Column(kw)
	if err != nil {
		return nil, err
	}
	mostly, err := kw.Mostly()
	if err != nil {
		return nil, err
	}
	plan := &Plan{}
	plan.Evaluate = func(ctx context.Context, q Queryer, _ []any) (Outcome, error) {
		rows, err := env.Query(ctx, q, "SELECT DISTINCT "+env.D.Text(col)+" FROM "+env.From()+env.Where(col+" IS NOT NULL"))
		if err != nil {
			return Outcome{}, err
		}
		var bad []any
		for _, r := range rows {
			s, _ := r[0].(string)
			if !ok(s) {
				bad = append(bad, s)
			}
		}
		pred := env.inSet(env.D.Text(col), textType(env.D), bad)
		unexpected := col + " IS NOT NULL AND " + pred
		mp := mapPlan(env, name, []string{col}, unexpected, mostly, false,
			"sum(CASE WHEN "+col+" IS NULL THEN 1 ELSE 0 END)")
		plan.Unexpected = unexpected
		aggs := make([]string, len(mp.Aggregates))
		for i, a := range mp.Aggregates {
			aggs[i] = a
			if env.cond != "" {
				aggs[i] = filterAggregate(env.D, a, env.cond)
			}
		}
		counts, err := env.Query(ctx, q, "SELECT "+strings.Join(aggs, ", ")+" FROM "+env.From())
		if err != nil {
			return Outcome{}, err
		}
		return mp.Evaluate(ctx, q, counts[0])
	}
	return plan, nil
}
