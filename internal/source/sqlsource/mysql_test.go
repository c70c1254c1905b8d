package sqlsource

import (
	"context"
	"database/sql"
	"reflect"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/testutil"
)

// TestMySQLExtract extracts from MariaDB: every type, then what changed.
func TestMySQLExtract(t *testing.T) {
	dsn := testutil.MySQLDSN(t)
	testutil.MySQLExec(t, dsn,
		"CREATE TABLE orders (id BIGINT PRIMARY KEY, ti TINYINT, si SMALLINT, mi MEDIUMINT, i INT, ub BIGINT UNSIGNED, amount DECIMAL(12,2), "+
			"f FLOAT, d DOUBLE, vc VARCHAR(20), tx TEXT, ch CHAR(3), bl BLOB, vb VARBINARY(8), day DATE, at DATETIME(6), ts TIMESTAMP NULL, "+
			"tm TIME, en ENUM('a','b'), yr YEAR, updated_at DATETIME NOT NULL) CHARACTER SET utf8mb4",
		"INSERT INTO orders VALUES "+
			"(1, -128, 1, 2, 3, 18446744073709551615, 12.50, 1.5, 2.25, 'plain', 'comma, \"quote\"\nnewline', 'abc', X'DEAD', X'00', '2026-01-02', "+
			"'2026-01-02 03:04:05.123456', '2026-01-02 03:04:05', '12:30:00', 'a', 2026, '2026-01-02 00:00:00'),"+
			"(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2026-01-03 00:00:00'),"+
			"(3, 0, 0, 0, 0, 0, 0, 0, 0, '', '\\\\N', 'é€', '', '', '1999-12-31', '1999-12-31 23:59:59', NULL, '00:00:00', 'b', 1999, '2026-01-04 00:00:00')")
	settings := map[string]any{"dsn": dsn, "table": "orders", "incremental": map[string]any{"column": "updated_at"}}
	ex := mustOpen(t, "mysql", settings)
	ctx := context.Background()
	sch, err := ex.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"id": "INT64", "ti": "INT64", "si": "INT64", "mi": "INT64", "i": "INT64", "ub": "NUMERIC(20,0)", "amount": "NUMERIC(12,2)",
		"f": "FLOAT64", "d": "FLOAT64", "vc": "STRING", "tx": "STRING", "ch": "STRING", "bl": "BYTES", "vb": "BYTES", "day": "DATE",
		"at": "DATETIME", "ts": "TIMESTAMP", "tm": "TIME", "en": "STRING", "yr": "INT64", "updated_at": "DATETIME",
	}
	if got := fieldTypes(sch); !reflect.DeepEqual(got, want) {
		t.Fatalf("types\n got %v\nwant %v", got, want)
	}
	if sch[0].Mode != "REQUIRED" || sch[1].Mode != "NULLABLE" {
		t.Errorf("modes %s %s", sch[0].Mode, sch[1].Mode)
	}
	sink := &memSink{}
	exn, err := ex.Extract(ctx, source.ExtractRequest{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if exn.Rows != 3 || exn.Watermark != "2026-01-04 00:00:00" {
		t.Fatalf("extraction %+v", exn)
	}
	text := sink.committed[0].buf.String()
	for _, w := range []string{
		"id,ti,si,mi,i,ub,amount,f,d,vc,tx,ch,bl,vb,day,at,ts,tm,en,yr,updated_at\n",
		"1,-128,1,2,3,18446744073709551615,12.50,1.5,2.25,plain,\"comma, \"\"quote\"\"\nnewline\",abc,\\xde\\xad,\\x00,2026-01-02,2026-01-02 03:04:05.123456,2026-01-02 03:04:05,12:30:00,a,2026,2026-01-02 00:00:00\n",
		`2,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,2026-01-03 00:00:00`,
		`3,0,0,0,0,0,0.00,0,0,,"\N",é€,,,1999-12-31,1999-12-31 23:59:59.000000,\N,00:00:00,b,1999,2026-01-04 00:00:00`,
	} {
		if !strings.Contains(text, w) {
			t.Errorf("extracted CSV lacks %q:\n%s", w, text)
		}
	}
	testutil.MySQLExec(t, dsn, "UPDATE orders SET vc = 'late', updated_at = '2026-01-05 00:00:00' WHERE id = 2",
		"INSERT INTO orders (id, updated_at) VALUES (4, '2026-01-06 00:00:00')")
	sink = &memSink{}
	exn, err = ex.Extract(ctx, source.ExtractRequest{Since: exn.Watermark}, sink)
	if lines := sink.lines(); err != nil || exn.Rows != 2 || !strings.HasPrefix(lines[0], "2,") || !strings.HasPrefix(lines[1], "4,") {
		t.Fatalf("incremental %+v %v: %v", exn, err, lines)
	}
}

// TestMySQLKilledConnection kills the connection in the middle of the
// extraction; the retry starts the chunk afresh on a new connection.
func TestMySQLKilledConnection(t *testing.T) {
	dsn := testutil.MySQLDSN(t)
	testutil.MySQLExec(t, dsn, "CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(200))",
		"INSERT INTO big SELECT seq, REPEAT('x', 200) FROM seq_1_to_100000")
	ex := mustOpen(t, "mysql", map[string]any{"dsn": dsn, "table": "big", "retry": map[string]any{"initial_interval": "10ms"}})
	killer, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close()
	sink := &memSink{}
	killed := false
	sink.onWrite = func(chunk, write int) {
		if chunk == 1 && write == 3 && !killed {
			killed = true
			var id int64
			if err := killer.QueryRow("SELECT id FROM information_schema.processlist WHERE info LIKE 'SELECT `id`, `pad` FROM `big`%' LIMIT 1").Scan(&id); err != nil {
				t.Error(err)
				return
			}
			if _, err := killer.Exec("KILL ?", id); err != nil {
				t.Error(err)
			}
		}
	}
	exn, err := ex.Extract(context.Background(), source.ExtractRequest{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if !killed || exn.Attempts != 2 || exn.Rows != 100000 || sink.rows() != 100000 || len(sink.committed) != 1 {
		t.Fatalf("killed=%v extraction %+v, %d rows in %d chunks", killed, exn, sink.rows(), len(sink.committed))
	}
}
