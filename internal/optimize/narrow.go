package optimize

import (
	"fmt"
	"strconv"
	"strings"
)

// narrowRule finds wide decimals whose values are small: a column kept
// as a DECIMAL of more than 18 digits whose largest value
// needs far fewer. Such columns come from sources whose types do not
// bound their values, PostgreSQL's numeric without a precision above
// all, which shp loads as DECIMAL(38,s) so that nothing is lost.
//
// DuckDB keeps a DECIMAL of up to 18 digits as a 64-bit integer and a
// wider one as a 128-bit integer, so a narrower column is summed,
// compared and loaded on half the bytes. On BigQuery, a BIGNUMERIC is
// billed 32 bytes a value and a NUMERIC 16. On PostgreSQL a numeric is
// kept by its digits whatever its precision: narrowing gains nothing
// there, and the rule says nothing.
type narrowRule struct{}

func init() { Register(narrowRule{}) }

func (narrowRule) Name() string { return "narrow_types" }

// narrowHeadroom is how many digits a narrowed column keeps free above
// its largest value: values a hundred times as large still fit.
const narrowHeadroom = 2

// narrowTarget is a narrower type a wide one may become on a warehouse:
// its integer digits and the scale it can keep.
type narrowTarget struct {
	intDigits, maxScale int
	// scaleTakesDigits: the scale comes out of intDigits (DuckDB's
	// DECIMAL(18,s) holds 18-s integer digits; BigQuery's NUMERIC holds
	// 29 whatever its scale).
	scaleTakesDigits bool
	typ              func(scale int) string
	// wider is whether a type is the wide kind the target narrows.
	wider func(precision int, big bool) bool
}

var narrowTargets = map[string]narrowTarget{
	"duckdb": {intDigits: 18, maxScale: 18, scaleTakesDigits: true,
		typ:   func(scale int) string { return fmt.Sprintf("DECIMAL(18,%d)", scale) },
		wider: func(p int, _ bool) bool { return p > 18 }},
	"bigquery": {intDigits: 29, maxScale: 9,
		typ:   func(int) string { return "NUMERIC" },
		wider: func(_ int, big bool) bool { return big }},
}

func (narrowRule) Recommend(in Input) []Recommendation {
	target, ok := narrowTargets[in.Warehouse]
	if !ok {
		return nil
	}
	if in.Warehouse == "duckdb" && len(in.Table.Layout.Indexes) > 0 {
		return nil // DuckDB alters no column type of an indexed table
	}
	var change Change
	var ev []string
	for _, c := range in.Table.Columns {
		p, s, big, ok := DecimalType(c.Type)
		if !ok || c.IntDigits == nil || !target.wider(p, big) || s > target.maxScale {
			continue
		}
		digits, room := *c.IntDigits, target.intDigits
		if target.scaleTakesDigits {
			room -= s
		}
		if digits+narrowHeadroom > room {
			continue // the values need the width, or nearly
		}
		named := in.Usage.NamedFold(c.Name)
		if named == 0 {
			continue // no recorded query reads it: a trial would show nothing
		}
		to := target.typ(s)
		change.Columns = append(change.Columns, c.Name)
		change.Types = append(change.Types, to)
		ev = append(ev, fmt.Sprintf("%s is %s; its largest value has %d integer digits, %s holds %d (%s of %d queries read it)",
			c.Name, c.Type, digits, to, room, pct(in.Usage.Share(named)), in.Usage.Queries))
	}
	if len(change.Columns) == 0 {
		return nil
	}
	change.Kind = "type"
	benefit := "DuckDB keeps a DECIMAL of up to 18 digits as a 64-bit integer, a wider one as a 128-bit integer: " +
		"the narrower column is read, summed, compared and loaded on half the bytes"
	if in.Warehouse == "bigquery" {
		benefit = "BigQuery bills a BIGNUMERIC 32 bytes a value and a NUMERIC 16: queries that read the column are billed half for it"
	}
	return []Recommendation{{
		Rule: "narrow_types", Table: in.Table.Name, Change: change,
		Evidence: ev,
		Benefit:  benefit,
		Risk: fmt.Sprintf("a later value that the narrower type cannot hold (%d more integer digits than the largest now) is set aside "+
			"in quarantine with its reason instead of loaded: later runs load the column as the target's type; a revert widens it again, losing nothing",
			narrowHeadroom+1),
	}}
}

// IntegerDigits counts the digits of a decimal text's integer part (none
// for "", and for "0.5"), as the engines measure a column's largest value
// (Column.IntDigits).
func IntegerDigits(v string) int {
	whole, _, _ := strings.Cut(strings.TrimLeft(v, "-+"), ".")
	return len(strings.TrimLeft(whole, "0"))
}

// DecimalType reads a decimal engine type: DECIMAL(p,s), NUMERIC(p,s),
// BIGNUMERIC or BIGDECIMAL (big: BigQuery's wide decimal, 76 digits,
// scale 38 unless given). A narrowed column stays a decimal, so that
// later runs load the column as the target's DECIMAL and set aside what
// it cannot hold.
func DecimalType(typ string) (precision, scale int, big, ok bool) {
	t := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(typ), " ", ""))
	switch t {
	case "BIGNUMERIC", "BIGDECIMAL":
		return 76, 38, true, true
	}
	name, args, found := strings.Cut(t, "(")
	if !found || !strings.HasSuffix(args, ")") {
		return 0, 0, false, false
	}
	switch name {
	case "DECIMAL", "NUMERIC":
	case "BIGNUMERIC", "BIGDECIMAL":
		big = true
	default:
		return 0, 0, false, false
	}
	ps, ss, _ := strings.Cut(strings.TrimSuffix(args, ")"), ",")
	p, err := strconv.Atoi(ps)
	if err != nil || p < 1 {
		return 0, 0, false, false
	}
	s := 0
	if ss != "" {
		if s, err = strconv.Atoi(ss); err != nil || s < 0 || s > p {
			return 0, 0, false, false
		}
	}
	return p, s, big, true
}
