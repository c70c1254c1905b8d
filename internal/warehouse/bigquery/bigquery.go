// Package bigquery is the Google BigQuery warehouse: staged objects are
// read by shp (CSV, JSON Lines, JSON arrays), every record kept whole as
// text, loaded into a staging table of STRING columns in shp's dataset
// (a load job), and typed there in GoogleSQL with SAFE_CAST, so that a
// value that does not convert sets its row aside with the reason instead
// of failing the load or becoming NULL. Validation and repairs run in
// GoogleSQL on the staging table; a commit is one multi-statement
// transaction that writes the target, its quarantine and the load
// ledger. Every job carries the labels shp_pipeline and shp_run, a job id
// derived from what it does, and a timeout; its bytes and slot time are
// recorded per run (Warehouse.Cost).
//
// The tests run against the BigQuery emulator in-process
// (github.com/goccy/bigquery-emulator) and, with
// SHP_TEST_BIGQUERY_PROJECT set, against real BigQuery.
package bigquery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/bigquery/bigqueryspec"
)

func init() {
	warehouse.Register(bigqueryspec.Name, func(ctx context.Context, opts warehouse.Options) (warehouse.Warehouse, error) {
		cfg, err := bigqueryspec.Decode(optionSettings(opts))
		if err != nil {
			return nil, err
		}
		w, err := Open(ctx, cfg, WithTempDir(opts.TempDir))
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return w, nil
	})
}

// Names of shp's tables in its dataset.
const (
	ledgerName   = "loads"
	qualityName  = "quality_results"
	setAsideName = "set_aside"
	stagePrefix  = "stage_"
)

// Columns shp adds to staging tables; they never reach a target.
const (
	rowCol  = "__shp_row"  // the row's 0-based position in the object
	lineCol = "__shp_line" // the record's line (element, for a JSON array)
	rawCol  = "__shp_raw"  // the record as written
	errCol  = "__shp_error"
)

// Warehouse is a BigQuery project's target dataset and shp's dataset.
// Its methods may be called concurrently; BigQuery runs the jobs.
type Warehouse struct {
	client  *bq.Client
	cfg     bigqueryspec.Config
	timeout time.Duration
	expiry  time.Duration
	// instance tells this process's staging tables and jobs from those
	// of another process, or an earlier one.
	instance string
	seq      atomic.Int64
	tempDir  string // "" for the system's
	// directLoads counts the objects loaded by a load job from their
	// gs:// URI (the others were read by shp and uploaded).
	directLoads atomic.Int64

	mu       sync.Mutex
	costs    map[string]*Cost             // by run id
	staged   map[string]bool              // staging tables this instance made and has not dropped
	describe map[string]map[string]string // a staging table's column descriptions from its schema file, by lower-case name
	pending  map[string]pendingRewrite    // rewrites waiting for KeepRepair or UndoRepair, by token
}

var _ warehouse.Warehouse = (*Warehouse)(nil)

// Option changes how Open connects.
type Option func(*openOptions)

type openOptions struct {
	client  []option.ClientOption
	tempDir string
}

// WithTempDir puts the files staging writes (each object as
// newline-delimited JSON, for its load job) in dir instead of the
// system's temporary folder.
func WithTempDir(dir string) Option {
	return func(oo *openOptions) { oo.tempDir = dir }
}

// WithClientOptions adds options for the BigQuery client (tests use it
// for an emulator's HTTP client).
func WithClientOptions(o ...option.ClientOption) Option {
	return func(oo *openOptions) { oo.client = append(oo.client, o...) }
}

