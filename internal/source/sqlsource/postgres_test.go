package sqlsource

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/testutil"
)

// TestPostgresExtract extracts a table holding every type the connector
// maps, then only what changed, then in chunks.
func TestPostgresExtract(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn,
		`CREATE TABLE orders (id bigint PRIMARY KEY, i2 smallint, i4 integer, amount numeric(12,2), free numeric,
			f4 real, f8 double precision, ok boolean, note text, code varchar(10), c3 char(3), raw bytea, day date,
			at timestamp, updated_at timestamptz NOT NULL, tm time, j json, jb jsonb, u uuid, ints integer[], tags text[])`,
		`INSERT INTO orders VALUES
			(1, 1, 10, 12.50, 1.000000001, 1.5, 2.25, true, 'plain', 'a', 'abc', '\xdead', '2026-01-02', '2026-01-02 03:04:05.123456',
			 '2026-01-02 03:04:05+02', '12:30:00', '{"a": 1}', '{"b": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2}', '{"x","y z"}'),
			(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2026-01-03 00:00:00+00', NULL, NULL, NULL, NULL, NULL, NULL),
			(3, -32768, 2147483647, -0.01, 0, 'NaN', 'Infinity', false, E'comma, "quote"\nnewline', '', 'é€', '', '1999-12-31', '1999-12-31 23:59:59',
			 '2026-01-04 00:00:00+00', '00:00:00', '[]', 'null', NULL, '{}', '{NULL}'),
			(4, 0, 0, 0, 0, 0, 0, true, '\N', 'ünï', 'x', '\x00', '2026-01-05', '2026-01-05 00:00:00', '2026-01-05 00:00:00+00', NULL, '"s"', '1', NULL, NULL, NULL)`)
	settings := map[string]any{"dsn": dsn, "table": "orders", "incremental": map[string]any{"column": "updated_at"}}
	ex := mustOpen(t, "postgres", settings)
	ctx := context.Background()
	sch, err := ex.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"id": "INT64", "i2": "INT64", "i4": "INT64", "amount": "NUMERIC(12,2)", "free": "NUMERIC(38,9)", "f4": "FLOAT64",
		"f8": "FLOAT64", "ok": "BOOL", "note": "STRING", "code": "STRING", "c3": "STRING", "raw": "BYTES", "day": "DATE",
		"at": "DATETIME", "updated_at": "TIMESTAMP", "tm": "TIME", "j": "JSON", "jb": "JSON", "u": "STRING", "ints": "JSON", "tags": "JSON",
	}
	if got := fieldTypes(sch); !reflect.DeepEqual(got, want) {
		t.Fatalf("types\n got %v\nwant %v", got, want)
	}

	sink := &memSink{}
	exn, err := ex.Extract(ctx, source.ExtractRequest{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if exn.Rows != 4 || sink.rows() != 4 || exn.Watermark != "2026-01-05 00:00:00+00" || exn.Attempts != 1 {
		t.Fatalf("extraction %+v, %d rows in chunks", exn, sink.rows())
	}
	text := sink.committed[0].buf.String()
	for _, wantText := range []string{
		"id,i2,i4,amount,free,f4,f8,ok,note,code,c3,raw,day,at,updated_at,tm,j,jb,u,ints,tags\n",
		`1,1,10,12.50,1.000000001,1.5,2.25,t,plain,a,abc,\xde\xad,2026-01-02,2026-01-02 03:04:05.123456,2026-01-02 01:04:05+00,12:30:00,"{""a"": 1}","{""b"": [1, 2]}",a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,"[1,2]","[""x"",""y z""]"`,
		`2,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,2026-01-03 00:00:00+00,\N,\N,\N,\N,\N,\N`,
		"3,-32768,2147483647,-0.01,0,NaN,Infinity,f,\"comma, \"\"quote\"\"\nnewline\",,é€ ,,1999-12-31,1999-12-31 23:59:59,2026-01-04 00:00:00+00,00:00:00,[],null,\\N,[],[null]",
		`4,0,0,0.00,0,0,0,t,"\N",ünï,x  ,\x00,`,
	} {
		if !strings.Contains(text, wantText) {
			t.Errorf("extracted CSV lacks %q:\n%s", wantText, text)
		}
	}

	// Only what changed after the watermark: an update and an insert.
	testutil.PostgresExec(t, dsn, `UPDATE orders SET note = 'late', updated_at = '2026-01-06 00:00:00+00' WHERE id = 2`,
		`INSERT INTO orders (id, updated_at) VALUES (5, '2026-01-07 00:00:00+00')`)
	sink = &memSink{}
	exn, err = ex.Extract(ctx, source.ExtractRequest{Since: exn.Watermark}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if lines := sink.lines(); exn.Rows != 2 || len(lines) != 2 || !strings.HasPrefix(lines[0], "2,") || !strings.HasPrefix(lines[1], "5,") ||
		exn.Watermark != "2026-01-07 00:00:00+00" {
		t.Fatalf("incremental extraction %+v: %v", exn, lines)
	}
	// Nothing new: no chunk, the watermark stays.
	sink = &memSink{}
	again, err := ex.Extract(ctx, source.ExtractRequest{Since: exn.Watermark}, sink)
	if err != nil || again.Rows != 0 || again.Watermark != exn.Watermark || len(sink.committed) != 0 {
		t.Fatalf("empty extraction %+v %v, %d chunks", again, err, len(sink.committed))
	}
	// A lookback re-reads late rows: a day back from 2026-01-07 is 01-06.
	settings["incremental"] = map[string]any{"column": "updated_at", "lookback": "25h"}
	late := mustOpen(t, "postgres", settings)
	sink = &memSink{}
	if exn, err = late.Extract(ctx, source.ExtractRequest{Since: "2026-01-07 00:00:00+00"}, sink); err != nil || exn.Rows != 2 {
		t.Fatalf("lookback extraction %+v %v", exn, err)
	}

	// Chunks by key ranges of two ids.
	chunked := mustOpen(t, "postgres", map[string]any{"dsn": dsn, "query": "SELECT id, note FROM orders WHERE id <> 3;", "key": "id", "chunk_size": 2.0})
	sink = &memSink{}
	exn, err = chunked.Extract(ctx, source.ExtractRequest{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if exn.Rows != 4 || len(sink.committed) != 2 || sink.opened != 3 { // two chunks of two ids, and the empty chunk of NULL keys
		t.Fatalf("chunked extraction %+v: %d chunks committed of %d", exn, len(sink.committed), sink.opened)
	}
}

// TestPostgresKilledConnection terminates the server process in the middle
// of a COPY: the chunk is retried on a new connection and no row is
// extracted twice.
func TestPostgresKilledConnection(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, `CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 200000) g`)
	ex := mustOpen(t, "postgres", map[string]any{"dsn": dsn, "table": "big", "retry": map[string]any{"initial_interval": "10ms"}})
	killer, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(context.Background())
	sink := &memSink{}
	killed := false
	sink.onWrite = func(chunk, write int) {
		if chunk == 1 && write == 3 && !killed {
			killed = true
			if _, err := killer.Exec(context.Background(),
				"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'shp' AND pid <> pg_backend_pid()"); err != nil {
				t.Error(err)
			}
		}
	}
	exn, err := ex.Extract(context.Background(), source.ExtractRequest{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if !killed || exn.Attempts != 2 || exn.Rows != 200000 || sink.rows() != 200000 || len(sink.committed) != 1 {
		t.Fatalf("killed=%v extraction %+v, %d rows in %d chunks", killed, exn, sink.rows(), len(sink.committed))
	}
}

// TestPostgresErrors: a missing table fails at once with the server's
// message, a wrong password too, and neither message holds the password.
func TestPostgresErrors(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	ex := mustOpen(t, "postgres", map[string]any{"dsn": dsn, "table": "nope", "retry": map[string]any{"attempts": 3.0}})
	_, err := ex.Discover(context.Background())
	if err == nil || !strings.Contains(err.Error(), `relation "nope" does not exist`) || !strings.Contains(err.Error(), "1 attempt") {
		t.Fatalf("missing table: %v", err)
	}
	t.Setenv("SHP_TEST_PG_PASSWORD", "wrong-s3cret")
	bad := mustOpen(t, "postgres", map[string]any{"host": "127.0.0.1", "port": 5432.0, "user": "nobody_here", "database": "test",
		"password_env": "SHP_TEST_PG_PASSWORD", "table": "t", "retry": map[string]any{"attempts": 2.0, "initial_interval": "1ms"}})
	_, err = bad.Discover(context.Background())
	if err == nil || strings.Contains(err.Error(), "wrong-s3cret") {
		t.Fatalf("bad credentials: %v", err)
	}
}

// TestSmallerChunksAfterAStatementTimeout: a chunk too slow for the
// server's statement_timeout is read again as two halves; every row is
// extracted once, and the extraction says what it changed.
func TestSmallerChunksAfterAStatementTimeout(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, "CREATE TABLE t (id int PRIMARY KEY, v text)",
		"INSERT INTO t SELECT g, 'x' || g FROM generate_series(1, 400) g",
		`CREATE FUNCTION slowv(text) RETURNS text LANGUAGE plpgsql STABLE AS $$ BEGIN PERFORM pg_sleep(0.002); RETURN $1; END $$`,
		"CREATE VIEW slow_t AS SELECT id, slowv(v) AS v FROM t")
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	// 400 rows take about 0.8 s, 100 rows about 0.2 s. The function is
	// declared STABLE so that the key-range query, which reads only id,
	// does not call it.
	ex := mustOpen(t, "postgres", map[string]any{"dsn": dsn + sep + "statement_timeout=400", "table": "slow_t", "key": "id", "chunk_size": 400,
		"retry": map[string]any{"attempts": 1}})
	sink := &memSink{}
	exn, err := ex.Extract(context.Background(), source.ExtractRequest{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for _, c := range sink.committed {
		rows += c.rows
	}
	if exn.Rows != 400 || rows != 400 || len(exn.Adjustments) == 0 || !strings.Contains(exn.Adjustments[0], "chunk_size 400 -> 200") ||
		!strings.Contains(exn.Adjustments[0], "57014") {
		t.Fatalf("rows %d/%d, adjustments %q", exn.Rows, rows, exn.Adjustments)
	}
}
