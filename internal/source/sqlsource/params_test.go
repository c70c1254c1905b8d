package sqlsource

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/testutil"
)

// paramDB makes a table of accounts of two tenants on engine's test
// server and returns its DSN: (1, a), (2, b), (3, a), with a date, a
// time, a float, a flag and a decimal without a bounded precision (which
// Discover measures, in one more query with the parameters).
func paramDB(t *testing.T, engine string) string {
	t.Helper()
	if engine == "postgres" {
		dsn := testutil.PostgresDSN(t)
		testutil.PostgresExec(t, dsn,
			`CREATE TABLE accounts (id int, tenant text, day date, at timestamptz, ratio double precision, active boolean, amount numeric)`,
			`INSERT INTO accounts VALUES (1, 'a', '2026-01-01', '2026-01-01 10:00:00+00', 0.5, true, 1.25),
				(2, 'b', '2026-01-02', '2026-01-02 10:00:00+00', 1.5, false, 2.5), (3, 'a', '2026-01-03', '2026-01-03 10:00:00+00', 2.5, true, 3)`)
		return dsn
	}
	dsn := testutil.MySQLDSN(t)
	testutil.MySQLExec(t, dsn,
		"CREATE TABLE accounts (id INT, tenant VARCHAR(10), day DATE, at DATETIME(6), ratio DOUBLE, active BOOL, amount DECIMAL(50,2))",
		"INSERT INTO accounts VALUES (1, 'a', '2026-01-01', '2026-01-01 10:00:00', 0.5, true, 1.25), "+
			"(2, 'b', '2026-01-02', '2026-01-02 10:00:00', 1.5, false, 2.5), (3, 'a', '2026-01-03', '2026-01-03 10:00:00', 2.5, true, 3)")
	return dsn
}

// paramCase is a query template, the parameters it declares, what a
// trigger gives, and the ids read; or where the run stops: refused at the
// trigger ("trigger: ..."), when the source opens ("open: ...") or by the
// database ("extract: ...").
type paramCase struct {
	name, query, params string
	given               map[string]string
	want                map[string]string // by engine, or "" for both
}

