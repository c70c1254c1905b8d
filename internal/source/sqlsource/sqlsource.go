// Package sqlsource extracts tables and queries from PostgreSQL (type
// postgres, or cloudsql with engine postgres) and MySQL or MariaDB (type
// mysql, or cloudsql with engine mysql) into CSV chunks: a header line,
// NULL written as an unquoted \N, bytes as \xHH escapes. PostgreSQL
// extracts with COPY (query) TO STDOUT; MySQL streams rows.
//
// Incremental extraction reads the rows whose watermark column lies in
// (since - lookback, max], where max is the column's maximum when the
// extraction starts; the new watermark is that max. Large extractions are
// split into chunks by ranges of an integer key, each written (and, on a
// transient failure, rewritten from scratch) as one file.
package sqlsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shp-dev/shp/internal/arrowmem"
	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/params"
	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/source"
)

func init() {
	// The MySQL driver logs connection errors it also returns: keep them
	// out of shp's output.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	source.RegisterExtractor("postgres", func(ctx context.Context, s source.Spec) (source.Extractor, error) {
		return open(s, "postgres")
	})
	source.RegisterExtractor("mysql", func(ctx context.Context, s source.Spec) (source.Extractor, error) {
		return open(s, "mysql")
	})
	source.RegisterExtractor("cloudsql", func(ctx context.Context, s source.Spec) (source.Extractor, error) {
		engine, _ := s.Settings["engine"].(string)
		if engine != "postgres" && engine != "mysql" {
			return nil, fmt.Errorf("engine %q is unknown (supported: postgres, mysql)", engine)
		}
		return open(s, engine)
	})
}

// Config is a SQL source's settings in sources.yaml.
type Config struct {
	Engine       string          `json:"engine"`
	DSN          string          `json:"dsn"`
	Host         string          `json:"host"`
	Port         int             `json:"port"`
	Database     string          `json:"database"`
	User         string          `json:"user"`
	PasswordEnv  string          `json:"password_env"`
	PasswordFile string          `json:"password_file"`
	TLS          TLS             `json:"tls"`
	Table        string          `json:"table"`
	Query        string          `json:"query"`
	Incremental  *Incremental    `json:"incremental"`
	Key          string          `json:"key"`
	ChunkSize    int64           `json:"chunk_size"`
	Retry        source.Retry    `json:"retry"`
	RateLimit    float64         `json:"rate_limit"`
	Timeout      source.Duration `json:"timeout"`
}

// TLS configures the connection's encryption.
type TLS struct {
	// Mode is disable, require (encrypt, do not verify), verify-ca or
	// verify-full (the default when a CA file is given).
	Mode       string `json:"mode"`
	CAFile     string `json:"ca_file"`
	CertFile   string `json:"cert_file"`
	KeyFile    string `json:"key_file"`
	ServerName string `json:"server_name"`
}

// Incremental extraction by a watermark column.
type Incremental struct {
	// Column holds a timestamp, date or increasing integer.
	Column string `json:"column"`
	// Lookback re-reads rows this far behind the watermark, for late
	// updates: a duration ("2h") for times, a number for integers.
	Lookback any `json:"lookback"`
	// Initial is the watermark of the first extraction; empty for all rows.
	Initial string `json:"initial"`
}

// column is one extracted column.
type column struct {
	name   string
	field  schema.Field
	expr   string // the select expression, already quoted
	dbType string
	// decimal marks an exact decimal column (PostgreSQL numeric, MySQL
	// DECIMAL), whose declared scale is scale, or -1 when the type does
	// not bound it (PostgreSQL numeric without a precision).
	decimal bool
	scale   int
	// unbounded marks a decimal column whose type does not bound its
	// values within the warehouse's 38 digits: Discover measures the
	// values to choose the NUMERIC that holds them.
	unbounded bool
}

// decimalStats is what the values of an unbounded decimal column need:
// the digits of the largest integer part, and the most decimals of a
// value (trailing zeros left out).
type decimalStats struct {
	intDigits, scale int
}

