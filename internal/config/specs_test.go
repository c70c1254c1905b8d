package config

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/config/spec"
	"github.com/shp-dev/shp/internal/warehouse/duckdb/duckdbspec"
)

// loadSource loads a project whose sources.yaml defines the source s
// with the given lines (each indented under it).
func loadSource(t *testing.T, lines ...string) (*Project, error) {
	t.Helper()
	src := "sources:\n  s:\n"
	for _, l := range lines {
		src += "    " + l + "\n"
	}
	return LoadDir(writeProject(t, map[string]string{"config.yaml": okConfig, "sources.yaml": src}), noEnv)
}

// TestSourceSpecs checks every registered source type against its spec:
// an unknown key is refused with the type's exact key set, a value of the
// wrong type and a missing required key are refused, and defaults are
// applied (to Settings, which reach the connector, for an extracting
// source).
func TestSourceSpecs(t *testing.T) {
	object := "compression, csv, format, parameters, schedule, schema, type"
	extracting := "failover, parameters, schedule, schema, type"
	sql := "chunk_size, database, dsn, host, incremental, key, password_env, password_file, port, query, rate_limit, retry, table, timeout, tls, user"
	retryDefaults := map[string]any{"attempts": 3, "initial_interval": "200ms", "max_interval": "30s", "breaker_failures": 5, "breaker_cooldown": "30s"}
	types := []struct {
		typ  string
		base []string // a valid source of the type
		// keys are the keys the type takes, sorted.
		keys string
		// wrongType is a line with a value of the wrong type, and the
		// message it gives (after `source "s": `).
		wrongType, wrongTypeMsg string
		// missing is the base without a required key, and the message.
		missing    []string
		missingMsg string
		// defaults is a line that leaves keys at their defaults, and
		// checks them.
		defaults      string
		checkDefaults func(t *testing.T, s *Source)
	}{
		{
			typ: "file", base: []string{"type: file", "path: data/"},
			keys:      sortedList(object + ", path"),
			wrongType: "compression: [gzip]", wrongTypeMsg: "compression must be a string, got a list",
			missing: []string{"type: file"}, missingMsg: `missing required key "path"`,
			defaults: "csv: {delimiter: ';'}",
			checkDefaults: func(t *testing.T, s *Source) {
				want := CSVOptions{Delimiter: ";", Header: true, NullValues: []string{""}}
				if s.Compression != CompressionAuto || !reflect.DeepEqual(s.CSV, want) || s.Settings != nil {
					t.Errorf("compression %q, csv %+v, settings %v", s.Compression, s.CSV, s.Settings)
				}
			},
		},
		{
			typ: "gcs", base: []string{"type: gcs", "bucket: bkt", "path: x/"},
			keys:      sortedList(object + ", bucket, endpoint, path"),
			wrongType: "endpoint: {host: x}", wrongTypeMsg: "endpoint must be a string, got a mapping",
			missing: []string{"type: gcs", "path: x/"}, missingMsg: `missing required key "bucket"`,
			defaults: "format: CSV",
			checkDefaults: func(t *testing.T, s *Source) {
				if s.Format != FormatCSV || s.Compression != CompressionAuto || !s.CSV.Header || s.Bucket != "bkt" || s.Path != "x/" {
					t.Errorf("source %+v", *s)
				}
			},
		},
		{
			typ: "postgres", base: []string{"type: postgres", "host: db", "table: t"},
			keys:      sortedList(extracting + ", " + sql),
			wrongType: "port: five", wrongTypeMsg: `port must be an integer, got "five"`,
			missing: []string{"type: postgres", "host: db"}, missingMsg: `missing required key "table" (or "query")`,
			defaults: "retry: {attempts: 3}",
			checkDefaults: func(t *testing.T, s *Source) {
				want := map[string]any{"host": "db", "table": "t", "retry": retryDefaults}
				if !reflect.DeepEqual(s.Settings, want) {
					t.Errorf("settings %#v, want %#v", s.Settings, want)
				}
			},
		},
		{
			typ: "mysql", base: []string{"type: mysql", "dsn: u@tcp(db)/shop", "query: SELECT 1"},
			keys:      sortedList(extracting + ", " + sql),
			wrongType: "chunk_size: 1.5", wrongTypeMsg: "chunk_size must be an integer, got 1.5",
			missing: []string{"type: mysql", "query: SELECT 1"}, missingMsg: `missing required key "host" (or "dsn")`,
			defaults: "retry: {attempts: 3}",
			checkDefaults: func(t *testing.T, s *Source) {
				if !reflect.DeepEqual(s.Settings["retry"], retryDefaults) {
					t.Errorf("retry %#v", s.Settings["retry"])
				}
			},
		},
		{
			typ: "cloudsql", base: []string{"type: cloudsql", "engine: mysql", "host: db", "table: t"},
			keys:      sortedList(extracting + ", engine, " + sql),
			wrongType: "tls: require", wrongTypeMsg: `tls must be a mapping, got "require"`,
			missing: []string{"type: cloudsql", "host: db", "table: t"}, missingMsg: `missing required key "engine"`,
			defaults: "retry: {attempts: 3}",
			checkDefaults: func(t *testing.T, s *Source) {
				if !reflect.DeepEqual(s.Settings["retry"], retryDefaults) || s.Settings["engine"] != "mysql" {
					t.Errorf("settings %#v", s.Settings)
				}
			},
		},
		{
			typ: "api", base: []string{"type: api", "url: https://api.example.com/v1/orders"},
			keys: sortedList(extracting + ", auth, body, flatten, headers, incremental, max_pages, method, pagination, params, " +
				"rate_limit, records_path, retry, timeout, url"),
			wrongType: "headers: [a]", wrongTypeMsg: "headers must be a mapping, got a list",
			missing: []string{"type: api", "method: POST"}, missingMsg: `missing required key "url"`,
			defaults: "pagination: {type: Page, size: 50}",
			checkDefaults: func(t *testing.T, s *Source) {
				want := map[string]any{"url": "https://api.example.com/v1/orders", "method": "GET", "flatten": true, "max_pages": 100000,
					"pagination": map[string]any{"type": "page", "size": 50, "pages_per_chunk": 100}}
				if !reflect.DeepEqual(s.Settings, want) {
					t.Errorf("settings %#v, want %#v", s.Settings, want)
				}
			},
		},
		{
			typ: "graphql", base: []string{"type: graphql", "url: https://api.example.com/graphql", "query: '{ orders { id } }'"},
			keys: sortedList(extracting + ", auth, cursor_variable, flatten, headers, incremental, max_pages, page_info_path, query, " +
				"rate_limit, records_path, retry, timeout, url, variables"),
			wrongType: "flatten: sometimes", wrongTypeMsg: `flatten must be true or false, got "sometimes"`,
			missing: []string{"type: graphql", "url: https://api.example.com/graphql"}, missingMsg: `missing required key "query"`,
			defaults: "auth: {token_env: TOKEN}",
			checkDefaults: func(t *testing.T, s *Source) {
				if s.Settings["flatten"] != true || s.Settings["max_pages"] != 100000 ||
					!reflect.DeepEqual(s.Settings["auth"], map[string]any{"type": "none", "token_env": "TOKEN"}) {
					t.Errorf("settings %#v", s.Settings)
				}
			},
		},
	}
	if got, want := strings.Join(spec.Names(spec.KindSource), ","), "api,cloudsql,file,gcs,graphql,mysql,postgres"; got != want {
		t.Fatalf("registered source types %s, want %s: give each a row here", got, want)
	}
	for _, tt := range types {
		t.Run(tt.typ+"/valid", func(t *testing.T) {
			p, err := loadSource(t, tt.base...)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Sources["s"].Type; got != tt.typ {
				t.Errorf("type %q", got)
			}
			if IsExtracting(tt.typ) != (tt.typ != "file" && tt.typ != "gcs") {
				t.Errorf("IsExtracting(%s) = %v", tt.typ, IsExtracting(tt.typ))
			}
		})
		t.Run(tt.typ+"/unknown key", func(t *testing.T) {
			_, err := loadSource(t, append(tt.base, "colour: red")...)
			line := len(tt.base) + 3
			want := "sources.yaml:" + strconv.Itoa(line) + `:5: unknown key "colour" in source "s" (allowed: ` + tt.keys + ")"
			if err == nil || err.Error() != want {
				t.Errorf("error\n%v\nwant\n%s", err, want)
			}
		})
		t.Run(tt.typ+"/wrong type", func(t *testing.T) {
			_, err := loadSource(t, append(tt.base, tt.wrongType)...)
			col := strings.Index(tt.wrongType, ": ") + 2 + 5
			want := "sources.yaml:" + strconv.Itoa(len(tt.base)+3) + ":" + strconv.Itoa(col) + `: source "s": ` + tt.wrongTypeMsg
			if err == nil || err.Error() != want {
				t.Errorf("error\n%v\nwant\n%s", err, want)
			}
		})
		t.Run(tt.typ+"/missing required", func(t *testing.T) {
			_, err := loadSource(t, tt.missing...)
			want := `sources.yaml:2:3: source "s": ` + tt.missingMsg
			if err == nil || err.Error() != want {
				t.Errorf("error\n%v\nwant\n%s", err, want)
			}
		})
		t.Run(tt.typ+"/defaults", func(t *testing.T) {
			p, err := loadSource(t, append(tt.base, tt.defaults)...)
			if err != nil {
				t.Fatal(err)
			}
			tt.checkDefaults(t, p.Sources["s"])
		})
	}
}

