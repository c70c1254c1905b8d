package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunReadsOtherDialects: files a new user gets from Excel, R, pandas
// and European locales load with the default config. Each day's file is
// read with its own delimiter, decimal commas are healed, unnamed and
// trailing empty columns do not stop the run, and the run says what it
// detected. Rows in = loaded + quarantined every day.
func TestRunReadsOtherDialects(t *testing.T) {
	dir := eventsProject(t, allStage)
	days := []struct {
		file, data string
		drift      []string
	}{
		{"d1.csv", "id;day;seen_at;amount;city\n1;2026-11-01;2026-11-01 08:00:00;1,5;\"Bern; BE\"\n2;2026-11-01;2026-11-01 09:00:00;1.234,50;Basel\n",
			[]string{`detected delimiter ";"`}},
		{"d2.csv", "id\tday\tseen_at\tamount\tcity\n3\t2026-11-02\t2026-11-02 08:00:00\t2.50\t\"Biel, BE; CH|x\"\n",
			[]string{`detected delimiter "\t"`}},
		{"d3.csv", "id|day|seen_at|amount|city\n4|2026-11-03|2026-11-03 08:00:00|3.00|\"Genf|GE\"\n",
			[]string{`detected delimiter "|"`}},
		// Excel: trailing empty columns in the header and every row
		{"d4.csv", "id,day,seen_at,amount,city,,,\r\n5,2026-11-04,2026-11-04 08:00:00,4.00,Chur,,,\r\n6,2026-11-04,2026-11-04 09:00:00,4.50,Thun,,,\r\n",
			[]string{"header columns 6 to 8 have no name and no value in any row; not read"}},
		// R's write.csv: row names under an empty header cell
		{"d5.csv", "\"\",\"id\",\"day\",\"seen_at\",\"amount\",\"city\"\n\"1\",7,2026-11-05,2026-11-05 08:00:00,5.00,\"Zug\"\n",
			[]string{`header column 1 has no name; read as "Unnamed: 0"`, `extra column "Unnamed: 0" is not in the schema`}},
		// semicolons and decimal commas, trailing cells in the header only
		{"d6.csv", "id;day;seen_at;amount;city;;\n8;2026-11-06;2026-11-06 08:00:00;6,25;Sion\n",
			[]string{`detected delimiter ";"`, "header columns 6 to 7 have no name and no value in any row; not read"}},
	}
	for i, d := range days {
		writeDay(t, dir, d.file, d.data)
		code, out, errOut := shp(t, "run", "--config", dir)
		if code != 0 || !strings.Contains(out, "quarantined 0") || !strings.Contains(out, "[ok]") {
			t.Fatalf("day %d: %d\n%s\n%s", i+1, code, out, errOut)
		}
		for _, note := range d.drift {
			if !strings.Contains(out, note) {
				t.Errorf("day %d: the run does not say %q:\n%s", i+1, note, out)
			}
		}
	}
	got := queryJSON(t, dir, `SELECT string_agg(id || '|' || day || '|' || amount || '|' || city, '; ' ORDER BY id) AS r FROM events`)
	want := "1|2026-11-01|1.50|Bern; BE; 2|2026-11-01|1234.50|Basel; 3|2026-11-02|2.50|Biel, BE; CH|x; 4|2026-11-03|3.00|Genf|GE; " +
		"5|2026-11-04|4.00|Chur; 6|2026-11-04|4.50|Thun; 7|2026-11-05|5.00|Zug; 8|2026-11-06|6.25|Sion"
	if fmt.Sprint(got[0]["r"]) != want {
		t.Fatalf("target:\n%v\nwant\n%s", got[0]["r"], want)
	}
	cols := queryJSON(t, dir, `SELECT string_agg(column_name, ',' ORDER BY ordinal_position) AS c FROM information_schema.columns WHERE table_name = 'events'`)
	if c := fmt.Sprint(cols[0]["c"]); c != "id,day,seen_at,amount,city" {
		t.Fatalf("target columns %s: an unnamed or empty column reached the target", c)
	}
	if n := countActions(t, dir, "parse_number_format"); n != 2 {
		t.Fatalf("parse_number_format applied %d times, want 2 (days 1 and 6)", n)
	}
}

