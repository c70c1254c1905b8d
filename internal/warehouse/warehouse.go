// Package warehouse defines the data-plane seam: a Warehouse loads staged
// files into staging tables, quarantines the rows it cannot type, and commits
// staged batches into target tables atomically. Implementations live in
// subpackages (duckdb today; postgres and bigquery later) and register
// themselves by name, the way database/sql drivers do.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/schema"
)

// Write modes accepted by Commit.
const (
	ModeAppend  = "append"
	ModeReplace = "replace"
	ModeMerge   = "merge"
)

// QuarantineSuffix is appended to a target table's name to form the table
// that holds the rows which could not be loaded.
const QuarantineSuffix = "__quarantine"

// SetAsideTable holds the rows set aside from batches that were not
// committed (see Warehouse.SetAside): the quarantine table's columns, with
// the run id, in shp's own schema.
const SetAsideTable = "_shp.set_aside"

// ErrUnknownKind is returned by Open for a warehouse type nobody registered.
var ErrUnknownKind = errors.New("unknown warehouse type")

// CSVOptions describes the dialect of a CSV object.
//
// An empty Delimiter or Quote is detected from a sample of the file (see
// format.ResolveCSVDialect); a pipeline detects them once per object, as
// it counts the object's records, and passes what it found with Notes.
type CSVOptions struct {
	Delimiter  string   // one character; detected when empty
	Quote      string   // one character; detected when empty
	NoHeader   bool     // true when the first record is data, not column names
	NullValues []string // strings read as NULL; [""] when empty
	// QuotedNullsAreText reads a quoted field that equals a null value as
	// that text, not NULL (the files shp extracts write NULL as an
	// unquoted \N and quote a text \N).
	QuotedNullsAreText bool
	// Notes say what was detected about the dialect ("detected delimiter
	// \";\""); the engine reports them with the object's drift.
	Notes []string
}

// LoadSpec names one staged object and how to read it.
type LoadSpec struct {
	RunID       string
	Pipeline    string
	Target      string // target table; its existing columns are the schema when Schema is nil
	ObjectKey   string // the source object, recorded with every quarantined row
	Fingerprint string
	// ContentHash is the SHA-256 of the object's bytes (hex), kept in the
	// ledger to find a re-delivery under another name; "" when unknown.
	ContentHash string
	// Path is a local path the engine can read; "" when the engine
	// loads the object from URI itself (a DirectLoader), and then Open
	// streams it.
	Path   string
	Format format.Format
	// URI is the staged object's location in the staging bucket when the
	// engine can load it without shp (gs://bucket/key); "" otherwise.
	URI string
	// Open streams the staged object's bytes, as stored (compressed
	// when Compression says so), when Path is "". Use OpenData.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// OpenAt gives random access to the staged object and its size
	// when Path is "" (a Parquet footer is read without the rest).
	OpenAt func(ctx context.Context) (io.ReaderAt, int64, error)
	// Records is how many records shp counted in the object while it
	// copied it (0 when it did not count): an engine that parses the
	// object itself checks its own count against it.
	Records int64
	// UTF8 says shp checked, while it copied the object, that its bytes
	// (uncompressed) are all UTF-8.
	UTF8 bool
	// Profile is what shp saw of a JSON Lines object's members while it
	// copied it (nil unless the engine loads the object from URI): the
	// engine checks its own reading of every value against it.
	Profile     *format.JSONProfile
	Compression format.Compression
	Schema      schema.Schema // declared schema; nil means the target's, else inferred
	Key         []string      // merge key columns: rows with a NULL key are quarantined
	CSV         CSVOptions
	// Typed says the file was written by shp's extractor from a source
	// whose column types Schema gives: its values already have their
	// column's type, so the engine reads them natively instead of
	// checking each one (an integer column of a CSV file is otherwise
	// read as text and converted strictly, so that "1.5" is not rounded).
	Typed bool
	// MonthFirst reads slash dates ("1/2/2026") month first, as
	// PostgreSQL's default DateStyle and Great Expectations on it do:
	// `shp validate` sets it. A pipeline leaves such dates to the
	// self-healing engine, which reads them only when the batch tells
	// day from month.
	MonthFirst bool

	// The self-healing engine's changes to how the object is read; each
	// is empty unless a repair asked for it.

	// Parse reads a column's text its own way when the default cast
	// fails: alternate date layouts, epoch numbers, a decimal comma.
	Parse map[string]ColumnParse
	// Encoding transcodes the file to UTF-8 before it is read:
	// "latin-1" (ISO 8859-1) or "windows-1252".
	Encoding string
	// Extend adds columns the file has and the schema lacks; the target
	// gains them as NULLABLE columns at commit.
	Extend []schema.Field
	// Widen gives columns a wider type (column -> BigQuery type name:
	// INT64, NUMERIC, FLOAT64, DATETIME or TIMESTAMP); the target's
	// column is widened at commit.
	Widen map[string]string
	// Relax lets REQUIRED columns hold NULL instead of quarantining the
	// row.
	Relax []string
	// Rename reads a file column under a schema column's name (file
	// name -> schema name).
	Rename map[string]string
}

