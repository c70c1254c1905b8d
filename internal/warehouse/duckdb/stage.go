package duckdb

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

// Column names shp adds to staging data; they never reach a target.
const (
	lineCol = "__shp_line"
	errCol  = "__shp_error"
	rawCol  = "__shp_raw"
	ordCol  = "__shp_unconverted" // JSON of a CSV row whose value shp could not convert
)

// quarantineStageDDL is the shape of a per-object quarantine staging table.
const quarantineStageColumns = `(line BIGINT, reason VARCHAR NOT NULL, raw VARCHAR)`

// Stage loads one object into a staging table. Rows that do not parse go
// to a quarantine staging table with the reason; Commit moves both.
func (w *Warehouse) Stage(ctx context.Context, spec warehouse.LoadSpec) (*warehouse.Staged, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	conn := w.conn
	n := w.seq.Add(1)
	id := fmt.Sprintf("%s%s_%d", stagePrefix, sanitize(spec.RunID), n)
	claimed := w.claimAttach(ctx, spec)
	if claimed {
		// A table of the main schema, which the commit that creates the
		// target may rename into its place; a temporary one if automatic
		// checkpoints cannot be held for it.
		if err := w.holdCheckpoints(ctx, fmt.Sprintf("%s%d", attachPrefix, n)); err != nil {
			w.unclaim(spec.RunID, spec.Target)
			claimed = false
		} else {
			id = fmt.Sprintf("%s%d", attachPrefix, n)
		}
	}
	var staged *warehouse.Staged
	err := w.roomFor(ctx, "stage "+spec.ObjectKey, func() (err error) {
		st := &stager{w: w, conn: conn, spec: spec, id: id, table: id, qtable: id + "_q"}
		defer st.removeTemp()
		if staged, err = st.run(ctx); err != nil {
			st.drop(context.WithoutCancel(ctx))
		}
		return err
	})
	if err != nil {
		if claimed {
			w.unclaim(spec.RunID, spec.Target)
			w.releaseCheckpoints(ctx, id)
		}
		return nil, fmt.Errorf("duckdb: stage %s: %w", spec.ObjectKey, err)
	}
	return staged, nil
}

type stager struct {
	w             *Warehouse
	conn          *sql.Conn
	spec          warehouse.LoadSpec
	id            string
	table, qtable string
	drift         []string
	extra         []schema.Field
	missing       []string
	temp          []string    // files made while staging, removed after
	converted     []converted // CSV columns read as text and converted by shp
	lineExpr      string      // SQL for a staged row's line, when known
}

// converted is a CSV column shp converts itself.
type converted struct {
	name, typ string
}

func (s *stager) removeTemp() {
	for _, f := range s.temp {
		_ = os.Remove(f)
	}
}

// fileName is the schema column a file column is read as.
func (s *stager) fileName(name string) string {
	if to, ok := s.spec.Rename[name]; ok {
		return to
	}
	return name
}

// noteMissing records a schema column the file lacks.
func (s *stager) noteMissing(name string) {
	s.drift = append(s.drift, fmt.Sprintf("column %q is missing from the file; loaded as NULL", name))
	s.missing = append(s.missing, name)
}

// noteExtra records a file column the schema lacks, with the type its
// values suggest.
func (s *stager) noteExtra(name, engineType string) {
	s.drift = append(s.drift, fmt.Sprintf("extra column %q is not in the schema; ignored", name))
	if engineType == "" {
		engineType = "VARCHAR"
	}
	s.extra = append(s.extra, schema.Field{Name: name, Type: SchemaType(engineType), Mode: schema.ModeNullable})
}

func (s *stager) drop(ctx context.Context) {
	for _, t := range []string{s.table, s.qtable, s.table + "_raw"} {
		_, _ = logExec(ctx, s.conn, "DROP TABLE IF EXISTS "+stagingRef(t))
	}
}

func (s *stager) run(ctx context.Context) (*warehouse.Staged, error) {
	declared, err := s.declaredColumns(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := logExec(ctx, s.conn, "CREATE TEMP TABLE "+stagingRef(s.qtable)+" "+quarantineStageColumns); err != nil {
		return nil, fmt.Errorf("create quarantine staging table: %w", err)
	}
	if s.spec.Encoding != "" && s.spec.Format != format.Parquet && s.spec.Format != format.Arrow {
		if err := s.transcode(); err != nil {
			return nil, err
		}
	}
	if s.spec.Format == format.Arrow {
		err = s.stageArrow(ctx, declared)
	} else {
		err = sqlplan.StageFormat(s.spec.Format,
			func() error { return s.stageCSV(ctx, declared) },
			func() error { return s.stageJSON(ctx, declared) },
			func() error { return s.stageParquet(ctx, declared) })
	}
	if err != nil {
		return nil, err
	}
	if err := s.convertParsed(ctx); err != nil {
		return nil, err
	}
	if err := s.rejectNulls(ctx); err != nil {
		return nil, err
	}
	cols, err := columns(ctx, s.conn, s.table, true)
	if err != nil {
		return nil, err
	}
	staged := &warehouse.Staged{
		Table:       s.table,
		ObjectKey:   s.spec.ObjectKey,
		Fingerprint: s.spec.Fingerprint,
		ContentHash: s.spec.ContentHash,
		Drift:       s.drift,
		Extra:       s.extra,
		Missing:     s.missing,
		Index:       "rowid",
	}
	for _, c := range cols {
		if c.Name != lineCol {
			staged.Columns = append(staged.Columns, c)
		}
	}
	if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+stagingRef(s.table)).Scan(&staged.Loaded); err != nil {
		return nil, fmt.Errorf("count staged rows: %w", err)
	}
	if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+stagingRef(s.qtable)).Scan(&staged.Quarantined); err != nil {
		return nil, fmt.Errorf("count quarantined rows: %w", err)
	}
	samples, err := logQuery(ctx, s.conn, "SELECT coalesce(line, 0), reason FROM "+stagingRef(s.qtable)+" ORDER BY line LIMIT 5")
	if err != nil {
		return nil, fmt.Errorf("read quarantined rows: %w", err)
	}
	defer samples.Close()
	for samples.Next() {
		var q warehouse.QuarantineSample
		if err := samples.Scan(&q.Line, &q.Reason); err != nil {
			return nil, fmt.Errorf("read quarantined rows: %w", err)
		}
		staged.Samples = append(staged.Samples, q)
	}
	return staged, samples.Err()
}

