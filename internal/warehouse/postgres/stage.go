package postgres

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

// Columns shp adds to a staging table; they never reach a target.
const (
	rowCol  = "__shp_row"  // the row's 0-based position among the staged rows (Staged.Index)
	lineCol = "__shp_line" // JSON and Parquet: the record's line, for rows set aside later
)

// Stage reads one object into a staging table, its bad rows into a
// quarantine staging table, in one streaming pass.
func (w *Warehouse) Stage(ctx context.Context, spec warehouse.LoadSpec) (*warehouse.Staged, error) {
	id := fmt.Sprintf("stage_%08x_%d", w.instance, w.seq.Add(1))
	s := &stager{w: w, spec: spec, table: id, qtable: id + "_q", logged: w.claimAttach(ctx, spec)}
	w.mu.Lock()
	w.live[s.table] = true
	w.live[s.qtable] = true
	w.mu.Unlock()
	if err := w.markRun(ctx, spec.RunID, spec.Pipeline); err != nil {
		return nil, fmt.Errorf("postgres: stage %s: %w", spec.ObjectKey, err)
	}
	st, err := s.run(ctx)
	if err != nil {
		if s.logged {
			w.unclaim(spec.RunID, spec.Target)
		}
		s.drop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("postgres: stage %s: %w", spec.ObjectKey, err)
	}
	return st, nil
}

type stager struct {
	w             *Warehouse
	spec          warehouse.LoadSpec
	table, qtable string
	logged        bool // the staging table is logged: the commit may attach it as the target
	drift         []string
	extra         []schema.Field
	extraGuess    []*typeGuess // the types of the extra columns, as read
	missing       []string

	cols    []*column // the staging table's value columns, in order
	hasLine bool      // the staging table has lineCol
	checks  []nullCheck

	good, bad           *copyStream
	loaded, quarantined int64

	row   []byte // one encoded row
	vals  []val  // one row's values, by staging column
	arena []byte // digits of one row's decimals
	json  []byte // scratch for raw JSON
}

// nullCheck is a REQUIRED or merge key column: a row where it is NULL is
// set aside.
type nullCheck struct {
	col    int // index into cols
	reason string
}

func (s *stager) drop(ctx context.Context) {
	for _, t := range []string{s.table, s.qtable} {
		_, _ = s.w.pool.Exec(ctx, "DROP TABLE IF EXISTS "+s.w.staging(t))
	}
	s.w.release(s.table, s.qtable)
}

// fileName is the schema column a file column is read as.
func (s *stager) fileName(name string) string {
	if to, ok := s.spec.Rename[name]; ok {
		return to
	}
	return name
}

func (s *stager) noteMissing(name string) {
	s.drift = append(s.drift, fmt.Sprintf("column %q is missing from the file; loaded as NULL", name))
	s.missing = append(s.missing, name)
}

// noteExtra records a file column the schema lacks; its type is settled
// when the whole file has been read (see finishExtras).
func (s *stager) noteExtra(name string) *typeGuess {
	s.drift = append(s.drift, fmt.Sprintf("extra column %q is not in the schema; ignored", name))
	s.extra = append(s.extra, schema.Field{Name: name, Mode: schema.ModeNullable})
	g := &typeGuess{}
	s.extraGuess = append(s.extraGuess, g)
	return g
}

func (s *stager) finishExtras() {
	for i, g := range s.extraGuess {
		if g != nil {
			s.extra[i].Type = SchemaType(g.result().name)
		}
	}
}