// ColumnParse says how to read one column's text.
type ColumnParse struct {
	// Layouts are strptime layouts tried after the ISO 8601 cast, e.g.
	// "%d/%m/%Y".
	Layouts []string `json:"layouts,omitempty"`
	// EpochUnit reads numbers as a Unix time in "s", "ms" or "us".
	EpochUnit string `json:"epoch_unit,omitempty"`
	// DecimalComma reads "1.234,5" as 1234.5: '.' groups thousands and
	// ',' is the decimal mark.
	DecimalComma bool `json:"decimal_comma,omitempty"`
	// Thousands removes this separator before the cast ("1,234.5").
	Thousands string `json:"thousands,omitempty"`
	// NullTokens are texts that mean "no value" in this column ("NA",
	// "N/A", "-"): they read as NULL, compared trimmed and ignoring case.
	NullTokens []string `json:"null_tokens,omitempty"`
}

// Clone copies the spec so that a change to its maps and slices leaves
// the original alone.
func (s LoadSpec) Clone() LoadSpec {
	c := s
	c.Parse = make(map[string]ColumnParse, len(s.Parse))
	for k, v := range s.Parse {
		c.Parse[k] = v
	}
	c.Widen = make(map[string]string, len(s.Widen))
	for k, v := range s.Widen {
		c.Widen[k] = v
	}
	c.Rename = make(map[string]string, len(s.Rename))
	for k, v := range s.Rename {
		c.Rename[k] = v
	}
	c.Extend = append([]schema.Field(nil), s.Extend...)
	c.Relax = append([]string(nil), s.Relax...)
	return c
}

// OpenData streams the object decompressed: from Path when it is set,
// else through Open.
func (s LoadSpec) OpenData(ctx context.Context) (io.ReadCloser, error) {
	if s.Path != "" || s.Open == nil {
		return format.OpenFile(s.Path, s.Compression)
	}
	r, err := s.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.URI, err)
	}
	d, err := format.Decompress(r, s.Compression)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("%s: %w", s.URI, err)
	}
	return readCloser{d, r}, nil
}

// readCloser closes a decompressing reader and the stream under it.
type readCloser struct {
	io.ReadCloser
	under io.Closer
}

// Close implements io.Closer.
func (r readCloser) Close() error {
	return errors.Join(r.ReadCloser.Close(), r.under.Close())
}

// DirectLoader is a warehouse that loads some staged objects straight
// from the staging bucket (BigQuery's load jobs from gs://): for those,
// the pipeline sets LoadSpec.URI and Open and leaves Path empty, so the
// object is never downloaded unless the engine asks for its bytes.
type DirectLoader interface {
	// LoadsDirect reports whether the engine loads an object of format
	// f and compression c from uri itself.
	LoadsDirect(uri string, f format.Format, c format.Compression) bool
}

