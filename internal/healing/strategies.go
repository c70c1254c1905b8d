package healing

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/shp-dev/shp/internal/quality"
)

// Strategy addresses one kind of failed expectation on the staged rows.
// Adding one is a file with a type and a RegisterStrategy call in init.
type Strategy interface {
	// Name names the strategy in the policy and the audit.
	Name() string
	// Applies reports whether the strategy can address the failure.
	Applies(f Failure) bool
	// Plan works out the repair without changing anything; nil when
	// there is nothing it can do.
	Plan(ctx context.Context, env *RepairEnv, f Failure) (*Repair, error)
}

// Failure is a failed expectation with its diagnosis.
type Failure struct {
	Config    quality.ConfigJSON
	Result    quality.ExpectationResult
	Issue     Issue
	Diagnosis Diagnosis
}

// RepairEnv gives a strategy read access to the staged rows.
type RepairEnv struct {
	Conn  *sql.Conn
	Table string // the staged table, quoted
}

// Repair is a planned change to the staged rows: rewrite a column of the
// rows matching Where, or set those rows aside in quarantine.
type Repair struct {
	Description string
	// Confidence is how sure the strategy is that the change is right.
	Confidence float64
	Params     map[string]any
	Column     string // rewrite: the column, unquoted
	SetExpr    string // rewrite: the new value, SQL with ? placeholders
	SetArgs    []any
	Where      string // the rows it changes, SQL with ? placeholders
	WhereArgs  []any
	Quarantine bool   // set the rows aside instead of rewriting
	Reason     string // quarantine reason
	Rows       int64
	Before     []any // sample values before
	After      []any // the same values after
}

var strategies = struct {
	sync.RWMutex
	list []Strategy
}{}

// RegisterStrategy adds a strategy; the engine tries them in name order.
func RegisterStrategy(s Strategy) {
	strategies.Lock()
	defer strategies.Unlock()
	strategies.list = append(strategies.list, s)
	sort.Slice(strategies.list, func(i, j int) bool { return strategies.list[i].Name() < strategies.list[j].Name() })
}

// Strategies lists the registered strategies.
func Strategies() []Strategy {
	strategies.RLock()
	defer strategies.RUnlock()
	return append([]Strategy(nil), strategies.list...)
}

func init() {
	RegisterStrategy(normalizeToValueSet{})
	RegisterStrategy(quarantineDuplicates{})
}

// normalizeToValueSet trims whitespace and folds case so that values match
// an expected value set: " emea" and "Emea" become "EMEA". A value maps
// only when exactly one member of the set matches it.
type normalizeToValueSet struct{}

func (normalizeToValueSet) Name() string { return "normalize_to_value_set" }

func (normalizeToValueSet) Applies(f Failure) bool {
	if f.Config.Type != "expect_column_values_to_be_in_set" {
		return false
	}
	_, ok := f.Config.Kwargs["column"].(string)
	set, ok2 := f.Config.Kwargs["value_set"].([]any)
	if !ok || !ok2 || len(set) == 0 {
		return false
	}
	for _, v := range set {
		if _, isStr := v.(string); !isStr {
			return false
		}
	}
	return true
}

