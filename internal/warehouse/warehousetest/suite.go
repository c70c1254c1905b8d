// Package warehousetest is the specification of a warehouse, as a test
// suite that every implementation of warehouse.Warehouse runs against its
// real engine:
//
//	func TestWarehouseSuite(t *testing.T) {
//		warehousetest.Run(t, func(t *testing.T, key string) warehouse.Warehouse {
//			return openMyWarehouse(t, key) // the same key: the same storage
//		})
//	}
//
// The suite only uses the warehouse's public interface: it stages files
// it writes into t.TempDir(), commits them, and reads back through
// RunQuery (plain SELECTs, identifiers quoted by the warehouse's Dialect),
// QuarantinedRows, LoadedObjects, TargetSchema and BatchMetrics. Its
// groups of subtests are:
//
//   - Load: every format (CSV with comma, semicolon and tab, quoted
//     fields spanning lines, header variants, CRLF, gzip; JSON Lines;
//     a JSON array; Parquet, as text and natively typed) with good rows,
//     rows of the wrong shape, values that do not convert for every type,
//     NULLs and NULL tokens, and unicode. Rows in (counted as a pipeline
//     counts them) = staged + set aside; each row set aside has its
//     object, its line, a reason naming the column and the value, and
//     its raw text; SetAside keeps them until a commit of the object.
//   - Quarantine: QuarantineWhere with the dialect's placeholders.
//   - Commit: append, replace, merge (the latest row per key wins; a
//     column an object lacks keeps the target's values), full refresh,
//     refused specs.
//   - Ledger: the ledger is written with the rows or not at all (a commit
//     the target cannot take leaves no row, no quarantine, no ledger entry
//     and no schema change), and LoadedObjects lists what was committed.
//   - Crash: a second instance on the same storage drops what the first
//     left staged (DropStaging) and keeps what it committed.
//   - SchemaEvolution: a new NULLABLE column, a column the file has and
//     the schema lacks (Extend), Relax, Widen, Rename, TargetSchema.
//   - Repair: every RepairOp (MapValues, FillDefault,
//     QuarantineDuplicates, Quarantine with each Predicate) previewed,
//     applied, checked, undone, kept, committed and reverted; the probes
//     and the refusals; a kept stage repair (KeepRescued) reverted; a
//     revert refused when the rows changed since.
//   - Quality: Great Expectations' conformance cases
//     (internal/quality/qualitytest) validated through the warehouse's
//     Dialect and RunQuery, at least qualitytest.Floor of them passing;
//     RunQuery's rows.
//   - Metrics: BatchMetrics' rows, non-NULL counts and newest event time.
//   - Inspector: when the warehouse has one, the rejected rows grouped
//     and sampled, Discard, RepeatedRows and Overlap.
//
// A subtest that an engine cannot pass for a documented reason is marked
// with KnownGap, and skipped with the reason.
package warehousetest

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/warehouse"
)

// Opener opens a warehouse on the storage that key names. Two calls with
// the same key (within one test) must open the same storage, as a process
// restarting after a crash would: a database file, a database schema.
// The suite never uses one key in two tests. The opener closes what it
// opened when t ends (t.Cleanup); the suite may close it first, so closing
// twice must be harmless.
type Opener func(t *testing.T, key string) warehouse.Warehouse

// Option changes how Run runs the suite.
type Option func(*suite)

// KnownGap skips the subtest named subtest (its path below the test that
// calls Run, e.g. "Load/csv/tab") with the reason: a documented
// difference of the engine from the specification.
func KnownGap(subtest, reason string) Option {
	return func(s *suite) { s.gaps[subtest] = reason }
}

// Run runs the suite on the warehouses open opens.
func Run(t *testing.T, open Opener, opts ...Option) {
	s := &suite{open: open, root: t.Name() + "/", gaps: map[string]string{}}
	for _, o := range opts {
		o(s)
	}
	started := time.Now()
	t.Run("Load", s.testLoad)
	t.Run("Quarantine", s.testQuarantine)
	t.Run("Commit", s.testCommit)
	t.Run("Ledger", s.testLedger)
	t.Run("Crash", s.testCrash)
	t.Run("SchemaEvolution", s.testSchemaEvolution)
	t.Run("Repair", s.testRepair)
	t.Run("Quality", s.testQuality)
	t.Run("Metrics", s.testMetrics)
	t.Run("Inspector", s.testInspector)
	t.Logf("warehouse suite: %d cases in %s", s.cases.Load(), time.Since(started).Round(time.Millisecond))
}

