// Package config loads and validates a shp project's configuration folder:
// config.yaml (project, storage and pipelines), sources.yaml (where data
// comes from), and the optional quality_rules.yaml and self_healing.yaml.
//
// Before parsing, ${VAR} and ${VAR:-default} references are replaced by
// environment variables ($$ is a literal $). Every problem is reported with
// the file, line and column it comes from, and all problems are reported
// at once as an Errors value:
//
//	sources.yaml:7:5: unknown key "buckt" in source "sales_data"
//
// LoadDir checks the structure of the files; Project.Check additionally
// checks the files they refer to, such as table schemas.
package config

import (
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/params"
	"github.com/shp-dev/shp/internal/warehouse"
)

// File names of a project's configuration folder.
const (
	configFile       = "config.yaml"
	sourcesFile      = "sources.yaml"
	qualityRulesFile = "quality_rules.yaml"
	selfHealingFile  = "self_healing.yaml"
)

// Warehouse and metadata store types. The warehouse types are those
// registered (see package spec); WarehouseDuckDB is the default.
const (
	WarehouseDuckDB  = "duckdb"   // Local DuckDB database file.
	MetadataSQLite   = "sqlite"   // Local SQLite database file.
	MetadataPostgres = "postgres" // PostgreSQL server named by a DSN.
)

// Pipeline load modes.
const (
	ModeAppend  = "append"  // Add the new rows to the table.
	ModeReplace = "replace" // Replace the table's contents.
	ModeMerge   = "merge"   // Upsert rows by the pipeline's key columns.
)

// Source types shp comes with. The types sources.yaml accepts, and their
// keys, are those registered (see package spec), by the packages that
// implement them.
const (
	SourceGCS  = "gcs"  // Google Cloud Storage objects.
	SourceFile = "file" // Local files.
	// Extracting sources: databases and APIs whose settings live in
	// Source.Settings and are checked by their connector.
	SourcePostgres = "postgres" // A PostgreSQL table or query.
	SourceMySQL    = "mysql"    // A MySQL or MariaDB table or query.
	SourceCloudSQL = "cloudsql" // Cloud SQL: postgres or mysql by its engine key.
	SourceAPI      = "api"      // A REST API.
	SourceGraphQL  = "graphql"  // A GraphQL API.
)

// Source data formats. An empty Format means the format is inferred from
// each object's file extension at run time.
const (
	FormatCSV     = "csv"     // Comma-separated values; see CSVOptions.
	FormatJSONL   = "jsonl"   // One JSON object per line.
	FormatJSON    = "json"    // A JSON array of objects.
	FormatParquet = "parquet" // Apache Parquet.
)

// Source compressions.
const (
	CompressionAuto = "auto" // Inferred from each object's extension.
	CompressionNone = "none" // Not compressed.
	CompressionGzip = "gzip" // Gzip-compressed.
)

// Default values of optional settings.
const (
	DefaultStagingURL = "file://.shp/staging" // Staging.URL
	// DefaultWarehousePath is the DuckDB warehouse's Warehouse.Path, the
	// default its spec declares.
	DefaultWarehousePath      = ".shp/warehouse.duckdb"
	DefaultMetadataPath       = ".shp/metadata.db" // Metadata.Path for sqlite
	DefaultMaxQuarantineRatio = 0.1                // Defaults.MaxQuarantineRatio
)

// Project is a loaded configuration folder.
type Project struct {
	// Dir is the absolute path of the configuration folder. Relative
	// paths in the configuration are relative to it.
	Dir string
	// Config is the content of config.yaml.
	Config Config
	// Sources are the sources of sources.yaml by name.
	Sources map[string]*Source
	// QualityRules is the raw content of quality_rules.yaml (nil when
	// the file is absent or empty).
	QualityRules map[string]any
	// SelfHealing is the raw content of self_healing.yaml (nil when the
	// file is absent or empty).
	SelfHealing map[string]any
	// Monitoring is the raw content of monitoring.yaml (nil when the file
	// is absent or empty), checked by the check internal/monitor
	// registers.
	Monitoring map[string]any
}