func (s *stager) run(ctx context.Context) (*warehouse.Staged, error) {
	declared, err := s.declaredColumns(ctx)
	if err != nil {
		return nil, err
	}
	err = sqlplan.StageFormat(s.spec.Format,
		func() error { return s.stageCSV(ctx, declared) },
		func() error { return s.stageJSON(ctx, declared) },
		func() error { return s.stageParquet(ctx, declared) })
	if err != nil {
		s.abort(err)
		return nil, err
	}
	if err := s.finish(); err != nil {
		return nil, err
	}
	s.finishExtras()
	staged := &warehouse.Staged{
		Table:       s.table,
		ObjectKey:   s.spec.ObjectKey,
		Fingerprint: s.spec.Fingerprint,
		ContentHash: s.spec.ContentHash,
		Loaded:      s.loaded,
		Quarantined: s.quarantined,
		Drift:       s.drift,
		Extra:       s.extra,
		Missing:     s.missing,
		Index:       ident(rowCol),
	}
	for _, c := range s.cols {
		staged.Columns = append(staged.Columns, warehouse.Column{Name: c.name, Type: c.t.stageType()})
	}
	if s.quarantined > 0 {
		rows, err := s.w.pool.Query(ctx, "SELECT coalesce(line, 0), reason FROM "+s.w.staging(s.qtable)+" ORDER BY line NULLS LAST LIMIT 5")
		if err != nil {
			return nil, fmt.Errorf("read quarantined rows: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var q warehouse.QuarantineSample
			if err := rows.Scan(&q.Line, &q.Reason); err != nil {
				return nil, fmt.Errorf("read quarantined rows: %w", err)
			}
			staged.Samples = append(staged.Samples, q)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read quarantined rows: %w", err)
		}
	}
	return staged, nil
}

// declaredColumn is a column rows must fit.
type declaredColumn struct {
	Name     string
	Type     colType
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

// declaredColumns is the schema rows must fit: the declared one, else the
// existing target's, else nil (inferred from the data), as in shp's
// DuckDB warehouse: a target that earlier repairs evolved keeps what they
// did, and a repair's Extend and Widen apply last.
func (s *stager) declaredColumns(ctx context.Context) ([]declaredColumn, error) {
	target, err := s.w.columns(ctx, s.w.pool, s.w.schema, s.spec.Target)
	if err != nil {
		return nil, err
	}
	var out []declaredColumn
	if len(s.spec.Schema) > 0 {
		out = make([]declaredColumn, len(s.spec.Schema))
		for i, f := range s.spec.Schema {
			out[i] = declaredColumn{Name: f.Name, Type: typeOf(f), Required: f.Required()}
			for _, t := range target {
				if strings.EqualFold(t.Name, f.Name) && widens(out[i].Type, parseType(t.Type)) {
					out[i].Type = parseType(t.Type)
				}
			}
		}
		for _, t := range target {
			if _, ok := lookup(out, t.Name); !ok {
				out = append(out, declaredColumn{Name: t.Name, Type: parseType(t.Type)})
			}
		}
	} else {
		for _, c := range target {
			out = append(out, declaredColumn{Name: c.Name, Type: parseType(c.Type)})
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	for _, f := range s.spec.Extend {
		if _, ok := lookup(out, f.Name); !ok {
			out = append(out, declaredColumn{Name: f.Name, Type: typeOf(f)})
		}
	}
	for i := range out {
		for name, typ := range s.spec.Widen {
			if strings.EqualFold(name, out[i].Name) {
				out[i].Type = typeOf(schema.Field{Name: name, Type: typ})
			}
		}
	}
	return out, nil
}

// newColumn makes a staging column of a declared one, with the repair's
// way of reading it.
func (s *stager) newColumn(name string, t colType, csvOwn func(colType) bool) (*column, error) {
	c := &column{name: name, t: t, monthFirst: s.spec.MonthFirst}
	for col, p := range s.spec.Parse {
		if strings.EqualFold(col, name) {
			rule, tokens, err := compileParse(p)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", name, err)
			}
			c.rule, c.tokens = rule, tokens
			c.own = true
		}
	}
	if !c.own && csvOwn != nil {
		c.own = csvOwn(t)
	}
	return c, nil
}

// ownConversion reports whether shp's DuckDB warehouse reads a CSV column
// of type t as text and converts it itself (castExpr), rather than by
// DuckDB's CSV reader: every type but VARCHAR, BOOLEAN, TIME, BLOB and
// JSON; for a typed extraction only TIMESTAMPTZ and integers that were
// not integers at the source. The conversion is shp's either way; only
// the wording of a reason differs.
func (s *stager) ownConversion(name string, t colType) bool {
	if t.kind == kTimestamptz {
		return true
	}
	if s.spec.Typed {
		if !isIntKind(t.kind) {
			return false
		}
		f, ok := s.spec.Schema.Lookup(name)
		return !(ok && isIntKind(typeOf(f).kind))
	}
	switch t.kind {
	case kFloat64, kFloat32, kDate, kTimestamp, kDecimal, kInt16, kInt32, kInt64:
		return true
	}
	return false
}

// addNullChecks sets aside rows whose REQUIRED or merge key columns are
// NULL, as the DuckDB warehouse's rejectNulls does.
func (s *stager) addNullChecks() error {
	relaxed := map[string]bool{}
	for _, r := range s.spec.Relax {
		relaxed[strings.ToLower(r)] = true
	}
	type check struct{ name, what string }
	var order []check
	seen := map[string]bool{}
	for _, f := range s.spec.Schema {
		if f.Required() && !relaxed[strings.ToLower(f.Name)] {
			order = append(order, check{f.Name, "required column"})
			seen[f.Name] = true
		}
	}
	for _, k := range s.spec.Key {
		if !seen[k] {
			order = append(order, check{k, "merge key column"})
			seen[k] = true
		}
	}
	for _, c := range order {
		idx := -1
		for i, col := range s.cols {
			if strings.EqualFold(col.name, c.name) {
				idx = i
			}
		}
		if idx < 0 {
			return fmt.Errorf("%s %q is not a column of the data", c.what, c.name)
		}
		s.checks = append(s.checks, nullCheck{col: idx, reason: fmt.Sprintf("NULL: %s %q is null", c.what, c.name)})
	}
	return nil
}

// create makes the staging tables and starts the COPY of good rows.
func (s *stager) create(ctx context.Context) error {
	if err := s.addNullChecks(); err != nil {
		return err
	}
	defs := []string{ident(rowCol) + " BIGINT NOT NULL"}
	names := []string{ident(rowCol)}
	if s.hasLine {
		defs = append(defs, ident(lineCol)+" BIGINT")
		names = append(names, ident(lineCol))
	}
	for _, c := range s.cols {
		defs = append(defs, ident(c.name)+" "+c.t.stageType())
		names = append(names, ident(c.name))
	}
	if _, err := s.w.pool.Exec(ctx, "CREATE UNLOGGED TABLE "+s.w.staging(s.qtable)+" (line BIGINT, reason TEXT NOT NULL, raw TEXT)"); err != nil {
		return fmt.Errorf("create staging table: %w", err)
	}
	s.vals = make([]val, len(s.cols))
	// The staging table is made in the COPY's transaction, so that its
	// rows are written frozen: the commit reads them without setting
	// hint bits on every page. It is unlogged (no WAL) unless the commit
	// may attach it as a new target (claimAttach).
	kind := "UNLOGGED TABLE "
	if s.logged {
		kind = "TABLE "
	}
	var err error
	s.good, err = s.w.startCopy(ctx, s.w.staging(s.table), names,
		"CREATE "+kind+s.w.staging(s.table)+" ("+strings.Join(defs, ", ")+")")
	return err
}

// goodRow sends one converted row (s.vals) to the staging table, or sets
// it aside when a REQUIRED or key column is NULL. line < 0 is none.
func (s *stager) goodRow(ctx context.Context, line int64) error {
	var reasons []string
	for _, c := range s.checks {
		if s.vals[c.col].null {
			reasons = append(reasons, c.reason)
		}
	}
	if len(reasons) > 0 {
		if s.spec.Format == format.CSV {
			line = -1 // as in DuckDB: the CSV staging table keeps no line
		}
		return s.badRow(ctx, line, strings.Join(reasons, "; "), s.typedJSON(), true)
	}
	n := len(s.cols) + 1
	if s.hasLine {
		n++
	}
	r := appendInt16(s.row[:0], int16(n))
	r = appendInt64(appendInt32(r, 8), s.loaded)
	if s.hasLine {
		r = appendInt64(appendInt32(r, 8), line)
	}
	for i, c := range s.cols {
		r = encode(r, c.t, &s.vals[i])
	}
	s.row = r
	s.loaded++
	return s.good.write(r)
}

// typedJSON renders the row's converted values as DuckDB's json_object
// does.
func (s *stager) typedJSON() []byte {
	b := append(s.json[:0], '{')
	for i, c := range s.cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c.name)
		b = append(b, ':')
		b = duckJSON(b, c.t, &s.vals[i])
	}
	b = append(b, '}')
	s.json = b
	return b
}

// badRow sends a row to the quarantine staging table. line < 0 is none;
// hasRaw false is a NULL raw.
func (s *stager) badRow(ctx context.Context, line int64, reason string, raw []byte, hasRaw bool) error {
	if s.bad == nil {
		var err error
		s.bad, err = s.w.startCopy(ctx, s.w.staging(s.qtable), []string{"line", "reason", "raw"}, "")
		if err != nil {
			return err
		}
	}
	r := appendInt16(s.row[:0], 3)
	if line < 0 {
		r = appendInt32(r, -1)
	} else {
		r = appendInt64(appendInt32(r, 8), line)
	}
	reason = strings.ToValidUTF8(strings.ReplaceAll(reason, "\x00", "\\0"), "\uFFFD")
	r = appendInt32(r, int32(len(reason)))
	r = append(r, reason...)
	if !hasRaw {
		r = appendInt32(r, -1)
	} else {
		at := len(r)
		r = appendInt32(r, 0)
		r = appendSafeText(r, raw)
		patchLen(r, at)
	}
	s.row = r
	s.quarantined++
	return s.bad.write(r)
}

// appendSafeText appends text PostgreSQL's TEXT holds: invalid UTF-8 as
// U+FFFD, NUL as \0.
func appendSafeText(dst, b []byte) []byte {
	if isPlainText(b) {
		return append(dst, b...)
	}
	return append(dst, strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "\\0")...)
}