// ArrowReader is a warehouse that may stage Arrow IPC streams
// (format.Arrow): an extractor that can (source.BatchExtractor) then
// writes typed batches instead of text.
type ArrowReader interface {
	ReadsArrow() bool
}

// Staged is one object loaded into a staging table, with its bad rows set
// aside for the quarantine table.
type Staged struct {
	Table       string // staging table holding the good rows
	ObjectKey   string
	Fingerprint string
	ContentHash string             // the object's SHA-256, from LoadSpec
	Loaded      int64              // good rows in Table
	Quarantined int64              // rows set aside, each with a reason
	Drift       []string           // schema differences noticed while reading, e.g. an extra column
	Extra       []schema.Field     // columns the file has and the schema lacks (not loaded)
	Missing     []string           // schema columns the file lacks (loaded as NULL)
	Columns     []Column           // the staging table's columns, in order
	Samples     []QuarantineSample // the first few quarantined rows, for the run summary
	Index       string             // SQL for a row's 0-based position in Table
	Checks      []Check            // validation outcomes, stored with the commit
}

// Check is one data quality rule's outcome on a staged object.
type Check struct {
	Rule, Expectation, Severity, Action string
	Success                             bool
	Score                               float64 // the object's quality score, 0 to 100
	Result                              string  // the expectation's result, as JSON
}

// QuarantineSample is one quarantined row as a user would want to see it.
type QuarantineSample struct {
	Line   int64 // 0 when the row has no line number
	Reason string
}

// Describe renders the sample as "object:line: reason".
func (q QuarantineSample) Describe(object string) string {
	if q.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", object, q.Line, q.Reason)
	}
	return fmt.Sprintf("%s: %s", object, q.Reason)
}

// Column is a table column with its engine type.
type Column struct {
	Name string
	Type string // engine type, e.g. BIGINT in DuckDB
}

// CommitSpec asks for staged objects to become part of a target table.
type CommitSpec struct {
	RunID    string
	Pipeline string
	Target   string
	Mode     string // append, replace or merge
	Key      []string
	Rebuild  bool // delete what earlier runs of this pipeline loaded first (full refresh)
	Objects  []*Staged
	// Design is how the target is laid out when the commit creates it
	// (partitioning, clustering); nil for the engine's default. A
	// warehouse that has no such layout ignores it.
	Design *TableDesign
}

// TableDesign is a target table's physical layout, from its pipeline's
// config (partition_by, cluster_by, ...). The optimisation layer
// recommends and changes it.
type TableDesign struct {
	// PartitionBy is the DATE, TIMESTAMP or DATETIME column the table is
	// partitioned by; empty with IngestionTime for the load time, empty
	// without it for no partitioning.
	PartitionBy string
	// IngestionTime partitions by when rows were loaded
	// (BigQuery's _PARTITIONTIME).
	IngestionTime bool
	// Granularity is the partitions' size: DAY (the default), HOUR,
	// MONTH or YEAR.
	Granularity string
	// RequirePartitionFilter refuses queries of the table that do not
	// filter on the partitioning column.
	RequirePartitionFilter bool
	// PartitionExpiration drops partitions older than this; 0 keeps
	// them.
	PartitionExpiration time.Duration
	// ClusterBy are up to four columns the table's rows are sorted by
	// within a partition.
	ClusterBy []string
}

// Cost is what the engine reports a run's jobs cost (BigQuery: the job
// statistics). A warehouse that has such a bill says so through
// CostReporter.
type Cost struct {
	Jobs           int64 // jobs run
	BytesProcessed int64 // bytes the jobs read
	BytesBilled    int64 // bytes billed (at least 10 MiB a query on BigQuery)
	SlotMillis     int64 // slot-milliseconds
}

// CostReporter is a warehouse that knows what a run's jobs cost.
type CostReporter interface {
	// RunCost returns what the jobs of a run cost so far.
	RunCost(runID string) Cost
}