// engine is what differs between PostgreSQL and MySQL.
type engine interface {
	quote(ident string) string
	literal(v string) string
	// describe returns the columns of the relation. args are the values
	// of the relation's placeholders (a query's parameters), in every
	// method that takes them.
	describe(ctx context.Context, relation string, args []any) ([]column, error)
	// measure reads, in one query over the relation, what the values of
	// each of cols (unbounded decimal columns) need.
	measure(ctx context.Context, relation string, cols []column, args []any) ([]decimalStats, error)
	// selectExpr is the select expression (with its alias) that writes
	// the values of c in the notation of the type load they are loaded
	// as, or so that the load rejects them when that type cannot hold
	// them exactly.
	selectExpr(c column, load schema.Field) string
	// scalar runs a query returning one text value (NULL as ok=false).
	scalar(ctx context.Context, query string, args []any) (string, bool, error)
	// copyCSV writes the rows of query as CSV into w; the header is
	// written by the caller.
	copyCSV(ctx context.Context, query string, ncols int, w io.Writer, args []any) (int64, error)
	// placeholder returns the placeholder of the query's n-th (from 1)
	// parameter, v, and the value the driver binds to it.
	placeholder(n int, v params.Value) (string, any)
	close() error
	// reset drops the connection so that the next attempt reconnects.
	reset()
}

type extractor struct {
	name     string
	cfg      Config
	eng      engine
	caller   *resilience.Caller
	cols     []column
	measured bool // the unbounded decimal columns' types are chosen
	// query is the configured query with its {{params.NAME}} turned into
	// placeholders, and args the values bound to them; unbound, when
	// set, says which parameter has no value (the source cannot be read).
	query   string
	args    []any
	unbound error
	// batches says the chunks are Arrow IPC streams (UseBatches), whose
	// buffers pool keeps from one batch to the next.
	batches bool
	pool    *arrowmem.Pool
}

func open(s source.Spec, engineName string) (*extractor, error) {
	var cfg Config
	if err := source.Decode(s, &cfg); err != nil {
		return nil, err
	}
	if (cfg.Table == "") == (cfg.Query == "") {
		return nil, fmt.Errorf("give table or query (exactly one)")
	}
	if cfg.DSN == "" && cfg.Host == "" {
		return nil, fmt.Errorf("give host (with port, database, user) or dsn")
	}
	if cfg.Incremental != nil && cfg.Incremental.Column == "" {
		return nil, fmt.Errorf("incremental.column is required")
	}
	if cfg.ChunkSize < 0 {
		return nil, fmt.Errorf("chunk_size must be positive")
	}
	if cfg.ChunkSize > 0 && cfg.Key == "" {
		return nil, fmt.Errorf("chunk_size needs key, an indexed column to split the rows by")
	}
	if cfg.TLS.Mode == "" && cfg.TLS.CAFile != "" {
		cfg.TLS.Mode = "verify-full"
	}
	switch cfg.TLS.Mode {
	case "", "disable", "require", "verify-ca", "verify-full":
	default:
		return nil, fmt.Errorf("tls.mode %q is unknown (disable, require, verify-ca, verify-full)", cfg.TLS.Mode)
	}
	password, err := source.Secret("password", cfg.PasswordEnv, cfg.PasswordFile)
	if err != nil {
		return nil, err
	}
	policy, err := cfg.Retry.Policy(cfg.RateLimit, time.Duration(cfg.Timeout))
	if err != nil {
		return nil, err
	}
	x := &extractor{name: s.Name, cfg: cfg, caller: resilience.New("source "+s.Name, policy)}
	switch engineName {
	case "postgres":
		x.eng, err = newPostgres(cfg, password)
	default:
		x.eng, err = newMySQL(cfg, password)
	}
	if err != nil {
		return nil, err
	}
	if err := x.bind(engineName, s.Params); err != nil {
		_ = x.eng.close()
		return nil, err
	}
	return x, nil
}

func (x *extractor) Format() format.Format {
	if x.batches {
		return format.Arrow
	}
	return format.CSV
}

func (x *extractor) Close() error { return x.eng.close() }

// relation is the table, quoted, or the query as a subquery.
func (x *extractor) relation() string {
	if x.cfg.Query != "" {
		return "(" + strings.TrimRight(strings.TrimSpace(x.query), ";") + ") AS shp_q"
	}
	parts := strings.Split(x.cfg.Table, ".")
	for i, p := range parts {
		parts[i] = x.eng.quote(p)
	}
	return strings.Join(parts, ".")
}

// Discover reports the columns' types. A decimal column whose type does
// not bound its values within 38 digits (PostgreSQL numeric without a
// precision or with more than 38 digits, MySQL DECIMAL of more than 38)
// gets the NUMERIC(38, s) that holds every value it has now: s is the
// most decimals a value has, or more (9 by default, the declared scale
// when there is one) when the integer parts leave room. When no NUMERIC
// of 38 digits holds them all, the column is STRING, the values' exact
// text. This reads the column's values once, in one query for all such
// columns; a schema in sources.yaml skips it.
func (x *extractor) Discover(ctx context.Context) (schema.Schema, error) {
	cols, err := x.columns(ctx)
	if err != nil {
		return nil, err
	}
	if err := x.measure(ctx); err != nil {
		return nil, err
	}
	out := make(schema.Schema, len(cols))
	for i, c := range cols {
		out[i] = c.field
	}
	return out, nil
}