// declaredColumns is the schema rows must fit: the declared one, else the
// existing target's, else nil (infer from the data).
//
// A target that earlier repairs evolved (a column added, a type widened)
// keeps what they did: its extra columns and wider types join the
// declared schema. A repair's Extend and Widen apply last.
func (s *stager) declaredColumns(ctx context.Context) ([]declaredColumn, error) {
	target, err := columns(ctx, s.conn, s.spec.Target, false)
	if err != nil {
		return nil, err
	}
	var out []declaredColumn
	if len(s.spec.Schema) > 0 {
		out = make([]declaredColumn, len(s.spec.Schema))
		for i, f := range s.spec.Schema {
			out[i] = declaredColumn{Name: f.Name, Type: TypeOf(f), Required: f.Required()}
			for _, t := range target {
				if strings.EqualFold(t.Name, f.Name) && Widens(out[i].Type, t.Type) {
					out[i].Type = t.Type
				}
			}
		}
		for _, t := range target {
			if _, ok := lookup(out, t.Name); !ok {
				out = append(out, declaredColumn{Name: t.Name, Type: t.Type})
			}
		}
	} else {
		for _, c := range target {
			out = append(out, declaredColumn{Name: c.Name, Type: c.Type})
		}
	}
	if len(out) == 0 {
		return nil, nil // inferred from the data
	}
	for _, f := range s.spec.Extend {
		if _, ok := lookup(out, f.Name); !ok {
			out = append(out, declaredColumn{Name: f.Name, Type: TypeOf(f)})
		}
	}
	for i := range out {
		for name, typ := range s.spec.Widen {
			if strings.EqualFold(name, out[i].Name) {
				out[i].Type = TypeOf(schema.Field{Name: name, Type: typ})
			}
		}
	}
	return out, nil
}

// Widens reports whether a column of type from can become type to without
// losing a value: integers to wider integers, decimals or floats; DATE to
// a timestamp.
func Widens(from, to string) bool {
	from, to = strings.ToUpper(from), strings.ToUpper(to)
	if from == to {
		return false
	}
	rank := map[string]int{"TINYINT": 1, "SMALLINT": 2, "INTEGER": 3, "BIGINT": 4}
	isInt := func(t string) bool { return rank[t] > 0 }
	switch {
	case isInt(from) && isInt(to):
		return rank[to] > rank[from]
	case isInt(from):
		return to == "HUGEINT" || to == "DOUBLE" || strings.HasPrefix(to, "DECIMAL")
	case from == "FLOAT":
		return to == "DOUBLE"
	case strings.HasPrefix(from, "DECIMAL"):
		return to == "DOUBLE"
	case from == "DATE":
		return to == "TIMESTAMP" || to == "TIMESTAMP WITH TIME ZONE" || to == "TIMESTAMPTZ"
	}
	return false
}

// SchemaType names the BigQuery type that holds a DuckDB type.
func SchemaType(engineType string) string {
	t := strings.ToUpper(engineType)
	switch {
	case t == "TINYINT" || t == "SMALLINT" || t == "INTEGER" || t == "BIGINT" || t == "HUGEINT" || strings.HasPrefix(t, "U"):
		return "INT64"
	case t == "DOUBLE" || t == "FLOAT":
		return "FLOAT64"
	case strings.HasPrefix(t, "DECIMAL"):
		return "NUMERIC"
	case t == "BOOLEAN":
		return "BOOL"
	case t == "DATE":
		return "DATE"
	case t == "TIMESTAMP":
		return "DATETIME"
	case strings.HasPrefix(t, "TIMESTAMP"):
		return "TIMESTAMP"
	case t == "TIME":
		return "TIME"
	case t == "BLOB":
		return "BYTES"
	case t == "VARCHAR":
		return "STRING"
	}
	return "JSON"
}

type declaredColumn struct {
	Name     string
	Type     string
	Required bool
	As       string // the schema column a file column is read as, when present
}

// presentAs finds the file column read as the schema column name.
func presentAs(present []declaredColumn, name string) (declaredColumn, bool) {
	for _, p := range present {
		as := p.As
		if as == "" {
			as = p.Name
		}
		if strings.EqualFold(as, name) {
			return p, true
		}
	}
	return declaredColumn{}, false
}

func lookup(decl []declaredColumn, name string) (declaredColumn, bool) {
	for _, d := range decl {
		if strings.EqualFold(d.Name, name) {
			return d, true
		}
	}
	return declaredColumn{}, false
}

// TypeOf maps a BigQuery schema field to the DuckDB type that holds it.
func TypeOf(f schema.Field) string {
	if strings.EqualFold(f.Mode, "REPEATED") {
		return "JSON"
	}
	switch strings.ToUpper(f.Type) {
	case "STRING", "GEOGRAPHY":
		return "VARCHAR"
	case "BYTES":
		return "BLOB"
	case "INT64", "INTEGER":
		return "BIGINT"
	case "FLOAT64", "FLOAT":
		return "DOUBLE"
	case "NUMERIC", "BIGNUMERIC":
		// NUMERIC(P, S) keeps its parameters; unparameterised NUMERIC is
		// BigQuery's (38, 9). DuckDB stops at 38 digits, so BIGNUMERIC
		// keeps 18 decimals of its 38. Declaring a precision of 18 or less
		// makes the column a 64-bit decimal, several times faster to load.
		if f.Precision > 0 {
			return fmt.Sprintf("DECIMAL(%d,%d)", f.Precision, f.Scale)
		}
		if strings.EqualFold(f.Type, "BIGNUMERIC") {
			return "DECIMAL(38,18)"
		}
		return "DECIMAL(38,9)"
	case "BOOL", "BOOLEAN":
		return "BOOLEAN"
	case "TIMESTAMP":
		return "TIMESTAMPTZ"
	case "DATETIME":
		return "TIMESTAMP"
	case "DATE":
		return "DATE"
	case "TIME":
		return "TIME"
	default: // JSON, RECORD, STRUCT
		return "JSON"
	}
}

func (s *stager) csvOptions() (delim, quote string, nulls []string) {
	return sqlplan.CSVDefaults(s.spec.CSV)
}

func (s *stager) compression() string {
	if s.spec.Compression == format.Gzip {
		return "gzip"
	}
	return "none"
}

