package sqlplan

import (
	"fmt"
	"strings"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
)

// Leaf is what the compiler asks of an engine: its quality.Dialect and
// the few expressions in which engines differ beyond it. Every method
// returns SQL text; none runs anything.
type Leaf interface {
	quality.Dialect
	// Value is v, a value of a plan, as a value of column c's type: the
	// expression, with one ? for the one value it binds, and that value.
	// ok is false when the engine knows already that v does not convert
	// to c's type: a predicate then compares with NULL (and matches no
	// row), and a rewrite is refused with warehouse.ErrValueDoesNotFit.
	// An engine that converts in the database returns true and an
	// expression that is NULL when v does not convert (TRY_CAST,
	// SAFE_CAST); it checks Op.Fits before it writes.
	Value(c warehouse.Column, v any) (expr string, arg any, ok bool)
	// RowID is the expression of a staged row's position among the
	// object's rows: it orders them (the latest last) and finds one.
	RowID() string
	// PartitionKey is the expression by which column c, quoted, groups
	// rows in a PARTITION BY (the column itself, unless the engine
	// cannot partition by its type).
	PartitionKey(c warehouse.Column, quoted string) string
	// RowJSON is a row over cols as JSON text, an object of the columns
	// by name in order; alias qualifies the columns when not "".
	RowJSON(alias string, cols []warehouse.Column) string
	// Matches is a table expression (a subquery with an alias) of one
	// text column c: for each row of table, the first group of each
	// match of pattern, a SQL string literal, in column.
	Matches(table, column, pattern string) string
	// ByteOrder is text expression expr, ordered by its bytes (as
	// ORDER BY sorts it).
	ByteOrder(expr string) string
}

// Frag is a piece of SQL with the values its placeholders bind, in
// order; each placeholder is a ? until Bind numbers it.
type Frag struct {
	SQL  string
	Args []any
}

// Bind writes the ?s of sql as d's placeholders, numbered from 1.
// Every ? is a placeholder: the compiler writes none in its literals,
// and an identifier holding one is not supported by engines whose
// placeholders are numbered.
func Bind(d quality.Dialect, sql string) string {
	return BindFrom(d, sql, 1)
}

// BindFrom is Bind with the numbers starting at from.
func BindFrom(d quality.Dialect, sql string, from int) string {
	if d.Placeholder(1) == "?" && d.Placeholder(2) == "?" {
		return sql
	}
	var b strings.Builder
	n := from
	for i := 0; i < len(sql); i++ {
		if sql[i] == '?' {
			b.WriteString(d.Placeholder(n))
			n++
			continue
		}
		b.WriteByte(sql[i])
	}
	return b.String()
}

// FindColumn finds a staged column by name: its own spelling first,
// then ignoring case (as the engines resolve names).
func FindColumn(cols []warehouse.Column, name string) (warehouse.Column, error) {
	for _, c := range cols {
		if c.Name == name {
			return c, nil
		}
	}
	for _, c := range cols {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	return warehouse.Column{}, fmt.Errorf("no column %q in the staged rows", name)
}

// HasColumn says whether cols has a column name, ignoring case.
func HasColumn(cols []warehouse.Column, name string) bool {
	for _, c := range cols {
		if strings.EqualFold(c.Name, name) {
			return true
		}
	}
	return false
}
