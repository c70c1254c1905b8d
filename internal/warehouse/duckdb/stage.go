package duckdb

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// Column names shp adds to staging data; they never reach a target.
const (
	lineCol = "__shp_line"
	errCol  = "__shp_error"
	rawCol  = "__shp_raw"
)

// quarantineStageDDL is the shape of a per-object quarantine staging table.
const quarantineStageColumns = `(line BIGINT, reason VARCHAR NOT NULL, raw VARCHAR)`

// Stage loads one object into a staging table. Rows that do not parse go
// to a quarantine staging table with the reason; Commit moves both.
func (w *Warehouse) Stage(ctx context.Context, spec warehouse.LoadSpec) (*warehouse.Staged, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	conn := w.conn
	id := fmt.Sprintf("%s%s_%d", stagePrefix, sanitize(spec.RunID), w.seq.Add(1))
	st := &stager{w: w, conn: conn, spec: spec, id: id, table: id, qtable: id + "_q"}
	staged, err := st.run(ctx)
	if err != nil {
		st.drop(context.WithoutCancel(ctx))
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
}

func (s *stager) drop(ctx context.Context) {
	for _, t := range []string{s.table, s.qtable, s.table + "_raw"} {
		_, _ = s.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+stagingRef(t))
	}
}

func (s *stager) run(ctx context.Context) (*warehouse.Staged, error) {
	declared, err := s.declaredColumns(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.conn.ExecContext(ctx, "CREATE TEMP TABLE "+stagingRef(s.qtable)+" "+quarantineStageColumns); err != nil {
		return nil, fmt.Errorf("create quarantine staging table: %w", err)
	}
	switch s.spec.Format {
	case format.CSV:
		err = s.stageCSV(ctx, declared)
	case format.JSONL, format.JSON:
		err = s.stageJSON(ctx, declared)
	case format.Parquet:
		err = s.stageParquet(ctx, declared)
	default:
		err = fmt.Errorf("unsupported format %q", s.spec.Format)
	}
	if err != nil {
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
		Drift:       s.drift,
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
	samples, err := s.conn.QueryContext(ctx, "SELECT coalesce(line, 0), reason FROM "+stagingRef(s.qtable)+" ORDER BY line LIMIT 5")
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
func (s *stager) declaredColumns(ctx context.Context) ([]declaredColumn, error) {
	if len(s.spec.Schema) > 0 {
		out := make([]declaredColumn, len(s.spec.Schema))
		for i, f := range s.spec.Schema {
			out[i] = declaredColumn{Name: f.Name, Type: TypeOf(f), Required: f.Required()}
		}
		return out, nil
	}
	cols, err := columns(ctx, s.conn, s.spec.Target, false)
	if err != nil {
		return nil, err
	}
	out := make([]declaredColumn, len(cols))
	for i, c := range cols {
		out[i] = declaredColumn{Name: c.Name, Type: c.Type}
	}
	return out, nil
}

type declaredColumn struct {
	Name     string
	Type     string
	Required bool
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
	delim, quote, nulls = s.spec.CSV.Delimiter, s.spec.CSV.Quote, s.spec.CSV.NullValues
	if delim == "" {
		delim = ","
	}
	if quote == "" {
		quote = `"`
	}
	if len(nulls) == 0 {
		nulls = []string{""}
	}
	return delim, quote, nulls
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
	header, err := s.csvHeader()
	if err != nil {
		return err
	}
	delim, quote, nulls := s.csvOptions()
	base := fmt.Sprintf("header=%t, delim=%s, quote=%s, escape=%s, compression=%s, nullstr=%s, allow_quoted_nulls=%t",
		!s.spec.CSV.NoHeader, literal(delim), literal(quote), literal(quote), literal(s.compression()), listLiteral(nulls),
		!s.spec.CSV.QuotedNullsAreText)
	path := literal(s.spec.Path)

	fileTypes := make([]string, len(header))
	if len(declared) == 0 {
		fileTypes = s.sniffCSVTypes(ctx, path, base, len(header))
	}
	var colSpec, selects []string
	inFile := map[string]bool{}
	for i, h := range header {
		typ := fileTypes[i]
		if typ == "" {
			typ = "VARCHAR"
		}
		if len(declared) > 0 {
			if d, ok := lookup(declared, h); ok {
				typ = d.Type
				inFile[strings.ToLower(d.Name)] = true
				selects = append(selects, ident(h)+" AS "+ident(d.Name))
			} else {
				s.drift = append(s.drift, fmt.Sprintf("extra column %q is not in the schema; ignored", h))
			}
		} else {
			selects = append(selects, ident(h))
		}
		colSpec = append(colSpec, literal(h)+": "+literal(typ))
	}
	if len(declared) > 0 && len(inFile) == 0 {
		return fmt.Errorf("none of the file's columns %v is in the schema (is the delimiter right?)", header)
	}
	for _, d := range declared {
		if !inFile[strings.ToLower(d.Name)] {
			s.drift = append(s.drift, fmt.Sprintf("column %q is missing from the file; loaded as NULL", d.Name))
			selects = append(selects, "CAST(NULL AS "+d.Type+") AS "+ident(d.Name))
		}
	}

	rejects, scans := s.id+"_rej", s.id+"_scan"
	stmt := fmt.Sprintf(`CREATE TEMP TABLE %s AS SELECT %s FROM read_csv(%s, %s, auto_detect=false, columns={%s},
		store_rejects=true, rejects_table=%s, rejects_scan=%s)`,
		stagingRef(s.table), strings.Join(selects, ", "), path, base, strings.Join(colSpec, ", "),
		literal(rejects), literal(scans))
	if _, err := s.conn.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("read csv: %w", err)
	}
	defer func() {
		_, _ = s.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+ident(rejects))
		_, _ = s.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+ident(scans))
	}()
	// One line can have several errors; it is one quarantined row. DuckDB
	// repeats a structural error for every column it affects, so those
	// are folded into one message that lists the columns.
	_, err = s.conn.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s
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
	return nil
}

