package quality

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrInvalidKwargs marks an expectation configured wrongly; its result
// carries exception_info instead of failing the whole validation.
var ErrInvalidKwargs = errors.New("invalid expectation configuration")

// Queryer runs the SQL a suite compiles to, in its Dialect, where the
// validated table is visible; a warehouse's RunQuery is one, through
// QueryFunc.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (Rows, error)
}

// QueryFunc is a function that is a Queryer.
type QueryFunc func(ctx context.Context, query string, args ...any) (Rows, error)

// QueryContext calls f.
func (f QueryFunc) QueryContext(ctx context.Context, query string, args ...any) (Rows, error) {
	return f(ctx, query, args...)
}

// Rows is a result set being read, as database/sql reads one: *sql.Rows
// and a warehouse's rows are Rows.
type Rows interface {
	// Next moves to the next row; false at the end or on an error.
	Next() bool
	// Scan copies the current row's values into dest.
	Scan(dest ...any) error
	// Columns names the columns.
	Columns() ([]string, error)
	// Err is the error that ended the rows, if any.
	Err() error
	// Close releases the rows.
	Close() error
}

// Table describes the table a suite runs on.
type Table struct {
	Name    string   // quoted by the engine's dialect when used
	Columns []Column // in table order, without the index column
	// Index is an SQL expression giving each row's 0-based position, used
	// for unexpected_index_list and to order samples; "" when unknown.
	Index string
	// anyColumn accepts every column name: a rule is being checked before
	// the table's columns are known.
	anyColumn bool
}

// Column is a table column and its engine type.
type Column struct{ Name, Type string }

// Has reports whether the table has the column.
func (t Table) Has(name string) bool {
	if t.anyColumn {
		return true
	}
	for _, c := range t.Columns {
		if c.Name == name {
			return true
		}
	}
	return false
}

// TypeOf returns a column's engine type ("" when absent).
func (t Table) TypeOf(name string) string {
	for _, c := range t.Columns {
		if c.Name == name {
			return c.Type
		}
	}
	return ""
}

// Env is what an expectation compiles against.
type Env struct {
	D      Dialect
	T      Table
	Format ResultFormat
	cond   string // the row_condition as SQL, "" for all rows
	args   []any  // values bound by the expectation's SQL, in order of "?"
}

// Bind returns a placeholder for v. Values are always bound, never
// spliced into SQL, except NaN and the infinities: they become a double
// literal, CAST('NaN' AS DOUBLE), since a driver binds a value to the
// type the engine infers from the other operand, and an integer, say, has
// no NaN (pgx refuses to send one).
func (e *Env) Bind(v any) string {
	if f, ok := isNonFinite(v); ok {
		return e.D.Float("'" + NonFinite(f).String() + "'")
	}
	e.args = append(e.args, sqlValue(v))
	return bindToken + strconv.Itoa(len(e.args)-1) + bindToken
}

// Col quotes a column name after checking the table has it.
func (e *Env) Col(name string) (string, error) {
	if !e.T.Has(name) {
		return "", fmt.Errorf("%w: column %q does not exist", ErrInvalidKwargs, name)
	}
	return e.D.Ident(name), nil
}

// Column reads the "column" kwarg and returns the column's name and its
// quoted form, checking the table has it.
func (e *Env) Column(kw Kwargs) (name, col string, err error) {
	if name, err = kw.Column(); err != nil {
		return "", "", err
	}
	if col, err = e.Col(name); err != nil {
		return "", "", err
	}
	return name, col, nil
}

// Where returns a WHERE clause for pred within the row condition.
func (e *Env) Where(pred string) string {
	switch {
	case e.cond == "" && pred == "":
		return ""
	case e.cond == "":
		return " WHERE " + pred
	case pred == "":
		return " WHERE " + e.cond
	}
	return " WHERE (" + e.cond + ") AND (" + pred + ")"
}

// From is the quoted table name.
func (e *Env) From() string { return e.D.Ident(e.T.Name) }

// Plan is a compiled expectation: aggregate expressions for the shared
// scan, and an evaluation that turns their values (and any queries of its
// own) into a result.
type Plan struct {
	// Aggregates are single aggregate calls without FILTER; the engine
	// adds the row condition and computes all plans' aggregates in one
	// SELECT. Their bound values must come first in Env.Bind order.
	Aggregates []string
	// Evaluate receives the aggregates' values in order.
	Evaluate func(ctx context.Context, q Queryer, vals []any) (Outcome, error)
	// Unexpected, for row-level expectations, is a predicate true for the
	// rows that fail; a rule with action quarantine moves those rows.
	Unexpected string
}

