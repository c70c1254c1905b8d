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