func (s normalizeToValueSet) Plan(ctx context.Context, env *RepairEnv, f Failure) (*Repair, error) {
	col := f.Config.Kwargs["column"].(string)
	byKey := map[string][]string{}
	for _, v := range f.Config.Kwargs["value_set"].([]any) {
		k := strings.ToLower(strings.TrimSpace(v.(string)))
		byKey[k] = append(byKey[k], v.(string))
	}
	var keys []string
	var set []any
	var cases []string
	var setArgs []any
	for k, vs := range byKey {
		for _, v := range vs {
			set = append(set, v)
		}
		if len(vs) != 1 {
			continue // ambiguous: two members fold to one key
		}
		keys = append(keys, k)
		cases = append(cases, "WHEN ? THEN ?")
		setArgs = append(setArgs, k, vs[0])
	}
	if len(keys) == 0 {
		return nil, nil
	}
	c := quality.DuckDB.Ident(col)
	norm := "lower(trim(CAST(" + c + " AS VARCHAR)))"
	in := func(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
	where := c + " IS NOT NULL AND " + c + " NOT IN (" + in(len(set)) + ") AND " + norm + " IN (" + in(len(keys)) + ")"
	var whereArgs []any
	whereArgs = append(whereArgs, set...)
	for _, k := range keys {
		whereArgs = append(whereArgs, k)
	}
	r := &Repair{
		Description: fmt.Sprintf("trim whitespace and fold case in %s to match the value set", col),
		Column:      col, SetExpr: "CASE " + norm + " " + strings.Join(cases, " ") + " ELSE " + c + " END", SetArgs: setArgs,
		Where: where, WhereArgs: whereArgs, Params: map[string]any{"column": col, "value_set": set},
	}
	rows, err := env.Conn.QueryContext(ctx, "SELECT "+c+", "+r.SetExpr+" FROM "+env.Table+" WHERE "+where+" LIMIT 10", append(append([]any{}, setArgs...), whereArgs...)...)
	if err != nil {
		return nil, fmt.Errorf("%s: sample: %w", s.Name(), err)
	}
	defer rows.Close()
	for rows.Next() {
		var before, after any
		if err := rows.Scan(&before, &after); err != nil {
			return nil, err
		}
		r.Before, r.After = append(r.Before, before), append(r.After, after)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: sample: %w", s.Name(), err)
	}
	if err := env.Conn.QueryRowContext(ctx, "SELECT count(*) FROM "+env.Table+" WHERE "+where, whereArgs...).Scan(&r.Rows); err != nil {
		return nil, fmt.Errorf("%s: count: %w", s.Name(), err)
	}
	if r.Rows == 0 {
		return nil, nil
	}
	// Each value it changes folds to exactly one member of the declared
	// set: the change is right whatever share of the failures it covers
	// (the share is recorded; verification decides whether it helped).
	r.Confidence = 0.95
	if unexpected := f.Result.UnexpectedCount(); unexpected > 0 {
		r.Params["explains"] = float64(r.Rows) / float64(unexpected)
	}
	return r, nil
}

// quarantineDuplicates keeps the latest row of each duplicated key (the
// last in the file) and sets the others aside, counted and with a reason.
type quarantineDuplicates struct{}

func (quarantineDuplicates) Name() string { return "quarantine_duplicates" }

func keyColumns(f Failure) []string {
	switch f.Config.Type {
	case "expect_column_values_to_be_unique":
		if c, ok := f.Config.Kwargs["column"].(string); ok {
			return []string{c}
		}
	case "expect_compound_columns_to_be_unique":
		if l, ok := f.Config.Kwargs["column_list"].([]any); ok {
			var out []string
			for _, v := range l {
				s, ok := v.(string)
				if !ok {
					return nil
				}
				out = append(out, s)
			}
			return out
		}
	}
	return nil
}

func (q quarantineDuplicates) Applies(f Failure) bool { return len(keyColumns(f)) > 0 }

func (q quarantineDuplicates) Plan(ctx context.Context, env *RepairEnv, f Failure) (*Repair, error) {
	keys := keyColumns(f)
	quoted := make([]string, len(keys))
	var notNull []string
	for i, k := range keys {
		quoted[i] = quality.DuckDB.Ident(k)
		notNull = append(notNull, quoted[i]+" IS NOT NULL")
	}
	where := "rowid IN (SELECT shp_rid FROM (SELECT rowid AS shp_rid, row_number() OVER (PARTITION BY " + strings.Join(quoted, ", ") +
		" ORDER BY rowid DESC) AS shp_rn FROM " + env.Table + " WHERE " + strings.Join(notNull, " AND ") + ") WHERE shp_rn > 1)"
	r := &Repair{
		Description: fmt.Sprintf("keep the latest row of each duplicated %s; set the earlier ones aside", strings.Join(keys, ", ")),
		Where:       where, Quarantine: true, Confidence: 0.95,
		Reason: "healing: an earlier duplicate of (" + strings.Join(keys, ", ") + "); the latest row is kept",
		Params: map[string]any{"keys": keys},
	}
	if err := env.Conn.QueryRowContext(ctx, "SELECT count(*) FROM "+env.Table+" WHERE "+where).Scan(&r.Rows); err != nil {
		return nil, fmt.Errorf("%s: count: %w", q.Name(), err)
	}
	if r.Rows == 0 {
		return nil, nil
	}
	casts := make([]string, len(quoted))
	for i, k := range quoted {
		casts[i] = "CAST(" + k + " AS VARCHAR)"
	}
	rows, err := env.Conn.QueryContext(ctx, "SELECT "+strings.Join(casts, " || '|' || ")+" FROM "+env.Table+" WHERE "+where+" LIMIT 10")
	if err != nil {
		return nil, fmt.Errorf("%s: sample: %w", q.Name(), err)
	}
	defer rows.Close()
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		r.Before = append(r.Before, v)
	}
	return r, rows.Err()
}