// TestRunWithAWrongDeclaredDelimiter: a source declares "," but its
// (gzipped) files use ";": none of the schema's columns read with ",",
// all with ";", so ";" is used and the run says so.
func TestRunWithAWrongDeclaredDelimiter(t *testing.T) {
	dir := eventsProject(t, allStage)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  files:\n    type: file\n    path: data/*.csv*\n    schema: schemas/events.json\n    csv: {delimiter: \",\"}\n"), 0o644)
	for i, gz := range []bool{false, true} {
		data := []byte(fmt.Sprintf("id;day;seen_at;amount;city\n%d;2026-11-01;2026-11-01 08:00:00;1.50;\"a,\nb\"\n", i+1))
		name := fmt.Sprintf("d%d.csv", i+1)
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			data, name = b.Bytes(), name+".gz"
		}
		writeDay(t, dir, name, string(data))
		code, out, errOut := shp(t, "run", "--config", dir)
		if code != 0 || !strings.Contains(out, "rows in 1 = loaded 1 + quarantined 0") {
			t.Fatalf("gzip=%t: %d\n%s\n%s", gz, code, out, errOut)
		}
		note := `the declared delimiter "," reads none of the schema's columns; read with delimiter ";", which reads 5 of them`
		if !strings.Contains(out, note) {
			t.Fatalf("gzip=%t: the run does not say %q:\n%s", gz, note, out)
		}
	}
	got := queryJSON(t, dir, `SELECT string_agg(id || '|' || amount || '|' || city, '; ' ORDER BY id) AS r FROM events`)
	if want := "1|1.50|a,\nb; 2|1.50|a,\nb"; fmt.Sprint(got[0]["r"]) != want {
		t.Fatalf("target %q, want %q", got[0]["r"], want)
	}
}

// TestValidateReadsWhatPandasReads: shp validate reads the files Great
// Expectations reads through pandas: other delimiters, unnamed columns,
// trailing empty columns, and JSON keys that are null in every record
// (an expectation on such a column runs).
func TestValidateReadsWhatPandasReads(t *testing.T) {
	dir := t.TempDir()
	var many strings.Builder
	for i := 0; i < 250; i++ {
		fmt.Fprintf(&many, "{\"id\":%d,\"k%d\":1,\"gone\":null}\n", i, i)
	}
	gz := func(s string) string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.String()
	}
	type exp struct {
		Type   string         `json:"expectation_type"`
		Kwargs map[string]any `json:"kwargs"`
	}
	col := func(typ, column string) exp { return exp{typ, map[string]any{"column": column}} }
	columns := func(names ...string) exp {
		return exp{"expect_table_columns_to_match_ordered_list", map[string]any{"column_list": names}}
	}
	rows := func(n int) exp { return exp{"expect_table_row_count_to_equal", map[string]any{"value": n}} }
	tests := []struct {
		name, file, data string
		suite            []exp
	}{
		{"semicolons", "a.csv", "id;amount;city\n1;1,5;\"Bern; BE\"\n2;2;Basel\n",
			[]exp{columns("id", "amount", "city"), rows(2), col("expect_column_values_to_not_be_null", "city")}},
		{"gzipped tabs", "a.csv.gz", gz("id\tcity\n1\t\"x,y;z\"\n"), []exp{columns("id", "city"), rows(1)}},
		{"pipes", "a.csv", "id|city\n1|\"x|y\"\n2|z\n", []exp{columns("id", "city"), rows(2)}},
		{"excel trailing columns", "a.csv", "id,city,,,\n1,a,,,\n2,b,,,\n",
			[]exp{columns("id", "city"), rows(2), col("expect_column_values_to_be_unique", "id")}},
		{"trailing cells in the header only", "a.csv", "id,city,,,\n1,a\n", []exp{columns("id", "city"), rows(1)}},
		{"row names", "a.csv", "\"\",\"id\",\"city\"\n\"1\",7,\"a\"\n\"2\",8,\"b\"\n",
			[]exp{columns("Unnamed: 0", "id", "city"), col("expect_column_values_to_be_unique", "Unnamed: 0")}},
		{"unnamed middle column", "a.csv", "id,,city\n1,x,a\n", []exp{columns("id", "Unnamed: 1", "city"), col("expect_column_to_exist", "Unnamed: 1")}},
		{"all-null key in json lines", "a.jsonl", "{\"id\":1,\"note\":null}\n{\"id\":2,\"note\":null}\n",
			[]exp{col("expect_column_to_exist", "note"), col("expect_column_values_to_be_null", "note"), columns("id", "note")}},
		{"all-null key in a json array", "a.json", `[{"id":1,"note":null},{"id":2,"note":null,"late":null}]`,
			[]exp{col("expect_column_values_to_be_null", "note"), col("expect_column_values_to_be_null", "late")}},
		{"gzipped json lines with a key only in a late record", "a.jsonl.gz", gz(strings.Repeat("{\"id\":1}\n", 2000) + "{\"id\":2,\"late\":null}\n"),
			[]exp{col("expect_column_values_to_be_null", "late"), rows(2001)}},
		{"hundreds of keys", "a.jsonl", many.String(),
			[]exp{col("expect_column_values_to_be_null", "gone"), col("expect_column_to_exist", "k249"), rows(250)}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := filepath.Join(dir, fmt.Sprint(i))
			os.MkdirAll(sub, 0o755)
			data := filepath.Join(sub, tc.file)
			os.WriteFile(data, []byte(tc.data), 0o644)
			suite, _ := json.Marshal(map[string]any{"expectation_suite_name": "s", "expectations": tc.suite})
			suitePath := filepath.Join(sub, "suite.json")
			os.WriteFile(suitePath, suite, 0o644)
			code, out, errOut := shp(t, "validate", "--data", data, "--suite", suitePath)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
		})
	}
}