// Open connects to BigQuery with cfg and creates the datasets and shp's
// tables when they are absent.
func Open(ctx context.Context, cfg bigqueryspec.Config, opts ...Option) (*Warehouse, error) {
	if cfg.Project == "" || cfg.Dataset == "" {
		return nil, errors.New("bigquery: warehouse.project and warehouse.dataset are required")
	}
	if cfg.ShpDataset == "" {
		cfg.ShpDataset = bigqueryspec.DefaultShpDataset
	}
	if cfg.ShpDataset == cfg.Dataset {
		return nil, fmt.Errorf("bigquery: shp_dataset %q is the targets' dataset: give shp a dataset of its own", cfg.ShpDataset)
	}
	if cfg.Location == "" {
		cfg.Location = bigqueryspec.DefaultLocation
	}
	var oo openOptions
	for _, o := range opts {
		o(&oo)
	}
	copts, err := clientOptions(ctx, cfg)
	if err != nil {
		return nil, err
	}
	copts = append(copts, oo.client...)
	client, err := bq.NewClient(ctx, cfg.Project, copts...)
	if err != nil {
		return nil, fmt.Errorf("bigquery: connect to project %s: %w", cfg.Project, err)
	}
	client.Location = cfg.Location
	nonce := make([]byte, 4)
	_, _ = rand.Read(nonce)
	w := &Warehouse{
		client:   client,
		cfg:      cfg,
		timeout:  time.Duration(cfg.JobTimeout),
		expiry:   time.Duration(cfg.StagingExpiration),
		instance: hex.EncodeToString(nonce),
		tempDir:  oo.tempDir,
		costs:    map[string]*Cost{},
		staged:   map[string]bool{},
		describe: map[string]map[string]string{},
		pending:  map[string]pendingRewrite{},
	}
	if w.tempDir != "" {
		if err := os.MkdirAll(w.tempDir, 0o755); err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("bigquery: create temp directory %s: %w", w.tempDir, err)
		}
	}
	if w.timeout <= 0 {
		w.timeout = 10 * time.Minute
	}
	if w.expiry <= 0 {
		w.expiry = 24 * time.Hour
	}
	if err := w.init(ctx); err != nil {
		_ = client.Close()
		return nil, err
	}
	return w, nil
}

// clientOptions turns the configured credentials into client options:
// an emulator's endpoint without authentication, a key file, a key from
// an environment variable, Application Default Credentials otherwise;
// and impersonation on top of them.
func clientOptions(ctx context.Context, cfg bigqueryspec.Config) ([]option.ClientOption, error) {
	if cfg.Endpoint != "" {
		return []option.ClientOption{option.WithEndpoint(cfg.Endpoint), option.WithoutAuthentication()}, nil
	}
	var base []option.ClientOption
	switch {
	case cfg.CredentialsJSONEnv != "":
		js, ok := os.LookupEnv(cfg.CredentialsJSONEnv)
		if !ok || strings.TrimSpace(js) == "" {
			return nil, fmt.Errorf("bigquery: credentials_json_env: environment variable %s is not set", cfg.CredentialsJSONEnv)
		}
		base = append(base, option.WithAuthCredentialsJSON(option.ServiceAccount, []byte(js)))
	case cfg.CredentialsFile != "":
		if _, err := os.Stat(cfg.CredentialsFile); err != nil {
			return nil, fmt.Errorf("bigquery: credentials_file: %w", err)
		}
		base = append(base, option.WithAuthCredentialsFile(option.ServiceAccount, cfg.CredentialsFile))
	}
	if cfg.ImpersonateServiceAccount == "" {
		return base, nil
	}
	ts, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{
		TargetPrincipal: cfg.ImpersonateServiceAccount,
		Scopes:          []string{bq.Scope, "https://www.googleapis.com/auth/devstorage.read_only"},
	}, base...)
	if err != nil {
		return nil, fmt.Errorf("bigquery: impersonate %s: %w", cfg.ImpersonateServiceAccount, err)
	}
	return []option.ClientOption{option.WithTokenSource(ts)}, nil
}

// optionSettings reads a warehouse's own keys from opts: the Settings
// the configuration hands on.
func optionSettings(opts warehouse.Options) map[string]any {
	return opts.Settings
}

