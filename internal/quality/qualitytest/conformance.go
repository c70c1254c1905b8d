// Package qualitytest reads Great Expectations' own test definitions (the
// conformance cases in shared/conformance/great_expectations) for tests
// that run them through shp: `shp validate`'s code path
// (internal/cli) and every warehouse's dialect
// (internal/warehouse/warehousetest). It finds the cases that apply (what
// GE runs on its PostgreSQL backend), writes each as files (data as JSON
// Lines, a BigQuery schema, a one-expectation suite), judges a result by
// the README's rules, and tallies the pass rate.
package qualitytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/quality"
)

// Floor is the share of applicable cases that must pass; it only ever
// goes up (the target is 0.98).
const Floor = 0.98

// Environment variables that steer the cases.
const (
	// DirEnv points at the cases elsewhere.
	DirEnv = "SHP_CONFORMANCE_DIR"
	// OnlyEnv runs the files whose name holds its value, for work on
	// one expectation; the floor is then not enforced.
	OnlyEnv = "SHP_CONFORMANCE_ONLY"
)

// Dir finds Great Expectations' own test definitions: in
// $SHP_CONFORMANCE_DIR, else in a shared/ folder beside the checkout or
// above it (looked for from the working directory), else beside the local
// repository this checkout was cloned from (a fresh `git clone` of a
// working copy into /tmp).
func Dir() string {
	if d := os.Getenv(DirEnv); d != "" {
		return d
	}
	here, _ := filepath.Abs(".")
	starts := []string{here}
	if out, err := exec.Command("git", "config", "--get", "remote.origin.url").Output(); err == nil {
		if origin := strings.TrimPrefix(strings.TrimSpace(string(out)), "file://"); filepath.IsAbs(origin) {
			starts = append(starts, origin)
		}
	}
	for _, dir := range starts {
		if c := findSharedAbove(dir); c != "" {
			return c
		}
	}
	return filepath.Join("..", "..", "..", "shared", "conformance", "great_expectations")
}

// findSharedAbove walks up from dir looking for
// shared/conformance/great_expectations; "" when there is none.
func findSharedAbove(dir string) string {
	for {
		c := filepath.Join(dir, "shared", "conformance", "great_expectations")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

type geFile struct {
	ExpectationType string      `json:"expectation_type"`
	Datasets        []geDataset `json:"datasets"`
}

type geDataset struct {
	Data     any            `json:"data"`
	Schemas  map[string]any `json:"schemas"`
	OnlyFor  []string       `json:"only_for"`
	Suppress []string       `json:"suppress_test_for"`
	Tests    []geTest       `json:"tests"`
	raw      json.RawMessage
}

type geTest struct {
	Title     string         `json:"title"`
	In        any            `json:"in"`
	Out       map[string]any `json:"out"`
	Error     any            `json:"error"`
	Tolerance *float64       `json:"tolerance"`
	OnlyFor   []string       `json:"only_for"`
	Suppress  []string       `json:"suppress_test_for"`
}

// Case is one applicable test of GE's definitions: an expectation with
// its arguments, the table it runs on (and other tables it compares
// with), and what GE expects.
type Case struct {
	// Expectation is the expectation's type, e.g.
	// expect_column_values_to_be_between.
	Expectation string
	// Title is the test's title in GE's file.
	Title string
	// File is the definitions file the case comes from.
	File   string
	main   geDataset
	others map[string]geDataset
	test   geTest
}

// HasOthers says the case compares with tables other than the one it
// validates (Files.Others).
func (c Case) HasOthers() bool { return len(c.others) > 0 }

// Cases reads the applicable cases of every definitions file under dir
// (dir/*/*.json) whose base name contains only ("" for all), in file
// order. With no file under dir the test is skipped, or fails when CI is
// "true".
func Cases(t testing.TB, dir, only string) []Case {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no conformance cases under %s (set %s)", dir, DirEnv)
		}
		t.Skipf("no conformance cases under %s (shared/ is not beside the checkout; set %s)", dir, DirEnv)
	}
	var out []Case
	for _, file := range files {
		if only != "" && !strings.Contains(filepath.Base(file), only) {
			continue
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// GE's files are Python's JSON: Infinity and NaN become strings here.
		raw = quotePyNumbers(raw)
		var f geFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var rawDatasets struct {
			Datasets []json.RawMessage `json:"datasets"`
		}
		_ = json.Unmarshal(raw, &rawDatasets)
		for di, ds := range f.Datasets {
			ds.raw = rawDatasets.Datasets[di]
			if !applies(ds.OnlyFor, ds.Suppress) {
				continue
			}
			for _, test := range ds.Tests {
				if !applies(test.OnlyFor, test.Suppress) {
					continue
				}
				main, others := splitTables(t, ds)
				out = append(out, Case{Expectation: f.ExpectationType, Title: test.Title, File: file,
					main: main, others: others, test: test})
			}
		}
	}
	return out
}

// quotePyNumbers turns the bare Infinity, -Infinity and NaN of Python's
// JSON into strings, leaving string contents alone.
func quotePyNumbers(b []byte) []byte {
	var out []byte
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			out = append(out, c)
			if c == '\\' && i+1 < len(b) {
				i++
				out = append(out, b[i])
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
		}
		for _, tok := range []string{"-Infinity", "Infinity", "NaN"} {
			if bytes.HasPrefix(b[i:], []byte(tok)) {
				out = append(out, '"')
				out = append(out, tok...)
				c = '"'
				i += len(tok) - 1
				break
			}
		}
		out = append(out, c)
	}
	return out
}