// TestQueryParametersAreBound triggers queries of every parameter type,
// placed bare and quoted, with valid and hostile values, on PostgreSQL
// and MariaDB: a value never changes the query, so a run reads the
// declared tenant's rows or stops, never another tenant's.
func TestQueryParametersAreBound(t *testing.T) {
	const q = "SELECT id FROM accounts WHERE "
	cases := []paramCase{
		// The template: with a declared int, "0--" is refused;
		// undeclared, it is bound as a string PostgreSQL reads as an
		// integer (an error) and MariaDB converts to 0: tenant a's rows.
		{"int", q + "id > {{params.min_id}} AND tenant = 'a'", "min_id: int", map[string]string{"min_id": "0"}, both("1,3")},
		{"int injection", q + "id > {{params.min_id}} AND tenant = 'a'", "min_id: int", map[string]string{"min_id": "0--"},
			both(`trigger: parameter min_id must be an integer (int), got "0--"`)},
		{"undeclared injection", q + "id > {{params.min_id}} AND tenant = 'a'", "", map[string]string{"min_id": "0--"},
			map[string]string{"postgres": `extract: invalid input syntax for type integer: "0--"`, "mysql": "1,3"}},
		{"undeclared", q + "id > {{params.min_id}} AND tenant = 'a'", "", map[string]string{"min_id": "1"}, both("3")},
		{"undeclared quoted", q + "id > '{{params.min_id}}' AND tenant = 'a'", "", map[string]string{"min_id": "1"}, both("3")},
		{"int quoted", q + "id > '{{ params.min_id }}'", "min_id: int", map[string]string{"min_id": "+2"}, both("3")},
		{"int twice", q + "id >= {{params.n}} AND id <= {{params.n}}", "n: int", map[string]string{"n": "2"}, both("2")},
		{"limit", "SELECT id FROM accounts ORDER BY id LIMIT {{params.n}}", "n: int", map[string]string{"n": "2"}, both("1,2")},
		{"float", q + "ratio > {{params.r}}", "r: float", map[string]string{"r": "1"}, both("2,3")},
		{"float injection", q + "ratio > {{params.r}}", "r: float", map[string]string{"r": "1 OR 1=1"},
			both(`trigger: parameter r must be a finite number (float), got "1 OR 1=1"`)},
		{"bool", q + "active = {{params.b}}", "b: bool", map[string]string{"b": "false"}, both("2")},
		{"bool injection", q + "active = {{params.b}}", "b: bool", map[string]string{"b": "true OR 1=1"},
			both(`trigger: parameter b must be true or false (bool), got "true OR 1=1"`)},
		{"date", q + "day >= {{params.day}}", "day: date", map[string]string{"day": "2026-01-02"}, both("2,3")},
		{"date quoted", q + "day >= '{{params.day}}'", "day: date", map[string]string{"day": "2026-01-03"}, both("3")},
		{"date default", q + "day = {{params.day}}", `day: {type: date, default: "{{ds}}"}`, nil, both("2")},
		{"date injection", q + "day = '{{params.day}}'", "day: date", map[string]string{"day": "2026-01-02' OR '1'='1"},
			both(`trigger: parameter day must be a date YYYY-MM-DD (date), got "2026-01-02' OR '1'='1"`)},
		{"timestamp", q + "at > {{params.since}}", "since: timestamp", map[string]string{"since": "2026-01-02T10:30:00+01:00"}, both("2,3")},
		{"timestamp quoted", q + "at > '{{params.since}}'", "since: timestamp", map[string]string{"since": "2026-01-02T10:00:00Z"}, both("3")},
		{"timestamp injection", q + "at > {{params.since}}", "since: timestamp", map[string]string{"since": "2026-01-02T10:00:00Z--"},
			both(`trigger: parameter since must be an RFC 3339 timestamp such as 2026-01-02T03:04:05Z (timestamp), got "2026-01-02T10:00:00Z--"`)},
		{"string with a pattern", q + "tenant = {{params.tenant}}", `tenant: {type: string, pattern: "^[a-z]+$"}`,
			map[string]string{"tenant": "b"}, both("2")},
		{"string outside its pattern", q + "tenant = {{params.tenant}}", `tenant: {type: string, pattern: "^[a-z]+$"}`,
			map[string]string{"tenant": "b' OR 'x'='x"}, both(`trigger: parameter tenant must match the pattern ^[a-z]+$, got "b' OR 'x'='x"`)},
		// A string without a pattern may hold anything: bound, it is only
		// ever compared, and matches no tenant.
		{"string quoted", q + "tenant = '{{params.tenant}}'", "tenant: string", map[string]string{"tenant": "b' OR '1'='1"}, both("")},
		{"string comment", q + "tenant = {{params.tenant}} AND id > 0", "tenant: string", map[string]string{"tenant": "a' --"}, both("")},
		{"string", q + "tenant = {{params.tenant}}", "tenant: string", map[string]string{"tenant": "a"}, both("1,3")},
		{"undeclared parameter", q + "tenant = {{params.tenant}}", "tenant: string", map[string]string{"tenant": "a", "min_id": "1"},
			both("trigger: parameter min_id is not declared by source s (declared: tenant)")},
		{"no value", q + "tenant = {{params.tenant}}", "tenant: string", nil,
			both("trigger: parameter tenant has no value: give it when the run is triggered (--param tenant=VALUE, or parameters in the API's trigger), or declare a default (in query of source s)")},
	}
	for _, engine := range []string{"postgres", "mysql"} {
		t.Run(engine, func(t *testing.T) {
			dsn := paramDB(t, engine)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					want := tc.want[engine]
					if w, ok := tc.want[""]; ok {
						want = w
					}
					if got := runParamCase(t, engine, dsn, tc, ""); got != want {
						t.Errorf("got  %s\nwant %s", got, want)
					}
				})
			}
		})
	}
}

// TestQueryParametersInEveryQuery binds the parameters in each query an
// extraction makes: the columns, the decimals' measure, the watermark's
// maximum, the chunks' key ranges and the chunks.
func TestQueryParametersInEveryQuery(t *testing.T) {
	for _, engine := range []string{"postgres", "mysql"} {
		t.Run(engine, func(t *testing.T) {
			dsn := paramDB(t, engine)
			tc := paramCase{query: "SELECT id, tenant, amount FROM accounts WHERE tenant = {{params.tenant}} AND id >= {{params.min_id}}",
				params: "{tenant: string, min_id: int}", given: map[string]string{"tenant": "a", "min_id": "1"}}
			if got := runParamCase(t, engine, dsn, tc, "    incremental: {column: id}\n    key: id\n    chunk_size: 1\n"); got != "1,3" {
				t.Fatalf("got %s, want 1,3", got)
			}
		})
	}
}