func isPlainText(b []byte) bool {
	for _, c := range b {
		if c == 0 || c >= 0x80 {
			return false
		}
	}
	return true
}

// finish ends both COPY streams.
func (s *stager) finish() error {
	var err error
	if s.good != nil {
		if e := s.good.finish(); e != nil {
			err = fmt.Errorf("copy rows: %w", e)
		}
	}
	if s.bad != nil {
		if e := s.bad.finish(); e != nil && err == nil {
			err = fmt.Errorf("copy set-aside rows: %w", e)
		}
	}
	if err == nil && s.good == nil {
		err = fmt.Errorf("no staging table was made")
	}
	return err
}

// abort stops the COPY streams after a failure.
func (s *stager) abort(err error) {
	if s.good != nil {
		s.good.abort(err)
	}
	if s.bad != nil {
		s.bad.abort(err)
	}
}

// open reads the staged file, decompressed, and transcoded to UTF-8 when
// a repair said the file is in another encoding.
func (s *stager) open() (io.ReadCloser, error) {
	r, err := format.OpenFile(s.spec.Path, s.spec.Compression)
	if err != nil {
		return nil, err
	}
	if s.spec.Encoding == "" {
		return r, nil
	}
	var dec *encoding.Decoder
	switch strings.ToLower(s.spec.Encoding) {
	case "latin-1", "latin1", "iso-8859-1":
		dec = charmap.ISO8859_1.NewDecoder()
	case "windows-1252", "cp1252":
		dec = charmap.Windows1252.NewDecoder()
	default:
		r.Close()
		return nil, fmt.Errorf("unsupported encoding %q (latin-1, windows-1252)", s.spec.Encoding)
	}
	return struct {
		io.Reader
		io.Closer
	}{transform.NewReader(r, dec), r}, nil
}