type suite struct {
	open  Opener
	root  string
	gaps  map[string]string
	keys  atomic.Int64
	cases atomic.Int64
}

// run runs one case of the suite as a subtest, unless it is a known gap.
func (s *suite) run(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		s.cases.Add(1)
		if reason, ok := s.gaps[strings.TrimPrefix(t.Name(), s.root)]; ok {
			t.Skip("known gap: " + reason)
		}
		f(t)
	})
}

// key names a fresh storage.
func (s *suite) key() string { return fmt.Sprintf("wh%03d", s.keys.Add(1)) }

// fresh opens a warehouse on a fresh storage.
func (s *suite) fresh(t *testing.T) warehouse.Warehouse {
	t.Helper()
	w := s.open(t, s.key())
	if w == nil {
		t.Fatal("the opener returned no warehouse")
	}
	return w
}

var ctx = context.Background()

// stage stages spec, failing the test on an error.
func stage(t *testing.T, w warehouse.Warehouse, spec warehouse.LoadSpec) *warehouse.Staged {
	t.Helper()
	st, err := w.Stage(ctx, spec)
	if err != nil {
		t.Fatalf("stage %s: %v", spec.ObjectKey, err)
	}
	if st == nil {
		t.Fatalf("stage %s: no staged object", spec.ObjectKey)
	}
	return st
}

// commit commits, failing the test on an error.
func commit(t *testing.T, w warehouse.Warehouse, spec warehouse.CommitSpec) *warehouse.CommitResult {
	t.Helper()
	res, err := w.Commit(ctx, spec)
	if err != nil {
		t.Fatalf("commit run %s into %s: %v", spec.RunID, spec.Target, err)
	}
	if res == nil {
		t.Fatalf("commit run %s into %s: no result", spec.RunID, spec.Target)
	}
	return res
}

// appendTo commits objects of run into target in append mode.
func appendTo(t *testing.T, w warehouse.Warehouse, run, pipeline, target string, objects ...*warehouse.Staged) *warehouse.CommitResult {
	t.Helper()
	return commit(t, w, warehouse.CommitSpec{RunID: run, Pipeline: pipeline, Target: target, Mode: warehouse.ModeAppend, Objects: objects})
}

// q renders a query over the dialect's quoting: each {name} is replaced
// by the quoted identifier name, each {text:name} by that column cast to
// the engine's text type, each ? by the next placeholder.
func q(w warehouse.Warehouse, query string) string {
	d := w.Dialect()
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		switch query[i] {
		case '{':
			end := strings.IndexByte(query[i:], '}')
			name := query[i+1 : i+end]
			if col, ok := strings.CutPrefix(name, "text:"); ok {
				b.WriteString(d.Text(d.Ident(col)))
			} else {
				b.WriteString(d.Ident(name))
			}
			i += end
		case '?':
			n++
			b.WriteString(d.Placeholder(n))
		default:
			b.WriteByte(query[i])
		}
	}
	return b.String()
}

// query runs a query (see q) and renders its rows: each value as text
// (see render), NULL as "NULL".
func query(t *testing.T, w warehouse.Warehouse, query string, args ...any) [][]string {
	t.Helper()
	out, err := tryQuery(w, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", q(w, query), err)
	}
	return out
}