// stageCSV lets DuckDB's CSV reader type the columns and store the lines
// it cannot read (wrong field count, bad value, bad encoding) with the line
// number, the raw text and the error.
func (s *stager) stageCSV(ctx context.Context, declared []declaredColumn) error {
	cols, cells, err := s.csvColumns(declared)
	if err != nil {
		return err
	}
	header := cols.Names
	delim, quote, nulls := s.csvOptions()
	opts := fmt.Sprintf("delim=%s, quote=%s, escape=%s, compression=%s, nullstr=%s, allow_quoted_nulls=%t",
		literal(delim), literal(quote), literal(quote), literal(s.compression()), listLiteral(nulls),
		!s.spec.CSV.QuotedNullsAreText)
	base := fmt.Sprintf("header=%t, %s", !s.spec.CSV.NoHeader, opts)
	sniffBase := base
	if !s.spec.CSV.NoHeader && cells > len(header) {
		// The header has more cells than the records have fields: the
		// sniffer types the records alone.
		sniffBase = "header=false, skip=1, " + opts
	}
	path := literal(s.spec.Path)

	fileTypes := make([]string, len(header))
	if len(declared) == 0 {
		fileTypes = s.sniffCSVTypes(ctx, path, sniffBase, len(header))
	}
	var colSpec, selects, texts, badConds, badVals []string
	var extras []int
	inFile := map[string]bool{}
	for i, h := range header {
		typ := fileTypes[i]
		if typ == "" {
			typ = "VARCHAR"
		}
		if cols.Skip[i] {
			// Declared, so that the records have as many fields as the
			// reader expects, but not read.
			colSpec = append(colSpec, literal(h)+": 'VARCHAR'")
			continue
		}
		if len(declared) > 0 {
			if d, ok := lookup(declared, s.fileName(h)); ok {
				typ = d.Type
				inFile[strings.ToLower(d.Name)] = true
				if cp, parsed := s.parse(d.Name); parsed || s.ownConversion(d) {
					// Read as text and converted in the same statement; a
					// value that does not convert keeps its text in a
					// column of its own, see convertParsed.
					typ = "VARCHAR"
					src := nullTokens(ident(h), cp)
					expr := s.castExpr(src, d.Type)
					if parsed {
						expr = parseExpr(src, d.Type, cp)
					}
					// The text goes along under a name of its own, for
					// the outer statement to compare with the value.
					text := ident(fmt.Sprintf("__shp_text_%d", len(s.converted)))
					s.converted = append(s.converted, converted{name: d.Name, typ: d.Type})
					selects = append(selects, expr+" AS "+ident(d.Name))
					texts = append(texts, text)
					badConds = append(badConds, fmt.Sprintf("(%s IS NOT NULL AND %s IS NULL)", nullTokens(text, cp), ident(d.Name)))
					badVals = append(badVals, literal(d.Name)+", "+text)
					selects = append(selects, ident(h)+" AS "+text)
				} else {
					selects = append(selects, ident(h)+" AS "+ident(d.Name))
				}
			} else {
				extras = append(extras, i)
			}
		} else {
			selects = append(selects, ident(h))
		}
		colSpec = append(colSpec, literal(h)+": "+literal(typ))
	}
	if len(declared) > 0 && len(inFile) == 0 {
		return fmt.Errorf("none of the file's columns %v is in the schema (is the delimiter right?)", header)
	}
	if len(extras) > 0 {
		sniffed := s.sniffCSVTypes(ctx, path, sniffBase, len(header))
		for _, i := range extras {
			s.noteExtra(header[i], sniffed[i])
		}
	}
	for _, d := range declared {
		if !inFile[strings.ToLower(d.Name)] {
			s.noteMissing(d.Name)
			selects = append(selects, "CAST(NULL AS "+d.Type+") AS "+ident(d.Name))
		}
	}

	rejects, scans := s.id+"_rej", s.id+"_scan"
	read := fmt.Sprintf(`SELECT %s FROM read_csv(%s, %s, auto_detect=false, columns={%s},
		store_rejects=true, rejects_table=%s, rejects_scan=%s)`,
		strings.Join(selects, ", "), path, base, strings.Join(colSpec, ", "), literal(rejects), literal(scans))
	stmt := createStaging(s.table) + " AS " + read
	if len(s.converted) > 0 {
		// The text of a row whose value did not convert; NULL (and free)
		// for the others. The outer statement compares the converted
		// values with their texts, so that each cast runs once. The row's
		// ordinal among the rows read, from which convertParsed finds its
		// line, is its rowid: the rows keep the file's order
		// (preserve_insertion_order).
		stmt = fmt.Sprintf("%s AS SELECT * EXCLUDE (%s), CASE WHEN %s THEN CAST(json_object('text', json_object(%s)) AS VARCHAR) END AS %s FROM (%s)",
			createStaging(s.table), strings.Join(texts, ", "), strings.Join(badConds, " OR "), strings.Join(badVals, ", "), ident(ordCol), read)
	}
	if _, err := logExec(ctx, s.conn, stmt); err != nil {
		return fmt.Errorf("read csv: %w", err)
	}
	defer func() {
		_, _ = s.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+ident(rejects))
		_, _ = s.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+ident(scans))
	}()
	// One line can have several errors; it is one quarantined row. DuckDB
	// repeats a structural error for every column it affects, so those
	// are folded into one message that lists the columns.
	_, err = logExec(ctx, s.conn, fmt.Sprintf(`INSERT INTO %s
		SELECT line, string_agg(part, '; ' ORDER BY first_idx), first(raw)
		FROM (
			SELECT line, min(column_idx) AS first_idx, first(csv_line) AS raw,
			       CASE WHEN error_type = 'CAST'
			            THEN string_agg('CAST (column ' || column_name || '): ' || error_message, '; ' ORDER BY column_idx)
			            ELSE error_type || coalesce(' (column ' || string_agg(column_name, ', ' ORDER BY column_idx) || ')', '')
			                 || ': ' || first(error_message ORDER BY column_idx)
			       END AS part
			FROM %s GROUP BY line, error_type)
		GROUP BY line ORDER BY line`, stagingRef(s.qtable), ident(rejects)))
	if err != nil {
		return fmt.Errorf("collect rejected lines: %w", err)
	}
	if len(s.converted) > 0 {
		// For the j-th rejected line (in order), g is the number of good
		// rows before it: a good row of ordinal k follows the rejected
		// lines whose g is below k.
		header := 1
		if s.spec.CSV.NoHeader {
			header = 0
		}
		_, err = logExec(ctx, s.conn, fmt.Sprintf(`CREATE TEMP TABLE %s AS
			SELECT line - %d - row_number() OVER (ORDER BY line) AS g, row_number() OVER (ORDER BY line) AS j
			FROM (SELECT DISTINCT line FROM %s)`, stagingRef(s.table+"_rejg"), header, ident(rejects)))
		if err != nil {
			return fmt.Errorf("number rejected lines: %w", err)
		}
		ord := "(" + convertedAlias + ".rowid + 1)"
		s.lineExpr = fmt.Sprintf("%s + %d + coalesce((SELECT max(j) FROM %s WHERE g < %s), 0)",
			ord, header, stagingRef(s.table+"_rejg"), ord)
	}
	return nil
}