// Estimator is a warehouse that can say, before running a query, how
// many bytes it would read (a dry run).
type Estimator interface {
	// EstimateBytes returns the bytes query would process.
	EstimateBytes(ctx context.Context, query string, args ...any) (int64, error)
}

// Reject counts an object's rows set aside for one kind of problem.
type Reject struct {
	Kind   string // RejectCast, RejectNull, RejectEncoding or RejectOther
	Column string // the column, when the problem has one
	Rows   int64
}

// Kinds of Reject.
const (
	RejectCast     = "cast"     // a value does not convert to the column's type
	RejectNull     = "null"     // a REQUIRED or key column is NULL
	RejectEncoding = "encoding" // the line is not valid UTF-8
	RejectOther    = "other"    // wrong field count, malformed record, ...
)

// Inspector is what a warehouse offers the self-healing engine to look at
// a staged object's rejected rows and to discard a staging it replaced.
type Inspector interface {
	// Rejects groups the object's set-aside rows by kind and column (a
	// row with two problems counts in both groups).
	Rejects(ctx context.Context, st *Staged) ([]Reject, error)
	// RejectedValues returns up to limit distinct text values of column
	// among the rows set aside because that column did not convert.
	RejectedValues(ctx context.Context, st *Staged, column string, limit int) ([]string, error)
	// Discard drops a staged object's tables without committing them.
	Discard(ctx context.Context, st *Staged) error
	// RepeatedRows counts the staged rows that the target already holds,
	// each as often as it holds it (every column both have compared);
	// 0 when the target does not exist.
	RepeatedRows(ctx context.Context, st *Staged, target string) (int64, error)
	// Overlap is the share (0 to 1) of the distinct values of fileColumn,
	// a column of the object's file that the schema lacks, that the
	// target's column targetColumn holds among its most recent rows; 0
	// when the file's column has no values, -1 when the target (or its
	// column) does not exist or holds no value to compare with.
	Overlap(ctx context.Context, spec LoadSpec, fileColumn, targetColumn string) (float64, error)
}

// CommitResult counts what a commit changed.
type CommitResult struct {
	Inserted     int64 // new rows in the target
	Updated      int64 // rows replaced by key (merge)
	Deduplicated int64 // rows dropped because a later row in the batch had the same key
	Quarantined  int64 // rows written to the quarantine table
	// Kept counts, per column, the target rows a merge replaced whose
	// value of that column it kept because the batch's object did not
	// carry the column (Staged.Missing): a column missing from a feed
	// never overwrites the target's values with NULL.
	Kept map[string]int64
	// SchemaChanges are the changes the commit made to the target's
	// schema (its creation aside): columns added, types widened.
	SchemaChanges []SchemaChange
}

// SchemaChange is one change a commit made to a target's schema.
type SchemaChange struct {
	Column string
	Kind   string // "added" or "widened"
	From   string // the engine type before a widening
	To     string // the engine type after
}

// LoadedObject is a ledger entry: an object committed into a target.
type LoadedObject struct {
	Key, Fingerprint, RunID string
	// ContentHash is the SHA-256 of the object's bytes; "" for objects
	// committed before shp recorded it, and for extracted chunks.
	ContentHash string
}

