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
// a CSV or JSON Lines object (plain or gzip) or a Parquet object staged
// on Cloud Storage is loaded by a load job reading it there, so its
// bytes never pass through shp (see stager.direct). Everything else is
// read by shp and uploaded.
func (w *Warehouse) LoadsDirect(uri string, f format.Format, c format.Compression) bool {
	if !w.cfg.DirectLoads || !strings.HasPrefix(uri, "gs://") {
		return false
	}
	switch f {
	case format.CSV, format.JSONL:
		return c == format.None || c == "" || c == format.Gzip
	case format.Parquet:
		return c == format.None || c == ""
	}
	return false
}

// fileTable is the table a direct load writes the object's fields into,
// as text.
func (s *stager) fileTable() string { return s.raw + "_f" }

// canLoadDirect reports whether the object may go through a load job
// from its URI: the pipeline left it there (Path is empty), it is plain
// UTF-8 (shp checked every byte), and how shp reads it needs nothing a
// load job cannot do: for CSV, a header and no quoted empty string read
// as text; for JSON Lines, shp's profile of every member, with no record
// set aside, no nested value and no member twice in a record; for
// Parquet, a way to read its footer.
func (s *stager) canLoadDirect() bool {
	sp := s.spec
	if sp.URI == "" || sp.Path != "" || sp.Open == nil || sp.Records <= 0 ||
		!s.w.LoadsDirect(sp.URI, sp.Format, sp.Compression) || sp.Encoding != "" {
		return false
	}
	if sp.Format == format.Parquet {
		return sp.OpenAt != nil // and each column as directParquet says
	}
	if !sp.UTF8 {
		return false
	}
	for _, c := range s.cols {
		if c.Type == "BYTES" {
			return false
		}
	}
	switch sp.Format {
	case format.CSV:
		return !sp.CSV.NoHeader && !sp.CSV.QuotedNullsAreText
	case format.JSONL:
		p := sp.Profile
		if p == nil || p.Unreadable || p.Repeated || p.Records != sp.Records || len(p.Members) == 0 {
			return false
		}
		seen := map[string]bool{}
		for _, m := range p.Members {
			if m.Nested || !loadableName(m.Name) || seen[strings.ToLower(m.Name)] {
				return false
			}
			seen[strings.ToLower(m.Name)] = true
		}
		return true
	}
	return false
}