// csvColumns settles the file's dialect (see resolveDialect) and reads its
// header: the reader's columns, with names for the cells that have none
// and trailing empty columns skipped (see format.NameCSVColumns), or
// column1..N invented without a header. cells is the number of the
// header's cells.
func (s *stager) csvColumns(declared []declaredColumn) (cols format.CSVColumns, cells int, err error) {
	if err := s.resolveDialect(declared); err != nil {
		return cols, 0, err
	}
	r, err := format.OpenFile(s.spec.Path, s.spec.Compression)
	if err != nil {
		return cols, 0, err
	}
	defer r.Close()
	var header []string
	if d, ok := s.dialect(); ok {
		header, err = format.CSVHeader(r, d)
	} else {
		delim, _, _ := s.csvOptions()
		header, err = format.ReadCSVHeader(r, []rune(delim)[0])
	}
	if err != nil {
		return cols, 0, fmt.Errorf("read header: %w", err)
	}
	if s.spec.CSV.NoHeader {
		return sqlplan.HeaderlessColumns(len(header), s.spec.Schema), len(header), nil
	}
	cols, err = format.NameCSVColumns(header, s.csvShape)
	if err != nil {
		return cols, 0, err
	}
	s.drift = append(s.drift, cols.Notes...)
	return cols, len(header), nil
}

// dialect is the file's CSV dialect for shp's own scanners; false when
// the delimiter or quote is more than one byte.
func (s *stager) dialect() (format.CSVDialect, bool) {
	delim, quote, _ := s.csvOptions()
	if len(delim) != 1 || len(quote) != 1 {
		return format.CSVDialect{}, false
	}
	return format.CSVDialect{Header: !s.spec.CSV.NoHeader, Delimiter: delim[0], Quote: quote[0]}, true
}

// csvShape scans the whole file for its records' field layout.
func (s *stager) csvShape() (*format.CSVShape, error) {
	d, _ := s.dialect()
	r, err := format.OpenFile(s.spec.Path, s.spec.Compression)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return format.ScanCSVShape(r, d)
}

// resolveDialect detects the delimiter and quote the spec leaves empty
// from a sample of the file, and checks a declared delimiter against the
// declared columns: when it reads none of them and exactly one other
// delimiter does, that one is used (see format.ResolveCSVDialect). What it
// found, and what the caller detected before (CSVOptions.Notes), is noted
// in the drift.
func (s *stager) resolveDialect(declared []declaredColumn) error {
	var known func(string) bool
	if len(declared) > 0 {
		known = func(name string) bool { _, ok := lookup(declared, s.fileName(name)); return ok }
	}
	notes, err := sqlplan.ResolveCSVDialect(&s.spec.CSV, known, func() (io.ReadCloser, error) {
		return format.OpenFile(s.spec.Path, s.spec.Compression)
	})
	s.drift = append(s.drift, notes...)
	return err
}