func both(want string) map[string]string { return map[string]string{"": want} }

// runParamCase loads a project whose source s has the case's query and
// parameters, triggers it as shp does (config.Source.Templated, strict),
// opens the source with the bound values, and returns the ids read, or
// where and why it stopped.
func runParamCase(t *testing.T, engine, dsn string, tc paramCase, extra string) string {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf("sources:\n  s:\n    type: %s\n    dsn: %q\n    query: %q\n%s", engine, dsn, tc.query, extra)
	if tc.params != "" {
		src += "    parameters: " + tc.params + "\n"
		if !strings.HasPrefix(tc.params, "{") {
			src = strings.Replace(src, "    parameters: ", "    parameters:\n      ", 1)
		}
	}
	mode := "replace"
	if extra != "" {
		mode = "append"
	}
	for name, body := range map[string]string{"config.yaml": "project: p\npipelines:\n  p:\n    source: s\n    mode: " + mode + "\n", "sources.yaml": src} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Sources["s"].Templated(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), tc.given, true)
	if err != nil {
		return "trigger: " + err.Error()
	}
	ctx := context.Background()
	ex, err := source.NewExtractor(ctx, source.Spec{Name: "s", Type: s.Type, Settings: s.Settings, Params: s.Bound})
	if err != nil {
		return "open: " + err.Error()
	}
	defer ex.Close()
	if _, err := ex.Discover(ctx); err != nil {
		return "extract: " + dbMessage(err)
	}
	sink := &memSink{}
	if _, err := ex.Extract(ctx, source.ExtractRequest{}, sink); err != nil {
		return "extract: " + dbMessage(err)
	}
	var ids []string
	for _, l := range sink.lines() {
		ids = append(ids, strings.SplitN(l, ",", 2)[0])
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// dbMessage is the server's message of an error.
func dbMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "ERROR: "); i >= 0 {
		msg = msg[i+len("ERROR: "):]
	}
	return strings.TrimSuffix(msg, " (SQLSTATE 22P02)")
}

