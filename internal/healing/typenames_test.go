package healing

import "testing"

// TestTypeChecksKnowEveryEngine: the stage strategies pick the columns
// they can repair by the staged column's engine type, which each
// warehouse names its own way; a BigQuery INT64 is as much an integer
// as DuckDB's BIGINT.
func TestTypeChecksKnowEveryEngine(t *testing.T) {
	for _, c := range []struct {
		typ                     string
		integer, numeric, times bool
	}{
		{"BIGINT", true, true, false}, {"INTEGER", true, true, false}, {"SMALLINT", true, true, false}, {"HUGEINT", true, true, false},
		{"INT64", true, true, false},
		{"DOUBLE", false, true, false}, {"FLOAT", false, true, false}, {"FLOAT64", false, true, false},
		{"DECIMAL(12,2)", false, true, false}, {"NUMERIC", false, true, false}, {"NUMERIC(12, 2)", false, true, false},
		{"BIGNUMERIC", false, true, false}, {"BIGNUMERIC(40, 20)", false, true, false},
		{"DATE", false, false, true}, {"TIMESTAMP", false, false, true}, {"TIMESTAMP WITH TIME ZONE", false, false, true},
		{"DATETIME", false, false, true},
		{"VARCHAR", false, false, false}, {"STRING", false, false, false}, {"BOOLEAN", false, false, false}, {"BOOL", false, false, false},
		{"JSON", false, false, false}, {"TIME", false, false, false},
	} {
		if got := isIntegerType(c.typ); got != c.integer {
			t.Errorf("isIntegerType(%q) = %v, want %v", c.typ, got, c.integer)
		}
		if got := isNumericType(c.typ); got != c.numeric {
			t.Errorf("isNumericType(%q) = %v, want %v", c.typ, got, c.numeric)
		}
		if got := isTimeType(c.typ); got != c.times {
			t.Errorf("isTimeType(%q) = %v, want %v", c.typ, got, c.times)
		}
	}
}
