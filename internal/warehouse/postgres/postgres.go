// Package postgres is a Warehouse in a PostgreSQL database (15 or later):
// targets and their quarantine tables (<target>__quarantine, as in the
// DuckDB warehouse) in one schema, shp's own tables (the load ledger, the
// rows of uncommitted runs, quality results, kept repairs, staging
// tables) in another.
//
// # Configuration
//
// `warehouse.type: postgres` in config.yaml selects it; package
// postgresspec declares its keys (dsn, schema, internal_schema,
// max_connections), and the opener registered with warehouse.Register
// reads them from warehouse.Options.Settings. The DSN's password is
// masked in every error Open returns.
//
// # Loading
//
// PostgreSQL 15 has no COPY ... ON_ERROR and no pg_input_is_valid, so a
// bad value cannot be left to the server: one would abort the COPY and
// lose the load. shp reads each object in Go instead, with the streaming
// readers the rest of shp counts records with (internal/format's CSV
// dialect detection and header naming, JSON normalisation; parquet-go; a
// CSV reader that splits records as format.CountCSV counts them),
// converts each value to its column's type with the same rules shp's
// DuckDB warehouse uses (convert.go, checked value for value against
// DuckDB by equiv_test.go), and sends the rows that convert to an
// UNLOGGED staging table with binary COPY ... FREEZE: the server parses
// nothing, writes no WAL for the staging table, and the commit reads its
// rows without setting hint bits. The first object a run stages for a
// target that does not exist yet (not a merge) goes to a logged staging
// table instead, which the commit puts in the target's place (attach.go):
// the rows of a first load are written once. Rows that do not convert stream at the
// same time, with their line, reason and raw text, to the object's
// quarantine staging table over a second connection. Nothing is held in
// memory; every record read is in one of the two tables (rows in =
// staged + set aside). A CSV or Parquet object is read once (a CSV
// without a schema twice: its types are inferred first), a JSON one twice
// (its keys first).
//
// # Committing
//
// A commit is one transaction: the target's rows (append, replace, or
// merge on the key with the DuckDB warehouse's semantics: a DELETE and an
// INSERT, so no unique index on the key is needed), its quarantine, the
// ledger and the quality results, and schema evolution (columns added,
// types widened, NOT NULL relaxed). It first takes a transaction-level
// advisory lock on the target (pg_advisory_xact_lock): commits into one
// target queue, commits into others do not wait. Under the lock it
// refuses a commit when another run of the same pipeline committed after
// this run began staging, so two runs of a pipeline cannot both commit.
// The rows go in with INSERT ... SELECT from the staging table, but when
// the commit creates the target: then a logged staging table with the
// new target's columns, privileges and storage is renamed into its place
// (shp's row number becomes a dropped column, its 8 bytes a row kept
// until the table is next rewritten). That is DDL in the commit's
// transaction: a commit that fails leaves no target. A target that
// exists, with the indexes, grants, constraints and triggers a user gave
// it, is only ever inserted into.
//
// # Staging tables and crashes
//
// Staging tables are tables (unlogged but for a new target's) in the
// internal schema named after the process's instance, which holds a
// session-level advisory lock on that instance for as long as it lives.
// DropStaging drops the staging tables of instances whose lock is free
// (their process is gone) and this instance's tables that no run uses.
//
// # Repairs
//
// The healing engine's repair plans (warehouse.Repairer) compile to
// PostgreSQL in repair.go; a plan's values are converted by the column's
// cast in Go and bound in PostgreSQL's notation.
package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/postgres/postgresspec"
)

func init() {
	warehouse.Register(postgresspec.Name, openSettings)
}

// openSettings is the opener warehouse.Open calls for
// `warehouse.type: postgres`: it reads the keys of config.yaml's
// warehouse section (declared by package postgresspec) from
// opts.Settings.
func openSettings(ctx context.Context, opts warehouse.Options) (warehouse.Warehouse, error) {
	c, err := postgresspec.Decode(opts.Settings)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	w, err := Open(ctx, Config{DSN: c.DSN, Schema: c.Schema, InternalSchema: c.InternalSchema,
		MaxConns: int32(c.MaxConnections), TempDir: opts.TempDir})
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return w, nil
}