// TestSourceSpecValues: the checks of nested keys, enums and the values
// Settings hold.
func TestSourceSpecValues(t *testing.T) {
	api := []string{"type: api", "url: https://api.example.com/v1/orders"}
	pg := []string{"type: postgres", "host: db", "table: t"}
	bad := []struct {
		name  string
		lines []string
		want  string
	}{
		{"nested unknown key", append(api, "pagination: {type: page, pge: 2}"),
			`sources.yaml:5:30: unknown key "pge" in pagination of source "s" (allowed: cursor_param, cursor_path, offset_param, page_param, pages_per_chunk, size, size_param, start, type)`},
		{"enum", append(api, "method: PUT"), `sources.yaml:5:13: source "s": method "PUT" is unknown (supported: GET, POST)`},
		{"nested enum", append(pg, "tls: {mode: verify}"), `sources.yaml:6:17: source "s": tls.mode "verify" is unknown (supported: disable, require, verify-ca, verify-full)`},
		{"nested required", append(pg, "incremental: {lookback: 2h}"), `sources.yaml:6:5: source "s": missing required key "incremental.column"`},
		{"duration", append(pg, "timeout: 5 minutes"), `sources.yaml:6:14: source "s": timeout "5 minutes" is not a duration (use a number and a unit, such as 30s, 5m or 1h)`},
		{"header value", append(api, "headers: {Accept: [json]}"), `sources.yaml:5:23: source "s": headers.Accept must be a string, got a list`},
		{"url check", append([]string{"type: graphql", "query: q"}, "url: //x"), `sources.yaml:5:10: source "s": url "//x" must be an http:// or https:// URL`},
		{"both table and query", append(pg, "query: SELECT 1"), `sources.yaml:6:5: source "s": give table or query, not both`},
		{"failover on a file source", []string{"type: file", "path: x", "failover: y"},
			`sources.yaml:5:5: unknown key "failover" in source "s" (allowed: compression, csv, format, parameters, path, schedule, schema, type)`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadSource(t, tt.lines...)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n%v\nwant\n%s", err, tt.want)
			}
		})
	}

	// Values keep what the connectors read: scalars of string keys as
	// written, durations as written, lists and mappings as YAML decodes
	// them, enums in their listed spelling, nulls and empty strings as
	// they were.
	p, err := loadSource(t, "type: api", "url: https://api.example.com/v1/orders", "method: post", "headers: {X-Version: 2}",
		"body: {limit: 5}", "timeout: 30", "auth: {type: oauth2, token_url: 'https://id/t', client_id: 7, scopes: read}",
		"records_path: ''", "incremental:", "rate_limit: 2")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"url": "https://api.example.com/v1/orders", "method": "POST", "headers": map[string]any{"X-Version": "2"},
		"body": map[string]any{"limit": uint64(5)}, "timeout": uint64(30),
		"auth":         map[string]any{"type": "oauth2", "token_url": "https://id/t", "client_id": "7", "scopes": []any{"read"}},
		"records_path": "", "incremental": nil, "rate_limit": 2.0, "flatten": true, "max_pages": 100000,
	}
	s := p.Sources["s"]
	if !reflect.DeepEqual(s.Settings, want) {
		t.Errorf("settings\n%#v\nwant\n%#v", s.Settings, want)
	}
	if !s.RereadsAll() {
		t.Error("a null incremental reads everything")
	}
}