// copyStream is one binary COPY into a table, fed as rows are read.
type copyStream struct {
	pw   *io.PipeWriter
	bw   *bufio.Writer
	done chan error
	conn *pgxpool.Conn
	tx   bool // the COPY runs in a transaction of its own
}

// startCopy starts COPY ... FROM STDIN (FORMAT binary) on a connection of
// its own. With create, the COPY runs in a transaction that first runs
// create (which makes the table), and writes its rows frozen.
func (w *Warehouse) startCopy(ctx context.Context, table string, columns []string, create string) (*copyStream, error) {
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy into %s: %w", table, err)
	}
	cs := &copyStream{done: make(chan error, 1), conn: conn, tx: create != ""}
	opts := "FORMAT binary"
	if cs.tx {
		// Staging rows need no durability: an unlogged table, and a
		// commit that does not wait for the WAL (a logged staging table
		// becomes durable with the commit that attaches it, whose WAL
		// flush comes after the table's).
		if _, err := conn.Exec(ctx, "BEGIN; SET LOCAL synchronous_commit = off; "+create); err != nil {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
			conn.Release()
			return nil, fmt.Errorf("create staging table: %w", err)
		}
		opts += ", FREEZE true"
	}
	pr, pw := io.Pipe()
	cs.pw, cs.bw = pw, bufio.NewWriterSize(pw, 256<<10)
	stmt := "COPY " + table + " (" + strings.Join(columns, ", ") + ") FROM STDIN (" + opts + ")"
	go func() {
		start := time.Now()
		tag, err := conn.Conn().PgConn().CopyFrom(ctx, pr, stmt)
		warehouse.LogQuery(ctx, warehouse.QueryEvent{Text: stmt, Duration: time.Since(start), Rows: tag.RowsAffected(), Err: err})
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.Close()
		}
		cs.done <- err
	}()
	if _, err := cs.bw.Write(copyHeader); err != nil {
		cs.abort(err)
		return nil, err
	}
	return cs, nil
}

func (cs *copyStream) write(b []byte) error {
	_, err := cs.bw.Write(b)
	return err
}

func (cs *copyStream) finish() error {
	_, err := cs.bw.Write(copyTrailer)
	if err == nil {
		err = cs.bw.Flush()
	}
	if err != nil {
		cs.pw.CloseWithError(err)
	} else {
		cs.pw.Close()
	}
	cerr := <-cs.done
	if cerr == nil && err == nil && cs.tx {
		_, cerr = cs.conn.Exec(context.Background(), "COMMIT")
	}
	cs.end(cerr != nil || err != nil)
	if cerr != nil {
		return cerr
	}
	return err
}

func (cs *copyStream) abort(err error) {
	cs.pw.CloseWithError(err)
	<-cs.done
	cs.end(true)
}

// end rolls a failed COPY's transaction back and releases the
// connection.
func (cs *copyStream) end(failed bool) {
	if failed && cs.tx {
		_, _ = cs.conn.Exec(context.Background(), "ROLLBACK")
	}
	cs.conn.Release()
}

// str views bytes as a string without copying: for values that are
// converted and encoded before the bytes change.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
