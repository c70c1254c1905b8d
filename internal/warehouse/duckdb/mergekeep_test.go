package duckdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// TestMergeKeepsValuesTheBatchLacks: a column an object no longer carries
// (dropped at the source, or missing from the file) never overwrites the
// target's values with NULL in a merge; new keys read NULL, and the
// commit counts the kept values per column.
func TestMergeKeepsValuesTheBatchLacks(t *testing.T) {
	ctx := context.Background()
	sch := schema.Schema{{Name: "id", Type: "INT64", Mode: "REQUIRED"}, {Name: "region", Type: "STRING"},
		{Name: "name", Type: "STRING"}, {Name: "amount", Type: "NUMERIC", Precision: 10, Scale: 2}}
	full := map[format.Format]string{
		format.CSV:   "id,region,name,amount\n1,eu,a,1.50\n2,eu,b,2.50\n3,us,c,3.50\n",
		format.JSONL: `{"id":1,"region":"eu","name":"a","amount":1.5}` + "\n" + `{"id":2,"region":"eu","name":"b","amount":2.5}` + "\n" + `{"id":3,"region":"us","name":"c","amount":3.5}` + "\n",
	}
	// The second delivery re-reads ids 2 and 3 (a lookback) and adds 4;
	// it has lost columns.
	cases := []struct {
		name     string
		f        format.Format
		second   string
		key      []string
		lost     []string
		wantRows string
		kept     map[string]int64
	}{
		{"csv without amount", format.CSV, "id,region,name\n2,eu,B\n3,us,C\n4,us,d\n", []string{"id"}, []string{"amount"},
			"1|eu|a|1.50,2|eu|B|2.50,3|us|C|3.50,4|us|d|NULL", map[string]int64{"amount": 2}},
		{"csv without two columns", format.CSV, "id,region\n2,eu\n4,us\n", []string{"id"}, []string{"name", "amount"},
			"1|eu|a|1.50,2|eu|b|2.50,3|us|c|3.50,4|us|NULL|NULL", map[string]int64{"name": 1, "amount": 1}},
		{"jsonl without name", format.JSONL, `{"id":3,"region":"us","amount":30}` + "\n", []string{"id"}, []string{"name"},
			"1|eu|a|1.50,2|eu|b|2.50,3|us|c|30.00", map[string]int64{"name": 1}},
		{"composite key", format.CSV, "id,region,name\n2,eu,B\n3,eu,x\n", []string{"id", "region"}, []string{"amount"},
			"1|eu|a|1.50,2|eu|B|2.50,3|eu|x|NULL,3|us|c|3.50", map[string]int64{"amount": 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := open(t)
			dir := t.TempDir()
			for i, body := range []string{full[c.f], c.second} {
				p := filepath.Join(dir, fmt.Sprintf("d%d.%s", i, c.f))
				os.WriteFile(p, []byte(body), 0o644)
				st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: fmt.Sprint("r", i), Pipeline: "p", Target: "t", ObjectKey: filepath.Base(p),
					Path: p, Format: c.f, Schema: sch, Key: c.key})
				if err != nil {
					t.Fatal(err)
				}
				if i == 1 && strings.Join(st.Missing, ",") != strings.Join(c.lost, ",") {
					t.Fatalf("missing %v, want %v", st.Missing, c.lost)
				}
				res, err := w.Commit(ctx, warehouse.CommitSpec{RunID: fmt.Sprint("r", i), Pipeline: "p", Target: "t", Mode: "merge", Key: c.key,
					Objects: []*warehouse.Staged{st}})
				if err != nil {
					t.Fatal(err)
				}
				if i == 1 && fmt.Sprint(res.Kept) != fmt.Sprint(c.kept) {
					t.Errorf("kept %v, want %v", res.Kept, c.kept)
				}
			}
			got := queryStrings(t, w, `SELECT concat_ws('|', id, region, coalesce(name, 'NULL'), coalesce(CAST(amount AS VARCHAR), 'NULL')) FROM t ORDER BY id, region`)
			if strings.Join(got, ",") != c.wantRows {
				t.Fatalf("target %v\nwant   %s", got, c.wantRows)
			}
		})
	}
	t.Run("a later object of the batch lacks the column an earlier one carried", func(t *testing.T) {
		w := open(t)
		dir := t.TempDir()
		write := func(name, body string) *warehouse.Staged {
			p := filepath.Join(dir, name)
			os.WriteFile(p, []byte(body), 0o644)
			st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "r", Pipeline: "p", Target: "t", ObjectKey: name, Path: p, Format: format.CSV, Schema: sch, Key: []string{"id"}})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		first := write("a.csv", full[format.CSV])
		if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: "merge", Key: []string{"id"}, Objects: []*warehouse.Staged{first}}); err != nil {
			t.Fatal(err)
		}
		// The target holds id 2 twice (an earlier append): one row comes back.
		if _, err := w.DB().ExecContext(ctx, `INSERT INTO t VALUES (2, 'eu', 'b', 2.50)`); err != nil {
			t.Fatal(err)
		}
		withAmount := write("b.csv", "id,region,name,amount\n1,eu,a,9.00\n4,us,d,7.00\n2,eu,b,\n")
		without := write("c.csv", "id,region,name\n1,eu,a1\n4,us,d1\n2,eu,b2\n5,us,e\n")
		if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "t", Mode: "merge", Key: []string{"id"}, Objects: []*warehouse.Staged{withAmount, without}}); err != nil {
			t.Fatal(err)
		}
		got := queryStrings(t, w, `SELECT concat_ws('|', id, name, coalesce(CAST(amount AS VARCHAR), 'NULL')) FROM t ORDER BY id`)
		if strings.Join(got, ",") != "1|a1|9.00,2|b2|NULL,3|c|3.50,4|d1|7.00,5|e|NULL" {
			t.Fatalf("target %v", got)
		}
	})
	t.Run("two objects, one carries the column", func(t *testing.T) {
		w := open(t)
		dir := t.TempDir()
		write := func(name, body string) *warehouse.Staged {
			p := filepath.Join(dir, name)
			os.WriteFile(p, []byte(body), 0o644)
			st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "r", Pipeline: "p", Target: "t", ObjectKey: name, Path: p, Format: format.CSV, Schema: sch, Key: []string{"id"}})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		first := write("a.csv", full[format.CSV])
		if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: "merge", Key: []string{"id"}, Objects: []*warehouse.Staged{first}}); err != nil {
			t.Fatal(err)
		}
		withAmount := write("b.csv", "id,region,name,amount\n1,eu,a,9.00\n")
		without := write("c.csv", "id,region,name\n2,eu,b2\n")
		res, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "t", Mode: "merge", Key: []string{"id"}, Objects: []*warehouse.Staged{withAmount, without}})
		if err != nil {
			t.Fatal(err)
		}
		got := queryStrings(t, w, `SELECT concat_ws('|', id, name, coalesce(CAST(amount AS VARCHAR), 'NULL')) FROM t ORDER BY id`)
		if strings.Join(got, ",") != "1|a|9.00,2|b2|2.50,3|c|3.50" || res.Kept["amount"] != 1 {
			t.Fatalf("target %v kept %v", got, res.Kept)
		}
	})
}

