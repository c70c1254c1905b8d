package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shp-dev/shp/internal/testutil"
)

// extractProject writes a project whose pipeline reads a PostgreSQL table
// incrementally and merges it on its key.
func extractProject(t *testing.T, dsn, extra string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("SHP_TEST_SOURCE_DSN", dsn)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(`project: extract
staging: {url: file://.shp/staging}
warehouse: {type: duckdb, path: .shp/warehouse.duckdb}
metadata: {type: sqlite, path: .shp/metadata.db}
pipelines:
  orders:
    source: shop
    target: orders
    mode: merge
    key: [id]
`), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte(`sources:
  shop:
    type: postgres
    dsn: ${SHP_TEST_SOURCE_DSN}
    table: orders
    incremental:
      column: updated_at
`+extra), 0o644)
	return dir
}

func queryJSON(t *testing.T, dir, sql string) []map[string]any {
	t.Helper()
	code, out, errOut := shp(t, "query", "--config", dir, "--format", "json", sql)
	if code != 0 {
		t.Fatalf("query %s: %d %s %s", sql, code, out, errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return rows
}

// TestPostgresSourcePipeline runs a PostgreSQL → DuckDB pipeline three
// times: the first run loads everything with faithful types, the second
// only the inserted and updated rows (merged on the key, not duplicated),
// the third finds nothing new.
func TestPostgresSourcePipeline(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn,
		`CREATE TABLE orders (id integer PRIMARY KEY, customer text, amount numeric(10,2), paid boolean, raw bytea,
			tags text[], meta jsonb, placed date, updated_at timestamptz NOT NULL)`,
		`INSERT INTO orders VALUES
			(1, 'Zoë', 10.50, true, '\x0102', '{a,b}', '{"vip": true}', '2026-01-01', '2026-01-01 10:00:00+00'),
			(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2026-01-01 11:00:00+00'),
			(3, '', 0, false, '', '{}', '[]', '2026-01-02', '2026-01-01 12:00:00+00')`)
	dir := extractProject(t, dsn, "")
	if code, out, errOut := shp(t, "config", "validate", dir); code != 0 {
		t.Fatalf("config validate: %d %s %s", code, out, errOut)
	}
	code, out, errOut := shp(t, "run", "--config", dir, "--format", "json")
	if code != 0 {
		t.Fatalf("first run: %d\n%s\n%s", code, out, errOut)
	}
	rows := queryJSON(t, dir, `SELECT id, customer, amount, paid, hex(raw) AS raw, CAST(tags AS VARCHAR) AS tags, CAST(meta AS VARCHAR) AS meta,
		CAST(placed AS VARCHAR) AS placed, typeof(amount) AS t_amount, typeof(raw) AS t_raw, typeof(updated_at) AS t_upd FROM orders ORDER BY id`)
	if len(rows) != 3 {
		t.Fatalf("rows %v", rows)
	}
	r0, r1, r2 := rows[0], rows[1], rows[2]
	if r0["customer"] != "Zoë" || fmt.Sprint(r0["amount"]) != "10.5" || r0["paid"] != true || r0["raw"] != "0102" || r0["tags"] != `["a","b"]` ||
		r0["meta"] != `{"vip": true}` || r0["placed"] != "2026-01-01" || r0["t_amount"] != "DECIMAL(10,2)" || r0["t_raw"] != "BLOB" ||
		r0["t_upd"] != "TIMESTAMP WITH TIME ZONE" {
		t.Errorf("row 1: %#v", r0)
	}
	if r1["customer"] != nil || r1["amount"] != nil || r1["raw"] != nil || r1["tags"] != nil {
		t.Errorf("row 2 should be NULLs: %v", r1)
	}
	if r2["customer"] != "" || r2["raw"] != "" || r2["tags"] != "[]" {
		t.Errorf("row 3 (empty values, not NULLs): %v", r2)
	}

	testutil.PostgresExec(t, dsn, `UPDATE orders SET amount = 99.99, updated_at = '2026-01-02 09:00:00+00' WHERE id = 1`,
		`INSERT INTO orders (id, customer, updated_at) VALUES (4, 'new', '2026-01-02 10:00:00+00')`)
	code, out, errOut = shp(t, "run", "--config", dir, "--format", "json")
	if code != 0 {
		t.Fatalf("second run: %d\n%s\n%s", code, out, errOut)
	}
	var res []struct {
		RowsIn     int64 `json:"rows_in"`
		RowsLoaded int64 `json:"rows_loaded"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || res[0].RowsIn != 2 || res[0].RowsLoaded != 2 {
		t.Fatalf("second run %+v %v: %s", res, err, out)
	}
	rows = queryJSON(t, dir, "SELECT count(*) AS n, sum(amount) AS total FROM orders")
	if fmt.Sprint(rows[0]["n"]) != "4" || fmt.Sprint(rows[0]["total"]) != "99.99" {
		t.Fatalf("after the update: %v", rows)
	}
	code, out, _ = shp(t, "run", "--config", dir, "--format", "json")
	if code != 0 || !strings.Contains(out, `"rows_in": 0`) {
		t.Fatalf("third run: %d %s", code, out)
	}
	// The extraction is on record: source, query, watermarks, rows.
	code, out, _ = shp(t, "runs", "--config", dir, "--format", "json")
	if code != 0 || !strings.Contains(out, `"rows_in": 2`) {
		t.Fatalf("runs: %s", out)
	}
}

// TestAPISourcePipeline loads a paginated REST API incrementally into
// DuckDB: discovered types, flattened objects, JSON lists, and a second
// run that asks only for what changed.
func TestAPISourcePipeline(t *testing.T) {
	type rec = map[string]any
	data := []rec{
		{"id": 1, "updated": "2026-01-01T00:00:00Z", "total": 9.5, "paid": true, "customer": rec{"name": "Ann"}, "lines": []any{rec{"sku": "a"}}},
		{"id": 2, "updated": "2026-01-02T00:00:00Z", "total": 3, "paid": false, "customer": rec{"name": "Bo"}, "lines": []any{}},
		{"id": 3, "updated": "2026-01-03T00:00:00Z", "total": nil, "paid": nil, "customer": rec{"name": nil}, "lines": nil},
	}
	var mu sync.Mutex
	var sinces []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer t0k" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		since := r.URL.Query().Get("since")
		sinces = append(sinces, since)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		var out []rec
		for _, d := range data {
			if d["updated"].(string) > since {
				out = append(out, d)
			}
		}
		lo, hi := min((page-1)*2, len(out)), min(page*2, len(out))
		json.NewEncoder(w).Encode(rec{"items": out[lo:hi]})
	}))
	defer srv.Close()
	dir := t.TempDir()
	t.Setenv("SHP_TEST_API_TOKEN", "t0k")
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(`project: api
staging: {url: file://.shp/staging}
warehouse: {type: duckdb, path: .shp/warehouse.duckdb}
metadata: {type: sqlite, path: .shp/metadata.db}
pipelines:
  orders: {source: shop_api, mode: merge, key: [id]}
`), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte(`sources:
  shop_api:
    type: api
    url: `+srv.URL+`/orders
    records_path: items
    pagination: {type: page, size: 2}
    auth: {type: bearer, token_env: SHP_TEST_API_TOKEN}
    incremental: {field: updated, param: since}
`), 0o644)
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("run: %d\n%s\n%s", code, out, errOut)
	}
	rows := queryJSON(t, dir, `SELECT id, total, paid, customer_name, CAST(lines AS VARCHAR) AS lines, typeof(id) AS t_id, typeof(total) AS t_total,
		typeof(lines) AS t_lines FROM orders ORDER BY id`)
	if len(rows) != 3 || rows[0]["customer_name"] != "Ann" || fmt.Sprint(rows[0]["total"]) != "9.5" || rows[0]["paid"] != true ||
		rows[0]["lines"] != `[{"sku":"a"}]` || rows[0]["t_id"] != "BIGINT" || rows[0]["t_total"] != "DOUBLE" || rows[0]["t_lines"] != "JSON" ||
		rows[2]["total"] != nil || rows[2]["customer_name"] != nil {
		t.Fatalf("loaded %v", rows)
	}
	mu.Lock()
	data = append(data, rec{"id": 4, "updated": "2026-01-04T00:00:00Z", "total": 1, "paid": true, "customer": rec{"name": "Cy"}, "lines": []any{}})
	data[0] = rec{"id": 1, "updated": "2026-01-05T00:00:00Z", "total": 10, "paid": true, "customer": rec{"name": "Ann"}, "lines": []any{}}
	mu.Unlock()
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("second run: %d\n%s\n%s", code, out, errOut)
	}
	rows = queryJSON(t, dir, "SELECT count(*) AS n, sum(total) AS s FROM orders")
	if fmt.Sprint(rows[0]["n"]) != "4" || fmt.Sprint(rows[0]["s"]) != "14" {
		t.Fatalf("after the second run: %v", rows)
	}
	mu.Lock()
	defer mu.Unlock()
	if sinces[len(sinces)-1] != "2026-01-03T00:00:00Z" {
		t.Fatalf("the second run asked since %v", sinces)
	}
}

func TestSourcesCommands(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, `CREATE TABLE orders (id integer, amount numeric(8,2), updated_at timestamptz)`)
	dir := extractProject(t, dsn, "")
	code, out, errOut := shp(t, "sources", "list", "--config", dir)
	if code != 0 || !strings.Contains(out, "shop") || !strings.Contains(out, "postgres") || !strings.Contains(out, "[orders]") || strings.Contains(out, "postgres://") {
		t.Fatalf("sources list: %d %s %s", code, out, errOut)
	}
	code, out, errOut = shp(t, "sources", "test", "--config", dir, "shop")
	if code != 0 || !strings.Contains(out, "shop: ok (postgres") || !strings.Contains(out, "amount") || !strings.Contains(out, "NUMERIC(8,2)") {
		t.Fatalf("sources test: %d %s %s", code, out, errOut)
	}
	code, _, errOut = shp(t, "sources", "test", "--config", dir, "nope")
	if code != 2 || !strings.Contains(errOut, `source "nope" is not defined`) {
		t.Fatalf("unknown source: %d %s", code, errOut)
	}
	testutil.PostgresExec(t, dsn, `DROP TABLE orders`)
	code, out, _ = shp(t, "sources", "test", "--config", dir)
	if code != 1 || !strings.Contains(out, `shop: FAILED`) || !strings.Contains(out, `relation "orders" does not exist`) {
		t.Fatalf("failing source: %d %s", code, out)
	}
	// The sample project's file source lists its files.
	sample := initProject(t)
	code, out, _ = shp(t, "sources", "test", "--config", sample)
	if code != 0 || !strings.Contains(out, "objects") {
		t.Fatalf("file source: %d %s", code, out)
	}
}

// TestSourceSchemaChangesAreActions: a database column that widens or
// appears changes the target's schema, and each change is a recorded,
// audited action that says it cannot be reverted and why.
func TestSourceSchemaChangesAreActions(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, `CREATE TABLE orders (id integer PRIMARY KEY, qty integer, updated_at timestamptz NOT NULL)`,
		`INSERT INTO orders VALUES (1, 2, '2026-01-01 10:00:00+00')`)
	dir := extractProject(t, dsn, "")
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("first run: %d %s %s", code, out, errOut)
	}
	testutil.PostgresExec(t, dsn, `ALTER TABLE orders ALTER qty TYPE numeric(10,3)`, `ALTER TABLE orders ADD COLUMN note text`,
		`INSERT INTO orders VALUES (2, 2.5, '2026-01-02 10:00:00+00', 'gift')`)
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("second run: %d %s %s", code, out, errOut)
	}
	got := queryJSON(t, dir, "SELECT string_agg(id || ':' || qty || ':' || coalesce(note, '-'), ',' ORDER BY id) AS r FROM orders")
	if fmt.Sprint(got[0]["r"]) != "1:2.000:-,2:2.500:gift" {
		t.Fatalf("target: %v", got)
	}
	acts := actionsWithID(t, dir)
	kinds := map[string]int64{}
	for _, a := range acts {
		if a.Strategy == "evolve_schema" && a.Status == "applied" {
			kinds[a.Reason[:strings.Index(a.Reason, " column")]] = a.ID
		}
	}
	if kinds["the commit widened"] == 0 || kinds["the commit added"] == 0 {
		t.Fatalf("schema actions: %+v", acts)
	}
	code, _, errOut := shp(t, "healing", "revert", fmt.Sprint(kinds["the commit widened"]), "--config", dir, "--reason", "no")
	if code != 2 || !strings.Contains(errOut, "narrowing a column back") {
		t.Fatalf("revert of a widening: %d %s", code, errOut)
	}
}