// sniffCSVTypes asks DuckDB's sniffer for column types when no schema is
// declared. A file the sniffer cannot read is loaded as text.
func (s *stager) sniffCSVTypes(ctx context.Context, path, base string, n int) []string {
	types := make([]string, n)
	rows, err := logQuery(ctx, s.conn, fmt.Sprintf("DESCRIBE SELECT * FROM read_csv(%s, %s, auto_detect=true, ignore_errors=true)", path, base))
	if err != nil {
		return types
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	i := 0
	for rows.Next() && i < n {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for j := range vals {
			ptrs[j] = &vals[j]
		}
		if rows.Scan(ptrs...) != nil {
			return make([]string, n)
		}
		types[i], _ = vals[1].(string)
		i++
	}
	if i != n {
		return make([]string, n)
	}
	return types
}

// stageJSON splices a line number into each record, sets records that are
// not JSON objects aside, and reads the rest with DuckDB's JSON reader.
func (s *stager) stageJSON(ctx context.Context, declared []declaredColumn) error {
	r, err := format.OpenFile(s.spec.Path, s.spec.Compression)
	if err != nil {
		return err
	}
	defer r.Close()
	tmp, err := os.CreateTemp(s.w.tempDir, s.id+"_*.jsonl")
	if err != nil {
		return fmt.Errorf("create normalised copy: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	tx, err := s.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, "INSERT INTO "+stagingRef(s.qtable)+" VALUES (?, ?, ?)")
	if err != nil {
		return err
	}
	defer ins.Close()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	good, _, err := format.NormalizeJSON(r, bw, s.spec.Format == format.JSONL, func(n int64, raw []byte, reason string) error {
		_, err := ins.ExecContext(ctx, n, reason, strings.ToValidUTF8(string(raw), "\uFFFD"))
		return err
	})
	if err != nil {
		return fmt.Errorf("read json: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write normalised copy: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if good == 0 {
		return s.createEmpty(ctx, declared)
	}
	// Every key is a column of its own, however many keys the records
	// have: DuckDB otherwise reads records with more than 200 distinct
	// keys as one MAP column. A key that is null in every record is a
	// JSON column of NULLs (as Great Expectations keeps it).
	src := fmt.Sprintf("read_json(%s, format='newline_delimited', map_inference_threshold=-1", literal(filepath.ToSlash(tmp.Name())))
	if len(declared) == 0 {
		src += ", sample_size=-1)"
		return s.createFrom(ctx, "SELECT * FROM "+src)
	}
	// Keys the schema lacks are drift: the reader below only reads the
	// declared ones, so look at what the records hold first.
	fileCols, err := s.describe(ctx, "SELECT * FROM "+src+")")
	if err != nil {
		return err
	}
	for _, fc := range fileCols {
		if _, ok := lookup(declared, s.fileName(fc.Name)); !ok && fc.Name != lineCol {
			s.noteExtra(fc.Name, fc.Type)
		}
	}
	// Every declared key that some record has is read (a record without
	// it gives NULL), under its file name when a repair renamed it; a key
	// no record has is a column missing from the file.
	keys, err := s.jsonKeys(ctx, tmp.Name())
	if err != nil {
		return err
	}
	spec := []string{literal(lineCol) + ": 'BIGINT'"}
	var present []declaredColumn
	for _, d := range declared {
		name := d.Name
		for from, to := range s.spec.Rename {
			if strings.EqualFold(to, d.Name) {
				name = from
			}
		}
		key, ok := keys[name]
		if !ok {
			key, ok = keys[strings.ToLower(name)]
		}
		if !ok {
			continue
		}
		spec = append(spec, literal(key)+": 'VARCHAR'")
		present = append(present, declaredColumn{Name: key, Type: d.Type, Required: d.Required, As: d.Name})
	}
	src += ", columns={" + strings.Join(spec, ", ") + "})"
	return s.castInto(ctx, src, declared, present, nil)
}

// jsonKeys lists the top-level keys of every record of a normalised JSON
// Lines file, each under its own name and its lower-case name.
func (s *stager) jsonKeys(ctx context.Context, path string) (map[string]string, error) {
	rows, err := logQuery(ctx, s.conn, fmt.Sprintf(
		"SELECT DISTINCT unnest(json_keys(json)) FROM read_json_objects(%s, format='newline_delimited')", literal(filepath.ToSlash(path))))
	if err != nil {
		return nil, fmt.Errorf("list the records' keys: %w", err)
	}
	defer rows.Close()
	keys := map[string]string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("list the records' keys: %w", err)
		}
		keys[k] = k
		if _, ok := keys[strings.ToLower(k)]; !ok {
			keys[strings.ToLower(k)] = k
		}
	}
	return keys, rows.Err()
}

// stageParquet reads a Parquet file; with a declared schema its columns
// are cast (see stageTyped), and rows whose values do not fit are set
// aside.
func (s *stager) stageParquet(ctx context.Context, declared []declaredColumn) error {
	return s.stageTyped(ctx, fmt.Sprintf("(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS %s FROM read_parquet(%s, file_row_number=true))",
		ident(lineCol), literal(s.spec.Path)), declared)
}

// stageTyped stages src, a source of typed columns with lineCol (a
// Parquet file, Arrow batches): as it is without a declared schema, else
// each declared column from the one of its name, through castInto.
func (s *stager) stageTyped(ctx context.Context, src string, declared []declaredColumn) error {
	if len(declared) == 0 {
		return s.createFrom(ctx, "SELECT * FROM "+src)
	}
	present, types, err := s.presentIn(ctx, src, declared)
	if err != nil {
		return err
	}
	return s.castInto(ctx, src, declared, present, types)
}

// presentIn matches the columns of src, a typed source with lineCol, to
// the declared ones by name, noting the others as extra; types is each
// matched column's type in src.
func (s *stager) presentIn(ctx context.Context, src string, declared []declaredColumn) (present []declaredColumn, types map[string]string, err error) {
	fileCols, err := s.describe(ctx, "SELECT * FROM "+src)
	if err != nil {
		return nil, nil, err
	}
	types = map[string]string{}
	for _, fc := range fileCols {
		if fc.Name == lineCol {
			continue
		}
		d, ok := lookup(declared, s.fileName(fc.Name))
		if !ok {
			s.noteExtra(fc.Name, fc.Type)
			continue
		}
		types[fc.Name] = fc.Type
		present = append(present, declaredColumn{Name: fc.Name, Type: d.Type, Required: d.Required, As: d.Name})
	}
	return present, types, nil
}

func (s *stager) describe(ctx context.Context, query string) ([]declaredColumn, error) {
	rows, err := logQuery(ctx, s.conn, "DESCRIBE "+query)
	if err != nil {
		return nil, fmt.Errorf("describe input: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []declaredColumn
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for j := range vals {
			ptrs[j] = &vals[j]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("describe input: %w", err)
		}
		name, _ := vals[0].(string)
		typ, _ := vals[1].(string)
		out = append(out, declaredColumn{Name: name, Type: typ})
	}
	return out, rows.Err()
}

// columnCast is how the source column src becomes the declared column
// d (its null tokens, then its parse or the strict cast), and the reason
// a value that does not convert gives (empty when it converts).
func (s *stager) columnCast(d declaredColumn, src string) (cast, reason string) {
	cp, parsed := s.parse(d.Name)
	col := nullTokens(ident(src), cp)
	cast = s.castExpr(col, d.Type)
	if parsed {
		cast = parseExpr(col, d.Type, cp)
	}
	return cast, castReason(col, d.Type, d.Name, cast)
}

// castReason is the reason a row is set aside when the value of col, cast
// to typ for column name, is NULL while col is not.
func castReason(col, typ, name, cast string) string {
	return fmt.Sprintf(
		"CASE WHEN %[1]s IS NOT NULL AND %[4]s IS NULL THEN 'CAST (column %[3]s): Could not convert string \"' || left(CAST(%[1]s AS VARCHAR), 200) || '\" to ''%[2]s''' END",
		col, typ, strings.ReplaceAll(name, "'", "''"), cast)
}

// integerTypes are DuckDB's integer types.
var integerTypes = map[string]bool{"TINYINT": true, "SMALLINT": true, "INTEGER": true, "BIGINT": true, "HUGEINT": true,
	"UTINYINT": true, "USMALLINT": true, "UINTEGER": true, "UBIGINT": true, "UHUGEINT": true}

// exactNumericCast reports whether DuckDB's cast of a from column of type
// from to type to can only fail, never round: an integer or a DECIMAL
// into a DECIMAL of as many decimals or more, an integer into an integer.
// A value that does not fit gives NULL.
func exactNumericCast(from, to string) bool {
	from, to = strings.ToUpper(from), strings.ToUpper(to)
	fromScale := 0
	if _, s, ok := decimalType(from); ok {
		fromScale = s
	} else if !integerTypes[from] {
		return false
	}
	if _, s, ok := decimalType(to); ok {
		return fromScale <= s
	}
	return fromScale == 0 && integerTypes[to]
}

// castInto creates the staging table from src (a typed source with
// lineCol: Parquet, JSON read as text, Arrow batches), casting each
// present column to its declared type; fileType is each present column's
// type in src, when known. A column that already holds the declared type,
// with no parse of its own, is taken as it is: it cannot fail. An integer
// or decimal column whose cast can only overflow, never round, is cast
// without the text checks. When no column can fail, the staging table is
// one statement over src, in its order. Else a value that does not cast
// sets its row aside with a reason naming the column and the value, and
// the row as read: src is read once (an Arrow stream can only be), into a
// staging table that holds each row's reasons and, for a row that has
// some, the row as read; those rows then move to the quarantine, and the
// two columns go.
func (s *stager) castInto(ctx context.Context, src string, declared, present []declaredColumn, fileType map[string]string) error {
	const from = "__shp_src"
	var casts, errs, rawParts []string
	for _, d := range declared {
		p, ok := presentAs(present, d.Name)
		if !ok {
			s.noteMissing(d.Name)
			casts = append(casts, "CAST(NULL AS "+d.Type+") AS "+ident(d.Name))
			continue
		}
		orig := from + "." + ident(p.Name)
		rawParts = append(rawParts, literal(p.Name)+", "+orig)
		cp, parsed := s.parse(d.Name)
		own := !parsed && len(cp.NullTokens) == 0
		var cast, reason string
		switch {
		case own && strings.EqualFold(fileType[p.Name], d.Type):
			casts = append(casts, orig+" AS "+ident(d.Name))
			continue
		case own && exactNumericCast(fileType[p.Name], d.Type):
			cast = fmt.Sprintf("TRY_CAST(%s AS %s)", orig, d.Type)
			reason = castReason(orig, d.Type, d.Name, cast)
		default:
			cast, reason = s.columnCast(d, p.Name)
		}
		casts = append(casts, cast+" AS "+ident(d.Name))
		errs = append(errs, reason)
	}
	if len(errs) == 0 {
		return s.createFrom(ctx, fmt.Sprintf("SELECT %s.%s, %s FROM %s AS %s", from, ident(lineCol), strings.Join(casts, ", "), src, from))
	}
	errExpr := "concat_ws('; ', " + strings.Join(errs, ", ") + ")"
	staging := stagingRef(s.table)
	stmts := []string{
		fmt.Sprintf("%s AS SELECT %s.%s, %s, %s AS %s, CASE WHEN %s <> '' THEN CAST(json_object(%s) AS VARCHAR) END AS %s FROM %s AS %s",
			createStaging(s.table), from, ident(lineCol), strings.Join(casts, ", "), errExpr, ident(errCol), errExpr,
			strings.Join(rawParts, ", "), ident(rawCol), src, from),
		fmt.Sprintf("INSERT INTO %s SELECT %s, %s, %s FROM %s WHERE %s <> ''",
			stagingRef(s.qtable), ident(lineCol), ident(errCol), ident(rawCol), staging, ident(errCol)),
		fmt.Sprintf("DELETE FROM %s WHERE %s <> ''", staging, ident(errCol)),
		fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", staging, ident(errCol)),
		fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", staging, ident(rawCol)),
	}
	for _, stmt := range stmts {
		if _, err := logExec(ctx, s.conn, stmt); err != nil {
			return fmt.Errorf("type input columns: %w", err)
		}
	}
	return nil
}

// dateFormats are sqlplan.DateLayouts as a DuckDB list.
var dateFormats = listLiteral(sqlplan.DateLayouts)

// decimalType is the precision and scale of a DECIMAL(P,S) type, and
// whether it is one.
func decimalType(typ string) (p, sc int, ok bool) {
	if _, err := fmt.Sscanf(strings.ToUpper(strings.ReplaceAll(typ, " ", "")), "DECIMAL(%d,%d)", &p, &sc); err != nil {
		return 0, 0, false
	}
	return p, sc, true
}

// wideDecimalCast is a TRY_CAST of col to a DECIMAL wider than 18 digits
// that takes DuckDB's fast path when the value allows: DuckDB parses text
// into a 128-bit DECIMAL 30-100x slower than into a 64-bit one or a
// HUGEINT (1M values: 11 s into DECIMAL(20,0), 0.14 s into HUGEINT). The
// value goes through DECIMAL(18,s) (s > 0, same scale, so the same
// rounding) or HUGEINT (s = 0, which reads text as DECIMAL(P,0) does),
// and through the exact cast only when that fails (a value too wide for
// the fast type, or text that does not convert at all). "" for other
// types.
func wideDecimalCast(col, typ string) string {
	p, sc, ok := decimalType(typ)
	if !ok || p <= 18 || sc > 17 {
		return ""
	}
	fast := fmt.Sprintf("DECIMAL(18,%d)", sc)
	if sc == 0 {
		fast = "HUGEINT"
	}
	return fmt.Sprintf("coalesce(TRY_CAST(TRY_CAST(%[1]s AS %[2]s) AS %[3]s), TRY_CAST(%[1]s AS %[3]s))", col, fast, typ)
}

// midnightPattern matches a date whose time of day is midnight, in UTC
// when it has an offset: DuckDB's pattern dialect (RE2) as a SQL string.
const midnightPattern = `'.*[T ]0?0:00(:00(\.0+)?)?\s*(Z|UTC|[+-]00(:?00)?)?'`

// monthFirstFormats read slash dates month first, as PostgreSQL's default
// DateStyle (MDY) does, for LoadSpec.MonthFirst.
const monthFirstFormats = "['%m/%d/%Y %H:%M:%S', '%m/%d/%Y %H:%M', '%m/%d/%Y']"

// castExpr is castExpr with the spec's reading of slash dates.
func (s *stager) castExpr(col, typ string) string { return castExpr(col, typ, s.spec.MonthFirst) }

// castExpr converts a raw input column to its declared type, NULL when it
// does not convert. Dates and timestamps also accept the layouts of
// dateFormats, and with monthFirst those of monthFirstFormats.
func castExpr(col, typ string, monthFirst bool) string {
	base := fmt.Sprintf("TRY_CAST(%s AS %s)", col, typ)
	if wide := wideDecimalCast(col, typ); wide != "" {
		base = wide
	}
	if _, scale, ok := decimalType(typ); ok {
		// A value with more decimals than the scale does not fit: the
		// cast would round it ("1.234" into DECIMAL(12,2) reads 1.23,
		// "1e-20" reads 0). Trailing zeros fit; a number in exponent
		// notation fits when its double reads the same.
		text := "trim(CAST(" + col + " AS VARCHAR))"
		return fmt.Sprintf("CASE WHEN NOT (contains(%[1]s, 'e') OR contains(%[1]s, 'E')) "+
			"THEN CASE WHEN strpos(%[1]s, '.') = 0 OR length(rtrim(%[1]s, '0')) - strpos(%[1]s, '.') <= %[3]d THEN %[2]s END "+
			"WHEN %[2]s = TRY_CAST(%[1]s AS DOUBLE) THEN %[2]s END", text, base, scale)
	}
	if isInteger(typ) {
		// DuckDB rounds "2.5" to 3 on a cast to an integer: a value with
		// a fraction does not convert (BigQuery agrees), it is set aside.
		// Only text with a '.' pays for the check.
		return fmt.Sprintf("CASE WHEN NOT contains(CAST(%[1]s AS VARCHAR), '.') THEN %[2]s "+
			"WHEN TRY_CAST(%[1]s AS HUGEINT) = TRY_CAST(%[1]s AS DOUBLE) THEN %[2]s END", col, base)
	}
	switch strings.ToUpper(typ) {
	case "DATE", "TIMESTAMP", "DATETIME", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		formats := dateFormats
		if monthFirst {
			formats = strings.TrimSuffix(dateFormats, "]") + ", " + strings.TrimPrefix(monthFirstFormats, "[")
		}
		conv := fmt.Sprintf("coalesce(%s, TRY_CAST(try_strptime(trim(CAST(%s AS VARCHAR)), %s) AS %s))", base, col, formats, typ)
		if strings.EqualFold(typ, "DATE") {
			// DuckDB reads "2026-01-02 10:30:00" as the DATE 2026-01-02:
			// a time of day other than midnight (UTC) would be lost, so
			// the value does not convert (widen_type may read the
			// column as DATETIME). Only text with a ':' pays for it.
			text := "trim(CAST(" + col + " AS VARCHAR))"
			return fmt.Sprintf("CASE WHEN NOT contains(%[1]s, ':') OR regexp_full_match(%[1]s, %[2]s) THEN %[3]s END", text, midnightPattern, conv)
		}
		return conv
	case "DECIMAL", "NUMERIC":
	case "DOUBLE", "FLOAT", "REAL":
		// A number too large for the type ("1e400") would read as
		// infinity: it does not convert. "inf" and "Infinity" do.
		return fmt.Sprintf("CASE WHEN NOT isinf(%[2]s) OR regexp_full_match(lower(trim(CAST(%[1]s AS VARCHAR))), '[+-]?inf(inity)?') THEN %[2]s END", col, base)
	}
	return base
}

func (s *stager) createFrom(ctx context.Context, query string) error {
	if _, err := logExec(ctx, s.conn, createStaging(s.table)+" AS "+query); err != nil {
		return fmt.Errorf("load input: %w", err)
	}
	return nil
}

// createEmpty makes an empty staging table for an object with no good rows.
func (s *stager) createEmpty(ctx context.Context, declared []declaredColumn) error {
	defs := []string{ident(lineCol) + " BIGINT"}
	for _, d := range declared {
		defs = append(defs, ident(d.Name)+" "+d.Type)
	}
	_, err := logExec(ctx, s.conn, createStaging(s.table)+" ("+strings.Join(defs, ", ")+")")
	return err
}

// rejectNulls sets aside rows whose REQUIRED columns or merge key columns
// are NULL: they cannot be loaded, and nothing may vanish.
func (s *stager) rejectNulls(ctx context.Context) error {
	checks := map[string]string{}
	var order []string
	relaxed := map[string]bool{}
	for _, r := range s.spec.Relax {
		relaxed[strings.ToLower(r)] = true
	}
	for _, f := range s.spec.Schema {
		if f.Required() && !relaxed[strings.ToLower(f.Name)] {
			checks[f.Name] = "required column"
			order = append(order, f.Name)
		}
	}
	for _, k := range s.spec.Key {
		if _, ok := checks[k]; !ok {
			order = append(order, k)
			checks[k] = "merge key column"
		}
	}
	if len(order) == 0 {
		return nil
	}
	cols, err := columns(ctx, s.conn, s.table, true)
	if err != nil {
		return err
	}
	hasLine := false
	var reasons, conds, rawParts []string
	for _, c := range cols {
		if c.Name == lineCol {
			hasLine = true
			continue
		}
		rawParts = append(rawParts, literal(c.Name)+", "+ident(c.Name))
	}
	for _, name := range order {
		found := false
		for _, c := range cols {
			if strings.EqualFold(c.Name, name) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s %q is not a column of the data", checks[name], name)
		}
		conds = append(conds, ident(name)+" IS NULL")
		reasons = append(reasons, fmt.Sprintf("CASE WHEN %s IS NULL THEN %s END", ident(name),
			literal(fmt.Sprintf("NULL: %s %q is null", checks[name], name))))
	}
	line := "NULL"
	if hasLine {
		line = ident(lineCol)
	}
	where := strings.Join(conds, " OR ")
	table := stagingRef(s.table)
	if _, err := logExec(ctx, s.conn, fmt.Sprintf("INSERT INTO %s SELECT %s, concat_ws('; ', %s), CAST(json_object(%s) AS VARCHAR) FROM %s WHERE %s",
		stagingRef(s.qtable), line, strings.Join(reasons, ", "), strings.Join(rawParts, ", "), table, where)); err != nil {
		return fmt.Errorf("set aside rows with NULL required values: %w", err)
	}
	if _, err := logExec(ctx, s.conn, "DELETE FROM "+table+" WHERE "+where); err != nil {
		return fmt.Errorf("set aside rows with NULL required values: %w", err)
	}
	return nil
}

func listLiteral(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = literal(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// sanitize keeps the characters that are safe in a table name.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// parse returns the repair's way of reading column name, if any.
func (s *stager) parse(name string) (warehouse.ColumnParse, bool) {
	for col, p := range s.spec.Parse {
		if strings.EqualFold(col, name) {
			return p, true
		}
	}
	return warehouse.ColumnParse{}, false
}

// nullTokens reads the column's null tokens (p.NullTokens, compared
// trimmed and case-insensitively) as NULL.
func nullTokens(col string, p warehouse.ColumnParse) string {
	if len(p.NullTokens) == 0 {
		return col
	}
	lower := make([]string, len(p.NullTokens))
	for i, t := range p.NullTokens {
		lower[i] = strings.ToLower(strings.TrimSpace(t))
	}
	return fmt.Sprintf("CASE WHEN lower(trim(CAST(%s AS VARCHAR))) IN (%s) THEN NULL ELSE %s END",
		col, strings.TrimSuffix(strings.TrimPrefix(listLiteral(lower), "["), "]"), col)
}

// parseExpr converts col to typ the way p says: NULL when it does not.
// Dates try ISO 8601 first (it is never ambiguous), then p's layouts; a
// decimal comma applies to every value, since the batch decided it.
func parseExpr(col, typ string, p warehouse.ColumnParse) string {
	text := "trim(CAST(" + col + " AS VARCHAR))"
	var alts []string
	if !p.DecimalComma && p.Thousands == "" {
		alts = append(alts, castExpr(col, typ, false))
	}
	if p.EpochUnit != "" {
		seconds := map[string]string{"s": "1", "ms": "1000", "us": "1000000"}[p.EpochUnit]
		ts := fmt.Sprintf("make_timestamp(CAST(TRY_CAST(%s AS DOUBLE) * 1000000 / %s AS BIGINT))", text, seconds)
		if strings.Contains(strings.ToUpper(typ), "TIME ZONE") || strings.EqualFold(typ, "TIMESTAMPTZ") {
			ts = fmt.Sprintf("to_timestamp(TRY_CAST(%s AS DOUBLE) / %s)", text, seconds)
		}
		alts = append(alts, fmt.Sprintf("CASE WHEN regexp_full_match(%s, '-?[0-9]+(\\.[0-9]+)?') THEN TRY_CAST(%s AS %s) END", text, ts, typ))
	}
	if len(p.Layouts) > 0 {
		alts = append(alts, fmt.Sprintf("TRY_CAST(try_strptime(%s, %s) AS %s)", text, listLiteral(p.Layouts), typ))
	}
	if p.DecimalComma {
		alts = append(alts, fmt.Sprintf("TRY_CAST(replace(replace(%s, '.', ''), ',', '.') AS %s)", text, typ))
	} else if p.Thousands != "" {
		alts = append(alts, fmt.Sprintf("TRY_CAST(replace(%s, %s, '') AS %s)", text, literal(p.Thousands), typ))
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "coalesce(" + strings.Join(alts, ", ") + ")"
}

// ownConversion reports whether a CSV column is read as text and
// converted by castExpr rather than by DuckDB's CSV reader, whose own
// conversions differ from every other format's: it rounds "2.5" into an
// integer column, reads "1e400" as infinity, knows no date layout but
// ISO 8601, and turns a TIMESTAMPTZ value it cannot read into NULL
// without a word. Columns of a typed extraction hold values their
// database wrote in the engine's own notation, so only TIMESTAMPTZ (whose
// failures would be silent) is converted for them.
func (s *stager) ownConversion(d declaredColumn) bool {
	t := strings.ToUpper(d.Type)
	if t == "TIMESTAMPTZ" || t == "TIMESTAMP WITH TIME ZONE" {
		return true
	}
	if s.spec.Typed {
		if p, _, ok := decimalType(t); ok && p > 18 {
			return true // see wideDecimalCast
		}
		return isInteger(t) && !s.typedInteger(d.Name)
	}
	switch t {
	case "DOUBLE", "FLOAT", "REAL", "DATE", "TIMESTAMP":
		return true
	}
	return isInteger(t) || strings.HasPrefix(t, "DECIMAL")
}

// isInteger reports whether a DuckDB type is an integer type.
func isInteger(typ string) bool {
	switch strings.ToUpper(typ) {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT":
		return true
	}
	return false
}

// typedInteger reports whether a column comes from a typed source as an
// integer: its text is an integer literal, which any integer, decimal or
// float column the schema widened it to reads exactly.
func (s *stager) typedInteger(name string) bool {
	if !s.spec.Typed {
		return false
	}
	f, ok := s.spec.Schema.Lookup(name)
	return ok && isInteger(TypeOf(f))
}

// convertedAlias names the staging table in convertParsed's statement,
// whose lineExpr reads its rowid.
const convertedAlias = "__shp_staged"

// convertParsed sets aside the CSV rows with a value that shp's own
// conversion (a repair's way of reading a column, or a strict integer:
// DuckDB's reader rounds "2.5" to 3) could not convert, with the line,
// the reason and the row as read, then drops the helper columns.
func (s *stager) convertParsed(ctx context.Context) error {
	if len(s.converted) == 0 {
		return nil
	}
	defer func() {
		_, _ = s.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+stagingRef(s.table+"_rejg"))
	}()
	cols, err := columns(ctx, s.conn, s.table, true)
	if err != nil {
		return err
	}
	textOf := func(name string) string {
		return fmt.Sprintf("json_extract_string(%s, %s)", ident(ordCol), literal(`$.text."`+strings.ReplaceAll(name, `"`, `\"`)+`"`))
	}
	isConverted := map[string]bool{}
	var reasons []string
	for _, c := range s.converted {
		isConverted[c.name] = true
		reasons = append(reasons, fmt.Sprintf(`CASE WHEN %[1]s IS NULL AND %[2]s IS NOT NULL THEN 'CAST (column ' || %[3]s || '): Could not convert string "' || left(%[2]s, 200) || '" to ''%[4]s''' END`,
			ident(c.name), textOf(c.name), literal(c.name), c.typ))
	}
	var parts []string
	for _, c := range cols {
		if c.Name == ordCol {
			continue
		}
		v := ident(c.Name)
		if isConverted[c.Name] {
			v = fmt.Sprintf("coalesce(CAST(%s AS VARCHAR), %s)", v, textOf(c.Name))
		}
		parts = append(parts, literal(c.Name)+", "+v)
	}
	table := stagingRef(s.table)
	where := ident(ordCol) + " IS NOT NULL"
	stmts := []string{
		fmt.Sprintf("INSERT INTO %s SELECT %s, concat_ws('; ', %s), CAST(json_object(%s) AS VARCHAR) FROM %s AS %s WHERE %s ORDER BY 1",
			stagingRef(s.qtable), s.lineExpr, strings.Join(reasons, ", "), strings.Join(parts, ", "), table, convertedAlias, where),
		"DELETE FROM " + table + " WHERE " + where,
		"ALTER TABLE " + table + " DROP COLUMN " + ident(ordCol),
	}
	for _, stmt := range stmts {
		if _, err := logExec(ctx, s.conn, stmt); err != nil {
			return fmt.Errorf("set aside values that do not convert: %w", err)
		}
	}
	return nil
}

// transcode rewrites the file as UTF-8 from the spec's encoding.
func (s *stager) transcode() error {
	var dec *encoding.Decoder
	switch strings.ToLower(s.spec.Encoding) {
	case "latin-1", "latin1", "iso-8859-1":
		dec = charmap.ISO8859_1.NewDecoder()
	case "windows-1252", "cp1252":
		dec = charmap.Windows1252.NewDecoder()
	default:
		return fmt.Errorf("unsupported encoding %q (latin-1, windows-1252)", s.spec.Encoding)
	}
	r, err := format.OpenFile(s.spec.Path, s.spec.Compression)
	if err != nil {
		return err
	}
	defer r.Close()
	out, err := os.CreateTemp(s.w.tempDir, s.id+"_utf8_*")
	if err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	s.temp = append(s.temp, out.Name())
	if _, err := io.Copy(out, transform.NewReader(r, dec)); err != nil {
		out.Close()
		return fmt.Errorf("transcode from %s: %w", s.spec.Encoding, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	s.spec.Path, s.spec.Compression = out.Name(), format.None
	return nil
}
