package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// noEnv is an environment with no variables.
var noEnv = WithLookupEnv(mapEnv(nil))

// absent marks a file that must not be written.
const absent = "\x00absent"

// Minimal valid files, combined with broken ones in the table tests.
const (
	okConfig = "project: p\npipelines:\n  p1:\n    source: s\n"
	okSource = "sources:\n  s:\n    type: file\n    path: data/\n"
)

// writeProject writes files (name -> content) into a new directory.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if content == absent {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// stripped returns copies of the project's sources and pipelines without
// their unexported bookkeeping, for comparisons.
func stripped(p *Project) (map[string]Source, map[string]Pipeline) {
	srcs := map[string]Source{}
	for k, s := range p.Sources {
		c := *s
		c.dir, c.at, c.schemaPos = "", pos{}, pos{}
		srcs[k] = c
	}
	pls := map[string]Pipeline{}
	for k, pl := range p.Config.Pipelines {
		c := *pl
		c.at, c.sourcePos, c.keyPos, c.modePos = pos{}, pos{}, nil, pos{}
		pls[k] = c
	}
	return srcs, pls
}

func TestLoadDirValid(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "valid"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadDir(filepath.Join("testdata", "valid"), noEnv)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if p.Dir != dir {
		t.Errorf("Dir = %q, want %q", p.Dir, dir)
	}
	wantCfg := Config{
		Project:   "quickstart",
		Staging:   Staging{URL: "file://.shp/staging"},
		Warehouse: Warehouse{Type: WarehouseDuckDB, Path: ".shp/warehouse.duckdb", MemoryLimit: "1GB", Threads: 4},
		Metadata:  Metadata{Type: MetadataSQLite, Path: ".shp/metadata.db"},
		Defaults:  Defaults{MaxQuarantineRatio: 0.1},
		API:       defaultAPI(),
		Optimization: Optimization{MinRows: DefaultOptMinRows, MinQueries: DefaultOptMinQueries,
			PartitionShare: DefaultOptPartitionShare, ClusterShare: DefaultOptClusterShare,
			MinSpeedup: DefaultOptMinSpeedup, MaxSlowdown: DefaultOptMaxSlowdown, MinQueryGain: DefaultOptMinQueryGain, PricePerTiB: DefaultPricePerTiB,
			SlotHourPrice: DefaultSlotHourPrice},
	}
	got := p.Config
	got.Pipelines = nil
	if !reflect.DeepEqual(got, wantCfg) {
		t.Errorf("Config =\n%+v\nwant\n%+v", got, wantCfg)
	}
	srcs, pls := stripped(p)
	wantPls := map[string]Pipeline{
		"sales": {
			Name: "sales", Description: "Daily sales", Source: "sales_data", Target: "sales",
			Mode: ModeMerge, Key: []string{"order_id"}, MaxQuarantineRatio: 0.05, Schedule: "0 3 * * *",
			Retries: defaultRetries, MaxActiveRuns: 1, DuplicateDeliveries: DuplicatesSkip,
		},
		"events": {
			Name: "events", Source: "local_events", Target: "events",
			Mode: ModeReplace, MaxQuarantineRatio: 0.1, Schedule: "@hourly",
			Retries: defaultRetries, MaxActiveRuns: 1, DuplicateDeliveries: DuplicatesSkip,
		},
	}
	if !reflect.DeepEqual(pls, wantPls) {
		t.Errorf("Pipelines =\n%+v\nwant\n%+v", pls, wantPls)
	}
	wantSrcs := map[string]Source{
		"sales_data": {
			Name: "sales_data", Type: SourceGCS, Bucket: "example-data-bucket", Path: "sales/daily/",
			Format: FormatCSV, Compression: CompressionGzip, Schedule: "0 2 * * *",
			Schema: "schemas/sales_schema.json", Endpoint: "http://localhost:4443",
			CSV: CSVOptions{Delimiter: ";", Header: false, Quote: "'", NullValues: []string{"", "NULL", "$none"}},
		},
		"local_events": {
			Name: "local_events", Type: SourceFile, Path: "data/*.jsonl.gz", Compression: CompressionAuto,
			Schedule: "@hourly",
			CSV:      CSVOptions{Header: true, NullValues: []string{""}},
		},
	}
	if !reflect.DeepEqual(srcs, wantSrcs) {
		t.Errorf("Sources =\n%+v\nwant\n%+v", srcs, wantSrcs)
	}
	wantRules := map[string]any{"sales": map[string]any{
		"not_null": []any{"order_id"},
		"min":      map[string]any{"amount": uint64(0)},
	}}
	if !reflect.DeepEqual(p.QualityRules, wantRules) {
		t.Errorf("QualityRules = %#v, want %#v", p.QualityRules, wantRules)
	}
	if want := map[string]any{"confidence_threshold": 0.8, "max_attempts": uint64(3)}; !reflect.DeepEqual(p.SelfHealing, want) {
		t.Errorf("SelfHealing = %#v, want %#v", p.SelfHealing, want)
	}
	if err := p.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}

	t.Run("accessors", func(t *testing.T) {
		sales, _ := p.Source("sales_data")
		events, _ := p.Source("local_events")
		slash := filepath.ToSlash(dir)
		if !strings.HasPrefix(slash, "/") {
			slash = "/" + slash
		}
		tests := []struct {
			name, got, want string
		}{
			{"StagingURL", p.StagingURL(), "file://" + slash + "/.shp/staging"},
			{"WarehousePath", p.WarehousePath(), filepath.Join(dir, ".shp", "warehouse.duckdb")},
			{"MetadataPath", p.MetadataPath(), filepath.Join(dir, ".shp", "metadata.db")},
			{"ResolvePath relative", p.ResolvePath("a/b.csv"), filepath.Join(dir, "a", "b.csv")},
			{"ResolvePath absolute", p.ResolvePath(filepath.Join(dir, "x", "..", "y")), filepath.Join(dir, "y")},
			{"ResolvePath empty", p.ResolvePath(""), ""},
			{"SchemaPath", sales.SchemaPath(), filepath.Join(dir, "schemas", "sales_schema.json")},
			{"SchemaPath none", events.SchemaPath(), ""},
			{"LocalPath file", events.LocalPath(), filepath.Join(dir, "data", "*.jsonl.gz")},
			{"LocalPath gcs", sales.LocalPath(), ""},
			{"URL gcs", sales.URL(), "gs://example-data-bucket/sales/daily/"},
			{"URL file", events.URL(), "file://" + slash + "/data/*.jsonl.gz"},
			{"PipelineNames", strings.Join(p.PipelineNames(), ","), "events,sales"},
			{"SourceNames", strings.Join(p.SourceNames(), ","), "local_events,sales_data"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.got != tt.want {
					t.Errorf("got %q, want %q", tt.got, tt.want)
				}
			})
		}
		if pl, ok := p.Pipeline("sales"); !ok || pl.Name != "sales" {
			t.Errorf("Pipeline(sales) = %v, %v", pl, ok)
		}
		if _, ok := p.Pipeline("nope"); ok {
			t.Error("Pipeline(nope) found")
		}
		if _, ok := p.Source("nope"); ok {
			t.Error("Source(nope) found")
		}
	})
}

