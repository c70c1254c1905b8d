package sqlplan

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/shp-dev/shp/internal/warehouse"
)

// Predicate renders p over cols as a condition; a nil p holds for every
// row. A value the leaf cannot convert to its column's type is a NULL:
// Eq is unknown, and In matches by its other values only.
func Predicate(l Leaf, p warehouse.Predicate, cols []warehouse.Column) (Frag, error) {
	switch p := p.(type) {
	case nil:
		return Frag{SQL: "TRUE"}, nil
	case warehouse.IsNull:
		c, err := FindColumn(cols, p.Column)
		if err != nil {
			return Frag{}, err
		}
		return Frag{SQL: l.Ident(c.Name) + " IS NULL"}, nil
	case warehouse.Eq:
		c, err := FindColumn(cols, p.Column)
		if err != nil {
			return Frag{}, err
		}
		v, arg, ok := l.Value(c, p.Value)
		if !ok {
			// a value the column cannot hold: unknown, as a NULL would be
			return Frag{SQL: l.Ident(c.Name) + " = NULL"}, nil
		}
		return Frag{SQL: l.Ident(c.Name) + " = " + v, Args: []any{arg}}, nil
	case warehouse.In:
		c, err := FindColumn(cols, p.Column)
		if err != nil {
			return Frag{}, err
		}
		var marks []string
		var args []any
		for _, x := range p.Values {
			if v, arg, ok := l.Value(c, x); ok {
				marks = append(marks, v)
				args = append(args, arg)
			}
		}
		switch {
		case len(p.Values) == 0:
			return Frag{SQL: "FALSE"}, nil
		case len(marks) == 0:
			return Frag{SQL: l.Ident(c.Name) + " = NULL"}, nil
		case len(marks) < len(p.Values):
			// A value that cannot be held is a NULL in the list: the
			// row is not in it, or unknown.
			marks = append(marks, "NULL")
		}
		return Frag{SQL: l.Ident(c.Name) + " IN (" + strings.Join(marks, ", ") + ")", Args: args}, nil
	case warehouse.Not:
		if p.Of == nil {
			return Frag{}, errors.New("Not of nothing")
		}
		in, err := Predicate(l, p.Of, cols)
		if err != nil {
			return Frag{}, err
		}
		return Frag{SQL: "NOT (" + in.SQL + ")", Args: in.Args}, nil
	case warehouse.And:
		return junction(l, p, " AND ", "TRUE", cols)
	case warehouse.Or:
		return junction(l, p, " OR ", "FALSE", cols)
	}
	return Frag{}, fmt.Errorf("unknown predicate %T", p)
}

// junction joins the predicates of list with op; empty is an empty
// list's value.
func junction(l Leaf, list []warehouse.Predicate, op, empty string, cols []warehouse.Column) (Frag, error) {
	if len(list) == 0 {
		return Frag{SQL: empty}, nil
	}
	var out Frag
	parts := make([]string, len(list))
	for i, q := range list {
		f, err := Predicate(l, q, cols)
		if err != nil {
			return Frag{}, err
		}
		parts[i] = "(" + f.SQL + ")"
		out.Args = append(out.Args, f.Args...)
	}
	out.SQL = strings.Join(parts, op)
	return out, nil
}

// Op is a repair operation compiled against one staging table.
type Op struct {
	// Column is the column a rewrite changes, quoted; "" for an
	// operation that sets rows aside.
	Column string
	// Type is a rewrite's column's type, as staged.
	Type string
	// Set is the value a rewrite writes.
	Set Frag
	// Where holds for the rows the operation changes or sets aside.
	Where Frag
	// Sample is what a previewed row shows: a rewrite's value before
	// and after, or the row set aside (its keys, or the row as JSON).
	Sample Frag
	// Fits are the values a rewrite writes, as bound: an engine whose
	// Value cannot tell checks that they convert to Type.
	Fits []any
}

// Rewrites says whether the operation rewrites a column (rather than
// setting rows aside).
func (o *Op) Rewrites() bool { return o.Column != "" }

// Compile renders a repair operation for the staging table table (a
// reference, quoted) whose columns are cols (the object's columns,
// without shp's own).
func Compile(l Leaf, op warehouse.RepairOp, table string, cols []warehouse.Column) (*Op, error) {
	var out *Op
	var err error
	switch o := op.(type) {
	case warehouse.MapValues:
		out, err = mapValues(l, o, cols)
	case warehouse.FillDefault:
		out, err = fillDefault(l, o, cols)
	case warehouse.QuarantineDuplicates:
		out, err = dedupe(l, o, table, cols)
	case warehouse.Quarantine:
		if o.Where == nil {
			return nil, errors.New("quarantine: no condition (it would set every row aside)")
		}
		if o.Reason == "" {
			return nil, errors.New("quarantine: no reason")
		}
		where, err := Predicate(l, o.Where, cols)
		if err != nil {
			return nil, err
		}
		return &Op{Where: where, Sample: Frag{SQL: l.RowJSON("", cols)}}, nil
	case nil:
		return nil, errors.New("no repair operation")
	default:
		return nil, fmt.Errorf("unknown repair operation %T", op)
	}
	if err != nil {
		return nil, err
	}
	if out.Rewrites() {
		out.Sample = Frag{SQL: out.Column + ", " + out.Set.SQL, Args: out.Set.Args}
	}
	return out, nil
}