// Warehouse is the data plane. Every method that touches data runs inside
// the engine; the Go process never holds a dataset in memory.
type Warehouse interface {
	// Stage loads one object into a fresh staging table.
	Stage(ctx context.Context, spec LoadSpec) (*Staged, error)
	// Commit moves staged objects into the target, their quarantined rows
	// into the quarantine table and their keys into the load ledger, all in
	// one transaction, then drops the staging tables.
	Commit(ctx context.Context, spec CommitSpec) (*CommitResult, error)
	// LoadedObjects lists the ledger of a pipeline: the objects whose rows
	// are committed. It is written in the same transaction as the rows, so
	// it is the truth after a crash.
	LoadedObjects(ctx context.Context, pipeline string) ([]LoadedObject, error)
	// Dialect is the engine's SQL dialect, which internal/quality
	// compiles rules to.
	Dialect() quality.Dialect
	// RunQuery runs SQL in the engine's dialect where the staging tables
	// are visible: validation between staging and commit compiles its
	// rules to such queries, and `shp query` runs the user's. The rows
	// hold the data plane until they are closed or read to the end:
	// close them before the next call.
	RunQuery(ctx context.Context, query string, args ...any) (Rows, error)
	// BatchMetrics measures a staged object's rows for anomaly
	// detection: how many, each column's non-NULL values, and the newest
	// value of the column eventTime names (matched ignoring case; ""
	// for none).
	BatchMetrics(ctx context.Context, st *Staged, eventTime string) (*Metrics, error)
	// TargetSchema describes a target table's columns in shp's schema
	// types (a DECIMAL is NUMERIC with its precision and scale); the
	// table's name is matched ignoring case. It is nil when there is no
	// such table.
	TargetSchema(ctx context.Context, table string) (schema.Schema, error)
	// QuarantinedRows reads the rows a run set aside, ordered by object
	// and line: those it committed, from target's quarantine table, or,
	// when target is "", those SetAside kept. The columns are
	// source_object, line, reason, raw and state ("committed" or "not
	// committed").
	QuarantinedRows(ctx context.Context, runID, target string) (Rows, error)
	// Repairer runs the healing engine's repair plans.
	Repairer
	// QuarantineWhere moves the staged rows for which pred holds (SQL
	// with the dialect's placeholders for args) to the object's
	// quarantine with the reason, and updates the object's counts.
	QuarantineWhere(ctx context.Context, st *Staged, pred string, args []any, reason string) (int64, error)
	// DropStaging removes staging tables left behind by an interrupted run.
	DropStaging(ctx context.Context) error
	// SetAside keeps the rows staging set aside from objects that a run
	// will not commit (it failed or is held), with the run id, where a
	// person can read them (SetAsideTable); a later commit of the same
	// objects removes them. It returns how many rows it kept.
	SetAside(ctx context.Context, runID, pipeline string, objects []*Staged) (int64, error)
	// Close releases the engine.
	Close() error
}

// Metrics are what BatchMetrics measured of a staged object.
type Metrics struct {
	// Rows counts the staged rows.
	Rows int64
	// NonNull counts each staged column's non-NULL values, by name.
	NonNull map[string]int64
	// EventColumn is the staged column eventTime named; "" when none.
	EventColumn string
	// Newest is EventColumn's latest value; zero when the column holds
	// no value or is not a date or timestamp.
	Newest time.Time
	// EventNotTime says EventColumn holds values that are not dates or
	// timestamps, so Newest is not measured.
	EventNotTime bool
}

// Options configures an engine. Fields an engine does not use are ignored.
type Options struct {
	Path        string // database file
	TempDir     string // spill and scratch files
	MemoryLimit string
	Threads     int
	// Logger receives what an engine does on its own account (such as
	// DuckDB retrying an operation with more memory); nil discards it.
	Logger *slog.Logger
	// Settings are the warehouse's other keys from config.yaml
	// (config.Warehouse.Settings): a warehouse that is not a file, such
	// as BigQuery, reads its project, datasets and credentials there.
	Settings map[string]any
}

// Opener opens a warehouse of one kind.
type Opener func(ctx context.Context, opts Options) (Warehouse, error)

var (
	mu      sync.RWMutex
	openers = map[string]Opener{}
)

// Register makes a warehouse kind available to Open. It panics when the
// kind is registered twice, which is a programming error.
func Register(kind string, o Opener) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := openers[kind]; dup {
		panic("warehouse: Register called twice for " + kind)
	}
	openers[kind] = o
}

// Kinds lists the registered warehouse kinds.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	kinds := make([]string, 0, len(openers))
	for k := range openers {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// Open opens a warehouse of a registered kind.
func Open(ctx context.Context, kind string, opts Options) (Warehouse, error) {
	mu.RLock()
	o, ok := openers[kind]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownKind, kind, Kinds())
	}
	return o(ctx, opts)
}
