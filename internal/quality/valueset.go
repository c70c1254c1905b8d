package quality

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Large value sets. A value_set of a few values compiles to an IN list,
// one bound parameter per value. Beyond largeSetAt values, the engine
// spends more on parsing, binding and planning the list than on the scan
// (a 200,000-value list took seconds per query), so the set is bound as
// one list parameter instead and checked as a semi-join against it (the
// dialect's InValues), which the engine hashes: linear in the set's size.
// Both forms compare the same way; only the way the values reach the
// engine differs.

// largeSetAt is the size from which a value set is joined against rather
// than listed; a variable so that tests can send small sets the same way.
var largeSetAt = 1000

// inSet is a predicate: expr, of engine type typ ("" when unknown), equals
// one of set's values. set holds no nulls.
func (e *Env) inSet(expr, typ string, set []any) string {
	if len(set) == 0 {
		return "FALSE"
	}
	var listed, joined []any
	if len(set) >= largeSetAt {
		for _, v := range set {
			if b, ok := listValue(v); ok {
				joined = append(joined, b)
			} else {
				listed = append(listed, v)
			}
		}
	} else {
		listed = set
	}
	var parts []string
	if len(joined) > 0 {
		if p := e.D.InValues(expr, typ, joined, e.Bind); p != "" {
			parts = append(parts, p)
		} else {
			listed = set
		}
	}
	if len(listed) > 0 {
		ph := make([]string, len(listed))
		for i, v := range listed {
			ph[i] = e.Bind(v)
		}
		parts = append(parts, expr+" IN ("+strings.Join(ph, ", ")+")")
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// listValue is v as a driver binds it when it can travel in a list
// parameter: a string, an int64, a finite float64 or a bool. NaN and the
// infinities stay in the IN list, where they are double literals.
func listValue(v any) (any, bool) {
	if _, ok := isNonFinite(v); ok {
		return nil, false
	}
	switch x := sqlValue(v).(type) {
	case string, int64, bool:
		return x, true
	case float64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case float32:
		return float64(x), true
	}
	return nil, false
}

// kinds sorts values by Go type: strings, int64s, float64s and bools.
type kinds struct {
	strs   []string
	ints   []int64
	floats []float64
	bools  []bool
}

func kindsOf(values []any) (k kinds, ok bool) {
	for _, v := range values {
		switch x := v.(type) {
		case string:
			if !utf8.ValidString(x) {
				return k, false // JSON would change it
			}
			k.strs = append(k.strs, x)
		case int64:
			k.ints = append(k.ints, x)
		case float64:
			k.floats = append(k.floats, x)
		case bool:
			k.bools = append(k.bools, x)
		default:
			return k, false
		}
	}
	return k, true
}

// duckInValues binds the values as one typed list. DuckDB compares an IN
// list as the widest of the column's type and its values' types, a
// VARCHAR value taking the column's type (an INTEGER column IN (2.5)
// compares as DOUBLE, IN ('3') as INTEGER). A list of numbers compares
// the same way; a list of texts is cast to the column's type, which must
// then be known. Texts or booleans mixed with other types stay listed.
func duckInValues(expr, typ string, values []any, bind func(any) string) string {
	k, ok := kindsOf(values)
	if !ok {
		return ""
	}
	// One JSON text is bound: DuckDB's driver binds a Go slice element
	// by element, at twice the cost of parsing the JSON.
	list := func(v any, elem, cast string) string {
		js, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		x := "unnest(CAST(CAST(" + bind(string(js)) + " AS JSON) AS " + elem + "[]))"
		if cast != "" {
			x = "CAST(" + x + " AS " + cast + ")"
		}
		return expr + " IN (SELECT " + x + ")"
	}
	nums := len(k.ints) + len(k.floats)
	switch {
	case len(k.strs) == len(values):
		switch fam := typeFamily(typ); {
		case fam == "text":
			return list(k.strs, "VARCHAR", "")
		case plainTypeName(typ):
			return list(k.strs, "VARCHAR", typ)
		}
	case len(k.ints) == len(values):
		return list(k.ints, "BIGINT", "")
	case nums == len(values):
		// Integers among doubles compare as doubles, as in the IN list.
		fs := append([]float64(nil), k.floats...)
		for _, i := range k.ints {
			fs = append(fs, float64(i))
		}
		return list(fs, "DOUBLE", "")
	case len(k.bools) == len(values):
		return list(k.bools, "BOOLEAN", "")
	}
	return ""
}

// pgInValues sends the values as one text array and casts each to the
// column's type. PostgreSQL types an IN list's parameters as the column,
// and pgx sends a text as it is, for the server to read as the column's
// type as the cast does, and an integer, a double or a boolean as such
// into a column of its kind. Other pairs (a double into an integer
// column, which pgx truncates; a number into a text column, which it
// refuses) stay listed, as does every value when the column's type is
// not known.
func pgInValues(expr, typ string, values []any, bind func(any) string) string {
	if !plainTypeName(typ) {
		return ""
	}
	k, ok := kindsOf(values)
	if !ok {
		return ""
	}
	fam := typeFamily(typ)
	numeric := fam == "integer" || fam == "float" || fam == "numeric"
	if len(k.ints) > 0 && !numeric || len(k.floats) > 0 && fam != "float" && fam != "numeric" || len(k.bools) > 0 && fam != "boolean" {
		return ""
	}
	texts := make([]string, 0, len(values))
	for _, v := range values {
		switch x := v.(type) {
		case string:
			texts = append(texts, x)
		case int64:
			texts = append(texts, strconv.FormatInt(x, 10))
		case float64:
			texts = append(texts, strconv.FormatFloat(x, 'g', -1, 64))
		case bool:
			texts = append(texts, strconv.FormatBool(x))
		}
	}
	return expr + " IN (SELECT CAST(shp_v AS " + typ + ") FROM unnest(CAST(" + bind(texts) + " AS TEXT[])) AS shp_v)"
}

// plainTypeName reports whether t is a type name safe to write into SQL:
// words, with an optional (precision, scale).
func plainTypeName(t string) bool {
	if t == "" {
		return false
	}
	name, rest, hasArgs := strings.Cut(t, "(")
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ' ') {
			return false
		}
	}
	if strings.TrimSpace(name) == "" {
		return false
	}
	if !hasArgs {
		return true
	}
	args, ok := strings.CutSuffix(rest, ")")
	if !ok {
		return false
	}
	for _, r := range args {
		if !(r >= '0' && r <= '9' || r == ',' || r == ' ') {
			return false
		}
	}
	return true
}

