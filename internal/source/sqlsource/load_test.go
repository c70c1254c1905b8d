package sqlsource

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/duckdb"
)

// arrival is what a column v of an extraction became in DuckDB.
type arrival struct {
	typ    string           // v's DuckDB type
	values map[int64]string // the loaded rows' v as text ("NULL" for NULL), by id
	set    map[int64]string // the quarantined rows' reasons, by id
	schema schema.Schema    // the types the rows were loaded as
	text   map[int64]string // the extracted CSV line of each id
	db     *sql.DB          // the DuckDB database, target table t
}

// loadIntoDuckDB extracts with ex and loads the rows into an in-memory
// DuckDB as a pipeline does: with the types ex discovers (a typed load),
// or with declared when it is not nil. The extraction must hold one row
// per id, ordered by id from 1, in one chunk, with the columns id and v.
func loadIntoDuckDB(t *testing.T, ex source.Extractor, declared schema.Schema) arrival {
	t.Helper()
	ctx := context.Background()
	sch, typed := declared, declared == nil
	if typed {
		var err error
		if sch, err = ex.Discover(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sink := &memSink{}
	if _, err := ex.Extract(ctx, source.ExtractRequest{Schema: sch}, sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.committed) != 1 {
		t.Fatalf("%d chunks, want 1", len(sink.committed))
	}
	w, err := duckdb.Open(ctx, warehouse.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	path := filepath.Join(t.TempDir(), "chunk.csv")
	if err := os.WriteFile(path, sink.committed[0].buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "r", Pipeline: "p", Target: "t", ObjectKey: "chunk", Fingerprint: "f",
		Path: path, Format: format.CSV, Compression: format.None, Schema: sch, Typed: typed,
		CSV: warehouse.CSVOptions{NullValues: []string{`\N`}, QuotedNullsAreText: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend,
		Objects: []*warehouse.Staged{st}}); err != nil {
		t.Fatal(err)
	}
	a := arrival{values: map[int64]string{}, set: map[int64]string{}, schema: sch, text: map[int64]string{}, db: w.DB()}
	for i, line := range sink.lines() {
		a.text[int64(i+1)] = line
	}
	if st.Loaded > 0 {
		if err := w.DB().QueryRow("SELECT typeof(v) FROM t LIMIT 1").Scan(&a.typ); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := w.DB().Query("SELECT id, coalesce(CAST(v AS VARCHAR), 'NULL') FROM t")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		a.values[id] = v
	}
	rows.Close()
	// Line 1 is the header: line n holds id n-1.
	rows, err = w.DB().Query("SELECT line, reason FROM t__quarantine")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var line int64
		var reason string
		if err := rows.Scan(&line, &reason); err != nil {
			t.Fatal(err)
		}
		a.set[line-1] = reason
	}
	if int64(len(a.values)+len(a.set)) != sink.rows() {
		t.Fatalf("%d rows extracted, %d loaded and %d set aside", sink.rows(), len(a.values), len(a.set))
	}
	return a
}

// check compares the arrival of each value with want: the loaded text,
// or "set aside: " and a part of the reason. A value that would have to
// change to load is set aside, never loaded changed or as NULL.
func (a arrival) check(t *testing.T, wantType string, want []string) {
	t.Helper()
	if wantType != "" && a.typ != wantType {
		t.Errorf("type %s, want %s (schema %v)", a.typ, wantType, a.schema)
	}
	for i, w := range want {
		id := int64(i + 1)
		if reason, ok := strings.CutPrefix(w, "set aside: "); ok {
			if got, set := a.set[id]; !set || !strings.Contains(got, reason) {
				t.Errorf("value %d (%s): loaded as %q, set aside for %q; want set aside for %q", id, a.text[id], a.values[id], got, reason)
			}
			continue
		}
		if got, ok := a.values[id]; !ok || got != w {
			t.Errorf("value %d (%s): loaded as %q (set aside for %q), want %q", id, a.text[id], got, a.set[id], w)
		}
	}
}

// valuesTable is the SQL that creates table t (id, v typ) holding values
// (SQL literals) with ids from 1.
func valuesTable(typ string, values []string) []string {
	rows := make([]string, len(values))
	for i, v := range values {
		rows[i] = fmt.Sprintf("(%d, %s)", i+1, v)
	}
	return []string{"CREATE TABLE t (id INT PRIMARY KEY, v " + typ + ")", "INSERT INTO t VALUES " + strings.Join(rows, ", ")}
}