// TestWarehouseSpec checks config.yaml's warehouse against the DuckDB
// warehouse's spec.
func TestWarehouseSpec(t *testing.T) {
	load := func(wh string) (*Project, error) {
		return LoadDir(writeProject(t, map[string]string{"config.yaml": okConfig + "warehouse:\n" + wh, "sources.yaml": okSource}), noEnv)
	}
	if DefaultWarehousePath != duckdbspec.DefaultPath {
		t.Errorf("DefaultWarehousePath %q, the spec's default %q", DefaultWarehousePath, duckdbspec.DefaultPath)
	}
	for _, tt := range []struct{ name, wh, want string }{
		{"unknown key", "  type: duckdb\n  memry_limit: 1GB\n",
			`config.yaml:7:3: unknown key "memry_limit" in warehouse (allowed: memory_limit, path, threads, type)`},
		{"wrong type", "  threads: many\n", `config.yaml:6:12: warehouse.threads must be an integer, got "many"`},
		{"check", "  threads: -2\n", `config.yaml:6:12: warehouse.threads must be 0 or more, got -2`},
		{"unknown type", "  type: snowflake\n  account: x\n", `config.yaml:6:9: warehouse.type "snowflake" is unknown (supported: duckdb)`},
		{"not a mapping", "  - duckdb\n", `config.yaml:6:3: warehouse must be a mapping, got a list`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(tt.wh)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		p, err := load("  type: DuckDB\n  memory_limit: 2GB\n")
		if err != nil {
			t.Fatal(err)
		}
		want := Warehouse{Type: "duckdb", Path: DefaultWarehousePath, MemoryLimit: "2GB"}
		if !reflect.DeepEqual(p.Config.Warehouse, want) {
			t.Errorf("warehouse %+v, want %+v", p.Config.Warehouse, want)
		}
	})
}