// Config is the content of config.yaml, with defaults applied. Paths are as
// written; use the Project methods to resolve them.
type Config struct {
	// Project is the project's name.
	Project string
	// Staging is where raw objects are staged before loading.
	Staging Staging
	// Warehouse is the database tables are loaded into.
	Warehouse Warehouse
	// Metadata is the database that records runs and their state.
	Metadata Metadata
	// Defaults are settings pipelines inherit.
	Defaults Defaults
	// Pipelines are the project's pipelines by name.
	Pipelines map[string]*Pipeline
	// Lineage configures where OpenLineage events go besides the
	// metadata store.
	Lineage Lineage
	// Optimization holds the optimisation layer's thresholds.
	Optimization Optimization
	// Events are the notifications that start runs (shp serve).
	Events Events
	// API configures the REST API that shp serve serves.
	API API
}

// API configures the REST API.
type API struct {
	// Listen is the address shp serve serves the API on ("" for no API),
	// e.g. "127.0.0.1:8080".
	Listen string
	// TLSCert and TLSKey are PEM files; with both the API serves HTTPS.
	TLSCert, TLSKey string
	// CORSOrigins may call the API from a browser ("*" for any).
	CORSOrigins []string
	// RateLimit is each caller's steady requests per second (0 for no
	// limit), RateBurst how many it may send at once.
	RateLimit float64
	RateBurst int
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// OIDC verifies OAuth 2.0 bearer tokens (JWTs); empty Issuer for API
	// keys only.
	OIDC OIDC
	// TrustedProxies are the addresses (single ones, or CIDR ranges) of
	// reverse proxies in front of the API: only when the direct peer is
	// one of them is the client's address read from X-Forwarded-For (its
	// rightmost hop that is not a trusted proxy).
	TrustedProxies []netip.Prefix
	// AuditRetention is how long audit entries are kept (0 for ever).
	AuditRetention time.Duration
	// AccessLog writes a structured log line per request to stderr, as
	// shp serve --verbose does.
	AccessLog bool
}

// OIDC configures the OpenID Connect issuer whose tokens the API takes.
type OIDC struct {
	// Issuer is the issuer URL (its discovery document is read at start).
	Issuer string
	// Audience is the client id tokens must be issued for.
	Audience string
	// RolesClaim names the claim (a string or a list of strings) that
	// carries the caller's groups or roles; "roles" by default.
	RolesClaim string
	// RoleMap maps a claim value to a role (viewer, operator, admin);
	// the strongest match wins. A value that is a role's name maps to it.
	RoleMap map[string]string
	// ClockSkew is the leeway for exp and nbf; at most 5 minutes.
	ClockSkew time.Duration
	// ClientID is the web UI's client at the provider, for its sign-in
	// (the authorization-code flow with PKCE); Audience when empty.
	ClientID string
	// ClientSecretEnv names the environment variable holding the client's
	// secret; empty for a public client (PKCE alone).
	ClientSecretEnv string
	// RedirectURL is where the provider sends the browser back: shp
	// serve's address and /auth/callback. Empty: the web UI offers no
	// OpenID Connect sign-in.
	RedirectURL string
}

// Roles are the REST API's roles, weakest first: a viewer reads, an
// operator also triggers runs and decides healing actions, an admin also
// manages rules and keys.
var Roles = []string{"viewer", "operator", "admin"}

// API defaults.
const (
	DefaultAPIMaxBody = 1 << 20
	DefaultAPIRate    = 20
	DefaultAPIBurst   = 40
	DefaultRolesClaim = "roles"
	DefaultOIDCSkew   = time.Minute
	MaxOIDCSkew       = 5 * time.Minute
	// DefaultAuditRetention keeps audit entries 90 days.
	DefaultAuditRetention = 90 * 24 * time.Hour
)

