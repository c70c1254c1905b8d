// Package postgresspec declares the configuration of the PostgreSQL
// warehouse: its keys under warehouse: in config.yaml. It is apart from
// package postgres, which holds the warehouse itself, so that the
// configuration can be checked, and its reference written, without it,
// as the DuckDB and BigQuery warehouses' specs are: package postgres
// imports it, so linking the warehouse registers its spec.
//
// The DSN is a secret: it may carry a password. Nothing here prints it;
// the messages about a DSN that does not parse have its password masked
// (internal/redact), and so do the warehouse's errors.
package postgresspec

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shp-dev/shp/internal/config/spec"
	"github.com/shp-dev/shp/internal/redact"
)

// Name is the warehouse's type in config.yaml.
const Name = "postgres"

// DefaultInternalSchema is the schema of shp's own tables when
// internal_schema is not set.
const DefaultInternalSchema = "_shp"

// DefaultSchema is the schema of the targets when neither schema nor the
// DSN's search_path names one.
const DefaultSchema = "public"

// MinConnections is the fewest connections max_connections may allow: a
// load streams its rows and its set-aside rows over one each.
const MinConnections = 2

// Config is the warehouse's configuration, as its keys decode (json tags
// are the keys).
type Config struct {
	// DSN is a PostgreSQL connection string, a URL
	// (postgres://user:pass@host:5432/db?sslmode=require) or key=value
	// pairs (host=... dbname=...). ${VAR} in config.yaml puts it there
	// from the environment.
	DSN string `json:"dsn"`
	// Schema holds the targets and their quarantine tables; empty: the
	// first schema of the DSN's search_path, else public.
	Schema string `json:"schema"`
	// InternalSchema holds shp's own tables: the load ledger, the rows of
	// uncommitted runs, quality results, staging tables.
	InternalSchema string `json:"internal_schema"`
	// MaxConnections bounds the warehouse's connection pool; 0: the
	// DSN's pool_max_conns, else at least 8.
	MaxConnections int `json:"max_connections"`
}

func init() {
	spec.Register(Spec())
}

// Spec is the warehouse's spec, as registered.
func Spec() spec.Spec {
	return spec.Spec{
		Kind: spec.KindWarehouse,
		Name: Name,
		Summary: "A PostgreSQL database (15 or later): values typed in Go and sent by binary COPY into unlogged staging tables, " +
			"each commit one transaction under a per-target advisory lock (see \"PostgreSQL warehouse\").",
		Fields:  Fields(),
		Dataset: dataset,
	}
}

// dataset names a target for lineage: postgres://host:port with
// database.schema.table.
func dataset(settings map[string]any, table string) (string, string, bool) {
	c, err := Decode(settings)
	if err != nil {
		return "", "", false
	}
	server, db, schema, err := c.Location()
	if err != nil {
		return "", "", false
	}
	return server, db + "." + schema + "." + table, true
}

// Fields are the warehouse's keys, in the reference's order.
func Fields() []spec.Field {
	return []spec.Field{
		{Name: "dsn", Type: spec.String, Required: true, Example: "${SHP_WAREHOUSE_DSN}", Check: checkDSN,
			Doc: "The database, as a URL (`postgres://user:pass@host:5432/db?sslmode=require`) or key=value pairs " +
				"(`host=... dbname=...`); PGPASSWORD, PGSSLMODE and the other libpq variables apply. A secret: put it in the " +
				"environment and write `${VAR}`; shp masks its password in its errors."},
		{Name: "schema", Type: spec.String, Example: "analytics", Check: checkSchema,
			Doc: "The schema of the targets and their `__quarantine` tables, made when missing. Empty: the first schema of " +
				"the DSN's `search_path` option, else `public`."},
		{Name: "internal_schema", Type: spec.String, Default: DefaultInternalSchema, Check: checkSchema,
			Doc: "The schema of shp's own tables (the load ledger `loads`, `set_aside`, `quality_results`, unlogged staging " +
				"tables), made when missing. Give each project sharing a database a schema pair of its own."},
		{Name: "max_connections", Type: spec.Int, Default: 0, Check: checkConnections,
			Doc: "The most connections the warehouse opens (besides one that holds its staging lock); 0: the DSN's " +
				"`pool_max_conns`, and at least 8. A load uses two."},
	}
}

// Decode reads settings (config.Warehouse.Settings, the spec's defaults
// applied) into a Config, applying the defaults to keys that are absent
// (settings built by hand, in tests), and refusing unknown keys.
func Decode(settings map[string]any) (Config, error) {
	var c Config
	if err := spec.Decode(Fields(), settings, &c); err != nil {
		// spec.Decode's messages name keys and types, never values.
		return Config{}, fmt.Errorf("postgres warehouse settings: %w", err)
	}
	if strings.TrimSpace(c.DSN) == "" {
		return Config{}, fmt.Errorf("postgres warehouse settings: dsn is required")
	}
	return c, nil
}

// Location returns where the targets are, for lineage: the server as
// postgres://host:port (OpenLineage's naming), the database and the
// schema. It reads the DSN as the driver does (the libpq environment
// variables fill in what it leaves out), and never returns its password.
func (c Config) Location() (server, database, schema string, err error) {
	pc, err := pgconn.ParseConfig(c.DSN)
	if err != nil {
		return "", "", "", MaskDSN(c.DSN, err)
	}
	schema = c.Schema
	if schema == "" {
		schema = SearchPathSchema(pc.RuntimeParams["search_path"])
	}
	return "postgres://" + net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))), pc.Database, schema, nil
}

// SearchPathSchema is the schema of the targets when the configuration
// names none: the first of a search_path, else DefaultSchema.
func SearchPathSchema(searchPath string) string {
	first, _, _ := strings.Cut(searchPath, ",")
	if first = strings.Trim(strings.TrimSpace(first), `"`); first != "" && first != "$user" {
		return first
	}
	return DefaultSchema
}

// MaskDSN returns err with the secrets of dsn masked in its message: the
// password the driver reads for it (from the DSN, PGPASSWORD or a
// password file) and whatever internal/redact finds in the DSN's text.
// It unwraps to err; nil stays nil.
func MaskDSN(dsn string, err error) error {
	if err == nil {
		return nil
	}
	secrets := redact.SecretsIn(dsn)
	if pc, perr := pgconn.ParseConfig(dsn); perr == nil && pc.Password != "" {
		secrets = append(secrets, pc.Password)
	}
	return redact.New(secrets...).Error(err)
}

// checkDSN refuses a DSN the driver cannot read; the message masks its
// password.
func checkDSN(v any) string {
	s, _ := v.(string)
	if _, err := pgconn.ParseConfig(s); err != nil {
		return "is not a PostgreSQL connection string (a postgres:// URL or key=value pairs): " + MaskDSN(s, err).Error()
	}
	return ""
}

// checkSchema refuses a schema name PostgreSQL would shorten.
func checkSchema(v any) string {
	if s, _ := v.(string); len(s) > 63 {
		return fmt.Sprintf("must be at most 63 bytes (PostgreSQL's limit on names), got %d", len(s))
	}
	return ""
}

// checkConnections refuses a pool too small for a load.
func checkConnections(v any) string {
	if n, _ := v.(int); n != 0 && n < MinConnections {
		return fmt.Sprintf("must be 0 or at least %d (a load uses two connections), got %d", MinConnections, n)
	}
	return ""
}