// elementIndex answers sameElement(x, y) for every y of a set at once: it
// indexes the set's values by number, boolean and text (and, the first
// time a text that reads as a date is looked up, its texts that read as
// dates by instant), so that checking n values against a set of m takes
// n + m steps rather than n × m.
type elementIndex struct {
	hasNil   bool
	numbers  map[float64]bool
	bools    map[bool]bool
	texts    map[string]bool
	instants map[instantKey]bool // nil until needed
}

// instantKey identifies an instant (time.Time.Equal's notion of equal).
type instantKey struct {
	sec  int64
	nsec int
}

func keyOf(t time.Time) instantKey { return instantKey{t.Unix(), t.Nanosecond()} }

// indexElements indexes set for contains.
func indexElements(set []any) *elementIndex {
	ix := &elementIndex{numbers: map[float64]bool{}, bools: map[bool]bool{}, texts: map[string]bool{}}
	for _, y := range set {
		if y == nil {
			ix.hasNil = true
			continue
		}
		if f, ok := numberOf(y); ok {
			ix.numbers[f] = true // NaN is never found, as NaN == NaN is false
			continue
		}
		if b, ok := y.(bool); ok {
			ix.bools[b] = true
			continue
		}
		if s, ok := y.(string); ok {
			ix.texts[s] = true
		}
	}
	return ix
}

// contains reports whether sameElement(x, y) holds for some y of the set.
func (ix *elementIndex) contains(x any) bool {
	if x == nil {
		return ix.hasNil
	}
	if f, ok := numberOf(x); ok {
		return ix.numbers[f]
	}
	if b, ok := x.(bool); ok {
		return ix.bools[b]
	}
	if t, ok := x.(time.Time); ok {
		x = t.Format(time.RFC3339Nano)
	}
	s, ok := x.(string)
	if !ok {
		return false
	}
	if ix.texts[s] {
		return true
	}
	t, ok := parseInstant(s)
	if !ok {
		return false
	}
	if ix.instants == nil {
		ix.instants = map[instantKey]bool{}
		for y := range ix.texts {
			if ty, ok := parseInstant(y); ok {
				ix.instants[keyOf(ty)] = true
			}
		}
	}
	return ix.instants[keyOf(t)]
}

// textType is the type d.Text casts to, read from its SQL; "" when that
// is not a plain CAST.
func textType(d Dialect) string {
	inner, ok := strings.CutPrefix(d.Text("x"), "CAST(x AS ")
	if !ok {
		return ""
	}
	t, _ := strings.CutSuffix(inner, ")")
	return t
}