// Events configures event-driven runs: shp serve subscribes to a Pub/Sub
// subscription of Cloud Storage notifications and runs the pipelines
// whose gcs source an object that arrived matches.
type Events struct {
	// Subscription is projects/PROJECT/subscriptions/NAME; empty for none.
	Subscription string
}

// Optimization holds the thresholds of the optimisation layer's rules
// (internal/optimize).
type Optimization struct {
	// MinRows: no layout change for a table with fewer rows.
	MinRows int
	// MinQueries: no layout change for a table read fewer times.
	MinQueries int
	// PartitionShare: the part of a table's queries that must filter a
	// date column by range to partition (or sort) by it.
	PartitionShare float64
	// ClusterShare: the part that must filter a column by equality to
	// cluster (or sort) by it.
	ClusterShare float64
	// MinSpeedup, MaxSlowdown and MinQueryGain are what a trial must
	// show: the replayed queries MinSpeedup times as fast in all (or one
	// MinQueryGain times as fast), none more than MaxSlowdown times as
	// slow.
	MinSpeedup   float64
	MaxSlowdown  float64
	MinQueryGain float64
	// PricePerTiB prices the bytes the warehouse bills, in dollars per
	// TiB (BigQuery on-demand: 6.25); 0 leaves runs unpriced.
	PricePerTiB float64
	// SlotHourPrice prices a BigQuery slot-hour of capacity (editions,
	// pay as you go: Standard 0.04, Enterprise 0.06), to weigh capacity
	// against on-demand pricing.
	SlotHourPrice float64
	// Schedule is a cron schedule (UTC) on which shp serve runs the rules
	// over the recorded queries, tries what they recommend and applies
	// what AutoApply allows; empty (the default): only when asked.
	Schedule string
	// AutoApply lists the kinds of change (index, sort, partition,
	// cluster, type) applied without a person once their trial shows the
	// gain; empty (the default): every change waits for someone to apply
	// it. A type change narrows what later loads accept (a value too wide
	// is quarantined): name it only when that is wanted.
	AutoApply []string
}

// Optimization defaults.
const (
	DefaultOptMinRows        = 1_000_000
	DefaultOptMinQueries     = 5
	DefaultOptPartitionShare = 0.5
	DefaultOptClusterShare   = 0.2
	DefaultOptMinSpeedup     = 1.2
	DefaultOptMaxSlowdown    = 1.1
	DefaultOptMinQueryGain   = 2.0
	// DefaultPricePerTiB is BigQuery's on-demand price in dollars per TiB
	// billed.
	DefaultPricePerTiB = 6.25
	// DefaultSlotHourPrice is BigQuery Standard edition's pay-as-you-go
	// price of a slot-hour in dollars.
	DefaultSlotHourPrice = 0.04
)

// AutoApplyKinds are the kinds of change optimization.auto_apply may
// name.
var AutoApplyKinds = []string{"index", "sort", "partition", "cluster", "type"}

// Lineage configures OpenLineage event delivery.
type Lineage struct {
	// URL is an OpenLineage HTTP endpoint (Marquez: .../api/v1/lineage);
	// empty to keep events in the metadata store only.
	URL string
	// APIKeyEnv names the environment variable holding a bearer token.
	APIKeyEnv string
	// Namespace is the jobs' namespace; the project name by default.
	Namespace string
}

// Staging configures the staging area.
type Staging struct {
	// URL is a file://, mem:// or gs://bucket/prefix URL. A relative
	// file:// path is relative to the project directory.
	URL string
	// Retention is how long staged objects (copied files, extracted
	// chunks) are kept: a successful run deletes its pipeline's objects
	// older than this. 0, the default, keeps them for ever.
	Retention time.Duration
}