// loadableName reports whether a JSON member's name is a BigQuery
// column name a load job matches it by: letters, digits and
// underscores, not starting with a digit, not one of the reserved
// prefixes.
func loadableName(n string) bool {
	if n == "" || len(n) > 300 || n[0] >= '0' && n[0] <= '9' {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	u := strings.ToUpper(n)
	for _, p := range []string{"_TABLE_", "_FILE_", "_PARTITION", "_ROW_TIMESTAMP", "__ROOT__", "_COLIDENTIFIER", "_CHANGE_"} {
		if strings.HasPrefix(u, p) {
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
// a NUL byte), a record count other than shp's, a value read otherwise
// than shp read it (JSON), a row to set aside (whose line and raw text a
// load job does not keep), or a key twice in the object (whose last copy
// wins by file order, which a load job does not keep). The streamed
// path then stages the object with every line accounted for, so the
// result is the same either way.
func (s *stager) direct(ctx context.Context) (st *warehouse.Staged, ok bool, err error) {
	var n int64
	switch s.spec.Format {
	case format.JSONL:
		n, ok, err = s.directJSON(ctx)
	case format.Parquet:
		n, ok, err = s.directParquet(ctx)
	default:
		n, ok, err = s.directCSV(ctx)
	}
	if err != nil || !ok || n != s.spec.Records {
		return nil, false, err
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

// directCSV loads a CSV object into the file table, by position, and
// makes the raw table of it; n is its records.
func (s *stager) directCSV(ctx context.Context) (n int64, ok bool, err error) {
	if err := s.resolveDialect(); err != nil {
		return 0, false, err
	}
	delim, quote := s.spec.CSV.Delimiter, s.spec.CSV.Quote
	if len(delim) != 1 || len(quote) > 1 {
		return 0, false, nil
	}
	d := format.CSVDialect{Header: true, Delimiter: delim[0]}
	if quote != "" {
		d.Quote = quote[0]
	}
	first, err := s.readHeader(d)
	if err != nil || first == nil {
		return 0, false, err
	}
	names, at, err := s.csvColumns(first, d)
	if err != nil || len(s.cols) == 0 {
		return 0, false, err
	}
	if ok, err := s.loadFromURI(ctx, len(names), d); err != nil || !ok {
		return 0, false, err
	}
	fields := make([]string, len(at))
	for i := range at {
		fields[i] = "f" + strconv.Itoa(i)
	}
	nulls := s.spec.CSV.NullValues
	if len(nulls) == 0 {
		nulls = []string{""}
	}
	n, err = s.rawFromFile(ctx, fields, at, nulls)
	return n, err == nil, err
}

// directJSON loads a JSON Lines object into the file table, a STRING
// column per member by name, checks each column's values against shp's
// profile of them (how many, their total length and the XOR of their
// FARM_FINGERPRINT), and makes the raw table of it; n is its records.
// Members map to columns as readJSON maps them, with the same drift.
func (s *stager) directJSON(ctx context.Context) (n int64, ok bool, err error) {
	p := s.spec.Profile
	fields := make([]string, len(p.Members))
	at := make([]int, len(p.Members))
	if !s.infer {
		s.present = make([]bool, len(s.cols))
	}
	for i, m := range p.Members {
		fields[i] = m.Name
		at[i] = -1
		switch {
		case s.infer:
			at[i] = len(s.cols)
			s.cols = append(s.cols, column{Name: m.Name, Type: "STRING"})
			s.jsonKinds = append(s.jsonKinds, kindSet{str: m.Strings, intNum: m.Integers, floatNum: m.Floats, boolean: m.Booleans})
		default:
			if j, ok := lookupCol(s.cols, s.fileName(m.Name)); ok {
				if s.present[j] {
					return 0, false, nil // two members read into one column: the record's order decides
				}
				at[i] = j
				s.present[j] = true
			} else {
				s.noteExtra(m.Name)
			}
		}
	}
	if s.infer {
		s.present = make([]bool, len(s.cols))
		for i := range s.present {
			s.present[i] = true
		}
	} else {
		s.noteMissing()
	}
	sch := bq.Schema{}
	for _, f := range fields {
		sch = append(sch, &bq.FieldSchema{Name: f, Type: bq.StringFieldType})
	}
	ref := bq.NewGCSReference(s.spec.URI)
	ref.SourceFormat = bq.JSON
	ref.Schema = sch
	ref.Encoding = bq.UTF_8
	ref.MaxBadRecords = 0
	if ok, err := s.loadFileTable(ctx, sch, ref); err != nil || !ok {
		return 0, false, err
	}
	if same, err := s.sameValues(ctx, p); err != nil || !same {
		return 0, false, err
	}
	n, err = s.rawFromFile(ctx, fields, at, nil)
	return n, err == nil, err
}

// directParquet loads a Parquet object by a load job into the file
// table, each column of its own type, and makes the raw table of it; n
// is its rows. It gives way unless every column a load job reads is
// one whose values shp's reading gives the same (64-bit integers and
// floats, booleans, UTF-8 text, dates, UTC timestamps in microseconds,
// decimals that fit NUMERIC), and every column staged from it is
// declared with exactly the file's type and no layout or parse of its
// own (or the columns are the file's): then no value converts, nor
// can fail to.
func (s *stager) directParquet(ctx context.Context) (n int64, ok bool, err error) {
	ra, size, err := s.spec.OpenAt(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("open %s: %w", s.spec.URI, err)
	}
	_, leaves, err := format.OpenFlatParquetAt(ra, size, "BigQuery")
	if err != nil {
		return 0, false, nil // shp's reading says what is wrong
	}
	fields := make([]string, len(leaves))
	at := make([]int, len(leaves))
	sch := bq.Schema{}
	seen := map[string]bool{}
	if !s.infer {
		s.present = make([]bool, len(s.cols))
	}
	for i, l := range leaves {
		c := describeParquet(l)
		lt, loadable := c.loadType()
		if !loadable || !loadableName(c.name) || seen[strings.ToLower(c.name)] {
			return 0, false, nil
		}
		seen[strings.ToLower(c.name)] = true
		fields[i], at[i] = c.name, -1
		sch = append(sch, &bq.FieldSchema{Name: c.name, Type: bq.FieldType(lt.Type)})
		if s.infer {
			lt.Name = c.name
			at[i] = len(s.cols)
			s.cols = append(s.cols, lt)
			continue
		}
		j, found := lookupCol(s.cols, s.fileName(c.name))
		if !found || s.present[j] {
			s.noteExtra(c.name)
			continue
		}
		if !s.sameType(s.cols[j], lt) {
			return 0, false, nil
		}
		at[i] = j
		s.present[j] = true
	}
	if s.infer {
		s.present = make([]bool, len(s.cols))
		for i := range s.present {
			s.present[i] = true
		}
		s.parquetTypes = true
	} else {
		s.noteMissing()
	}
	ref := bq.NewGCSReference(s.spec.URI)
	ref.SourceFormat = bq.Parquet
	ref.Schema = sch
	ref.MaxBadRecords = 0
	if ok, err := s.loadFileTable(ctx, sch, ref); err != nil || !ok {
		return 0, false, err
	}
	s.typedRaw = true
	n, err = s.rawFromFile(ctx, fields, at, nil)
	return n, err == nil, err
}

// sameType reports whether a declared column takes a Parquet column of
// load type lt as it is: the same type (a NUMERIC wide enough), no
// layout or parse of its own, null tokens only on text.
func (s *stager) sameType(c, lt column) bool {
	p := s.parse(c.Name)
	if c.Type != lt.Type || c.Format != "" || len(p.Layouts) > 0 || p.EpochUnit != "" || p.DecimalComma || p.Thousands != "" ||
		len(p.NullTokens) > 0 && c.Type != "STRING" {
		return false
	}
	if c.Type == "NUMERIC" && c.Precision > 0 {
		return lt.Scale <= c.Scale && lt.Precision-lt.Scale <= c.Precision-c.Scale
	}
	return true
}

// sameValues checks the file table's columns against shp's profile of
// the object's members.
func (s *stager) sameValues(ctx context.Context, p *format.JSONProfile) (bool, error) {
	var aggs []string
	for _, m := range p.Members {
		f := ident(m.Name)
		aggs = append(aggs, "COUNT("+f+")", "COALESCE(SUM(BYTE_LENGTH("+f+")), 0)", "COALESCE(BIT_XOR(FARM_FINGERPRINT("+f+")), 0)")
	}
	out, _, err := s.w.queryRows(ctx, s.step("check"), "SELECT "+strings.Join(aggs, ", ")+" FROM "+stagingRef(s.fileTable()))
	if err != nil {
		return false, fmt.Errorf("check the loaded values: %w", err)
	}
	if len(out) != 1 || len(out[0]) != 3*len(p.Members) {
		return false, errors.New("check the loaded values: no answer")
	}
	for i, m := range p.Members {
		got := out[0][3*i : 3*i+3]
		if n, _ := got[0].(int64); n != m.Values {
			return false, nil
		}
		if n, _ := got[1].(int64); n != m.Bytes {
			return false, nil
		}
		if n, _ := got[2].(int64); n != m.Fingerprint {
			return false, nil
		}
	}
	return true, nil
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
	s.jsonKinds, s.parquetTypes, s.typedRaw = nil, false, false
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

// loadFromURI loads a CSV object into the file table (width text
// columns): the header skipped, columns by position, quoted newlines
// allowed, no bad record tolerated.
func (s *stager) loadFromURI(ctx context.Context, width int, d format.CSVDialect) (ok bool, err error) {
	sch := bq.Schema{}
	for i := 0; i < width; i++ {
		sch = append(sch, &bq.FieldSchema{Name: "f" + strconv.Itoa(i), Type: bq.StringFieldType})
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
	return s.loadFileTable(ctx, sch, ref)
}

// loadFileTable creates the file table of schema sch and runs the load
// job ref into it. ok is false when the job refused the object.
func (s *stager) loadFileTable(ctx context.Context, sch bq.Schema, ref *bq.GCSReference) (ok bool, err error) {
	s.w.mu.Lock()
	s.w.staged[s.fileTable()] = true
	s.w.mu.Unlock()
	t, err := s.createStaging(ctx, s.fileTable(), sch)
	if err != nil {
		return false, fmt.Errorf("create the file staging table: %w", err)
	}
	if _, err = s.runLoad(ctx, t, ref, s.step("load-uri")); err != nil {
		if ctx.Err() != nil {
			return false, fmt.Errorf("load job from %s: %w", s.spec.URI, err)
		}
		return false, nil // the object needs shp's reading
	}
	return true, nil
}

// rawFromFile turns the file table into the raw table the streamed path
// writes (position, no line or raw text, each staged column's text with
// the object's null values and the column's null tokens as NULL): file
// column fields[i] is staged column at[i] (none when negative). It drops
// the file table and returns its rows.
func (s *stager) rawFromFile(ctx context.Context, fields []string, at []int, nulls []string) (int64, error) {
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
		if j < 0 {
			continue
		}
		f := ident(fields[i])
		var null []string
		if len(nullList) > 0 {
			null = append(null, f+" IN ("+strings.Join(nullList, ", ")+")")
		}
		if p := s.parse(s.cols[j].Name); len(p.NullTokens) > 0 {
			var toks []string
			for _, t := range p.NullTokens {
				toks = append(toks, literal(strings.ToLower(strings.TrimSpace(t))))
			}
			null = append(null, "LOWER(TRIM("+f+")) IN ("+strings.Join(toks, ", ")+")")
		}
		v := f
		if len(null) > 0 {
			v = fmt.Sprintf("IF(%s, NULL, %s)", strings.Join(null, " OR "), f)
		}
		cols = append(cols, v+" AS "+ident("c"+strconv.Itoa(j)))
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