// value is v as a value of c that a rewrite writes.
func value(l Leaf, c warehouse.Column, v any, column string) (string, any, error) {
	expr, arg, ok := l.Value(c, v)
	if !ok {
		return "", nil, fmt.Errorf("%w: %v is not a %s (column %s)", warehouse.ErrValueDoesNotFit, v, c.Type, column)
	}
	return expr, arg, nil
}

func mapValues(l Leaf, o warehouse.MapValues, cols []warehouse.Column) (*Op, error) {
	c, err := FindColumn(cols, o.Column)
	if err != nil {
		return nil, err
	}
	if len(o.Mapping) == 0 {
		return nil, fmt.Errorf("map values of %s: the mapping is empty", o.Column)
	}
	norm := func(x string) string {
		x = l.Text(x)
		if o.Trim {
			x = "trim(" + x + ")"
		}
		if o.FoldCase {
			x = "lower(" + x + ")"
		}
		return x
	}
	col := l.Ident(c.Name)
	keys := make([]string, 0, len(o.Mapping))
	for k := range o.Mapping {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var cases []string
	var caseArgs, keyArgs, fits []any
	for _, k := range keys {
		v, arg, err := value(l, c, o.Mapping[k], o.Column)
		if err != nil {
			return nil, err
		}
		cases = append(cases, "WHEN "+norm("?")+" THEN "+v)
		caseArgs = append(caseArgs, k, arg)
		keyArgs = append(keyArgs, k)
		fits = append(fits, arg)
	}
	mapped := "(CASE " + norm(col) + " " + strings.Join(cases, " ") + " END)"
	in := strings.TrimSuffix(strings.Repeat(norm("?")+", ", len(keys)), ", ")
	return &Op{
		Column: col, Type: c.Type, Fits: fits,
		Set: Frag{SQL: mapped, Args: caseArgs},
		Where: Frag{SQL: col + " IS NOT NULL AND " + norm(col) + " IN (" + in + ") AND " + col + " IS DISTINCT FROM " + mapped,
			Args: append(keyArgs, caseArgs...)},
	}, nil
}

func fillDefault(l Leaf, o warehouse.FillDefault, cols []warehouse.Column) (*Op, error) {
	c, err := FindColumn(cols, o.Column)
	if err != nil {
		return nil, err
	}
	v, arg, err := value(l, c, o.Value, o.Column)
	if err != nil {
		return nil, err
	}
	return &Op{
		Column: l.Ident(c.Name), Type: c.Type, Fits: []any{arg},
		Set:   Frag{SQL: v, Args: []any{arg}},
		Where: Frag{SQL: l.Ident(c.Name) + " IS NULL"},
	}, nil
}

// dedupe sets aside all but the latest row of each key: the highest
// RowID of a key is its latest row.
func dedupe(l Leaf, o warehouse.QuarantineDuplicates, table string, cols []warehouse.Column) (*Op, error) {
	if len(o.Keys) == 0 {
		return nil, errors.New("de-duplicate: no key columns")
	}
	if o.Reason == "" {
		return nil, errors.New("de-duplicate: no reason")
	}
	parts, notNull, texts := make([]string, len(o.Keys)), make([]string, len(o.Keys)), make([]string, len(o.Keys))
	for i, k := range o.Keys {
		c, err := FindColumn(cols, k)
		if err != nil {
			return nil, err
		}
		quoted := l.Ident(c.Name)
		parts[i] = l.PartitionKey(c, quoted)
		notNull[i] = quoted + " IS NOT NULL"
		texts[i] = l.Text(quoted)
	}
	row := l.RowID()
	where := row + " IN (SELECT shp_rid FROM (SELECT " + row + " AS shp_rid, row_number() OVER (PARTITION BY " + strings.Join(parts, ", ") +
		" ORDER BY " + row + " DESC) AS shp_rn FROM " + table + " WHERE " + strings.Join(notNull, " AND ") + ") shp_d WHERE shp_rn > 1)"
	return &Op{Where: Frag{SQL: where}, Sample: Frag{SQL: strings.Join(texts, " || '|' || ")}}, nil
}