// Warehouse configures the warehouse database. Its keys are those the
// spec registered for its type declares, with their defaults applied: the
// ones named path, memory_limit and threads fill the fields of those
// names, the others Settings.
type Warehouse struct {
	// Type is a registered warehouse type; WarehouseDuckDB by default.
	Type string
	// Path is the database file, relative to the project directory
	// unless absolute.
	Path string
	// MemoryLimit is the database's memory limit, e.g. "1GB"; empty for
	// the database's default.
	MemoryLimit string
	// Threads is the number of threads the database may use; 0 for the
	// database's default.
	Threads int
	// Settings are the warehouse's other keys, by name: a string, int,
	// float64, bool, []string or map[string]any as its spec types them;
	// nil when it has none.
	Settings map[string]any
}

// Metadata configures the metadata store.
type Metadata struct {
	// Type is MetadataSQLite or MetadataPostgres.
	Type string
	// Path is the SQLite database file, relative to the project directory
	// unless absolute. Empty for postgres.
	Path string
	// DSN is the PostgreSQL connection string; required for postgres.
	DSN string
}

// Defaults are project-wide settings that pipelines may override.
type Defaults struct {
	// MaxQuarantineRatio is the largest fraction of a run's rows that may
	// be quarantined before the run fails, between 0 and 1.
	MaxQuarantineRatio float64
	// BytesBudget is the pipeline's bytes budget when it sets none (see
	// Pipeline.BytesBudget); 0 for none.
	BytesBudget int64
}

// What a pipeline does with a re-delivered object (duplicate_deliveries).
const (
	DuplicatesSkip = "skip"
	DuplicatesLoad = "load"
)

// Pipeline loads one source into one warehouse table.
type Pipeline struct {
	// Name is the pipeline's key in config.yaml.
	Name string
	// Description is free text.
	Description string
	// Source is the name of the source in sources.yaml.
	Source string
	// Target is the warehouse table name; it defaults to Name.
	Target string
	// Mode is ModeAppend, ModeReplace or ModeMerge. Unset, it is
	// ModeReplace for a source that reads everything on every run (see
	// Source.RereadsAll) and ModeAppend otherwise.
	Mode string
	// Key are the columns that identify a row; required for ModeMerge.
	Key []string
	// MaxQuarantineRatio is the pipeline's own setting or, when it has
	// none, Defaults.MaxQuarantineRatio.
	MaxQuarantineRatio float64
	// Schedule is the pipeline's own cron schedule or, when it has none,
	// its source's schedule. Empty means the pipeline is only run on
	// demand.
	Schedule string
	// Timezone is the IANA zone the schedule is read in; empty for UTC.
	Timezone string
	// Catchup runs every interval missed while shp was not running;
	// without it only the latest missed interval runs.
	Catchup bool
	// DependsOn are pipelines whose run for the same logical date must
	// succeed before this one starts.
	DependsOn []string
	// Retries say how often a failed run is tried again.
	Retries Retries
	// Timeout bounds one attempt of a run; 0 for none.
	Timeout time.Duration
	// MaxActiveRuns is how many runs of the pipeline may run at once.
	MaxActiveRuns int
	// WaitForData is how long a run that finds no new objects waits for
	// late data, listing again every WaitPoll; 0 does not wait.
	WaitForData, WaitPoll time.Duration
	// EventTime is the column that says when a row's event happened (a
	// DATE or timestamp); each run records how old the newest one is,
	// and detection flags data later than usual. Empty for none.
	EventTime string
	// DuplicateDeliveries says what happens to an object whose content is
	// byte for byte one the pipeline loaded already under another name:
	// DuplicatesSkip (the default) records it as de-duplicated without
	// loading it, DuplicatesLoad loads it again.
	DuplicateDeliveries string
	// Design is the target table's layout (partition_by, cluster_by,
	// ...), which a warehouse that has such layouts (BigQuery) applies
	// when a commit creates the target; nil when the pipeline sets none.
	// Granularity is GranularityDay when partition_by sets none.
	Design *warehouse.TableDesign
	// BytesBudget bounds the bytes a run's validation queries may read,
	// as the warehouse estimates them before running each (a dry run):
	// a query that would take the run over it fails the run instead.
	// The pipeline's own setting or Defaults.BytesBudget; 0 for none.
	BytesBudget int64

	at         pos   // the pipeline's key in config.yaml
	sourcePos  pos   // the source value
	modePos    pos   // the mode value; zero when mode is not set
	keyPos     []pos // the elements of key
	dependsPos []pos // the elements of depends_on

	design designPos // where the design's columns are written
}

