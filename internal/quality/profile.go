package quality

import (
	"context"
	"fmt"
	"strings"
)

// Profile is per-column statistics of a table.
type Profile struct {
	Rows    int64           `json:"rows"`
	Columns []ColumnProfile `json:"columns"`
}

// ColumnProfile describes one column.
type ColumnProfile struct {
	Name        string       `json:"name"`
	Type        string       `json:"type"`
	Nulls       int64        `json:"null_count"`
	NullPercent float64      `json:"null_percent"`
	Distinct    int64        `json:"distinct_count"`
	Min         any          `json:"min"`
	Max         any          `json:"max"`
	Mean        any          `json:"mean,omitempty"`
	MinLength   any          `json:"min_length,omitempty"`
	MaxLength   any          `json:"max_length,omitempty"`
	Top         []ValueCount `json:"top_values"`
	// Values holds every distinct value when there are at most
	// maxSetValues of them, for set suggestions.
	Values []any `json:"-"`
}

// ValueCount is a value and how often it occurs.
type ValueCount struct {
	Value any   `json:"value"`
	Count int64 `json:"count"`
}

const (
	topValues    = 5
	maxSetValues = 10
)

// Kind classifies an engine type as "numeric", "text", "temporal",
// "boolean" or "other".
func Kind(typ string) string {
	t := strings.ToUpper(typ)
	switch {
	case strings.Contains(t, "INT"), strings.HasPrefix(t, "DECIMAL"), strings.HasPrefix(t, "NUMERIC"),
		t == "DOUBLE", t == "FLOAT", t == "REAL", strings.HasPrefix(t, "DOUBLE"):
		return "numeric"
	case t == "VARCHAR", t == "TEXT", strings.HasPrefix(t, "CHARACTER"), strings.HasPrefix(t, "VARCHAR"):
		return "text"
	case strings.HasPrefix(t, "DATE"), strings.HasPrefix(t, "TIMESTAMP"), strings.HasPrefix(t, "TIME"):
		return "temporal"
	case strings.HasPrefix(t, "BOOL"):
		return "boolean"
	}
	return "other"
}

// ProfileTable computes a profile: the counts, ranges and lengths of every
// column in one scan, then the most common values column by column.
func ProfileTable(ctx context.Context, q Queryer, d Dialect, t Table) (*Profile, error) {
	env := &Env{D: d, T: t}
	aggs := []string{"count(*)"}
	for _, c := range t.Columns {
		col := d.Ident(c.Name)
		aggs = append(aggs, "count("+col+")", "count(DISTINCT "+col+")")
		switch Kind(c.Type) {
		case "numeric":
			aggs = append(aggs, "min("+col+")", "max("+col+")", "avg("+d.Float(col)+")")
		case "text":
			aggs = append(aggs, "min("+col+")", "max("+col+")", "min("+d.Length(col)+")", "max("+d.Length(col)+")")
		case "temporal":
			aggs = append(aggs, "min("+col+")", "max("+col+")")
		}
	}
	rows, err := env.Query(ctx, q, "SELECT "+strings.Join(aggs, ", ")+" FROM "+env.From())
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", t.Name, err)
	}
	v := rows[0]
	p := &Profile{Rows: toInt(v[0])}
	i := 1
	for _, c := range t.Columns {
		cp := ColumnProfile{Name: c.Name, Type: c.Type}
		nonNull := toInt(v[i])
		cp.Nulls = p.Rows - nonNull
		cp.NullPercent = pct(cp.Nulls, p.Rows)
		cp.Distinct = toInt(v[i+1])
		i += 2
		switch Kind(c.Type) {
		case "numeric":
			cp.Min, cp.Max, cp.Mean = v[i], v[i+1], v[i+2]
			i += 3
		case "text":
			cp.Min, cp.Max, cp.MinLength, cp.MaxLength = v[i], v[i+1], v[i+2], v[i+3]
			i += 4
		case "temporal":
			cp.Min, cp.Max = v[i], v[i+1]
			i += 2
		}
		col := d.Ident(c.Name)
		top, err := env.Query(ctx, q, fmt.Sprintf("SELECT %s, count(*) FROM %s WHERE %s IS NOT NULL GROUP BY %s ORDER BY 2 DESC, 1 LIMIT %d",
			col, env.From(), col, col, maxSetValues+1))
		if err != nil {
			return nil, fmt.Errorf("profile %s.%s: %w", t.Name, c.Name, err)
		}
		cp.Top = []ValueCount{}
		for j, r := range top {
			if j < topValues {
				cp.Top = append(cp.Top, ValueCount{Value: r[0], Count: toInt(r[1])})
			}
		}
		if len(top) <= maxSetValues {
			for _, r := range top {
				cp.Values = append(cp.Values, r[0])
			}
		}
		p.Columns = append(p.Columns, cp)
	}
	return p, nil
}

// Suggest writes a starter suite from the profile of a known-good batch,
// in the spirit of Deequ's constraint suggestion: the columns as they are,
// completeness where nothing is missing, uniqueness where every value is
// distinct, ranges for numbers and dates, lengths for text, and sets for
// low-cardinality columns. The batch it came from passes it.
func Suggest(name string, p *Profile) *Suite {
	s := &Suite{Name: name}
	add := func(typ string, kw map[string]any) {
		if _, ok := lookupFactory(typ); ok {
			s.Expectations = append(s.Expectations, Config{Type: typ, Kwargs: kw, Meta: map[string]any{"suggested_by": "shp quality suggest"},
				Severity: SeverityWarning, Action: ActionWarn})
		}
	}
	cols := make([]any, len(p.Columns))
	for i, c := range p.Columns {
		cols[i] = c.Name
	}
	add("expect_table_columns_to_match_ordered_list", map[string]any{"column_list": cols})
	if p.Rows > 0 {
		add("expect_table_row_count_to_be_between", map[string]any{"min_value": p.Rows / 2, "max_value": p.Rows * 2})
	}
	for _, c := range p.Columns {
		if p.Rows == 0 {
			break
		}
		if c.Nulls == 0 {
			add("expect_column_values_to_not_be_null", map[string]any{"column": c.Name})
		}
		if c.Distinct == p.Rows-c.Nulls && c.Distinct > 1 && Kind(c.Type) != "boolean" {
			add("expect_column_values_to_be_unique", map[string]any{"column": c.Name})
		}
		switch Kind(c.Type) {
		case "numeric", "temporal":
			if c.Min != nil {
				add("expect_column_values_to_be_between", map[string]any{"column": c.Name, "min_value": c.Min, "max_value": c.Max})
			}
		case "text":
			if c.MinLength != nil {
				add("expect_column_value_lengths_to_be_between", map[string]any{"column": c.Name, "min_value": c.MinLength, "max_value": c.MaxLength})
			}
		}
		if len(c.Values) > 0 && c.Distinct <= maxSetValues && p.Rows-c.Nulls >= 2*c.Distinct && Kind(c.Type) != "numeric" {
			add("expect_column_values_to_be_in_set", map[string]any{"column": c.Name, "value_set": c.Values})
		}
	}
	return s
}

// SuiteJSON renders a suite in GE's 1.x layout.
func SuiteJSON(s *Suite) map[string]any {
	exps := make([]any, len(s.Expectations))
	for i, e := range s.Expectations {
		exps[i] = map[string]any{"type": e.Type, "kwargs": e.Kwargs, "meta": e.Meta}
	}
	return map[string]any{"name": s.Name, "expectations": exps, "meta": map[string]any{"great_expectations_version": "1.x (shp)"}}
}