// applies is the README's rule: what GE would run on its PostgreSQL backend.
func applies(onlyFor, suppress []string) bool {
	has := func(l []string) bool {
		for _, s := range l {
			if s == "postgresql" || s == "sqlalchemy" {
				return true
			}
		}
		return false
	}
	return (len(onlyFor) == 0 || has(onlyFor)) && !has(suppress)
}

var pgToBigQuery = map[string]string{
	"INTEGER": "INT64", "BIGINT": "INT64", "SMALLINT": "INT64", "TEXT": "STRING", "VARCHAR": "STRING",
	"TIMESTAMP": "DATETIME", "DOUBLE_PRECISION": "FLOAT64", "FLOAT": "FLOAT64",
	// The suites' NUMERIC data are JSON numbers (Python floats, up to 17
	// significant digits in exponent notation): NUMERIC (38,9) or
	// BIGNUMERIC (38,18) would set aside the ones with more decimals,
	// since shp never rounds in silence.
	"NUMERIC": "FLOAT64",
	"BOOLEAN": "BOOL", "DATE": "DATE",
}

// splitTables separates a dataset of several tables (a list of
// {dataset_name, data}) into the first, which is validated, and the
// others by name.
func splitTables(t testing.TB, ds geDataset) (geDataset, map[string]geDataset) {
	t.Helper()
	if _, ok := ds.Data.(map[string]any); ok {
		return ds, nil
	}
	var raw struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(ds.raw, &raw); err != nil || len(raw.Data) == 0 {
		t.Fatalf("dataset is neither a table nor a list of tables: %v", err)
	}
	var main geDataset
	others := map[string]geDataset{}
	for i, r := range raw.Data {
		var entry struct {
			Name string         `json:"dataset_name"`
			Data any            `json:"data"`
			Sch  map[string]any `json:"schemas"`
		}
		if err := json.Unmarshal(r, &entry); err != nil {
			t.Fatal(err)
		}
		sub := geDataset{Data: entry.Data, Schemas: entry.Sch, raw: r}
		if i == 0 {
			main = sub
			continue
		}
		others[entry.Name] = sub
	}
	return main, others
}

// columnOrder keeps the dataset's column order as written in the file.
func columnOrder(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var cols []string
	depth := 0
	inData := false
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return cols
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				depth++
				if t == '{' && inData && depth == 2 {
					expectKey = true
				}
			case '}', ']':
				depth--
				if inData && depth == 1 {
					return cols
				}
			}
		case string:
			if depth == 1 && t == "data" {
				inData = true
				continue
			}
			if inData && depth == 2 && expectKey {
				cols = append(cols, t)
				// Skip the value (an array).
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return cols
				}
			}
		}
	}
}