func (x *extractor) columns(ctx context.Context) ([]column, error) {
	if x.cols != nil {
		return x.cols, nil
	}
	if x.unbound != nil {
		return nil, x.unbound
	}
	var cols []column
	err := x.caller.Do(ctx, func(ctx context.Context) error {
		var err error
		cols, err = x.eng.describe(ctx, x.relation(), x.args)
		if err != nil {
			x.eng.reset()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", x.what(), err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("%s has no columns", x.what())
	}
	x.cols = cols
	return cols, nil
}

// measure chooses the types of the unbounded decimal columns from their
// values, once.
func (x *extractor) measure(ctx context.Context) error {
	if x.measured {
		return nil
	}
	var idx []int
	var cols []column
	for i, c := range x.cols {
		if c.unbounded {
			idx = append(idx, i)
			cols = append(cols, c)
		}
	}
	if len(cols) > 0 {
		var stats []decimalStats
		err := x.caller.Do(ctx, func(ctx context.Context) error {
			var err error
			stats, err = x.eng.measure(ctx, x.relation(), cols, x.args)
			if err != nil {
				x.eng.reset()
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("measure the decimal columns of %s: %w", x.what(), err)
		}
		for j, i := range idx {
			c := &x.cols[i]
			def := c.scale
			if def < 0 {
				def = defaultScale
			}
			if s, ok := fitNumeric(stats[j], def); ok {
				c.field.Type, c.field.Precision, c.field.Scale = schema.TypeNumeric, schema.MaxDecimalPrecision, s
			} else {
				c.field.Type, c.field.Precision, c.field.Scale = schema.TypeString, 0, 0
			}
		}
	}
	x.measured = true
	return nil
}

// defaultScale is the scale an unconstrained NUMERIC has (BigQuery's),
// and the one an unbounded decimal column gets when its values leave
// room for it.
const defaultScale = 9

// fitNumeric returns the scale s of the NUMERIC(38, s) that holds values
// needing st: at least st.scale decimals, def when the integer parts
// leave room for them (so that later values with more decimals fit too).
// ok is false when 38 digits cannot hold both the integer parts and the
// decimals.
func fitNumeric(st decimalStats, def int) (s int, ok bool) {
	if st.intDigits+st.scale > schema.MaxDecimalPrecision {
		return 0, false
	}
	return max(st.scale, min(def, schema.MaxDecimalPrecision-st.intDigits)), true
}

// intDigits counts the digits of the integer part of a decimal's text;
// "0.5" has none.
func intDigits(text string) int {
	text = strings.TrimLeft(text, "+-")
	if i := strings.IndexByte(text, '.'); i >= 0 {
		text = text[:i]
	}
	text = strings.TrimLeft(text, "0")
	return len(text)
}

// loadScale returns the scale of the NUMERIC a field is loaded as, and
// false when the field is not a NUMERIC. Without a precision a NUMERIC
// has 9 decimals and a BIGNUMERIC 18, as the warehouse keeps them.
func loadScale(f schema.Field) (int, bool) {
	if f.Repeated() {
		return 0, false
	}
	switch strings.ToUpper(f.Type) {
	case schema.TypeNumeric:
		if f.Precision > 0 {
			return f.Scale, true
		}
		return defaultScale, true
	case schema.TypeBigNumeric:
		if f.Precision > 0 {
			return f.Scale, true
		}
		return 18, true
	}
	return 0, false
}

// guardScale returns the scale a decimal column's values must not
// exceed when they are loaded as field load, and false when every value
// fits (the column's own scale is no larger) or load is not a NUMERIC.
func guardScale(c column, load schema.Field) (int, bool) {
	if !c.decimal {
		return 0, false
	}
	s, ok := loadScale(load)
	if !ok || (c.scale >= 0 && c.scale <= s) {
		return 0, false
	}
	return s, true
}

// tooManyDecimals is what follows a value that has more decimals than
// the NUMERIC it is loaded as: the load cannot read it and sets its row
// aside with the value and this reason, instead of rounding it.
func tooManyDecimals(scale int) string {
	return fmt.Sprintf(" (more than %d decimals: not rounded)", scale)
}

// loadField is the field a column is loaded as: the request's schema
// says, or else the column's own type.
func loadField(sch schema.Schema, c column) schema.Field {
	if f, ok := sch.Lookup(c.name); ok {
		return f
	}
	return c.field
}

// what names the table or query in messages.
func (x *extractor) what() string {
	if x.cfg.Table != "" {
		return "table " + x.cfg.Table
	}
	q := strings.Join(strings.Fields(x.cfg.Query), " ")
	if len(q) > 80 {
		q = q[:77] + "..."
	}
	return "query " + strconv.Quote(q)
}

func (x *extractor) scalar(ctx context.Context, query string) (string, bool, error) {
	var v string
	var ok bool
	err := x.caller.Do(ctx, func(ctx context.Context) error {
		var err error
		v, ok, err = x.eng.scalar(ctx, query, x.args)
		if err != nil {
			x.eng.reset()
		}
		return err
	})
	return v, ok, err
}

// TakeRetries implements source.RetryLog.
func (x *extractor) TakeRetries() []resilience.Retry { return x.caller.TakeRetries() }

func (x *extractor) Extract(ctx context.Context, req source.ExtractRequest, sink source.Sink) (*source.Extraction, error) {
	cols, err := x.columns(ctx)
	if err != nil {
		return nil, err
	}
	rel := x.relation()
	var where []string
	out := &source.Extraction{Watermark: req.Since}
	if inc := x.cfg.Incremental; inc != nil {
		wm := x.eng.quote(inc.Column)
		since := req.Since
		if since == "" {
			since = inc.Initial
		}
		if req.Full {
			since = ""
		}
		if since != "" {
			lower, err := lookBack(since, inc.Lookback)
			if err != nil {
				return nil, err
			}
			where = append(where, wm+" > "+x.eng.literal(lower))
		}
		maxQ := "SELECT CAST(max(" + wm + ") AS " + x.textType() + ") FROM " + rel
		if len(where) > 0 {
			maxQ += " WHERE " + strings.Join(where, " AND ")
		}
		upper, ok, err := x.scalar(ctx, maxQ)
		if err != nil {
			return nil, fmt.Errorf("read the watermark of %s: %w", x.what(), err)
		}
		if !ok {
			out.Query = maxQ
			return out, nil // nothing after the watermark
		}
		if since == "" {
			// The first (or a full) extraction takes every row, those
			// without a watermark too; later ones cannot see them.
			where = append(where, "("+wm+" <= "+x.eng.literal(upper)+" OR "+wm+" IS NULL)")
		} else {
			where = append(where, wm+" <= "+x.eng.literal(upper))
		}
		out.Watermark = upper
	}
	sel := make([]string, len(cols))
	header := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = x.eng.selectExpr(c, loadField(req.Schema, c))
		header[i] = csvField(c.name)
	}
	base := "SELECT " + strings.Join(sel, ", ") + " FROM " + rel
	extractOne := func(conds []string) error {
		q := base
		if len(conds) > 0 {
			q += " WHERE " + strings.Join(conds, " AND ")
		}
		out.Query = q
		rows, bytes, attempts, err := x.chunk(ctx, sink, q, len(cols), strings.Join(header, ",")+"\n")
		out.Attempts += attempts
		if err != nil {
			return fmt.Errorf("extract %s: %w", x.what(), err)
		}
		out.Rows += rows
		out.Bytes += bytes
		return nil
	}
	if x.cfg.ChunkSize <= 0 {
		return out, extractOne(where)
	}
	// Chunks by the key, chunk_size rows each: each chunk's upper key is
	// found first (keyset paging, by the key's index), so chunks follow
	// the data whatever gaps the keys have. Rows without a key come last.
	k := x.eng.quote(x.cfg.Key)
	last, chunks, size := "", 0, x.cfg.ChunkSize
	// shrink halves the chunk after an error a smaller query may avoid
	// (out of memory, a statement timeout), down to minChunk rows.
	shrink := func(err error) bool {
		if !tooBig(err) || size/2 < minChunk {
			return false
		}
		out.Adjustments = append(out.Adjustments, fmt.Sprintf("chunk_size %d -> %d after: %v", size, size/2, err))
		size /= 2
		return true
	}
	for {
		conds := append([]string(nil), where...)
		if last != "" {
			conds = append(conds, k+" > "+x.eng.literal(last))
		}
		bound := "SELECT CAST(max(shp_k) AS " + x.textType() + ") FROM (SELECT " + k + " AS shp_k FROM " + rel +
			whereClause(append(conds, k+" IS NOT NULL")) + " ORDER BY " + k + " LIMIT " + strconv.FormatInt(size, 10) + ") shp_b"
		upto, ok, err := x.scalar(ctx, bound)
		if err != nil {
			if shrink(err) {
				continue
			}
			return out, fmt.Errorf("read the next chunk's key range of %s: %w", x.what(), err)
		}
		if !ok {
			break
		}
		if err := extractOne(append(conds, k+" <= "+x.eng.literal(upto))); err != nil {
			if shrink(err) {
				continue
			}
			return out, err
		}
		last = upto
		chunks++
	}
	if err := extractOne(append(append([]string(nil), where...), k+" IS NULL")); err != nil {
		return out, err
	}
	out.Query = base + " WHERE ... (" + strconv.Itoa(chunks) + " chunks of " + strconv.FormatInt(size, 10) + " rows by " + x.cfg.Key + ")"
	return out, nil
}

// minChunk is the smallest chunk shrinking goes to.
const minChunk = 100

// tooBig reports errors that a query over fewer rows may not have: out of
// memory or disk, a program limit, a statement timeout.
func tooBig(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "53100", "53200", "54000", "57014": // disk full, out of memory, program limit, statement timeout
			return true
		}
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		switch my.Number {
		case 1038, 1041, 1114, 3024: // out of sort memory, out of memory, table full, max_execution_time
			return true
		}
	}
	return false
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// chunk extracts one query into one chunk, retrying a transient failure
// with a fresh chunk and connection.
func (x *extractor) chunk(ctx context.Context, sink source.Sink, query string, ncols int, header string) (rows, bytes int64, attempts int, err error) {
	err = x.caller.Do(ctx, func(ctx context.Context) error {
		attempts++
		c, err := sink.Chunk(ctx)
		if err != nil {
			return err
		}
		cw := &countingWriter{w: c}
		var n int64
		if bc, ok := x.eng.(batchCopier); ok && x.batches {
			n, err = bc.copyArrow(ctx, query, cw, x.pool)
		} else {
			if _, err := io.WriteString(cw, header); err != nil {
				c.Discard()
				return err
			}
			n, err = x.eng.copyCSV(ctx, query, ncols, cw, x.args)
		}
		if err != nil {
			c.Discard()
			x.eng.reset()
			return err
		}
		if err := c.Commit(n); err != nil {
			return err
		}
		rows, bytes = n, cw.n
		return nil
	})
	return rows, bytes, attempts, err
}

func (x *extractor) textType() string {
	if _, ok := x.eng.(*pgEngine); ok {
		return "TEXT"
	}
	return "CHAR"
}

// lookBack moves a watermark back by the lookback: a duration for times,
// a number for integers.
func lookBack(since string, lookback any) (string, error) {
	if lookback == nil {
		return since, nil
	}
	if n, err := strconv.ParseInt(since, 10, 64); err == nil {
		f, ok := lookback.(float64)
		if !ok {
			return "", fmt.Errorf("incremental.lookback must be a number for an integer watermark, got %v", lookback)
		}
		return strconv.FormatInt(n-int64(f), 10), nil
	}
	s, ok := lookback.(string)
	if !ok {
		return "", fmt.Errorf("incremental.lookback must be a duration such as 2h for a time watermark, got %v", lookback)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return "", fmt.Errorf("incremental.lookback %q: %v", s, err)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, since); err == nil {
			return t.Add(-d).Format(layout), nil
		}
	}
	return "", fmt.Errorf("watermark %q is neither an integer nor a time", since)
}

// timeLayouts are the text forms of the databases' times.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02",
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// appendCSVField appends v as csvField writes it, without copying it
// into a string first.
func appendCSVField(buf, v []byte) []byte {
	needs := len(v) > 0 && (v[0] == ' ' || v[len(v)-1] == ' ') || len(v) == 2 && v[0] == '\\' && v[1] == 'N'
	if !needs {
		for _, c := range v {
			if c == ',' || c == '"' || c == '\r' || c == '\n' {
				needs = true
				break
			}
		}
	}
	if !needs {
		return append(buf, v...)
	}
	buf = append(buf, '"')
	for _, c := range v {
		if c == '"' {
			buf = append(buf, '"')
		}
		buf = append(buf, c)
	}
	return append(buf, '"')
}

// csvField quotes a field when it needs it, or when it reads as the NULL
// marker \N.
func csvField(s string) string {
	if s == `\N` || strings.ContainsAny(s, ",\"\r\n") || (s != "" && (s[0] == ' ' || s[len(s)-1] == ' ')) {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}