// ModeImplied reports whether the pipeline's mode is a default rather
// than written in config.yaml.
func (p *Pipeline) ModeImplied() bool { return p.modePos == pos{} }

// Retries configure the retries of a failed run: Attempts in all (1 for
// no retry), waiting InitialInterval, doubling with jitter up to
// MaxInterval. Only errors worth retrying (transient source, network and
// database errors) are retried.
type Retries struct {
	Attempts        int
	InitialInterval time.Duration
	MaxInterval     time.Duration
}

// Source is a place data is read from.
type Source struct {
	// Name is the source's key in sources.yaml.
	Name string
	// Type is a registered source type: SourceGCS, SourceFile or an
	// extracting type (see IsExtracting).
	Type string
	// Bucket is the GCS bucket name (gcs only).
	Bucket string
	// Path is an object prefix such as "sales/daily/" or a glob such as
	// "data/*.csv.gz". For file sources it is relative to the project
	// directory unless absolute; see LocalPath.
	Path string
	// Format is one of the Format constants, or empty to infer it from
	// each object's extension.
	Format string
	// Compression is one of the Compression constants.
	Compression string
	// Schedule is a cron expression (5 fields or a descriptor such as
	// "@daily"); empty for none.
	Schedule string
	// Schema is the path of a BigQuery JSON schema file as written,
	// relative to the project directory; see SchemaPath.
	Schema string
	// Endpoint overrides the GCS API endpoint, e.g. for an emulator.
	Endpoint string
	// CSV are the options for reading CSV data.
	CSV CSVOptions
	// Failover names another source of the same type that holds the same
	// data (a replica): when this one stays unavailable after its retries,
	// before it delivered anything, the extraction continues from it.
	Failover string
	// Settings are an extracting source's own keys (connection, query,
	// pagination, auth ...), checked against its spec, with its defaults
	// applied, for its connector to use; for an object source, its own
	// keys besides bucket, path and endpoint (nil when it has none).
	Settings map[string]any
	// Secrets are the values ${VAR} references put where credentials
	// travel in this source (see sourceSecrets): messages about the
	// source mask them wherever they appear.
	Secrets []string
	// Parameters are the run parameters the source declares
	// (parameters: in sources.yaml), by name; nil when it declares none,
	// and then a parameter is an undeclared string (see Templated).
	Parameters map[string]params.Decl
	// Bound are the parameters' values of a source that Templated
	// returned, which a SQL query binds where it refers to them; nil in
	// a loaded source.
	Bound map[string]params.Value

	dir       string // project directory
	at        pos    // the source's key in sources.yaml
	schemaPos pos    // the schema value
	failPos   pos    // the failover value
}

// CSVOptions configure how CSV data is read.
type CSVOptions struct {
	// Delimiter separates fields; one character. Empty (not declared),
	// it is detected from the first bytes of each file: ',', ';', tab or
	// '|', whichever splits its lines into a consistent number of fields.
	Delimiter string
	// Header reports whether the first line holds column names; default
	// true.
	Header bool
	// Quote encloses fields; one character. Empty (not declared), it is
	// detected with the delimiter: `"`, or `'` when that reads the file's
	// fields more consistently.
	Quote string
	// NullValues are the field texts read as NULL; default [""].
	NullValues []string
}

// Option configures LoadDir.
type Option func(*options)

// options are the settings of LoadDir.
type options struct {
	lookupEnv LookupEnvFunc
}

// WithLookupEnv makes LoadDir read environment variables with lookup
// instead of os.LookupEnv. A nil lookup keeps os.LookupEnv.
func WithLookupEnv(lookup func(name string) (string, bool)) Option {
	return func(o *options) {
		if lookup != nil {
			o.lookupEnv = lookup
		}
	}
}