// Files are a case written out by Case.Write.
type Files struct {
	// Data is the validated table as JSON Lines.
	Data string
	// Schema is a BigQuery JSON schema for Data; "" when the case
	// declares no types and has rows to infer them from.
	Schema string
	// Suite is a suite of the one expectation.
	Suite string
	// Others are the other tables the expectation compares with.
	Others []Table
}

// Table is another table of a case: its name and its data as JSON Lines.
type Table struct{ Name, Path string }

// Write writes the case into dir (created if needed): Files.Data,
// Files.Schema and Files.Suite, and each other table in a folder of its
// own under dir.
func (c Case) Write(t testing.TB, dir string) Files {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var f Files
	f.Data, f.Schema, f.Suite = writeCase(t, dir, c.main, c.Expectation, c.test)
	names := make([]string, 0, len(c.others))
	for name := range c.others {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		odir := filepath.Join(dir, fmt.Sprintf("other_%d", i))
		if err := os.MkdirAll(odir, 0o755); err != nil {
			t.Fatal(err)
		}
		odata, _, _ := writeCase(t, odir, c.others[name], c.Expectation, c.test)
		f.Others = append(f.Others, Table{Name: name, Path: odata})
	}
	return f
}

func writeCase(t testing.TB, dir string, ds geDataset, typ string, test geTest) (data, sch, suite string) {
	t.Helper()
	cols := columnOrder(ds.raw)
	dataMap, _ := ds.Data.(map[string]any)
	columns := map[string][]any{}
	n := 0
	for _, c := range cols {
		columns[c], _ = dataMap[c].([]any)
		if len(columns[c]) > n {
			n = len(columns[c])
		}
	}
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		b.WriteString("{")
		for j, c := range cols {
			if j > 0 {
				b.WriteString(",")
			}
			var v any
			if i < len(columns[c]) {
				v = columns[c][i]
			}
			k, _ := json.Marshal(c)
			val, _ := json.Marshal(v)
			b.Write(k)
			b.WriteString(":")
			b.Write(val)
		}
		b.WriteString("}\n")
	}
	write := func(name string, content []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	data = write("data.jsonl", b.Bytes())
	if pg, _ := ds.Schemas["postgresql"].(map[string]any); len(pg) > 0 {
		var fields []map[string]string
		for _, c := range cols {
			pt, _ := pg[c].(string)
			bq, ok := pgToBigQuery[strings.ToUpper(pt)]
			if !ok {
				bq = "STRING"
			}
			fields = append(fields, map[string]string{"name": c, "type": bq})
		}
		js, _ := json.Marshal(fields)
		sch = write("schema.json", js)
	} else if n == 0 {
		// No values to infer types from: declare the columns numeric.
		var fields []map[string]string
		for _, c := range cols {
			fields = append(fields, map[string]string{"name": c, "type": "FLOAT64"})
		}
		js, _ := json.Marshal(fields)
		sch = write("schema.json", js)
	}
	kwargs := test.In
	if l, ok := test.In.([]any); ok { // positional arguments: the column first
		m := map[string]any{}
		if len(l) > 0 {
			m["column"] = l[0]
		}
		kwargs = m
	}
	js, _ := json.Marshal(map[string]any{"name": "conformance", "expectations": []any{map[string]any{"type": typ, "kwargs": kwargs}}})
	suite = write("suite.json", js)
	return data, sch, suite
}