func TestLoadDirEnvironment(t *testing.T) {
	env := WithLookupEnv(mapEnv(map[string]string{"SHP_BUCKET": "from-env", "SHP_METADATA_DSN": "postgres://x"}))
	p, err := LoadDir(filepath.Join("testdata", "valid"), env)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if got := p.Sources["sales_data"].Bucket; got != "from-env" {
		t.Errorf("bucket = %q, want from-env", got)
	}
	if got := p.Config.Metadata.DSN; got != "postgres://x" {
		t.Errorf("dsn = %q, want postgres://x", got)
	}
}

func TestLoadDirSeed(t *testing.T) {
	p, err := LoadDir(filepath.Join("testdata", "seed"), noEnv)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	s := p.Sources["sales_data"]
	want := Source{
		Name: "sales_data", Type: SourceGCS, Bucket: "example-data-bucket", Path: "sales/daily/",
		Format: FormatCSV, Compression: CompressionAuto, Schedule: "0 2 * * *",
		Schema: "schemas/sales_schema.json",
		CSV:    CSVOptions{Header: true, NullValues: []string{""}},
	}
	if srcs, _ := stripped(p); !reflect.DeepEqual(srcs["sales_data"], want) {
		t.Errorf("source =\n%+v\nwant\n%+v", *s, want)
	}
	pl, _ := p.Pipeline("sales")
	if pl.Schedule != "0 2 * * *" || pl.Target != "sales" || pl.Mode != ModeAppend || pl.MaxQuarantineRatio != 0.1 {
		t.Errorf("pipeline defaults = %+v", *pl)
	}
	if p.QualityRules != nil || p.SelfHealing != nil {
		t.Errorf("optional files = %v, %v; want nil", p.QualityRules, p.SelfHealing)
	}

	// The schema file does not exist: only Check notices.
	err = p.Check()
	const wantErr = `sources.yaml:8:13: source "sales_data": schema file "schemas/sales_schema.json" not found`
	if err == nil || err.Error() != wantErr {
		t.Fatalf("Check = %v, want %s", err, wantErr)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check error does not wrap fs.ErrNotExist")
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.File != "sources.yaml" || ce.Line != 8 || ce.Column != 13 {
		t.Errorf("errors.As(*Error) = %+v", ce)
	}
}

func TestLoadDirErrorFixtures(t *testing.T) {
	tests := []struct {
		dir  string
		want string
	}{
		{"unknown_key", `sources.yaml:7:5: unknown key "buckt" in source "sales_data" (allowed: bucket, compression, csv, endpoint, format, parameters, path, schedule, schema, type)`},
		{"wrong_type", `config.yaml:3:12: warehouse.threads must be an integer, got "many"`},
		{"missing_required", `sources.yaml:2:3: source "sales_data": missing required key "path"`},
		{"dangling_reference", `config.yaml:5:13: pipeline "sales": source "sales_dat" is not defined in sources.yaml`},
		{"bad_cron", `sources.yaml:6:15: source "sales_data": schedule "0 2 * *" is invalid: expected exactly 5 fields, found 4: [0 2 * *]`},
		{"bad_mode", `config.yaml:5:11: pipeline "sales": mode "upsert" is unknown (supported: append, replace, merge)`},
		{"merge_without_key", `config.yaml:5:11: pipeline "sales": mode merge requires key (the columns that identify a row)`},
		{"unset_env", `config.yaml:4:8: environment variable SHP_METADATA_DSN is not set (use ${SHP_METADATA_DSN:-default} to give a default)`},
		{"invalid_yaml", `sources.yaml:6:13: invalid YAML: sequence end token ']' not found`},
		{"many", strings.Join([]string{
			`config.yaml:1:10: project "quick start" is not a valid name: use letters, digits, "_" and "-", starting with a letter`,
			`config.yaml:3:9: warehouse.type "postgres" is unknown (supported: duckdb)`,
			`config.yaml:7:25: defaults.max_quarantine_ratio must be between 0 and 1, got 1.5`,
			`config.yaml:10:13: pipeline "sales": source "sales_dat" is not defined in sources.yaml`,
			`config.yaml:12:21: pipeline "sales": key column "1st" is not a valid column name: use letters, digits and "_", not starting with a digit`,
			`config.yaml:12:26: pipeline "sales": key column "ORDER_ID" is listed twice`,
			`config.yaml:13:3: pipeline "daily-sales": the target table defaults to the pipeline name, which is not a valid table name (use letters, digits and "_", not starting with a digit); set target`,
			`sources.yaml:4:13: source "sales_data": bucket "gs://example-data-bucket" must be a bucket name, not a URL or path`,
			`sources.yaml:6:13: source "sales_data": format "xml" is unknown (supported: csv, jsonl, json, parquet)`,
			`sources.yaml:7:15: source "sales_data": schedule "@dayly" is invalid: unrecognized descriptor: @dayly`,
			`sources.yaml:12:5: source "pg": give table or query, not both`,
			`sources.yaml:15:10: source "api": url "ftp://example.com/x" must be an http:// or https:// URL`,
		}, "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			p, err := LoadDir(filepath.Join("testdata", "errors", tt.dir), noEnv)
			if err == nil {
				t.Fatalf("LoadDir succeeded, want error:\n%s", tt.want)
			}
			if p != nil {
				t.Errorf("LoadDir returned a project with an error")
			}
			if err.Error() != tt.want {
				t.Errorf("LoadDir error =\n%s\nwant\n%s", err, tt.want)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != strings.Count(tt.want, "\n")+1 {
				t.Errorf("error is not an Errors with one entry per line: %#v", err)
			}
		})
	}
}

func TestLoadDirErrors(t *testing.T) {
	tests := []struct {
		name   string
		config string
		source string
		extra  map[string]string
		want   string
	}{
		// config.yaml structure
		{"empty config", "", okSource, nil, "config.yaml:1:1: missing required key \"project\"\nconfig.yaml:1:1: missing required key \"pipelines\""},
		{"config not a mapping", "- a\n", okSource, nil, `config.yaml:1:1: config.yaml must contain a mapping, got a list`},
		{"unknown top-level key", okConfig + "pipeline: x\n", okSource, nil, `config.yaml:5:1: unknown top-level key "pipeline"`},
		{"empty project", "project: \"\"\npipelines:\n  p1:\n    source: s\n", okSource, nil, `config.yaml:1:10: project must not be empty`},
		{"null project", "project:\npipelines:\n  p1:\n    source: s\n", okSource, nil, `config.yaml:1:1: project must not be empty`},
		{"project is a list", "project: [a]\npipelines:\n  p1:\n    source: s\n", okSource, nil, `config.yaml:1:10: project must be a string, got a list`},
		{"multiple documents", okConfig + "---\nproject: q\n", okSource, nil, `config.yaml:5:1: multiple YAML documents are not supported`},
		{"tab indentation", "project: p\n\tpipelines: {}\n", okSource, nil, `config.yaml:2:1: invalid YAML: found character '\t' that cannot start any token`},
		{"duplicate key", okConfig + "project: q\n", okSource, nil, `config.yaml:5:1: invalid YAML: mapping key "project" already defined at [1:1]`},
		// staging
		{"staging not a mapping", okConfig + "staging: file://x\n", okSource, nil, `config.yaml:5:10: staging must be a mapping, got "file://x"`},
		{"staging bad scheme", okConfig + "staging:\n  url: s3://b/x\n", okSource, nil, `config.yaml:6:8: staging.url "s3://b/x" has unsupported scheme "s3" (supported: file, mem, gs)`},
		{"staging no scheme", okConfig + "staging:\n  url: /tmp/x\n", okSource, nil, `config.yaml:6:8: staging.url "/tmp/x" must be a file://, mem:// or gs:// URL`},
		{"staging file without path", okConfig + "staging:\n  url: file://\n", okSource, nil, `config.yaml:6:8: staging.url "file://" has no path`},
		{"staging gs without bucket", okConfig + "staging:\n  url: gs:///x\n", okSource, nil, `config.yaml:6:8: staging.url "gs:///x" has no bucket`},
		{"staging retention not a duration", okConfig + "staging:\n  retention: 7d\n", okSource, nil, `config.yaml:6:14: staging.retention "7d" is not a duration (use a number and a unit, such as 30s, 5m or 1h)`},
		{"staging retention negative", okConfig + "staging:\n  url: mem://\n  retention: -1h\n", okSource, nil, `config.yaml:7:14: staging.retention "-1h" is not a duration (use a number and a unit, such as 30s, 5m or 1h)`},
		// warehouse and metadata
		{"warehouse unknown type", okConfig + "warehouse:\n  type: sqlite\n", okSource, nil, `config.yaml:6:9: warehouse.type "sqlite" is unknown (supported: duckdb)`},
		{"warehouse bigquery", okConfig + "warehouse:\n  type: BigQuery\n", okSource, nil, `config.yaml:6:9: warehouse.type "bigquery" is unknown (supported: duckdb)`},
		{"threads boolean", okConfig + "warehouse:\n  threads: true\n", okSource, nil, `config.yaml:6:12: warehouse.threads must be an integer, got true`},
		{"threads float", okConfig + "warehouse:\n  threads: 1.5\n", okSource, nil, `config.yaml:6:12: warehouse.threads must be an integer, got 1.5`},
		{"memory limit mapping", okConfig + "warehouse:\n  memory_limit: {gb: 1}\n", okSource, nil, `config.yaml:6:17: warehouse.memory_limit must be a string, got a mapping`},
		{"metadata unknown type", okConfig + "metadata:\n  type: mysql\n", okSource, nil, `config.yaml:6:9: metadata.type "mysql" is unknown (supported: sqlite, postgres)`},
		{"postgres without dsn", okConfig + "metadata:\n  type: postgres\n", okSource, nil, `config.yaml:5:1: metadata.dsn is required when metadata.type is postgres`},
		{"postgres with empty dsn", okConfig + "metadata:\n  type: postgres\n  dsn: ${SHP_METADATA_DSN:-}\n", okSource, nil, `config.yaml:7:3: metadata.dsn is required when metadata.type is postgres`},
		{"ratio not a number", okConfig + "defaults:\n  max_quarantine_ratio: high\n", okSource, nil, `config.yaml:6:25: defaults.max_quarantine_ratio must be a number, got "high"`},
		{"ratio negative", okConfig + "defaults:\n  max_quarantine_ratio: -1\n", okSource, nil, `config.yaml:6:25: defaults.max_quarantine_ratio must be between 0 and 1, got -1`},
		// pipelines
		{"no pipelines", "project: p\n", okSource, nil, `config.yaml:1:1: missing required key "pipelines"`},
		{"empty pipelines", "project: p\npipelines: {}\n", okSource, nil, `config.yaml:2:12: pipelines must define at least one pipeline`},
		{"null pipelines", "project: p\npipelines:\n", okSource, nil, `config.yaml:2:1: pipelines must define at least one pipeline`},
		{"pipelines list", "project: p\npipelines: [a]\n", okSource, nil, `config.yaml:2:12: pipelines must be a mapping, got a list`},
		{"pipeline not a mapping", "project: p\npipelines:\n  p1: s\n", okSource, nil, `config.yaml:3:7: pipeline "p1" must be a mapping, got "s"`},
		{"pipeline without source", "project: p\npipelines:\n  p1:\n    mode: append\n", okSource, nil, `config.yaml:3:3: pipeline "p1": missing required key "source"`},
		{"pipeline unknown key", okConfig + "    taget: t\n", okSource, nil, `config.yaml:5:5: unknown key "taget" in pipeline "p1"`},
		{"invalid pipeline name", "project: p\npipelines:\n  1p:\n    source: s\n", okSource, nil, `config.yaml:3:3: pipeline name "1p" is not valid: use letters, digits, "_" and "-", starting with a letter`},
		{"invalid target", okConfig + "    target: my-table\n", okSource, nil, `config.yaml:5:13: pipeline "p1": target "my-table" is not a valid table name: use letters, digits and "_", not starting with a digit`},
		{"key mapping", okConfig + "    mode: merge\n    key: {a: 1}\n", okSource, nil, `config.yaml:6:10: pipeline "p1": key must be a list of strings, got a mapping`},
		{"key element list", okConfig + "    key: [[a]]\n", okSource, nil, `config.yaml:5:11: pipeline "p1": key[0] must be a string, got a list`},
		{"merge with empty key", okConfig + "    mode: MERGE\n    key: []\n", okSource, nil, `config.yaml:5:11: pipeline "p1": mode merge requires key (the columns that identify a row)`},
		{"duplicate deliveries", okConfig + "    duplicate_deliveries: twice\n", okSource, nil, `config.yaml:5:27: pipeline "p1": duplicate_deliveries "twice" is unknown (skip, the default, or load)`},
		{"pipeline ratio", okConfig + "    max_quarantine_ratio: 2\n", okSource, nil, `config.yaml:5:27: pipeline "p1": max_quarantine_ratio must be between 0 and 1, got 2`},
		{"pipeline schedule", okConfig + "    schedule: every day\n", okSource, nil, `config.yaml:5:15: pipeline "p1": schedule "every day" is invalid: expected exactly 5 fields, found 2: [every day]`},
		// sources.yaml structure
		{"missing sources.yaml", okConfig, absent, nil, `sources.yaml: file not found in $DIR`},
		{"missing config.yaml", absent, okSource, nil, `config.yaml: file not found in $DIR`},
		{"config.yaml is a directory", absent, okSource, map[string]string{"config.yaml/x": ""}, `config.yaml: cannot read file: read $DIR/config.yaml: is a directory`},
		{"empty sources.yaml", okConfig, "# nothing yet\n", nil, `sources.yaml:1:1: missing required key "sources"`},
		{"sources.yaml list", okConfig, "- s\n", nil, `sources.yaml:1:1: sources.yaml must contain a mapping, got a list`},
		{"no sources", okConfig, "sources: {}\n", nil, `sources.yaml:1:10: sources must define at least one source`},
		{"source not a mapping", okConfig, "sources:\n  s: file\n", nil, `sources.yaml:2:6: source "s" must be a mapping, got "file"`},
		{"invalid source name", "project: p\npipelines:\n  p1:\n    source: s 1\n", "sources:\n  s 1:\n    type: file\n    path: x\n", nil, `sources.yaml:2:3: source name "s 1" is not valid: use letters, digits, "_" and "-", starting with a letter`},
		{"source without type", okConfig, "sources:\n  s:\n    path: x\n", nil, `sources.yaml:2:3: source "s": missing required key "type"`},
		{"unknown source type", okConfig, "sources:\n  s:\n    type: ftp\n    path: x\n", nil, `sources.yaml:3:11: source "s": source type "ftp" is unknown (supported: api, cloudsql, file, gcs, graphql, mysql, postgres)`},
		{"graphql source with a file key", okConfig, "sources:\n  s:\n    type: graphql\n    url: https://api.example.com/graphql\n    query: '{ a }'\n    path: x\n", nil, `sources.yaml:6:5: unknown key "path" in source "s" (allowed: auth, cursor_variable, failover, flatten, headers, incremental, max_pages, page_info_path, parameters, query, rate_limit, records_path, retry, schedule, schema, timeout, type, url, variables)`},
		{"sql source without table", okConfig, "sources:\n  s:\n    type: mysql\n    host: db\n", nil, `sources.yaml:2:3: source "s": missing required key "table" (or "query")`},
		{"cloudsql engine", okConfig, "sources:\n  s:\n    type: cloudsql\n    engine: oracle\n    dsn: x\n    table: t\n", nil, `sources.yaml:4:13: source "s": engine "oracle" is unknown (supported: postgres, mysql)`},
		{"gcs without bucket", okConfig, "sources:\n  s:\n    type: gcs\n    path: x/\n", nil, `sources.yaml:2:3: source "s": missing required key "bucket"`},
		{"bucket uppercase", okConfig, "sources:\n  s:\n    type: gcs\n    bucket: My_Bucket\n    path: x/\n", nil, `sources.yaml:4:13: source "s": bucket "My_Bucket" must use lowercase letters, digits, '-', '_' and '.', and start and end with a letter or digit`},
		{"bucket too short", okConfig, "sources:\n  s:\n    type: gcs\n    bucket: ab\n    path: x/\n", nil, `sources.yaml:4:13: source "s": bucket "ab" must be 3 to 222 characters long`},
		{"file with bucket", okConfig, okSource + "    bucket: b\n", nil, `sources.yaml:5:5: unknown key "bucket" in source "s" (allowed: compression, csv, format, parameters, path, schedule, schema, type)`},
		{"file with endpoint", okConfig, okSource + "    endpoint: http://x\n", nil, `sources.yaml:5:5: unknown key "endpoint" in source "s" (allowed: compression, csv, format, parameters, path, schedule, schema, type)`},
		{"gcs path is URL", okConfig, "sources:\n  s:\n    type: gcs\n    bucket: bkt\n    path: gs://bkt/x\n", nil, `sources.yaml:5:11: source "s": path "gs://bkt/x" must be an object prefix or glob inside the bucket, not a URL`},
		{"bad glob", okConfig, "sources:\n  s:\n    type: file\n    path: data/[a\n", nil, `sources.yaml:4:11: source "s": path "data/[a" is not a valid glob: syntax error in pattern`},
		{"empty path", okConfig, "sources:\n  s:\n    type: file\n    path: ''\n", nil, `sources.yaml:4:11: source "s": path must not be empty`},
		{"bad compression", okConfig, okSource + "    compression: zstd\n", nil, `sources.yaml:5:18: source "s": compression "zstd" is unknown (supported: auto, none, gzip)`},
		{"bad endpoint", okConfig, "sources:\n  s:\n    type: gcs\n    bucket: bkt\n    path: x/\n    endpoint: localhost:4443\n", nil, `sources.yaml:6:15: source "s": endpoint "localhost:4443" must be an http:// or https:// URL`},
		{"csv for parquet", okConfig, okSource + "    format: parquet\n    csv:\n      header: false\n", nil, `sources.yaml:6:5: source "s": csv options are only allowed for format csv, not parquet`},
		{"csv not a mapping", okConfig, okSource + "    csv: true\n", nil, `sources.yaml:5:10: source "s": csv must be a mapping, got true`},
		{"csv unknown key", okConfig, okSource + "    csv:\n      sep: ;\n", nil, `sources.yaml:6:7: unknown key "sep" in csv of source "s" (allowed: delimiter, header, null_values, quote)`},
		{"csv long delimiter", okConfig, okSource + "    csv: {delimiter: ab}\n", nil, `sources.yaml:5:22: source "s": csv.delimiter must be a single character, got "ab"`},
		{"csv newline quote", okConfig, okSource + "    csv: {quote: \"\\n\"}\n", nil, `sources.yaml:5:18: source "s": csv.quote must be a single character, got "\n"`},
		{"csv quote equals delimiter", okConfig, okSource + "    csv: {delimiter: \"|\", quote: \"|\"}\n", nil, `sources.yaml:5:34: source "s": csv.quote and csv.delimiter must differ, both are "|"`},
		{"csv header not bool", okConfig, okSource + "    csv:\n      header: yes\n", nil, `sources.yaml:6:15: source "s": csv.header must be true or false, got "yes"`},
		{"csv null_values mapping", okConfig, okSource + "    csv:\n      null_values: {a: b}\n", nil, `sources.yaml:6:20: source "s": csv.null_values must be a list of strings, got a mapping`},
		// YAML features
		{"undefined alias", okConfig, okSource + "    format: *nope\n", nil, `sources.yaml:5:13: source "s": format must be a string, got undefined alias *nope`},
		{"merge a scalar", okConfig, okSource + "    <<: 5\n", nil, `sources.yaml:5:9: << must merge a mapping, got 5`},
		{"unknown key in a merged anchor", okConfig + "  p2:\n    source: t\n", "sources:\n  s: &d\n    type: file\n    path: x\n    buckt: b\n  t:\n    <<: *d\n", nil, `sources.yaml:5:5: unknown key "buckt" in source "s" (allowed: compression, csv, format, parameters, path, schedule, schema, type)` + "\n" + `sources.yaml:5:5: unknown key "buckt" in source "t" (allowed: compression, csv, format, parameters, path, schedule, schema, type)`},
		{"merge a list with a scalar", okConfig, "base: &b {type: file}\n" + okSource + "    <<: [*b, 5]\n", nil, "sources.yaml:1:1: unknown top-level key \"base\"\nsources.yaml:6:14: << must merge mappings, got 5"},
		// environment references
		{"unterminated reference", okConfig, "sources:\n  s:\n    type: ${TYPE\n    path: x\n", nil, `sources.yaml:3:11: unterminated ${ (missing })`},
		// optional files
		{"quality rules list", okConfig, okSource, map[string]string{"quality_rules.yaml": "- a\n"}, `quality_rules.yaml:1:1: quality_rules.yaml must contain a mapping, got a list`},
		{"quality rules bad yaml", okConfig, okSource, map[string]string{"quality_rules.yaml": "a: [b\n"}, `quality_rules.yaml:1:4: invalid YAML: sequence end token ']' not found`},
		{"self healing unset env", okConfig, okSource, map[string]string{"self_healing.yaml": "# retries\nretries: ${RETRIES}\n"}, `self_healing.yaml:2:10: environment variable RETRIES is not set (use ${RETRIES:-default} to give a default)`},
		{"self healing undefined alias", okConfig, okSource, map[string]string{"self_healing.yaml": "dry_run: *nope\n"}, `self_healing.yaml:1:10: dry_run must be true or false, got undefined alias *nope`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"config.yaml": tt.config, "sources.yaml": tt.source}
			for k, v := range tt.extra {
				files[k] = v
			}
			dir := writeProject(t, files)
			_, err := LoadDir(dir, noEnv)
			want := strings.ReplaceAll(tt.want, "$DIR", dir)
			if err == nil {
				t.Fatalf("LoadDir succeeded, want error:\n%s", want)
			}
			if err.Error() != want {
				t.Errorf("LoadDir error =\n%s\nwant\n%s", err, want)
			}
		})
	}
}