// tryQuery is query that returns its error.
func tryQuery(w warehouse.Warehouse, query string, args ...any) ([][]string, error) {
	rows, err := w.RunQuery(ctx, q(w, query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	out := [][]string{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = render(v, cols[i].Type)
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// lines renders the rows of query one line each, values joined by "|".
func lines(t *testing.T, w warehouse.Warehouse, query_ string, args ...any) []string {
	t.Helper()
	var out []string
	for _, r := range query(t, w, query_, args...) {
		out = append(out, strings.Join(r, "|"))
	}
	return out
}

// sameRows reports whether got and want hold the same values, cell by
// cell; two decimal numbers are the same when they are equal as numbers
// (a NUMERIC's display scale is the engine's: DuckDB and PostgreSQL read
// a NUMERIC(10,2) -3 as -3.00, BigQuery as -3).
func sameRows(got, want [][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for j := range got[i] {
			if got[i][j] != want[i][j] && !sameNumber(got[i][j], want[i][j]) {
				return false
			}
		}
	}
	return true
}

// sameNumber reports whether a and b are decimal numbers of equal value.
func sameNumber(a, b string) bool {
	x, okx := new(big.Rat).SetString(a)
	y, oky := new(big.Rat).SetString(b)
	return okx && oky && x.Cmp(y) == 0
}

// count counts a table's rows.
func count(t *testing.T, w warehouse.Warehouse, table string) int64 {
	t.Helper()
	r := query(t, w, "SELECT count(*) FROM {"+table+"}")
	n, err := strconv.ParseInt(r[0][0], 10, 64)
	if err != nil {
		t.Fatalf("count of %s: %v", table, err)
	}
	return n
}

// render writes a value read from the engine as text, the same way for
// every driver: integers in decimal, floats in the shortest form that
// reads back ('g'), booleans as true/false, a DATE (by the column's
// engine type) as 2006-01-02, other times in UTC as
// 2006-01-02 15:04:05.999999999, NULL as "NULL". Decimals are best cast
// to text in the query.
func render(v any, typ string) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case []byte:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case int:
		return strconv.Itoa(x)
	case uint64:
		return strconv.FormatUint(x, 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case *big.Int:
		return x.String()
	case time.Time:
		if strings.EqualFold(typ, "DATE") {
			return x.Format("2006-01-02")
		}
		return x.UTC().Format("2006-01-02 15:04:05.999999999")
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// quarantined is one row QuarantinedRows returned.
type quarantined struct {
	Object string
	Line   int64 // 0 for NULL
	Reason string
	Raw    string
	State  string
}

// String renders the row for failure messages.
func (r quarantined) String() string {
	return fmt.Sprintf("%s:%d: %s | %s (%s)", r.Object, r.Line, r.Reason, r.Raw, r.State)
}

// quarantine reads QuarantinedRows(run, target).
func quarantine(t *testing.T, w warehouse.Warehouse, run, target string) []quarantined {
	t.Helper()
	rows, err := w.QuarantinedRows(ctx, run, target)
	if err != nil {
		t.Fatalf("quarantined rows of run %s in %q: %v", run, target, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cols, ",") != "source_object,line,reason,raw,state" {
		t.Fatalf("quarantined rows have the columns %v, want source_object, line, reason, raw, state", cols)
	}
	var out []quarantined
	for rows.Next() {
		var r quarantined
		var line sql.NullInt64
		var raw sql.NullString
		if err := rows.Scan(&r.Object, &line, &r.Reason, &raw, &r.State); err != nil {
			t.Fatal(err)
		}
		r.Line, r.Raw = line.Int64, raw.String
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ledger reads LoadedObjects(pipeline).
func ledger(t *testing.T, w warehouse.Warehouse, pipeline string) []warehouse.LoadedObject {
	t.Helper()
	objs, err := w.LoadedObjects(ctx, pipeline)
	if err != nil {
		t.Fatalf("ledger of %s: %v", pipeline, err)
	}
	return objs
}

// ledgerKeys lists the ledger's object keys, sorted and without repeats.
func ledgerKeys(t *testing.T, w warehouse.Warehouse, pipeline string) string {
	t.Helper()
	seen := map[string]bool{}
	var keys []string
	for _, o := range ledger(t, w, pipeline) {
		if !seen[o.Key] {
			seen[o.Key] = true
			keys = append(keys, o.Key)
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// columnNames lists a staged object's column names.
func columnNames(st *warehouse.Staged) []string {
	out := make([]string, len(st.Columns))
	for i, c := range st.Columns {
		out[i] = c.Name
	}
	return out
}

// targetExists reports whether a target table exists (TargetSchema is
// not nil).
func targetExists(t *testing.T, w warehouse.Warehouse, table string) bool {
	t.Helper()
	sch, err := w.TargetSchema(ctx, table)
	if err != nil {
		t.Fatalf("describe %s: %v", table, err)
	}
	return sch != nil
}