// csvHeader reads the column names (or invents column1..N without a header).
func (s *stager) csvHeader() ([]string, error) {
	f, err := os.Open(s.spec.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := format.Decompress(bufio.NewReader(f), s.spec.Compression)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	delim, _, _ := s.csvOptions()
	header, err := format.ReadCSVHeader(r, []rune(delim)[0])
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	if s.spec.CSV.NoHeader {
		names := make([]string, len(header))
		for i := range header {
			if i < len(s.spec.Schema) {
				names[i] = s.spec.Schema[i].Name
			} else {
				names[i] = fmt.Sprintf("column%d", i+1)
			}
		}
		return names, nil
	}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if h == "" {
			return nil, fmt.Errorf("header column %d has no name", i+1)
		}
		if seen[strings.ToLower(h)] {
			return nil, fmt.Errorf("header names column %q twice", h)
		}
		seen[strings.ToLower(h)] = true
		header[i] = h
	}
	return header, nil
}

// sniffCSVTypes asks DuckDB's sniffer for column types when no schema is
// declared. A file the sniffer cannot read is loaded as text.
func (s *stager) sniffCSVTypes(ctx context.Context, path, base string, n int) []string {
	types := make([]string, n)
	rows, err := s.conn.QueryContext(ctx, fmt.Sprintf("DESCRIBE SELECT * FROM read_csv(%s, %s, auto_detect=true)", path, base))
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
	in, err := os.Open(s.spec.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	r, err := format.Decompress(bufio.NewReader(in), s.spec.Compression)
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
	src := fmt.Sprintf("read_json(%s, format='newline_delimited'", literal(filepath.ToSlash(tmp.Name())))
	if len(declared) == 0 {
		src += ", sample_size=-1)"
		return s.createFrom(ctx, "SELECT * FROM "+src)
	}
	spec := []string{literal(lineCol) + ": 'BIGINT'"}
	for _, d := range declared {
		spec = append(spec, literal(d.Name)+": 'VARCHAR'")
	}
	src += ", columns={" + strings.Join(spec, ", ") + "})"
	return s.castInto(ctx, src, declared, declared)
}

// stageParquet reads a Parquet file; with a declared schema every column is
// cast, and rows whose values do not fit are set aside.
func (s *stager) stageParquet(ctx context.Context, declared []declaredColumn) error {
	src := fmt.Sprintf("(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS %s FROM read_parquet(%s, file_row_number=true))",
		ident(lineCol), literal(s.spec.Path))
	if len(declared) == 0 {
		return s.createFrom(ctx, "SELECT * FROM "+src)
	}
	fileCols, err := s.describe(ctx, "SELECT * FROM "+src)
	if err != nil {
		return err
	}
	var present []declaredColumn
	for _, d := range declared {
		if fc, ok := lookup(fileCols, d.Name); ok {
			present = append(present, declaredColumn{Name: fc.Name, Type: d.Type, Required: d.Required})
		}
	}
	for _, fc := range fileCols {
		if _, ok := lookup(declared, fc.Name); !ok && fc.Name != lineCol {
			s.drift = append(s.drift, fmt.Sprintf("extra column %q is not in the schema; ignored", fc.Name))
		}
	}
	return s.castInto(ctx, src, declared, present)
}

func (s *stager) describe(ctx context.Context, query string) ([]declaredColumn, error) {
	rows, err := s.conn.QueryContext(ctx, "DESCRIBE "+query)
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

// castInto creates the staging table from src, casting each present column
// to its declared type. A value that does not cast sets its row aside with
// a reason naming the column and the value.
func (s *stager) castInto(ctx context.Context, src string, declared, present []declaredColumn) error {
	raw := stagingRef(s.table + "_raw")
	var casts, errs, rawParts []string
	for _, d := range declared {
		p, ok := lookup(present, d.Name)
		if !ok {
			s.drift = append(s.drift, fmt.Sprintf("column %q is missing from the file; loaded as NULL", d.Name))
			casts = append(casts, "CAST(NULL AS "+d.Type+") AS "+ident(d.Name))
			continue
		}
		col := ident(p.Name)
		cast := castExpr(col, d.Type)
		casts = append(casts, fmt.Sprintf("%s AS %s", cast, ident(d.Name)))
		errs = append(errs, fmt.Sprintf(
			"CASE WHEN %[1]s IS NOT NULL AND %[4]s IS NULL THEN 'CAST (column %[3]s): could not convert ' || left(CAST(%[1]s AS VARCHAR), 200) || ' to %[2]s' END",
			col, d.Type, strings.ReplaceAll(d.Name, "'", "''"), cast))
		rawParts = append(rawParts, literal(p.Name)+", "+col)
	}
	errExpr := "''"
	if len(errs) > 0 {
		errExpr = "concat_ws('; ', " + strings.Join(errs, ", ") + ")"
	}
	rawExpr := "NULL"
	if len(rawParts) > 0 {
		rawExpr = "CAST(json_object(" + strings.Join(rawParts, ", ") + ") AS VARCHAR)"
	}
	stmts := []string{
		fmt.Sprintf("CREATE TEMP TABLE %s AS SELECT %s, %s, %s AS %s, %s AS %s FROM %s",
			raw, ident(lineCol), strings.Join(casts, ", "), errExpr, ident(errCol), rawExpr, ident(rawCol), src),
		fmt.Sprintf("INSERT INTO %s SELECT %s, %s, %s FROM %s WHERE %s <> '' ORDER BY %s",
			stagingRef(s.qtable), ident(lineCol), ident(errCol), ident(rawCol), raw, ident(errCol), ident(lineCol)),
		fmt.Sprintf("CREATE TEMP TABLE %s AS SELECT * EXCLUDE (%s, %s) FROM %s WHERE %s = '' ORDER BY %s",
			stagingRef(s.table), ident(errCol), ident(rawCol), raw, ident(errCol), ident(lineCol)),
		"DROP TABLE " + raw,
	}
	for _, stmt := range stmts {
		if _, err := s.conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("type input columns: %w", err)
		}
	}
	return nil
}

// dateFormats are the textual date and time layouts accepted for DATE and
// TIMESTAMP columns beyond ISO 8601, in PostgreSQL's default MDY order (as
// its DateStyle reads "1/2/2016" as January 2nd).
const dateFormats = "['%b %d %Y %H:%M:%S', '%b %d %Y %H:%M', '%b %d %Y', '%B %d %Y', '%B %d, %Y', '%b %d, %Y', " +
	"'%m/%d/%Y %H:%M:%S', '%m/%d/%Y %H:%M', '%m/%d/%Y', '%Y/%m/%d %H:%M:%S', '%Y/%m/%d', '%d %b %Y', '%d %B %Y']"

// castExpr converts a raw input column to its declared type, NULL when it
// does not convert. Dates and timestamps also accept the layouts of
// dateFormats.
func castExpr(col, typ string) string {
	base := fmt.Sprintf("TRY_CAST(%s AS %s)", col, typ)
	switch strings.ToUpper(typ) {
	case "DATE", "TIMESTAMP", "DATETIME", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return fmt.Sprintf("coalesce(%s, TRY_CAST(try_strptime(trim(CAST(%s AS VARCHAR)), %s) AS %s))", base, col, dateFormats, typ)
	}
	return base
}

func (s *stager) createFrom(ctx context.Context, query string) error {
	if _, err := s.conn.ExecContext(ctx, "CREATE TEMP TABLE "+stagingRef(s.table)+" AS "+query); err != nil {
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
	_, err := s.conn.ExecContext(ctx, "CREATE TEMP TABLE "+stagingRef(s.table)+" ("+strings.Join(defs, ", ")+")")
	return err
}

// rejectNulls sets aside rows whose REQUIRED columns or merge key columns
// are NULL: they cannot be loaded, and nothing may vanish.
func (s *stager) rejectNulls(ctx context.Context) error {
	checks := map[string]string{}
	var order []string
	for _, f := range s.spec.Schema {
		if f.Required() {
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
	if _, err := s.conn.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s SELECT %s, concat_ws('; ', %s), CAST(json_object(%s) AS VARCHAR) FROM %s WHERE %s",
		stagingRef(s.qtable), line, strings.Join(reasons, ", "), strings.Join(rawParts, ", "), table, where)); err != nil {
		return fmt.Errorf("set aside rows with NULL required values: %w", err)
	}
	if _, err := s.conn.ExecContext(ctx, "DELETE FROM "+table+" WHERE "+where); err != nil {
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