// TestRegisteredComponents: a warehouse or a source that registers its
// spec is accepted with its keys, and nothing else changes.
func TestRegisteredComponents(t *testing.T) {
	spec.Register(spec.Spec{Kind: spec.KindWarehouse, Name: "fake", Summary: "A warehouse for tests.", Fields: []spec.Field{
		{Name: "dataset", Type: spec.String, Required: true},
		{Name: "location", Type: spec.String, Default: "EU", Enum: []string{"EU", "US"}},
		{Name: "retries", Type: spec.Int, Default: 3},
		{Name: "labels", Type: spec.Map, Elem: spec.String},
		{Name: "path", Type: spec.String},
	}})
	spec.Register(spec.Spec{Kind: spec.KindSource, Name: "fakedb", Summary: "A source for tests.", Extracting: true,
		Fields: []spec.Field{{Name: "collection", Type: spec.String, Required: true}, {Name: "batch", Type: spec.Int, Default: 100}}})
	t.Cleanup(func() {
		spec.Unregister(spec.KindWarehouse, "fake")
		spec.Unregister(spec.KindSource, "fakedb")
	})
	load := func(wh, src string) (*Project, error) {
		return LoadDir(writeProject(t, map[string]string{"config.yaml": okConfig + "warehouse:\n" + wh, "sources.yaml": src}), noEnv)
	}

	p, err := load("  type: FAKE\n  dataset: sales\n  location: us\n  labels: {team: 7}\n", "sources:\n  s:\n    type: fakedb\n    collection: orders\n")
	if err != nil {
		t.Fatal(err)
	}
	wantWH := Warehouse{Type: "fake", Settings: map[string]any{"dataset": "sales", "location": "US", "retries": 3, "labels": map[string]any{"team": "7"}}}
	if !reflect.DeepEqual(p.Config.Warehouse, wantWH) {
		t.Errorf("warehouse %+v, want %+v", p.Config.Warehouse, wantWH)
	}
	s := p.Sources["s"]
	if !IsExtracting("fakedb") || !reflect.DeepEqual(s.Settings, map[string]any{"collection": "orders", "batch": 100}) {
		t.Errorf("source %+v", *s)
	}
	if pl := p.Config.Pipelines["p1"]; pl.Mode != ModeReplace {
		t.Errorf("a pipeline of a source without incremental: mode %s", pl.Mode)
	}

	for _, tt := range []struct{ name, wh, src, want string }{
		{"missing required", "  type: fake\n", okSource, `config.yaml:5:1: missing required key "warehouse.dataset"`},
		{"unknown key", "  type: fake\n  dataset: d\n  threads: 2\n", okSource,
			`config.yaml:8:3: unknown key "threads" in warehouse (allowed: dataset, labels, location, path, retries, type)`},
		{"source's unknown key", "  type: duckdb\n", "sources:\n  s:\n    type: fakedb\n    collection: c\n    table: t\n",
			`sources.yaml:5:5: unknown key "table" in source "s" (allowed: batch, collection, failover, parameters, schedule, schema, type)`},
		{"listed in messages", "  type: bigquery\n", okSource, `config.yaml:6:9: warehouse.type "bigquery" is unknown (supported: duckdb, fake)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(tt.wh, tt.src)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n%v\nwant\n%s", err, tt.want)
			}
		})
	}

	spec.Unregister(spec.KindWarehouse, "fake")
	_, err = load("  type: fake\n  dataset: d\n", okSource)
	if want := `config.yaml:6:9: warehouse.type "fake" is unknown (supported: duckdb)`; err == nil || err.Error() != want {
		t.Errorf("after Unregister: %v", err)
	}
}

// TestReference: the reference lists the keys every component takes and
// each registered one's.
func TestReference(t *testing.T) {
	src, err := Reference(spec.KindSource)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#### Keys of every source\n", "#### Keys of every object source (`file`, `gcs`)\n",
		"#### Keys of every extracting source (`api`, `cloudsql`, `graphql`, `mysql`, `postgres`)\n",
		"#### `postgres`\n", "| `retry.attempts` | integer | `5` |", "Give exactly one of `table` or `query`.",
		"| `csv.null_values` | list of strings | `[\"\"]` |",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("source reference lacks %q", want)
		}
	}
	one, err := Reference("source", "CloudSQL")
	if err != nil || !strings.HasPrefix(one, "#### `cloudsql`") || !strings.Contains(one, "`failover`") || strings.Contains(one, "`postgres`\n") {
		t.Errorf("Reference(source, CloudSQL) = %s, %v", one, err)
	}
	if _, err := Reference("source", "ftp"); err == nil || !strings.Contains(err.Error(), `"ftp" is unknown (supported: api, cloudsql, file, gcs, graphql, mysql, postgres)`) {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := Reference("notifier"); err == nil {
		t.Error("a kind without a reference gave one")
	}
}

// sortedList sorts a comma-separated list.
func sortedList(s string) string {
	parts := strings.Split(s, ", ")
	return strings.Join(sortedKeys(setOf(parts)), ", ")
}

func setOf(list []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}