// init creates the datasets and shp's tables when absent.
func (w *Warehouse) init(ctx context.Context) error {
	for _, ds := range []string{w.cfg.Dataset, w.cfg.ShpDataset} {
		if err := w.ensureDataset(ctx, ds); err != nil {
			return err
		}
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + w.shp(ledgerName) + ` (
			pipeline STRING NOT NULL, object_key STRING NOT NULL, fingerprint STRING NOT NULL,
			run_id STRING NOT NULL, target STRING NOT NULL, rows_loaded INT64 NOT NULL,
			rows_quarantined INT64 NOT NULL, committed_at TIMESTAMP NOT NULL, content_hash STRING)`,
		`CREATE TABLE IF NOT EXISTS ` + w.shp(qualityName) + ` (
			run_id STRING NOT NULL, pipeline STRING NOT NULL, target STRING NOT NULL, object_key STRING NOT NULL,
			rule STRING NOT NULL, expectation STRING NOT NULL, severity STRING NOT NULL, action STRING NOT NULL,
			success BOOL NOT NULL, quality_score FLOAT64 NOT NULL, result STRING, validated_at TIMESTAMP NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + w.shp(setAsideName) + ` (run_id STRING NOT NULL, pipeline STRING NOT NULL, ` + quarantineColumns + `)`,
	}
	for _, s := range stmts {
		if _, err := w.exec(ctx, jobMeta{step: w.nextStep("init")}, s); err != nil {
			return fmt.Errorf("bigquery: initialise dataset %s: %w", w.cfg.ShpDataset, err)
		}
	}
	return nil
}

// quarantineColumns are the columns of a quarantine table after run_id
// and pipeline.
const quarantineColumns = `source_object STRING NOT NULL, line INT64, reason STRING NOT NULL, raw STRING, quarantined_at TIMESTAMP NOT NULL`

// ensureDataset creates a dataset in the configured location when it
// does not exist.
func (w *Warehouse) ensureDataset(ctx context.Context, id string) error {
	ctx, cancel := w.call(ctx)
	defer cancel()
	ds := w.client.Dataset(id)
	if _, err := ds.Metadata(ctx); err == nil {
		return nil
	} else if !isNotFound(err) {
		return fmt.Errorf("bigquery: read dataset %s: %w", id, err)
	}
	err := ds.Create(ctx, &bq.DatasetMetadata{Location: w.cfg.Location,
		Labels: map[string]string{"shp": "managed"}})
	if err != nil && !isAlreadyExists(err) {
		return fmt.Errorf("bigquery: create dataset %s in %s: %w", id, w.cfg.Location, err)
	}
	return nil
}

// Client exposes the BigQuery client for tests in this module.
func (w *Warehouse) Client() *bq.Client { return w.client }

// Config is the configuration the warehouse was opened with.
func (w *Warehouse) Config() bigqueryspec.Config { return w.cfg }

// Close closes the client. Staging tables this instance left are
// dropped by the next DropStaging, or expire.
func (w *Warehouse) Close() error {
	w.mu.Lock()
	c := w.client
	w.client = nil
	w.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Close()
}

// Dialect is GoogleSQL.
func (w *Warehouse) Dialect() quality.Dialect { return quality.BigQuery }

// call bounds one call to BigQuery: the emulator, and a network that
// hangs, would otherwise retry for ever.
func (w *Warehouse) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, w.timeout)
}

// ident quotes an identifier for GoogleSQL.
func ident(name string) string { return quality.BigQuery.Ident(name) }

// target names a table of the targets' dataset.
func (w *Warehouse) target(table string) string { return ident(w.cfg.Dataset + "." + table) }

// shp names a table of shp's dataset.
func (w *Warehouse) shp(table string) string { return ident(w.cfg.ShpDataset + "." + table) }

// stagingRef names a staging table (a Staged.Table, qualified with shp's
// dataset already).
func stagingRef(table string) string { return ident(table) }

// quarantineOf names a staged object's table of rows set aside.
func quarantineOf(table string) string { return table + "_q" }

// tableName splits a qualified staging table name into dataset and table.
func tableName(qualified string) (dataset, table string) {
	d, t, ok := strings.Cut(qualified, ".")
	if !ok {
		return "", qualified
	}
	return d, t
}

// isNotFound reports a 404 from the API.
func isNotFound(err error) bool {
	var e *googleapi.Error
	return errors.As(err, &e) && e.Code == http.StatusNotFound
}

// isAlreadyExists reports a 409 from the API (the emulator answers a
// job id used before with a 400 saying so).
func isAlreadyExists(err error) bool {
	var e *googleapi.Error
	return errors.As(err, &e) && (e.Code == http.StatusConflict || e.Code == http.StatusBadRequest && strings.Contains(e.Message, "is already created"))
}

// Cost is what BigQuery charged for a run's jobs, as its job statistics
// report them.
type Cost = warehouse.Cost

var _ warehouse.CostReporter = (*Warehouse)(nil)
var _ warehouse.Estimator = (*Warehouse)(nil)

// RunCost returns what the jobs of run cost so far (load, staging,
// validation, repairs, commit).
func (w *Warehouse) RunCost(runID string) Cost {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c := w.costs[runID]; c != nil {
		return *c
	}
	return Cost{}
}

// record adds a finished job's statistics to its run's cost.
func (w *Warehouse) record(run string, st *bq.JobStatistics) {
	if st == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.costs[run]
	if c == nil {
		c = &Cost{}
		w.costs[run] = c
	}
	c.Jobs++
	c.BytesProcessed += st.TotalBytesProcessed
	if q, ok := st.Details.(*bq.QueryStatistics); ok {
		c.BytesBilled += q.TotalBytesBilled
		c.SlotMillis += q.SlotMillis
	}
	if st.TotalSlotDuration > 0 {
		if q, ok := st.Details.(*bq.QueryStatistics); !ok || q.SlotMillis == 0 {
			c.SlotMillis += st.TotalSlotDuration.Milliseconds()
		}
	}
}

// debugJobs logs every job and how long it took (SHP_BIGQUERY_DEBUG).
var debugJobs = os.Getenv("SHP_BIGQUERY_DEBUG") != ""

// jobMeta says what a job is for: its run and pipeline (labels, cost),
// and the object and step its id is derived from.
type jobMeta struct {
	run, pipeline string
	object, step  string
}

// labelValue makes text a label value: lower case, [a-z0-9_-], at most
// 63 characters.
var labelBad = regexp.MustCompile(`[^a-z0-9_-]+`)

func labelValue(s string) string {
	s = labelBad.ReplaceAllString(strings.ToLower(s), "_")
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// labels are a job's labels: the configured ones, shp_pipeline and
// shp_run.
func (w *Warehouse) labels(m jobMeta) map[string]string {
	out := map[string]string{}
	for k, v := range w.cfg.Labels {
		out[k] = v
	}
	if m.pipeline != "" {
		out["shp_pipeline"] = labelValue(m.pipeline)
	}
	if m.run != "" {
		out["shp_run"] = labelValue(m.run)
	}
	return out
}

// jobID derives a job's id from the dataset, run, object and step, so
// that a job retried after its answer was lost is found instead of run
// twice. The step carries what makes two jobs of one object differ (the
// staging table, a counter).
func (w *Warehouse) jobID(m jobMeta) string {
	h := sha256.Sum256([]byte(w.cfg.Project + "\x00" + w.cfg.Dataset + "\x00" + m.run + "\x00" + m.object + "\x00" + m.step))
	run := labelBad.ReplaceAllString(strings.ToLower(m.run), "_")
	if len(run) > 40 {
		run = run[:40]
	}
	step := labelBad.ReplaceAllString(strings.ToLower(m.step), "_")
	if i := strings.IndexAny(step, "_-"); i > 0 && i < 20 {
		step = step[:i]
	} else if len(step) > 20 {
		step = step[:20]
	}
	return "shp_" + run + "_" + step + "_" + hex.EncodeToString(h[:12])
}

// nextStep numbers a step so that each job of this instance is new.
func (w *Warehouse) nextStep(step string) string {
	return fmt.Sprintf("%s-%s-%d", step, w.instance, w.seq.Add(1))
}

// waitJob waits for a job, records its cost and returns its status's
// error.
func (w *Warehouse) waitJob(ctx context.Context, m jobMeta, job *bq.Job) (*bq.JobStatus, error) {
	if debugJobs {
		start := time.Now()
		defer func() {
			fmt.Fprintf(os.Stderr, "bigquery: job %s (%s) %s\n", job.ID(), m.step, time.Since(start).Round(time.Millisecond))
		}()
	}
	st, err := job.Wait(ctx)
	if err != nil {
		return nil, err
	}
	w.record(m.run, st.Statistics)
	logJob(ctx, job, st)
	if err := st.Err(); err != nil {
		return st, err
	}
	return st, nil
}

// logJob reports a finished job to the context's warehouse.QueryLog: its
// SQL (a load job as the LOAD DATA it is), time, rows changed and bytes.
func logJob(ctx context.Context, job *bq.Job, st *bq.JobStatus) {
	e := warehouse.QueryEvent{Rows: affected(st), Err: st.Err()}
	if cfg, err := job.Config(); err == nil {
		switch c := cfg.(type) {
		case *bq.QueryConfig:
			e.Text = c.Q
		case *bq.LoadConfig:
			if c.Dst != nil {
				e.Text = "LOAD DATA INTO " + ident(c.Dst.DatasetID+"."+c.Dst.TableID)
			}
		}
	}
	if e.Text == "" {
		return
	}
	if s := st.Statistics; s != nil {
		if !s.StartTime.IsZero() && s.EndTime.After(s.StartTime) {
			e.Duration = s.EndTime.Sub(s.StartTime)
		}
		e.BytesProcessed = s.TotalBytesProcessed
		if q, ok := s.Details.(*bq.QueryStatistics); ok {
			e.BytesBilled = q.TotalBytesBilled
		}
	}
	warehouse.LogQuery(ctx, e)
}

// runQuery starts a query job with the warehouse's defaults (the
// targets' dataset for unqualified names, labels, bytes cap), adopting a
// job of the same id that already ran.
func (w *Warehouse) runQuery(ctx context.Context, m jobMeta, sql string, args []any) (*bq.Job, error) {
	return w.startQuery(ctx, m, sql, args, true)
}

// startQuery is runQuery; with literals, the values are written into
// the SQL as literals (shp's own queries: the emulator runs no
// parameters in scripts and types a positional parameter by where it is
// used), else bound as parameters unless the SQL is a script.
func (w *Warehouse) startQuery(ctx context.Context, m jobMeta, sql string, args []any, literals bool) (*bq.Job, error) {
	if len(args) > 0 && (literals || isScript(sql)) {
		var err error
		if sql, err = inline(sql, args); err != nil {
			return nil, err
		}
		args = nil
	}
	if debugJobs {
		fmt.Fprintf(os.Stderr, "bigquery: query %.300q\n", sql)
	}
	q := w.client.Query(sql)
	q.DefaultProjectID = w.cfg.Project
	q.DefaultDatasetID = w.cfg.Dataset
	q.Labels = w.labels(m)
	if w.cfg.MaximumBytesBilled > 0 {
		q.MaxBytesBilled = w.cfg.MaximumBytesBilled
	}
	params, err := parameters(args)
	if err != nil {
		return nil, err
	}
	q.Parameters = params
	if m.step == "" {
		m.step = w.nextStep("query")
	}
	q.JobID = w.jobID(m)
	q.Location = w.cfg.Location
	job, err := q.Run(ctx)
	if err != nil && isAlreadyExists(err) {
		// A job of this id ran already: a retry after its answer was
		// lost is that job. One that failed is run again, under an id
		// of its own.
		prev, perr := w.client.JobFromIDLocation(ctx, q.JobID, w.cfg.Location)
		if perr != nil {
			return nil, err
		}
		if st := prev.LastStatus(); st == nil || st.State != bq.Done || st.Err() == nil {
			return prev, nil
		}
		q.JobID = w.jobID(jobMeta{run: m.run, object: m.object, step: w.nextStep(m.step)})
		return q.Run(ctx)
	}
	return job, err
}

// exec runs one statement or script and returns the rows its DML
// changed (of the last DML statement, for a script: see execCount).
func (w *Warehouse) exec(ctx context.Context, m jobMeta, sql string, args ...any) (*bq.JobStatus, error) {
	ctx, cancel := w.call(ctx)
	defer cancel()
	job, err := w.runQuery(ctx, m, sql, args)
	if err != nil {
		return nil, err
	}
	return w.waitJob(ctx, m, job)
}

// affected is the number of rows a DML job changed.
func affected(st *bq.JobStatus) int64 {
	if st == nil || st.Statistics == nil {
		return 0
	}
	if q, ok := st.Statistics.Details.(*bq.QueryStatistics); ok {
		return q.NumDMLAffectedRows
	}
	return 0
}

// queryRows runs a query and reads all its rows (small results: counts,
// samples, metadata).
func (w *Warehouse) queryRows(ctx context.Context, m jobMeta, sql string, args ...any) ([][]bq.Value, bq.Schema, error) {
	if debugJobs {
		start := time.Now()
		defer func() {
			fmt.Fprintf(os.Stderr, "bigquery: %s whole %s\n", m.step, time.Since(start).Round(time.Millisecond))
		}()
	}
	ctx, cancel := w.call(ctx)
	defer cancel()
	job, err := w.runQuery(ctx, m, sql, args)
	if err != nil {
		return nil, nil, err
	}
	if _, err := w.waitJob(ctx, m, job); err != nil {
		return nil, nil, err
	}
	it, err := job.Read(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out [][]bq.Value
	for {
		var row []bq.Value
		err := it.Next(&row)
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		out = append(out, row)
	}
	return out, it.Schema, nil
}

// queryInt runs a query of one integer.
func (w *Warehouse) queryInt(ctx context.Context, m jobMeta, sql string, args ...any) (int64, error) {
	rows, _, err := w.queryRows(ctx, m, sql, args...)
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 || len(rows[0]) == 0 || rows[0][0] == nil {
		return 0, nil
	}
	n, ok := rows[0][0].(int64)
	if !ok {
		return 0, fmt.Errorf("expected an integer, got %T", rows[0][0])
	}
	return n, nil
}

// parameters turns Go values into positional query parameters. A NULL
// is sent as a NULL STRING, which compares as unknown with anything.
func parameters(args []any) ([]bq.QueryParameter, error) {
	out := make([]bq.QueryParameter, len(args))
	for i, a := range args {
		switch x := a.(type) {
		case nil:
			out[i] = bq.QueryParameter{Value: bq.NullString{}}
		case int:
			out[i] = bq.QueryParameter{Value: int64(x)}
		case int32:
			out[i] = bq.QueryParameter{Value: int64(x)}
		case uint32:
			out[i] = bq.QueryParameter{Value: int64(x)}
		case float32:
			out[i] = bq.QueryParameter{Value: float64(x)}
		case []any:
			return nil, fmt.Errorf("parameter %d: a list of mixed values cannot be bound", i+1)
		default:
			out[i] = bq.QueryParameter{Value: a}
		}
	}
	return out, nil
}

// LoadedObjects reads the load ledger of a pipeline.
func (w *Warehouse) LoadedObjects(ctx context.Context, pipeline string) ([]warehouse.LoadedObject, error) {
	rows, _, err := w.queryRows(ctx, jobMeta{pipeline: pipeline},
		`SELECT object_key, fingerprint, run_id, COALESCE(content_hash, '') FROM `+w.shp(ledgerName)+
			` WHERE pipeline = ? ORDER BY committed_at, object_key`, pipeline)
	if err != nil {
		return nil, fmt.Errorf("bigquery: read load ledger of %s: %w", pipeline, err)
	}
	out := make([]warehouse.LoadedObject, len(rows))
	for i, r := range rows {
		out[i] = warehouse.LoadedObject{Key: str(r[0]), Fingerprint: str(r[1]), RunID: str(r[2]), ContentHash: str(r[3])}
	}
	return out, nil
}

// str reads a STRING value, "" for NULL.
func str(v bq.Value) string {
	s, _ := v.(string)
	return s
}

// DropStaging drops the staging tables of shp's dataset: those a process
// that died left behind, and those of this instance. A staging table
// left anyway expires (staging_expiration). One shp process per shp
// dataset: another one's staging would be dropped too.
func (w *Warehouse) DropStaging(ctx context.Context) error {
	names, err := w.stagingTables(ctx)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return nil
	}
	var b strings.Builder
	for _, n := range names {
		b.WriteString("DROP TABLE IF EXISTS " + w.shp(n) + ";\n")
	}
	if _, err := w.exec(ctx, jobMeta{step: w.nextStep("drop")}, b.String()); err != nil {
		return fmt.Errorf("bigquery: drop staging tables: %w", err)
	}
	w.mu.Lock()
	w.staged = map[string]bool{}
	w.pending = map[string]pendingRewrite{}
	w.mu.Unlock()
	return nil
}

// stagingTables lists the staging tables of shp's dataset.
func (w *Warehouse) stagingTables(ctx context.Context) ([]string, error) {
	rows, _, err := w.queryRows(ctx, jobMeta{step: w.nextStep("list")},
		"SELECT table_name FROM "+ident(w.cfg.ShpDataset+".INFORMATION_SCHEMA.TABLES")+" WHERE STARTS_WITH(table_name, ?) ORDER BY table_name", stagePrefix)
	if err != nil {
		return nil, fmt.Errorf("bigquery: list staging tables: %w", err)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, str(r[0]))
	}
	return out, nil
}

// dropTables drops staging tables (qualified names), ignoring those
// already gone.
func (w *Warehouse) dropTables(ctx context.Context, m jobMeta, tables ...string) error {
	var b strings.Builder
	for _, t := range tables {
		b.WriteString("DROP TABLE IF EXISTS " + stagingRef(t) + ";\n")
	}
	if m.step == "" {
		m.step = w.nextStep("drop")
	}
	_, err := w.exec(context.WithoutCancel(ctx), m, b.String())
	w.mu.Lock()
	for _, t := range tables {
		delete(w.staged, t)
		delete(w.describe, t)
	}
	w.mu.Unlock()
	return err
}

// tempDirOf is where staging writes its files ("" for the system's).
func (w *Warehouse) tempDirOf() string {
	if w == nil {
		return ""
	}
	return w.tempDir
}
