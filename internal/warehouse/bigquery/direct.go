package bigquery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	bq "cloud.google.com/go/bigquery"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse"
)

// LoadsDirect implements warehouse.DirectLoader: with direct_loads on,
// a CSV object staged uncompressed on Cloud Storage is loaded by a load
// job reading it there, so its bytes never pass through shp (see
// stager.direct). Everything else is read by shp and uploaded.
func (w *Warehouse) LoadsDirect(uri string, f format.Format, c format.Compression) bool {
	return w.cfg.DirectLoads && strings.HasPrefix(uri, "gs://") && f == format.CSV && (c == format.None || c == "")
}

// fileTable is the table a direct load writes the object's fields into,
// as text, in the file's column order.
func (s *stager) fileTable() string { return s.raw + "_f" }

// canLoadDirect reports whether the object may go through a load job
// from its URI: the pipeline left it there (Path is empty), it is plain
// UTF-8 CSV (shp checked every byte) with a header, and how shp reads it needs nothing a load
// job cannot do (a quoted empty string as text, BYTES escapes).
func (s *stager) canLoadDirect() bool {
	sp := s.spec
	if sp.URI == "" || sp.Path != "" || sp.Open == nil || sp.Records <= 0 || !sp.UTF8 ||
		!s.w.LoadsDirect(sp.URI, sp.Format, sp.Compression) || sp.Encoding != "" ||
		sp.CSV.NoHeader || sp.CSV.QuotedNullsAreText {
		return false
	}
	for _, c := range s.cols {
		if c.Type == "BYTES" {
			return false
		}
	}
	return true
}

// direct loads the object with a load job from its gs:// URI into a
// table of text columns, then types it as the streamed path does. It is
// the fast path for a clean object and gives way (ok false, its tables
// dropped) as soon as the object needs what only shp's own reading
// gives: a record the load job refuses (wrong field count, bad quoting,
// a NUL byte), a record count other than shp's, a row to set aside (whose line and
// raw text a load job does not keep), or a key twice in the object
// (whose last copy wins by file order, which a load job does not keep).
// The streamed path then stages the object with every line accounted
// for, so the result is the same either way.
func (s *stager) direct(ctx context.Context) (st *warehouse.Staged, ok bool, err error) {
	if err := s.resolveDialect(); err != nil {
		return nil, false, err
	}
	delim, quote := s.spec.CSV.Delimiter, s.spec.CSV.Quote
	if len(delim) != 1 || len(quote) > 1 {
		return nil, false, nil
	}
	d := format.CSVDialect{Header: true, Delimiter: delim[0]}
	if quote != "" {
		d.Quote = quote[0]
	}
	first, err := s.readHeader(d)
	if err != nil || first == nil {
		return nil, false, err
	}
	names, at, err := s.csvColumns(first, d)
	if err != nil {
		return nil, false, err
	}
	if len(s.cols) == 0 {
		return nil, false, nil
	}
	if ok, err := s.loadFromURI(ctx, len(names), d); err != nil || !ok {
		return nil, false, err
	}
	n, err := s.rawFromFile(ctx, at)
	if err != nil {
		return nil, false, err
	}
	if n != s.spec.Records {
		return nil, false, nil
	}
	s.records = n
	if s.infer {
		if err := s.inferTypes(ctx); err != nil {
			return nil, false, err
		}
	}
	staged, err := s.typeRows(ctx)
	if err != nil {
		return nil, false, err
	}
	if staged.Quarantined > 0 {
		return nil, false, nil
	}
	if dup, err := s.duplicateKeys(ctx); err != nil || dup {
		return nil, false, err
	}
	s.w.directLoads.Add(1)
	return staged, true, nil
}

// undoDirect drops what a direct load that gave way made and forgets
// what it learnt of the object, for the streamed path to start afresh
// with the declared columns.
func (s *stager) undoDirect(ctx context.Context, declared []column) error {
	s.w.mu.Lock()
	desc := s.w.describe[s.table]
	s.w.mu.Unlock()
	if err := s.w.dropTables(ctx, s.step("drop"), s.fileTable(), s.raw, s.table, s.qtable); err != nil {
		return err
	}
	s.w.mu.Lock()
	s.w.staged[s.table] = true
	if desc != nil {
		s.w.describe[s.table] = desc
	}
	s.w.mu.Unlock()
	s.cols = append([]column(nil), declared...)
	s.drift, s.extra, s.missing, s.present = nil, nil, nil, nil
	s.records, s.shapeBad = 0, 0
	return nil
}

// readHeader reads the object's first record (its header), streaming
// only its first bytes; nil when the object has none.
func (s *stager) readHeader(d format.CSVDialect) (*csvRecord, error) {
	r, err := s.openData()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rec, err := newCSVReader(r, d.Delimiter, d.Quote).next()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil || rec.problem != "" {
		return nil, err
	}
	return rec, nil
}