// Outcome is what an expectation found.
type Outcome struct {
	Success bool
	Result  map[string]any
}

// Factory compiles one expectation type.
type Factory func(env *Env, kw Kwargs) (*Plan, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register adds an expectation type; later registrations of a name win, so
// a user's Go type can replace a built-in one.
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[name] = f
}

// Types lists the registered expectation types.
func Types() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func lookupFactory(name string) (Factory, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	f, ok := registry[name]
	return f, ok
}

// Kwargs are an expectation's arguments.
type Kwargs map[string]any

// Column returns the required "column" kwarg.
func (k Kwargs) Column() (string, error) { return k.requiredString("column") }

func (k Kwargs) requiredString(name string) (string, error) {
	v, ok := k[name]
	if !ok || v == nil {
		return "", fmt.Errorf("%w: %s is required", ErrInvalidKwargs, name)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s must be a string, got %s", ErrInvalidKwargs, name, kindOf(v))
	}
	return s, nil
}

// Number returns an optional numeric kwarg; nil when absent or null.
func (k Kwargs) Number(name string) (*float64, error) {
	v, ok := k[name]
	if !ok || v == nil {
		return nil, nil
	}
	f, ok := toFloat(v)
	if !ok {
		return nil, fmt.Errorf("%w: %s must be a number, got %v", ErrInvalidKwargs, name, v)
	}
	return &f, nil
}

// Bool returns an optional boolean kwarg.
func (k Kwargs) Bool(name string, def bool) (bool, error) {
	v, ok := k[name]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%w: %s must be true or false, got %v", ErrInvalidKwargs, name, v)
	}
	return b, nil
}

// List returns an optional list kwarg.
func (k Kwargs) List(name string) ([]any, bool, error) {
	v, ok := k[name]
	if !ok || v == nil {
		return nil, false, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, false, fmt.Errorf("%w: %s must be a list, got %s", ErrInvalidKwargs, name, kindOf(v))
	}
	return l, true, nil
}

// Strings returns a required list of strings.
func (k Kwargs) Strings(name string) ([]string, error) {
	l, ok, err := k.List(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s is required", ErrInvalidKwargs, name)
	}
	out := make([]string, len(l))
	for i, v := range l {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%w: %s must hold strings, got %v", ErrInvalidKwargs, name, v)
		}
		out[i] = s
	}
	return out, nil
}

// Mostly returns the "mostly" kwarg, 1 when absent.
func (k Kwargs) Mostly() (float64, error) {
	m, err := k.Number("mostly")
	if err != nil {
		return 0, err
	}
	if m == nil {
		return 1, nil
	}
	if !(*m >= 0 && *m <= 1) { // NaN too
		return 0, fmt.Errorf("%w: mostly must be between 0 and 1, got %v", ErrInvalidKwargs, *m)
	}
	return *m, nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case NonFinite:
		return float64(x), true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// sqlValue turns a kwarg value into a value a driver binds.
func sqlValue(v any) any {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i
		}
		f, _ := n.Float64()
		return f
	}
	if n, ok := v.(NonFinite); ok {
		return float64(n)
	}
	return v
}

// jsonValue turns a driver value into what a result shows.
func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case time.Time:
		// Dates print as dates; other instants without a zone, which both
		// DATE/TIMESTAMP comparisons and GE's outputs accept.
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02")
		}
		return x.Format("2006-01-02 15:04:05.999999")
	case fmt.Stringer:
		s := x.String()
		if f, ok := parseNumber(s); ok {
			return f
		}
		return s
	}
	return v
}

func parseNumber(s string) (float64, bool) {
	var f float64
	if _, err := fmt.Sscan(strings.TrimSpace(s), &f); err != nil {
		return 0, false
	}
	return f, true
}

// kindOf names the kind of a decoded YAML or JSON value in the words of
// those formats ("a number", "a mapping"), never as a Go type.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "true or false"
	case string:
		return "a string"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	case time.Time:
		return "a timestamp"
	case time.Duration:
		return "a duration"
	}
	return "a value of another kind"
}