// Config says where the warehouse is: what config.yaml's warehouse
// section gives (postgresspec.Config), ${VAR} references expanded.
type Config struct {
	// DSN is a PostgreSQL connection string (URL or key=value).
	DSN string
	// Schema holds the targets and their quarantine tables; empty for the
	// first schema of the DSN's search_path, else "public".
	Schema string
	// InternalSchema holds shp's own tables: the load ledger (loads), the
	// rows of uncommitted runs (set_aside), quality results and staging
	// tables; empty for "_shp".
	InternalSchema string
	// TempDir is unused: nothing is spilled to local files.
	TempDir string
	// MaxConns bounds the connection pool; 0 for pgx's default.
	MaxConns int32
}

// Warehouse is a PostgreSQL database used as shp's data plane.
type Warehouse struct {
	pool     *pgxpool.Pool
	db       *sql.DB // the pool through database/sql, for RunQuery
	schema   string  // targets
	internal string  // shp's own tables
	instance uint32  // names this process's staging tables
	lockConn *pgx.Conn
	seq      atomic.Int64

	mu sync.Mutex
	// live are the staging tables Stage made that no Commit, Discard or
	// SetAside has released.
	live map[string]bool
	// marks are, by run, the ledger's last id when the run first staged
	// an object: a commit finding another run's entries after it refuses.
	marks map[string]int64
	// pending are the rewrites applied whose original values wait for
	// KeepRepair or UndoRepair, by token.
	pending map[string]pendingRewrite
	// attach are the targets, by run and target, for which the run
	// claimed a staging table the commit may attach (see claimAttach).
	attach map[string]bool
}

var _ warehouse.Warehouse = (*Warehouse)(nil)

// stagingLockClass is the first key of the session advisory lock an
// instance holds on its staging tables ("SHPS").
const stagingLockClass = 0x53485053

// Open connects to the database and makes the internal schema and tables
// it lacks.
func Open(ctx context.Context, cfg Config) (*Warehouse, error) {
	if strings.TrimSpace(cfg.DSN) == "" {
		return nil, errors.New("postgres: the warehouse needs a DSN")
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres: warehouse DSN: %w", redactErr(err, cfg.DSN))
	}
	if cfg.Schema == "" {
		cfg.Schema = postgresspec.SearchPathSchema(pcfg.ConnConfig.RuntimeParams["search_path"])
	}
	if cfg.InternalSchema == "" {
		cfg.InternalSchema = postgresspec.DefaultInternalSchema
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	} else if pcfg.MaxConns < 8 {
		pcfg.MaxConns = 8
	}
	settings := sessionSettings(cfg.Schema, cfg.InternalSchema)
	pcfg.ConnConfig.Tracer = queryLogger{}
	pcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, settings)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", redactErr(err, cfg.DSN))
	}
	w := &Warehouse{pool: pool, schema: cfg.Schema, internal: cfg.InternalSchema, live: map[string]bool{}, marks: map[string]int64{}}
	w.db = stdlib.OpenDBFromPool(pool)
	if err := w.init(ctx, pcfg.ConnConfig); err != nil {
		w.Close()
		return nil, redactErr(err, cfg.DSN)
	}
	return w, nil
}

// sessionSettings pin what changes a value's text, as shp's PostgreSQL
// source does, and put the targets then shp's tables on the search path
// (the staging tables are named unqualified by validation).
func sessionSettings(schema, internal string) string {
	return "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; " +
		"SET extra_float_digits = 3; SET bytea_output = 'hex'; SET client_encoding = 'UTF8'; " +
		"SET search_path = " + ident(schema) + ", " + ident(internal)
}