// loadFromURI creates the file table (width text columns) and runs a
// load job from the object's URI into it: the header skipped, columns by
// position, quoted newlines allowed, no bad record tolerated. ok is
// false when the job refused the object.
func (s *stager) loadFromURI(ctx context.Context, width int, d format.CSVDialect) (ok bool, err error) {
	w := s.w
	sch := bq.Schema{}
	for i := 0; i < width; i++ {
		sch = append(sch, &bq.FieldSchema{Name: "f" + strconv.Itoa(i), Type: bq.StringFieldType})
	}
	w.mu.Lock()
	w.staged[s.fileTable()] = true
	w.mu.Unlock()
	t, err := s.createStaging(ctx, s.fileTable(), sch)
	if err != nil {
		return false, fmt.Errorf("create the file staging table: %w", err)
	}
	ref := bq.NewGCSReference(s.spec.URI)
	ref.SourceFormat = bq.CSV
	ref.Schema = sch
	ref.SkipLeadingRows = 1
	ref.FieldDelimiter = string(d.Delimiter)
	if d.Quote == 0 {
		ref.ForceZeroQuote = true
	} else {
		ref.Quote = string(d.Quote)
	}
	ref.AllowQuotedNewlines = true
	ref.Encoding = bq.UTF_8
	ref.PreserveASCIIControlCharacters = true
	ref.SourceColumnMatch = bq.SourceColumnMatchPosition
	ref.MaxBadRecords = 0
	_, err = s.runLoad(ctx, t, ref, s.step("load-uri"))
	if err != nil {
		if ctx.Err() != nil {
			return false, fmt.Errorf("load job from %s: %w", s.spec.URI, err)
		}
		return false, nil // the object needs shp's reading
	}
	return true, nil
}

// rawFromFile turns the file table into the raw table the streamed path
// writes (position, no line or raw text, each staged column's text with
// the object's null values as NULL), drops the file table, and returns
// its rows.
func (s *stager) rawFromFile(ctx context.Context, at []int) (int64, error) {
	nulls := s.spec.CSV.NullValues
	if len(nulls) == 0 {
		nulls = []string{""}
	}
	var nullList []string
	for _, v := range nulls {
		nullList = append(nullList, literal(v))
	}
	cols := []string{
		"ROW_NUMBER() OVER () AS " + ident(rowCol),
		"CAST(NULL AS INT64) AS " + ident(lineCol),
		"CAST(NULL AS STRING) AS " + ident(rawCol),
		"CAST(NULL AS STRING) AS " + ident(errCol),
	}
	for i, j := range at {
		f := ident("f" + strconv.Itoa(i))
		if j < 0 {
			continue
		}
		null := f + " IN (" + strings.Join(nullList, ", ") + ")"
		if p := s.parse(s.cols[j].Name); len(p.NullTokens) > 0 {
			var toks []string
			for _, t := range p.NullTokens {
				toks = append(toks, literal(strings.ToLower(strings.TrimSpace(t))))
			}
			null += " OR LOWER(TRIM(" + f + ")) IN (" + strings.Join(toks, ", ") + ")"
		}
		cols = append(cols, fmt.Sprintf("IF(%s, NULL, %s) AS %s", null, f, ident("c"+strconv.Itoa(j))))
	}
	script := fmt.Sprintf(`CREATE TABLE %[1]s %[2]s AS SELECT %[3]s FROM %[4]s;
SELECT COUNT(*) FROM %[4]s;`,
		stagingRef(s.raw), s.w.expiration(), strings.Join(cols, ", "), stagingRef(s.fileTable()))
	out, _, err := s.w.queryRows(ctx, s.step("from-file"), script)
	if err != nil {
		return 0, fmt.Errorf("read the loaded file: %w", err)
	}
	if err := s.w.dropTables(ctx, s.step("drop"), s.fileTable()); err != nil {
		return 0, err
	}
	if len(out) != 1 || len(out[0]) != 1 {
		return 0, errors.New("read the loaded file: no count")
	}
	n, _ := out[0][0].(int64)
	return n, nil
}

// duplicateKeys reports whether a merge key is twice in the staged rows.
func (s *stager) duplicateKeys(ctx context.Context) (bool, error) {
	if len(s.spec.Key) == 0 {
		return false, nil
	}
	var keys []string
	for _, k := range s.spec.Key {
		keys = append(keys, ident(k))
	}
	out, _, err := s.w.queryRows(ctx, s.step("keys"), fmt.Sprintf(
		"SELECT COUNT(*) - COUNT(DISTINCT TO_JSON_STRING(STRUCT(%s))) FROM %s", strings.Join(keys, ", "), stagingRef(s.table)))
	if err != nil {
		return false, fmt.Errorf("look for duplicate keys: %w", err)
	}
	if len(out) != 1 || len(out[0]) != 1 {
		return false, errors.New("look for duplicate keys: no count")
	}
	n, _ := out[0][0].(int64)
	return n > 0, nil
}
