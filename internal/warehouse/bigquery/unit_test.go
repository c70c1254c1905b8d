package bigquery

import (
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

func TestLiterals(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, "NULL"},
		{"it's \\ a\nb", `'it\'s \\ a\u000ab'`},
		{"bad \xff", "'bad \uFFFD'"},
		{int64(-3), "-3"},
		{2.5, "CAST(2.5 AS FLOAT64)"},
		{5.0, "CAST(5.0 AS FLOAT64)"},
		{math.NaN(), "CAST('nan' AS FLOAT64)"},
		{true, "TRUE"},
		{[]string{"a", "b'"}, `ARRAY<STRING>['a', 'b\'']`},
		{[]int64{}, "ARRAY<INT64>[]"},
	} {
		got, err := valueLiteral(c.v)
		if err != nil || got != c.want {
			t.Errorf("%#v: %s, %v; want %s", c.v, got, err, c.want)
		}
	}
	sql, err := inline("SELECT ? AS a, '?' AS b, `x?` AS c, r'^a?$' -- ?\n, ?", []any{"x", int64(1)})
	if err != nil || sql != "SELECT 'x' AS a, '?' AS b, `x?` AS c, r'^a?$' -- ?\n, 1" {
		t.Errorf("inline: %q, %v", sql, err)
	}
	if _, err := inline("SELECT ?", nil); err == nil {
		t.Error("a placeholder without a value was inlined")
	}
	for sql, want := range map[string]bool{
		"SELECT 1":                    false,
		"SELECT 1;":                   false,
		"SELECT ';'":                  false,
		"SELECT 1; SELECT 2":          true,
		"CREATE TABLE x (a INT64);\n": false,
		"A;\nB;\n":                    true,
	} {
		if got := isScript(sql); got != want {
			t.Errorf("isScript(%q) = %v", sql, got)
		}
	}
}

func TestCSVReader(t *testing.T) {
	in := "\ufeffa,b\r\n1,\"x\ny\"\n\n2, \"q\"\"\"\n3,\"open\n"
	r := newCSVReader(strings.NewReader(in), ',', '"')
	var got []string
	for {
		rec, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, f := range rec.fields {
			fields = append(fields, string(f))
		}
		got = append(got, strings.Join([]string{itoa(rec.line), strings.Join(fields, "|"), rec.problem}, ";"))
	}
	want := []string{
		"1;a|b;",
		"2;1|x\ny;",
		"4;2|q\";",
		"5;3|open\n;unterminated quote: the quoted field that opens on this line never closes",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records\n%q\nwant\n%q", got, want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestUnescapeBlob(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", `\x41\x42`: "AB", `\xZZ`: "!", `\x4`: "!", `a\`: "!"} {
		b, ok := unescapeBlob(in)
		if got := string(b); !ok {
			got = "!"
		} else if got != want {
			t.Errorf("%q: %q", in, got)
		}
		if !ok && want != "!" {
			t.Errorf("%q refused", in)
		}
	}
}

func TestConvertNumeric(t *testing.T) {
	sql := convert("`c0`", column{Type: "NUMERIC", Precision: 12, Scale: 2}, warehouse.ColumnParse{}, false)
	for _, part := range []string{`\d{1,10}`, `\.\d{0,2}0*`, "SAFE_CAST(TRIM(`c0`) AS NUMERIC)", "[eE]"} {
		if !strings.Contains(sql, part) {
			t.Errorf("%s lacks %s", sql, part)
		}
	}
}

// A decimal wider than BigQuery's NUMERIC(P, S) allows (9 decimals, 29
// integer digits) is a BIGNUMERIC of the same precision and scale.
func TestColumnOfWideDecimal(t *testing.T) {
	for _, c := range []struct {
		typ        string
		prec, scal int
		want       string
	}{
		{"NUMERIC", 12, 2, "NUMERIC(12, 2)"},
		{"NUMERIC", 38, 9, "NUMERIC(38, 9)"},
		{"DECIMAL", 38, 18, "BIGNUMERIC(38, 18)"},
		{"NUMERIC", 38, 0, "BIGNUMERIC(38, 0)"},
		{"NUMERIC", 0, 0, "NUMERIC"},
		{"BIGNUMERIC", 38, 30, "BIGNUMERIC(38, 30)"},
	} {
		got := columnOf(schema.Field{Name: "x", Type: c.typ, Precision: c.prec, Scale: c.scal}).typeName()
		if got != c.want {
			t.Errorf("%s(%d, %d): %s, want %s", c.typ, c.prec, c.scal, got, c.want)
		}
	}
}

// TestLayoutPattern: a date's text must have its layout's separators.
func TestLayoutPattern(t *testing.T) {
	for _, c := range []struct {
		layout, text string
		match        bool
	}{
		{"%Y/%m/%d", "2026/01/05", true},
		{"%Y/%m/%d", "2026-01-05", false},
		{"%Y/%m/%d %H:%M:%S", "2026/1/5 23:59:59", true},
		{"%b %d, %Y", "Jan 5, 2026", true},
		{"%b %d, %Y", "Jan 5 2026", false},
		{"%d %B %Y", "05 January 2026", true},
		{"%d %B %Y", "05 01 2026", false},
	} {
		if got := regexp.MustCompile(layoutPattern(c.layout)).MatchString(c.text); got != c.match {
			t.Errorf("%s ~ %q: %v", c.layout, c.text, got)
		}
	}
}

// TestLoadableName lists which JSON member names a load job can match
// to a column.
func TestLoadableName(t *testing.T) {
	for name, want := range map[string]bool{
		"id": true, "_x": true, "A1_b": true, strings.Repeat("a", 300): true,
		"": false, "1a": false, "a-b": false, "a b": false, "é": false, "a.b": false, strings.Repeat("a", 301): false,
		"_TABLE_x": false, "_file_name": false, "_PARTITIONTIME": false, "__root__": false, "_CHANGE_TYPE": false,
	} {
		if got := loadableName(name); got != want {
			t.Errorf("loadableName(%q) = %v, want %v", name, got, want)
		}
	}
}