func TestLoadDirAccepted(t *testing.T) {
	tests := []struct {
		name   string
		config string
		source string
		extra  map[string]string
		check  func(t *testing.T, p *Project)
	}{
		{"defaults", okConfig, okSource, nil, func(t *testing.T, p *Project) {
			want := Config{
				Project:   "p",
				Staging:   Staging{URL: DefaultStagingURL},
				Warehouse: Warehouse{Type: WarehouseDuckDB, Path: DefaultWarehousePath, MemoryLimit: "192MB"},
				Metadata:  Metadata{Type: MetadataSQLite, Path: DefaultMetadataPath},
				Defaults:  Defaults{MaxQuarantineRatio: DefaultMaxQuarantineRatio},
				API:       defaultAPI(),
				Optimization: Optimization{MinRows: DefaultOptMinRows, MinQueries: DefaultOptMinQueries,
					PartitionShare: DefaultOptPartitionShare, ClusterShare: DefaultOptClusterShare,
					MinSpeedup: DefaultOptMinSpeedup, MaxSlowdown: DefaultOptMaxSlowdown, MinQueryGain: DefaultOptMinQueryGain, PricePerTiB: DefaultPricePerTiB,
					SlotHourPrice: DefaultSlotHourPrice},
			}
			got := p.Config
			got.Pipelines = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Config = %+v, want %+v", got, want)
			}
			pl := p.Config.Pipelines["p1"]
			if pl.Target != "p1" || pl.Mode != ModeAppend || pl.Schedule != "" || pl.Key != nil {
				t.Errorf("pipeline = %+v", *pl)
			}
		}},
		{"postgres metadata and memory stores", okConfig + "staging:\n  url: mem://\nwarehouse:\n  path: \":memory:\"\nmetadata:\n  type: postgres\n  dsn: postgres://u@h/db\n", okSource, nil, func(t *testing.T, p *Project) {
			if p.StagingURL() != "mem://" || p.WarehousePath() != ":memory:" || p.MetadataPath() != "" || p.Config.Metadata.DSN != "postgres://u@h/db" {
				t.Errorf("got staging %q, warehouse %q, metadata %q, dsn %q", p.StagingURL(), p.WarehousePath(), p.MetadataPath(), p.Config.Metadata.DSN)
			}
		}},
		{"staging retention", okConfig + "staging:\n  retention: 168h\n", okSource, nil, func(t *testing.T, p *Project) {
			if p.Config.Staging.Retention != 168*time.Hour || p.Config.Staging.URL != DefaultStagingURL {
				t.Errorf("staging = %+v", p.Config.Staging)
			}
		}},
		{"gs staging and absolute paths", okConfig + "staging:\n  url: gs://bkt/prefix\nwarehouse:\n  path: /var/lib/shp/w.duckdb\n", okSource, nil, func(t *testing.T, p *Project) {
			if p.StagingURL() != "gs://bkt/prefix" || p.WarehousePath() != filepath.Clean("/var/lib/shp/w.duckdb") {
				t.Errorf("got staging %q, warehouse %q", p.StagingURL(), p.WarehousePath())
			}
		}},
		{"scalars as strings", "project: p\npipelines:\n  p1:\n    source: s\n    description: 2024\n    mode: merge\n    key: order_id\n    max_quarantine_ratio: 1\n", okSource, nil, func(t *testing.T, p *Project) {
			pl := p.Config.Pipelines["p1"]
			if pl.Description != "2024" || !reflect.DeepEqual(pl.Key, []string{"order_id"}) || pl.MaxQuarantineRatio != 1 {
				t.Errorf("pipeline = %+v", *pl)
			}
		}},
		{"anchors, aliases and merge keys", okConfig + "  p2:\n    source: t\n",
			"sources:\n  s: &d\n    type: gcs\n    bucket: shared-bucket\n    path: base/\n    format: &fmt CSV\n  t:\n    <<: [*d]\n    path: t/\n    format: *fmt\n",
			nil, func(t *testing.T, p *Project) {
				s, u := p.Sources["s"], p.Sources["t"]
				if s.Type != SourceGCS || s.Bucket != "shared-bucket" || s.Path != "base/" || s.Format != FormatCSV {
					t.Errorf("s = %+v", *s)
				}
				if u.Type != SourceGCS || u.Bucket != "shared-bucket" || u.Path != "t/" || u.Format != FormatCSV {
					t.Errorf("t = %+v", *u)
				}
			}},
		{"empty strings mean unset", okConfig + "    target: \"\"\n    schedule: ''\nwarehouse:\n  path: ${WAREHOUSE:-}\n",
			okSource + "    format: ${FORMAT:-}\n    compression: \"\"\n    schema:\n    csv: {delimiter: \"\"}\n", nil, func(t *testing.T, p *Project) {
				pl, s := p.Config.Pipelines["p1"], p.Sources["s"]
				if pl.Target != "p1" || pl.Schedule != "" || p.Config.Warehouse.Path != DefaultWarehousePath {
					t.Errorf("pipeline = %+v, warehouse = %+v", *pl, p.Config.Warehouse)
				}
				if s.Format != "" || s.Compression != CompressionAuto || s.Schema != "" || s.CSV.Delimiter != "" {
					t.Errorf("source = %+v", *s)
				}
			}},
		{"empty optional files", okConfig, okSource, map[string]string{"quality_rules.yaml": "", "self_healing.yaml": "# nothing\n"}, func(t *testing.T, p *Project) {
			if p.QualityRules != nil || p.SelfHealing != nil {
				t.Errorf("optional files = %v, %v; want nil", p.QualityRules, p.SelfHealing)
			}
		}},
		{"memory limit by default", okConfig, okSource, nil, func(t *testing.T, p *Project) {
			if got := p.Config.Warehouse.MemoryLimit; got != "192MB" {
				t.Errorf("memory_limit = %q, want DuckDB's default for shp, 192MB", got)
			}
		}},
		{"memory limit empty: the default", okConfig + "warehouse:\n  memory_limit: \"\"\n", okSource, nil, func(t *testing.T, p *Project) {
			if got := p.Config.Warehouse.MemoryLimit; got != "192MB" {
				t.Errorf("memory_limit = %q, want 192MB", got)
			}
		}},
		{"block scalar and tag", okConfig + "warehouse:\n  memory_limit: !!str 512\n", okSource + "    schedule: >-\n      @daily\n", nil, func(t *testing.T, p *Project) {
			if got := p.Config.Warehouse.MemoryLimit; got != "512" {
				t.Errorf("memory_limit = %q", got)
			}
			if got := p.Sources["s"].Schedule; got != "@daily" {
				t.Errorf("schedule = %q", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"config.yaml": tt.config, "sources.yaml": tt.source}
			for k, v := range tt.extra {
				files[k] = v
			}
			p, err := LoadDir(writeProject(t, files), noEnv)
			if err != nil {
				t.Fatalf("LoadDir: %v", err)
			}
			tt.check(t, p)
		})
	}
}

func TestLoadDirNotADirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte(okConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, want string
		notExist        bool
	}{
		{"missing", filepath.Join(dir, "nope"), "load config: stat " + filepath.Join(dir, "nope") + ": no such file or directory", true},
		{"file", file, "load config: " + file + " is not a directory", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadDir(tt.dir, WithLookupEnv(nil))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("LoadDir error = %v, want %s", err, tt.want)
			}
			if errors.Is(err, fs.ErrNotExist) != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v", !tt.notExist)
			}
		})
	}
}

func TestOrchestrationSettings(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  s:\n    type: file\n    path: x\n"), 0o644)
	write := func(cfg string) (*Project, error) {
		os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: p\npipelines:\n"+cfg), 0o644)
		return LoadDir(dir, noEnv)
	}
	p, err := write(`  a:
    source: s
    schedule: "0 2 * * *"
    timezone: Europe/Paris
    catchup: true
    retries: {attempts: 3, initial_interval: 10s, max_interval: 1m}
    timeout: 30m
    max_active_runs: 2
    event_time: ordered_at
  b:
    source: s
    depends_on: [a]
`)
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.Config.Pipelines["a"], p.Config.Pipelines["b"]
	if a.Timezone != "Europe/Paris" || !a.Catchup || a.Retries.Attempts != 3 || a.Retries.InitialInterval != 10*time.Second ||
		a.Retries.MaxInterval != time.Minute || a.Timeout != 30*time.Minute || a.MaxActiveRuns != 2 || a.EventTime != "ordered_at" {
		t.Errorf("a: %+v", a)
	}
	if b.Retries.Attempts != 1 || b.MaxActiveRuns != 1 || b.Catchup || len(b.DependsOn) != 1 {
		t.Errorf("b defaults: %+v", b)
	}
	for _, c := range []struct{ cfg, want string }{
		{"  a: {source: s, depends_on: [b]}\n  b: {source: s, depends_on: [c]}\n  c: {source: s, depends_on: [a]}\n",
			"pipelines depend on each other in a cycle: a -> b -> c -> a"},
		{"  a: {source: s, depends_on: [a]}\n", `pipeline "a" depends on itself`},
		{"  a: {source: s, depends_on: [zz]}\n", `depends_on "zz" is not a pipeline in config.yaml`},
		{"  a: {source: s, timezone: Mars/Olympus}\n", `timezone "Mars/Olympus" is unknown`},
		{"  a: {source: s, timeout: soon}\n", `timeout "soon" is not a duration`},
		{"  a: {source: s, retries: {attempts: 0}}\n", "retries.attempts must be 1 or more"},
		{"  a: {source: s, max_active_runs: 0}\n", "max_active_runs must be 1 or more"},
		{"  a: {source: s, event_time: \"order date\"}\n", `event_time "order date" is not a valid column name`},
	} {
		if _, err := write(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestAPIConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  s:\n    type: file\n    path: data/\n"), 0o644)
	write := func(api string) (*Project, error) {
		os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: p\npipelines:\n  a: {source: s}\n"+api), 0o644)
		return LoadDir(dir, noEnv)
	}
	p, err := write(`api:
  listen: 127.0.0.1:8080
  cors_origins: [https://ui.example.com]
  rate_limit: {requests_per_second: 5, burst: 10}
  max_body_bytes: 4096
  oidc:
    issuer: https://id.example.com/
    audience: shp
    roles_claim: groups
    role_map: {data-eng: operator, platform: admin}
    clock_skew: 30s
    client_id: shp-ui
    client_secret_env: SHP_OIDC_SECRET
    redirect_url: https://shp.example.com/auth/callback
`)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Config.API
	if a.Listen != "127.0.0.1:8080" || a.RateLimit != 5 || a.RateBurst != 10 || a.MaxBodyBytes != 4096 || len(a.CORSOrigins) != 1 ||
		a.OIDC.Issuer != "https://id.example.com/" || a.OIDC.RolesClaim != "groups" || a.OIDC.RoleMap["platform"] != "admin" || a.OIDC.ClockSkew != 30*time.Second ||
		a.OIDC.ClientID != "shp-ui" || a.OIDC.ClientSecretEnv != "SHP_OIDC_SECRET" || a.OIDC.RedirectURL != "https://shp.example.com/auth/callback" {
		t.Fatalf("api %+v", a)
	}
	if p, err = write(""); err != nil || p.Config.API.RateLimit != DefaultAPIRate || p.Config.API.OIDC.RolesClaim != "roles" || p.Config.API.Listen != "" {
		t.Fatalf("defaults: %+v %v", p.Config.API, err)
	}
	for _, c := range []struct{ api, want string }{
		{"api: {listen: 8080}\n", "must be host:port"},
		{"api: {tls_cert: c.pem}\n", "go together"},
		{"api: {rate_limit: {burst: 0}}\n", "burst must be 1 or more"},
		{"api: {oidc: {audience: shp}}\n", `missing required key "api.oidc.issuer"`},
		{"api: {oidc: {issuer: id.example.com, audience: shp}}\n", "must be an https:// URL"},
		{"api: {oidc: {issuer: http://id.example.com, audience: shp}}\n", "http:// only on this machine"},
		{"api: {oidc: {issuer: https://x, audience: shp, role_map: {g: root}}}\n", `"root" is not a role`},
		{"api: {oidc: {issuer: https://x, audience: shp, clock_skew: 1h}}\n", "clock_skew must be from 0s to 5m"},
		{"api: {oidc: {issuer: https://x, audience: shp, redirect_url: https://shp.example.com/callback}}\n", "ending in /auth/callback"},
		{"api: {oidc: {issuer: https://x, audience: shp, redirect_url: shp.example.com/auth/callback}}\n", "ending in /auth/callback"},
		{"api: {oidc: {issuer: https://x, audience: shp, redirect_url: http://shp.example.com/auth/callback}}\n", "http:// only on this machine"},
		{"api: {oidc: {issuer: https://x, audience: shp, client_secret: s3cret}}\n", `unknown key "client_secret"`},
		{"api: {port: 1}\n", `unknown key "port"`},
	} {
		if _, err := write(c.api); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.api, err, c.want)
		}
	}
}

