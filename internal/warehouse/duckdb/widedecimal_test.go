package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// TestWideDecimalCast checks that the fast path to a DECIMAL wider than
// 18 digits reads every text exactly as DuckDB's own cast does: the same
// value, the same rounding, NULL for the same inputs, on both sides of
// the fast type's range.
func TestWideDecimalCast(t *testing.T) {
	w := open(t)
	texts := []string{"0", "-0", "1", "+5", " 12 ", "1.5", "2.5", "-2.5", ".5", "5.", "1.005", "1.015", "-1.0049999",
		"1e3", "1.234e2", "-1E-2", "1_000", "0x1F", "0b101", "1,000", "NaN", "inf", "-infinity", "", " ", "abc", "1.2.3", "--1",
		"999999999999999999", "1000000000000000000", "-999999999999999999.5", "9223372036854775807", "9223372036854775808",
		"18446744073709551615", "18446744073709551616", "99999999999999999999", "100000000000000000000", "-99999999999999999999",
		"12345678901234567.5", "1234567890123456.785", "123456789012.123456", "1234567890123.1234565", "0.0000001",
		"99999999999999999999999999999999999999", "170141183460469231731687303715884105727", "170141183460469231731687303715884105728",
		"1e38", "1e39", "00000000000000000000000001", "0.00000000000000000000000000000000000001"}
	var values []string
	for _, s := range texts {
		values = append(values, "("+literal(s)+")")
	}
	types := []string{"DECIMAL(19,0)", "DECIMAL(20,0)", "DECIMAL(38,0)", "DECIMAL(20,6)", "DECIMAL(20,2)", "DECIMAL(38,9)",
		"DECIMAL(38,17)", "DECIMAL(38,18)", "DECIMAL(18,2)"}
	for _, typ := range types {
		t.Run(typ, func(t *testing.T) {
			fast := wideDecimalCast("s", typ)
			if p, _, _ := decimalType(typ); (fast == "") != (p <= 18 || strings.HasSuffix(typ, ",18)")) {
				t.Fatalf("wideDecimalCast(%s) = %q", typ, fast)
			}
			if fast == "" {
				return
			}
			q := fmt.Sprintf("SELECT s, CAST(%s AS VARCHAR), CAST(TRY_CAST(s AS %s) AS VARCHAR) FROM (VALUES %s) v(s)", fast, typ, strings.Join(values, ", "))
			rows, err := w.RunQuery(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var s string
				var got, want sql.NullString
				if err := rows.Scan(&s, &got, &want); err != nil {
					t.Fatal(err)
				}
				n++
				if got != want {
					t.Errorf("%q: fast path %v, DuckDB's cast %v", s, got, want)
				}
			}
			if err := rows.Err(); err != nil || n != len(texts) {
				t.Fatalf("%d rows, %v", n, err)
			}
		})
	}
}

// TestExactNumericCast checks the casts castInto takes without text
// checks: for each it claims exact, DuckDB's TRY_CAST of values at and
// beyond the ends of the source type either fails (NULL) or reads back
// as the same value; and the casts that can round are not claimed.
func TestExactNumericCast(t *testing.T) {
	w := open(t)
	values := map[string][]string{
		"UBIGINT":       {"0", "1", "9223372036854775807", "9223372036854775808", "18446744073709551615"},
		"BIGINT":        {"-9223372036854775808", "-1", "0", "99999", "9223372036854775807"},
		"INTEGER":       {"-2147483648", "0", "2147483647"},
		"HUGEINT":       {"-170141183460469231731687303715884105728", "0", "170141183460469231731687303715884105727"},
		"DECIMAL(38,6)": {"-99999999999999999999999999999999.999999", "-12.5", "0.000001", "123456.789012", "99999999999999999999999999999999.999999"},
		"DECIMAL(12,2)": {"-9999999999.99", "0.01", "1.10", "9999999999.99"},
	}
	tests := []struct {
		from, to string
		exact    bool
	}{
		{"UBIGINT", "DECIMAL(20,0)", true},
		{"UBIGINT", "DECIMAL(19,0)", true},
		{"UBIGINT", "BIGINT", true},
		{"BIGINT", "INTEGER", true},
		{"HUGEINT", "DECIMAL(38,0)", true},
		{"INTEGER", "DECIMAL(12,2)", true},
		{"DECIMAL(38,6)", "DECIMAL(20,6)", true},
		{"DECIMAL(38,6)", "DECIMAL(38,9)", true},
		{"DECIMAL(12,2)", "DECIMAL(5,2)", true},
		{"DECIMAL(38,6)", "DECIMAL(20,2)", false}, // would round
		{"DECIMAL(12,2)", "BIGINT", false},        // would round
		{"BIGINT", "DOUBLE", false},
		{"VARCHAR", "DECIMAL(20,0)", false},
		{"DOUBLE", "DECIMAL(38,9)", false},
		{"BIGINT", "VARCHAR", false},
	}
	for _, tt := range tests {
		if got := exactNumericCast(tt.from, tt.to); got != tt.exact {
			t.Errorf("exactNumericCast(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.exact)
		}
		if !tt.exact || values[tt.from] == nil {
			continue
		}
		for _, v := range values[tt.from] {
			q := fmt.Sprintf("SELECT TRY_CAST(x AS %[2]s) IS NULL OR CAST(TRY_CAST(x AS %[2]s) AS %[1]s) = x FROM (SELECT CAST(%[3]s AS %[1]s) AS x)",
				tt.from, tt.to, literal(v))
			rows, err := w.RunQuery(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			var ok bool
			if !rows.Next() || rows.Scan(&ok) != nil || !ok {
				t.Errorf("%s %s into %s: the cast changed the value", tt.from, v, tt.to)
			}
			rows.Close()
		}
	}
}