// TestOpenUpgradesAnOldLedger: a warehouse whose ledger predates content
// hashes gains the column, and a re-delivery is found after the upgrade.
func TestOpenUpgradesAnOldLedger(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "w.duckdb")
	w, err := Open(ctx, warehouse.Options{Path: path, TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.DB().ExecContext(ctx, `ALTER TABLE _shp.loads DROP COLUMN content_hash`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.DB().ExecContext(ctx, `INSERT INTO _shp.loads (pipeline, object_key, fingerprint, run_id, target, rows_loaded, rows_quarantined) VALUES ('p', 'old.csv', 'f', 'r0', 't', 1, 0)`); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, err = Open(ctx, warehouse.Options{Path: path, TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := filepath.Join(dir, "a.csv")
	os.WriteFile(p, []byte("id\n1\n"), 0o644)
	st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "a.csv", Path: p, Format: format.CSV, ContentHash: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: "append", Objects: []*warehouse.Staged{st}}); err != nil {
		t.Fatal(err)
	}
	got, err := w.LoadedObjects(ctx, "p")
	if err != nil || len(got) != 2 || got[0].ContentHash != "" || got[1].ContentHash != "abc" {
		t.Fatalf("ledger %+v %v", got, err)
	}
}

// TestOpenRefusesAPathTheDriverMisreads: '%' and '?' in the warehouse's
// path are URL syntax to the DuckDB driver; the error says what to do.
func TestOpenRefusesAPathTheDriverMisreads(t *testing.T) {
	for _, dir := range []string{"a%d", "a%25b", "a?b"} {
		_, err := Open(context.Background(), warehouse.Options{Path: filepath.Join(t.TempDir(), dir, "w.duckdb")})
		if err == nil || !strings.Contains(err.Error(), "set warehouse.path") {
			t.Errorf("%s: %v", dir, err)
		}
	}
}