// init makes the schemas and shp's tables, one process at a time, and
// takes the instance's staging lock.
func (w *Warehouse) init(ctx context.Context, cc *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cc.Copy())
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	w.lockConn = conn
	if _, err := conn.Exec(ctx, sessionSettings(w.schema, w.internal)); err != nil {
		return fmt.Errorf("postgres: session settings: %w", err)
	}
	for {
		var b [4]byte
		_, _ = rand.Read(b[:])
		w.instance = binary.BigEndian.Uint32(b[:]) & 0x7fffffff
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", stagingLockClass, int32(w.instance)).Scan(&got); err != nil {
			return fmt.Errorf("postgres: take the staging lock: %w", err)
		}
		if got {
			break
		}
	}
	// Creating schemas and tables concurrently can fail on PostgreSQL's
	// catalog; one opener at a time.
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: initialise: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	stmts := []string{
		"SELECT pg_advisory_xact_lock(" + strconv.Itoa(stagingLockClass) + ", 0)",
		"CREATE SCHEMA IF NOT EXISTS " + ident(w.schema),
		"CREATE SCHEMA IF NOT EXISTS " + ident(w.internal),
		`CREATE TABLE IF NOT EXISTS ` + w.ledger() + ` (
			id BIGINT GENERATED ALWAYS AS IDENTITY,
			pipeline TEXT NOT NULL,
			object_key TEXT NOT NULL,
			fingerprint TEXT NOT NULL,
			run_id TEXT NOT NULL,
			target TEXT NOT NULL,
			rows_loaded BIGINT NOT NULL,
			rows_quarantined BIGINT NOT NULL,
			committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
			content_hash TEXT)`,
		`CREATE INDEX IF NOT EXISTS loads_pipeline ON ` + w.ledger() + ` (pipeline, id)`,
		`CREATE TABLE IF NOT EXISTS ` + w.qualityTable() + ` (
			run_id TEXT NOT NULL,
			pipeline TEXT NOT NULL,
			target TEXT NOT NULL,
			object_key TEXT NOT NULL,
			rule TEXT NOT NULL,
			expectation TEXT NOT NULL,
			severity TEXT NOT NULL,
			action TEXT NOT NULL,
			success BOOLEAN NOT NULL,
			quality_score DOUBLE PRECISION NOT NULL,
			result JSONB,
			validated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())`,
		`CREATE TABLE IF NOT EXISTS ` + w.setAsideTable() + ` ` + quarantineColumns,
		`CREATE INDEX IF NOT EXISTS set_aside_object ON ` + w.setAsideTable() + ` (pipeline, source_object)`,
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("postgres: initialise the warehouse: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: initialise the warehouse: %w", err)
	}
	return nil
}

// quarantineColumns is the quarantine table's shape, as in shp's DuckDB
// warehouse.
const quarantineColumns = `(
	run_id TEXT NOT NULL,
	pipeline TEXT NOT NULL,
	source_object TEXT NOT NULL,
	line BIGINT,
	reason TEXT NOT NULL,
	raw TEXT,
	quarantined_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())`

func (w *Warehouse) ledger() string        { return qualified(w.internal, "loads") }
func (w *Warehouse) qualityTable() string  { return qualified(w.internal, "quality_results") }
func (w *Warehouse) setAsideTable() string { return qualified(w.internal, "set_aside") }
func (w *Warehouse) target(name string) string {
	return qualified(w.schema, name)
}
func (w *Warehouse) staging(name string) string { return qualified(w.internal, name) }

// Schema is the schema the targets are in.
func (w *Warehouse) Schema() string { return w.schema }

// InternalSchema is the schema of shp's own tables.
func (w *Warehouse) InternalSchema() string { return w.internal }

// Pool exposes the connection pool for tests and benchmarks in this
// module.
func (w *Warehouse) Pool() *pgxpool.Pool { return w.pool }

// Close closes the connections; the instance's staging lock goes with
// them.
func (w *Warehouse) Close() error {
	var errs []error
	if w.db != nil {
		errs = append(errs, w.db.Close())
	}
	if w.lockConn != nil {
		errs = append(errs, w.lockConn.Close(context.Background()))
	}
	if w.pool != nil {
		w.pool.Close()
	}
	return errors.Join(errs...)
}

// Dialect is PostgreSQL's, for the rules internal/quality compiles.
func (w *Warehouse) Dialect() quality.Dialect { return quality.Postgres }

// ident quotes an SQL identifier.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func qualified(schema, table string) string { return pgx.Identifier{schema, table}.Sanitize() }

// literal quotes an SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// redactErr masks the secrets of a DSN (its password, wherever the driver
// read it from) in an error's message; the error unwraps to err.
func redactErr(err error, dsn string) error { return postgresspec.MaskDSN(dsn, err) }