// Pipeline returns the pipeline called name.
func (p *Project) Pipeline(name string) (*Pipeline, bool) {
	pl, ok := p.Config.Pipelines[name]
	return pl, ok
}

// PipelineNames returns the names of all pipelines, sorted.
func (p *Project) PipelineNames() []string {
	return sortedKeys(p.Config.Pipelines)
}

// Source returns the source called name.
func (p *Project) Source(name string) (*Source, bool) {
	s, ok := p.Sources[name]
	return s, ok
}

// SourceNames returns the names of all sources, sorted.
func (p *Project) SourceNames() []string {
	return sortedKeys(p.Sources)
}

// ResolvePath returns rel joined to the project directory, or rel cleaned
// if it is absolute. It returns "" for "".
func (p *Project) ResolvePath(rel string) string {
	return resolve(p.Dir, rel)
}

// StagingURL returns the staging URL with a file:// path made absolute,
// e.g. "file:///home/me/quickstart/.shp/staging".
func (p *Project) StagingURL() string {
	u := p.Config.Staging.URL
	if rest, ok := strings.CutPrefix(u, "file://"); ok {
		return bucketURL(p.ResolvePath(rest))
	}
	return u
}

// WarehousePath returns the absolute path of the warehouse database file
// (":memory:" is returned unchanged).
func (p *Project) WarehousePath() string {
	return resolveDB(p.Dir, p.Config.Warehouse.Path)
}

// MetadataPath returns the absolute path of the SQLite metadata database
// (":memory:" is returned unchanged); "" for other metadata types.
func (p *Project) MetadataPath() string {
	return resolveDB(p.Dir, p.Config.Metadata.Path)
}

// RereadsAll reports whether every run of the source reads all its rows
// again: a database table or query, or an API, without incremental.
// Appending such a source would add every row once more each run.
func (s *Source) RereadsAll() bool {
	if !IsExtracting(s.Type) {
		return false
	}
	inc, ok := s.Settings["incremental"]
	return !ok || inc == nil
}

// SchemaPath returns the absolute path of the source's schema file, or ""
// if it has none.
func (s *Source) SchemaPath() string {
	return resolve(s.dir, s.Schema)
}

// LocalPath returns the absolute path or glob of a file source's data; ""
// for other source types.
func (s *Source) LocalPath() string {
	if s.Type != SourceFile {
		return ""
	}
	return resolve(s.dir, s.Path)
}

// URL returns the source's location as a URL, "gs://bucket/path" or
// "file:///abs/path", for display.
func (s *Source) URL() string {
	if s.Type == SourceGCS {
		return "gs://" + s.Bucket + "/" + strings.TrimPrefix(s.Path, "/")
	}
	return fileURL(s.LocalPath())
}

// resolve joins rel to dir unless it is absolute or empty.
func resolve(dir, rel string) string {
	switch {
	case rel == "":
		return ""
	case filepath.IsAbs(rel):
		return filepath.Clean(rel)
	}
	return filepath.Join(dir, filepath.FromSlash(rel))
}

// resolveDB resolves a database path, keeping ":memory:" as is.
func resolveDB(dir, path string) string {
	if path == ":memory:" {
		return path
	}
	return resolve(dir, path)
}

// fileURL returns the file:// URL of an absolute path.
func fileURL(path string) string {
	path = filepath.ToSlash(path)
	if !strings.HasPrefix(path, "/") {
		path = "/" + path // Windows drive letters
	}
	return "file://" + path
}

// bucketURL is fileURL escaped, so that a folder named with '%', '?' or
// '#' is the folder a gocloud bucket opens.
func bucketURL(path string) string {
	u, _ := url.Parse(fileURL(""))
	u.Path = strings.TrimPrefix(fileURL(path), "file://")
	return u.String()
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lookupEnvDefault is the environment lookup used without WithLookupEnv.
var lookupEnvDefault LookupEnvFunc = os.LookupEnv