// Judge returns why the case failed, or "" when it passed, by the
// README's rules: an expected error must be an error or a raised
// exception; otherwise success, unexpected_list (as a multiset) and
// observed_value (within the case's tolerance) must match GE's.
func (c Case) Judge(res *quality.Result, err error) string {
	test := c.test
	_, traceback := test.Out["traceback_substring"]
	if expectsError(test.Error) || traceback {
		if err != nil || (res != nil && len(res.Results) == 1 && res.Results[0].Exception.Raised) {
			return ""
		}
		return "expected an error"
	}
	if err != nil {
		return "error: " + firstLine(err.Error())
	}
	r := res.Results[0]
	if r.Exception.Raised {
		return "exception: " + r.Exception.Message
	}
	if want, ok := test.Out["success"].(bool); ok && want != r.Success {
		return fmt.Sprintf("success %v, want %v (result %v)", r.Success, want, compact(r.Result))
	}
	if want, ok := test.Out["unexpected_list"].([]any); ok {
		got, _ := r.Result["unexpected_list"].([]any)
		if !sameMultiset(got, want) {
			return fmt.Sprintf("unexpected_list %v, want %v", compact(got), compact(want))
		}
	}
	if want, ok := test.Out["observed_value"]; ok {
		tol := 1e-7
		if test.Tolerance != nil {
			tol = *test.Tolerance
		}
		if !sameValue(r.Result["observed_value"], want, tol) {
			return fmt.Sprintf("observed_value %v, want %v", compact(r.Result["observed_value"]), compact(want))
		}
	}
	return ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// expectsError reads GE's "error" field: true, or an object describing it.
func expectsError(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case map[string]any:
		return len(x) > 0
	}
	return false
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func sameMultiset(got, want []any) bool {
	if len(got) != len(want) {
		return false
	}
	used := make([]bool, len(got))
outer:
	for _, w := range want {
		for i, g := range got {
			if !used[i] && sameValue(g, w, 1e-7) {
				used[i] = true
				continue outer
			}
		}
		return false
	}
	return true
}

// sameValue compares a result value with GE's expectation: numbers within
// a relative tolerance (plus 0.05 absolute for floats, as GE's harness
// does), timestamps as instants, lists and maps element-wise.
func sameValue(got, want any, tol float64) bool {
	if gf, ok := number(got); ok {
		if wf, ok := number(want); ok {
			diff := math.Abs(gf - wf)
			return diff <= tol*math.Max(math.Abs(wf), 1) || (wf != math.Trunc(wf) && diff <= 0.05)
		}
	}
	if gs, ok := got.(string); ok {
		if ws, ok := want.(string); ok {
			if gs == ws {
				return true
			}
			gt, gerr := parseInstant(gs)
			wt, werr := parseInstant(ws)
			return gerr == nil && werr == nil && gt.Equal(wt)
		}
	}
	gl, gok := got.([]any)
	wl, wok := want.([]any)
	if gok && wok {
		if len(gl) != len(wl) {
			return false
		}
		for i := range gl {
			if !sameValue(gl[i], wl[i], tol) {
				return false
			}
		}
		return true
	}
	if gm, ok := got.(map[string]any); ok {
		if wm, ok := want.(map[string]any); ok {
			if len(gm) != len(wm) {
				return false
			}
			for k, w := range wm {
				if !sameValue(gm[k], w, tol) {
					return false
				}
			}
			return true
		}
	}
	return reflect.DeepEqual(got, want)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func parseInstant(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

// Tally counts the cases run and, by expectation, why those that failed
// did.
type Tally struct {
	// Total counts the cases added, Passed those that passed.
	Total, Passed int
	failures      map[string][]string
}

// Add counts a case: passed when why is "".
func (ta *Tally) Add(c Case, why string) {
	ta.Total++
	if why == "" {
		ta.Passed++
		return
	}
	if ta.failures == nil {
		ta.failures = map[string][]string{}
	}
	ta.failures[c.Expectation] = append(ta.failures[c.Expectation], c.Title+": "+why)
}

// Rate is the share of the cases that passed (0 when none ran).
func (ta *Tally) Rate() float64 {
	if ta.Total == 0 {
		return 0
	}
	return float64(ta.Passed) / float64(ta.Total)
}

// Report logs every failing case, by expectation, and the pass rate;
// unless only is set (part of the cases ran), it fails the test when the
// rate is below Floor.
func (ta *Tally) Report(t testing.TB, only string) {
	t.Helper()
	types := make([]string, 0, len(ta.failures))
	for k := range ta.failures {
		types = append(types, k)
	}
	sort.Strings(types)
	for _, k := range types {
		t.Logf("%s: %d failing", k, len(ta.failures[k]))
		for _, f := range ta.failures[k] {
			t.Logf("    %s", f)
		}
	}
	rate := ta.Rate()
	t.Logf("conformance: %d of %d applicable cases pass (%.1f%%)", ta.Passed, ta.Total, 100*rate)
	if only == "" && rate < Floor {
		t.Fatalf("conformance %.1f%% fell below the floor %.0f%%", 100*rate, 100*Floor)
	}
}