// TestStagingURLEscapesTheFolder: a project folder named with URL syntax
// gives a staging URL that opens that folder.
func TestStagingURLEscapesTheFolder(t *testing.T) {
	for _, c := range []struct{ dir, want string }{
		{"/tmp/a%d", "file:///tmp/a%25d/.shp/staging"},
		{"/tmp/a b", "file:///tmp/a%20b/.shp/staging"},
		{"/tmp/a?b#c", "file:///tmp/a%3Fb%23c/.shp/staging"},
		{"/tmp/plain", "file:///tmp/plain/.shp/staging"},
	} {
		p := &Project{Dir: c.dir, Config: Config{Staging: Staging{URL: "file://.shp/staging"}}}
		if got := p.StagingURL(); got != c.want {
			t.Errorf("%s: %s, want %s", c.dir, got, c.want)
		}
	}
}

func TestOptimizationConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  s:\n    type: file\n    path: data/\n"), 0o644)
	write := func(opt string) (*Project, error) {
		os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: p\npipelines:\n  a: {source: s}\n"+opt), 0o644)
		return LoadDir(dir, noEnv)
	}
	p, err := write("optimization:\n  min_rows: 1000\n  min_queries: 2\n  partition_share: 0.6\n  cluster_share: 0.1\n")
	if err != nil {
		t.Fatal(err)
	}
	if o := p.Config.Optimization; o.MinRows != 1000 || o.MinQueries != 2 || o.PartitionShare != 0.6 || o.ClusterShare != 0.1 {
		t.Errorf("optimization %+v", o)
	}
	if o := p.Config.Optimization; o.MinSpeedup != DefaultOptMinSpeedup || o.MaxSlowdown != DefaultOptMaxSlowdown || o.MinQueryGain != DefaultOptMinQueryGain {
		t.Errorf("default trial thresholds %+v", o)
	}
	p, err = write("optimization:\n  min_speedup: 1.5\n  max_slowdown: 1\n  min_query_gain: 3.5\n  price_per_tib: 0\n")
	if err != nil {
		t.Fatal(err)
	}
	if o := p.Config.Optimization; o.MinSpeedup != 1.5 || o.MaxSlowdown != 1 || o.MinQueryGain != 3.5 || o.PricePerTiB != 0 {
		t.Errorf("trial thresholds %+v", o)
	}
	p, err = write("optimization:\n  slot_hour_price: 0.06\n  auto_apply: [index, sort]\n  schedule: '0 3 * * *'\n")
	if err != nil {
		t.Fatal(err)
	}
	if o := p.Config.Optimization; o.SlotHourPrice != 0.06 || !slices.Equal(o.AutoApply, []string{"index", "sort"}) || o.Schedule != "0 3 * * *" {
		t.Errorf("slot price and auto_apply %+v", o)
	}
	if p, err = write("optimization:\n  auto_apply: partition\n"); err != nil || !slices.Equal(p.Config.Optimization.AutoApply, []string{"partition"}) {
		t.Errorf("auto_apply as one string: %v", err)
	}
	for _, c := range []struct{ opt, want string }{
		{"optimization: {min_rows: -1}\n", "min_rows must be 0 or more"},
		{"optimization: {min_queries: 0}\n", "min_queries must be 1 or more"},
		{"optimization: {cluster_share: 1.5}\n", "cluster_share"},
		{"optimization: {min_speedup: 0}\n", "min_speedup must be a factor above 0"},
		{"optimization: {max_slowdown: -1.1}\n", "max_slowdown must be a factor above 0"},
		{"optimization: {min_query_gain: fast}\n", "min_query_gain"},
		{"optimization: {price_per_tib: -6.25}\n", "price_per_tib must be 0 or more"},
		{"optimization: {rows: 5}\n", `unknown key "rows"`},
		{"optimization: {slot_hour_price: -1}\n", "slot_hour_price must be 0 or more"},
		{"optimization:\n  auto_apply: [index, drop_table]\n", `config.yaml:5:23: optimization.auto_apply: "drop_table" is not a kind of change`},
		{"optimization: {auto_apply: [index, {kind: sort}]}\n", "auto_apply[1] must be a string"},
		{"optimization: {auto_apply: 3}\n", "auto_apply"},
		{"optimization:\n  schedule: 'every night'\n", `config.yaml:5:13: schedule "every night" is invalid`},
	} {
		if _, err := write(c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.opt, err, c.want)
		}
	}
}

func TestEventsConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  s:\n    type: file\n    path: data/\n"), 0o644)
	write := func(ev string) (*Project, error) {
		os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: p\npipelines:\n  a: {source: s}\n"+ev), 0o644)
		return LoadDir(dir, noEnv)
	}
	p, err := write("events:\n  subscription: projects/my-project/subscriptions/landing-objects\n")
	if err != nil || p.Config.Events.Subscription != "projects/my-project/subscriptions/landing-objects" {
		t.Fatalf("events %+v %v", p, err)
	}
	for _, ev := range []string{
		"events: {subscription: landing-objects}\n",
		"events: {subscription: projects/p/subscriptions/x}\n",
		"events: {subscription: 'projects/my-project/topics/landing'}\n",
	} {
		if _, err := write(ev); err == nil || !strings.Contains(err.Error(), "must be a Pub/Sub subscription's full name") {
			t.Errorf("%s: %v", ev, err)
		}
	}
	if _, err := write("events: {topic: t}\n"); err == nil || !strings.Contains(err.Error(), `unknown key "topic"`) {
		t.Errorf("an unknown key: %v", err)
	}
}