// TestBoundQueryReadsWhatTheTableReads: a query with parameters, which
// PostgreSQL reads without COPY and MariaDB through a prepared statement,
// writes every value as the table's extraction does.
func TestBoundQueryReadsWhatTheTableReads(t *testing.T) {
	setup := map[string]func(t *testing.T) string{
		"postgres": func(t *testing.T) string {
			dsn := testutil.PostgresDSN(t)
			testutil.PostgresExec(t, dsn,
				`CREATE TABLE orders (id bigint, amount numeric(12,2), free numeric, f4 real, f8 double precision, ok boolean, note text,
					c3 char(3), raw bytea, day date, at timestamp, tz timestamptz, tm time, j jsonb, u uuid, ints integer[], span interval)`,
				`INSERT INTO orders VALUES
					(1, 12.50, 1.000000001, 1.5, 0.1, true, 'plain', 'abc', '\xdead', '2026-01-02', '2026-01-02 03:04:05.123456',
					 '2026-01-02 03:04:05+02', '12:30:00', '{"b": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,NULL}', '1 day 02:00'),
					(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
					(3, -0.01, 0, 'NaN', 1e300, false, E'comma, "quote"\nnewline \\N', 'é', '', '0044-03-15 BC', '1999-12-31 23:59:59',
					 '2026-01-04 00:00:00+00', '00:00:00', 'null', NULL, '{}', '-3 mons'),
					(4, 0, 123456789012345678901234567890.123, '-Infinity', -2.5e-10, true, '\N', ' x ', '\x00', '2026-01-05',
					 '0001-01-01 00:00:00 BC', '2026-01-05 00:00:00+00', NULL, '"s"', NULL, NULL, NULL)`)
			return dsn
		},
		"mysql": func(t *testing.T) string {
			dsn := testutil.MySQLDSN(t)
			testutil.MySQLExec(t, dsn,
				"CREATE TABLE orders (id BIGINT, ti TINYINT, ub BIGINT UNSIGNED, amount DECIMAL(12,2), big DECIMAL(50,3), f FLOAT, d DOUBLE, "+
					"vc VARCHAR(40), ch CHAR(3), bl BLOB, day DATE, at DATETIME(6), ts TIMESTAMP NULL, tm TIME(3), en ENUM('a','b'), yr YEAR, bt BIT(4), js JSON) "+
					"CHARACTER SET utf8mb4",
				"INSERT INTO orders VALUES "+
					"(1, -128, 18446744073709551615, 12.50, 12345678901234567890123456789012345678901234.123, 0.1, 0.1, 'plain', 'abc', X'DEAD', '2026-01-02', "+
					"'2026-01-02 03:04:05.123456', '2026-01-02 03:04:05', '-12:30:00.5', 'a', 2026, b'1010', '{\"a\": [1, 2.5]}'),"+
					"(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"+
					"(3, 0, 0, -0.01, 0, 1e20, 1.7976931348623157e308, 'comma, \"quote\"\nnewline \\\\N', 'é', '', '1999-12-31', "+
					"'1999-12-31 23:59:59', '1999-12-31 23:59:59', '838:59:59', 'b', 1999, b'0', 'null'),"+
					"(4, 127, 1, 0, -1.5, -2.5e-10, 3e-300, '\\\\N', ' x', X'00', '0000-00-00', '0000-00-00 00:00:00', NULL, '00:00:00', NULL, NULL, NULL, '\"s\"')")
			return dsn
		},
	}
	for _, engine := range []string{"postgres", "mysql"} {
		t.Run(engine, func(t *testing.T) {
			dsn := setup[engine](t)
			read := func(settings map[string]any, spec source.Spec) []string {
				t.Helper()
				spec.Name, spec.Type, spec.Settings = "db", engine, settings
				ex, err := source.NewExtractor(context.Background(), spec)
				if err != nil {
					t.Fatal(err)
				}
				defer ex.Close()
				if _, err := ex.Discover(context.Background()); err != nil {
					t.Fatal(err)
				}
				sink := &memSink{}
				if _, err := ex.Extract(context.Background(), source.ExtractRequest{}, sink); err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, c := range sink.committed {
					out = append(out, csvRecords(t, c.buf.String())...)
				}
				return out
			}
			table := read(map[string]any{"dsn": dsn, "table": "orders"}, source.Spec{})
			p, err := loadQuery(t, engine, "SELECT * FROM orders WHERE id >= {{params.min}} ORDER BY id", "min: int")
			if err != nil {
				t.Fatal(err)
			}
			s, err := p.Templated(time.Now(), map[string]string{"min": "0"}, true)
			if err != nil {
				t.Fatal(err)
			}
			s.Settings["dsn"] = dsn
			bound := read(s.Settings, source.Spec{Params: s.Bound})
			if len(table) != 5 || !slices.Equal(table, bound) {
				t.Fatalf("the table reads\n%s\nthe bound query\n%s", strings.Join(table, "\n"), strings.Join(bound, "\n"))
			}
		})
	}
}

// loadQuery loads a source s of engine with a query and its parameters.
func loadQuery(t *testing.T, engine, query, params string) (*config.Source, error) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"config.yaml":  "project: p\npipelines:\n  p:\n    source: s\n",
		"sources.yaml": fmt.Sprintf("sources:\n  s:\n    type: %s\n    dsn: x\n    query: %q\n    parameters: {%s}\n", engine, query, params),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	return p.Sources["s"], nil
}

// csvRecords reads shp's extraction CSV: each record's fields, quoted as
// read, an unquoted \N (NULL) as <NULL>, joined by |.
func csvRecords(t *testing.T, text string) []string {
	t.Helper()
	var out, fields []string
	var field strings.Builder
	quoted, inQuotes := false, false
	end := func() {
		f := field.String()
		if !quoted && f == `\N` {
			f = "<NULL>"
		}
		fields = append(fields, f)
		field.Reset()
		quoted = false
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case inQuotes && c == '"' && i+1 < len(text) && text[i+1] == '"':
			field.WriteByte('"')
			i++
		case inQuotes && c == '"':
			inQuotes = false
		case inQuotes:
			field.WriteByte(c)
		case c == '"':
			inQuotes, quoted = true, true
		case c == ',':
			end()
		case c == '\n':
			end()
			out = append(out, strings.Join(fields, "|"))
			fields = nil
		default:
			field.WriteByte(c)
		}
	}
	if inQuotes || field.Len() > 0 {
		t.Fatalf("unterminated CSV: %q", text)
	}
	return out
}
