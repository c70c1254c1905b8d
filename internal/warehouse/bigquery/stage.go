package bigquery

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bq "cloud.google.com/go/bigquery"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

// Stage reads one object and loads it into a staging table of shp's
// dataset: shp reads the records (so that a record of the wrong shape is
// set aside with its line, not lost in a failed load), writes each with
// its values as text into newline-delimited JSON, loads that into a
// table of STRING columns, and types it in GoogleSQL (SAFE_CAST and
// friends). A record whose non-empty value does not convert, or that
// has no value in a REQUIRED or key column, goes to the object's
// quarantine staging table with the reason. rows in = staged + set
// aside, exactly.
func (w *Warehouse) Stage(ctx context.Context, spec warehouse.LoadSpec) (*warehouse.Staged, error) {
	n := w.seq.Add(1)
	id := fmt.Sprintf("%s%s_%s_%d", stagePrefix, sanitize(spec.RunID), w.instance, n)
	s := &stager{ctx: ctx, w: w, spec: spec, table: w.cfg.ShpDataset + "." + id,
		meta: jobMeta{run: spec.RunID, pipeline: spec.Pipeline, object: spec.ObjectKey}}
	s.qtable = quarantineOf(s.table)
	s.raw = s.table + "_raw"
	w.mu.Lock()
	w.staged[s.table] = true
	if desc := describedColumns(spec.Schema); len(desc) > 0 {
		w.describe[s.table] = desc
	}
	w.mu.Unlock()
	st, err := s.run(ctx)
	if err != nil {
		_ = w.dropTables(ctx, jobMeta{run: spec.RunID, pipeline: spec.Pipeline}, s.table, s.qtable, s.raw, s.fileTable())
		return nil, fmt.Errorf("bigquery: stage %s: %w", spec.ObjectKey, err)
	}
	return st, nil
}

// describedColumns are a schema's column descriptions, by lower-case
// name.
func describedColumns(sch schema.Schema) map[string]string {
	out := map[string]string{}
	for _, f := range sch {
		if f.Description != "" {
			out[strings.ToLower(f.Name)] = f.Description
		}
	}
	return out
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// sanitize makes text part of a table name.
func sanitize(s string) string {
	s = unsafeName.ReplaceAllString(s, "_")
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

type stager struct {
	// ctx is Stage's, for openData's callers (format's callbacks take
	// none); the stager lives for one call.
	ctx               context.Context
	w                 *Warehouse
	spec              warehouse.LoadSpec
	meta              jobMeta
	table, qtable     string
	raw               string
	cols              []column // the staged columns, in order; nil until known
	infer             bool     // no schema: the columns' types are inferred
	drift             []string
	extra             []schema.Field
	missing           []string
	present           []bool    // which of cols the file has
	jsonKinds         []kindSet // what JSON values each column held, for inference
	jsonKeys          []string  // a JSON file's keys, when the columns are inferred
	parquetTypes      bool      // the columns' types are a Parquet file's own
	typedRaw          bool      // the raw table's columns have the staged columns' types (a Parquet load job)
	records, shapeBad int64     // records read, and those set aside by shp
	steps             int       // jobs run, for their ids
}

// step names the stager's next job.
func (s *stager) step(what string) jobMeta {
	s.steps++
	m := s.meta
	m.step = fmt.Sprintf("%s-%s-%d", what, s.table, s.steps)
	return m
}

func (s *stager) run(ctx context.Context) (*warehouse.Staged, error) {
	declared, err := s.declaredColumns(ctx)
	if err != nil {
		return nil, err
	}
	s.cols = append([]column(nil), declared...)
	s.infer = len(declared) == 0
	if s.canLoadDirect() {
		csv := s.spec.CSV
		st, ok, err := s.direct(ctx)
		if err != nil || ok {
			return st, err
		}
		if err := s.undoDirect(ctx, declared); err != nil {
			return nil, err
		}
		s.spec.CSV = csv // the dialect is detected again, with its note
	}
	tmp, err := os.CreateTemp(s.w.tempDirOf(), "shp-bq-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("create the load file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	out := bufio.NewWriterSize(tmp, 1<<20)
	switch s.spec.Format {
	case format.CSV:
		err = s.readCSV(out)
	case format.JSONL, format.JSON:
		err = s.readJSON(out)
	case format.Parquet:
		err = s.readParquet(out)
	default:
		err = fmt.Errorf("unsupported format %q", s.spec.Format)
	}
	if err != nil {
		return nil, err
	}
	if err := out.Flush(); err != nil {
		return nil, fmt.Errorf("write the load file: %w", err)
	}
	if err := s.load(ctx, tmp); err != nil {
		return nil, err
	}
	if s.infer {
		if err := s.inferTypes(ctx); err != nil {
			return nil, err
		}
	}
	return s.typeRows(ctx)
}

// openData opens the object, decompressed and, when the spec asks,
// transcoded to UTF-8.
func (s *stager) openData() (io.ReadCloser, error) {
	r, err := s.spec.OpenData(s.ctx)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(s.spec.Encoding) {
	case "":
		return r, nil
	case "latin-1", "latin1", "iso-8859-1":
		return readCloser{transform.NewReader(r, charmap.ISO8859_1.NewDecoder()), r}, nil
	case "windows-1252", "cp1252":
		return readCloser{transform.NewReader(r, charmap.Windows1252.NewDecoder()), r}, nil
	}
	r.Close()
	return nil, fmt.Errorf("unknown encoding %q (latin-1 or windows-1252)", s.spec.Encoding)
}

type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }

// declaredColumns is the schema rows must fit: the declared one (each
// column as wide as the target's, when an earlier repair widened it, and
// the target's other columns), else the existing target's, else nil
// (inferred from the data). A repair's Extend, Widen and Relax apply
// last.
func (s *stager) declaredColumns(ctx context.Context) ([]column, error) {
	target, err := s.w.targetColumns(ctx, s.spec.Target)
	if err != nil {
		return nil, err
	}
	var out []column
	if len(s.spec.Schema) > 0 {
		for _, f := range s.spec.Schema {
			c := columnOf(f)
			for _, t := range target {
				if strings.EqualFold(t.Name, c.Name) && widens(c, t) {
					c.Type, c.Precision, c.Scale = t.Type, t.Precision, t.Scale
				}
			}
			out = append(out, c)
		}
		for _, t := range target {
			if _, ok := lookupCol(out, t.Name); !ok {
				t.Required = false
				out = append(out, t)
			}
		}
	} else {
		out = append(out, target...)
	}
	if len(out) == 0 {
		return nil, nil
	}
	for _, f := range s.spec.Extend {
		if _, ok := lookupCol(out, f.Name); !ok {
			c := columnOf(f)
			c.Required = false
			out = append(out, c)
		}
	}
	for i := range out {
		for name, typ := range s.spec.Widen {
			if strings.EqualFold(name, out[i].Name) {
				wc := parseTypeName(typ)
				out[i].Type, out[i].Precision, out[i].Scale = wc.Type, wc.Precision, wc.Scale
			}
		}
		for _, r := range s.spec.Relax {
			if strings.EqualFold(r, out[i].Name) {
				out[i].Required = false
			}
		}
	}
	return out, nil
}

func lookupCol(cols []column, name string) (int, bool) {
	for i, c := range cols {
		if strings.EqualFold(c.Name, name) {
			return i, true
		}
	}
	return -1, false
}

// fileName is the schema column a file column is read as.
func (s *stager) fileName(name string) string {
	if to, ok := s.spec.Rename[name]; ok {
		return to
	}
	return name
}

// parse is how a column's text is read.
func (s *stager) parse(name string) warehouse.ColumnParse {
	for k, p := range s.spec.Parse {
		if strings.EqualFold(k, name) {
			return p
		}
	}
	return warehouse.ColumnParse{}
}

// prepare readies a column's text for its conversion in SQL: a BYTES
// value is read as DuckDB reads text into a BLOB (\xHH is a byte, any
// other backslash is an error) and sent as base64 behind "b64:"; a
// value that does not read is sent as it is, to fail its conversion.
func (s *stager) prepare(j int, v string) string {
	if j >= len(s.cols) || s.cols[j].Type != "BYTES" {
		return v
	}
	b, ok := unescapeBlob(v)
	if !ok {
		return v
	}
	return "b64:" + base64(b)
}

// unescapeBlob reads DuckDB's text form of a BLOB.
func unescapeBlob(v string) ([]byte, bool) {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			out = append(out, v[i])
			continue
		}
		if i+4 > len(v) || v[i+1] != 'x' {
			return nil, false
		}
		n, err := strconv.ParseUint(v[i+2:i+4], 16, 8)
		if err != nil {
			return nil, false
		}
		out = append(out, byte(n))
		i += 3
	}
	return out, true
}

// isNullToken reports whether v is one of the column's null tokens.
func isNullToken(v string, p warehouse.ColumnParse) bool {
	if len(p.NullTokens) == 0 {
		return false
	}
	t := strings.TrimSpace(v)
	for _, tok := range p.NullTokens {
		if strings.EqualFold(t, strings.TrimSpace(tok)) {
			return true
		}
	}
	return false
}

// record is one record as written to the load file.
type record struct {
	row, line int64
	raw       []byte
	problem   string
	values    []*string // by column; nil is NULL
}

// writeRecord writes a record as one line of newline-delimited JSON:
// its position, line, raw text, problem and each column's text as c0,
// c1, ...
func writeRecord(w *bufio.Writer, r record) error {
	var b []byte
	b = append(b, `{"`+rowCol+`":`...)
	b = strconv.AppendInt(b, r.row, 10)
	b = append(b, `,"`+lineCol+`":`...)
	if r.line > 0 {
		b = strconv.AppendInt(b, r.line, 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"`+rawCol+`":`...)
	b = appendJSONString(b, string(r.raw))
	if r.problem != "" {
		b = append(b, `,"`+errCol+`":`...)
		b = appendJSONString(b, r.problem)
	} else {
		for i, v := range r.values {
			if v == nil {
				continue
			}
			b = append(b, `,"c`...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, `":`...)
			b = appendJSONString(b, *v)
		}
	}
	b = append(b, "}\n"...)
	_, err := w.Write(b)
	return err
}

// appendJSONString appends s as a JSON string; bytes that are not UTF-8
// become U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	js, _ := json.Marshal(s)
	return append(b, js...)
}

// readCSV reads a CSV object's records into the load file.
func (s *stager) readCSV(out *bufio.Writer) error {
	if err := s.resolveDialect(); err != nil {
		return err
	}
	delim, quote := s.spec.CSV.Delimiter, s.spec.CSV.Quote
	if len(delim) != 1 || len(quote) > 1 {
		return fmt.Errorf("csv delimiter %q and quote %q: one byte each", delim, quote)
	}
	var q byte
	if quote != "" {
		q = quote[0]
	}
	d := format.CSVDialect{Header: !s.spec.CSV.NoHeader, Delimiter: delim[0], Quote: q}
	r, err := s.openData()
	if err != nil {
		return err
	}
	defer r.Close()
	cr := newCSVReader(r, d.Delimiter, d.Quote)
	first, err := cr.next()
	if err != nil && err != io.EOF {
		return err
	}
	if d.Header && first == nil {
		return s.noRecords()
	}
	names, at, err := s.csvColumns(first, d)
	if err != nil {
		return err
	}
	if d.Header {
		first = nil
	}
	nulls := s.spec.CSV.NullValues
	if len(nulls) == 0 {
		nulls = []string{""}
	}
	parses := make([]warehouse.ColumnParse, len(s.cols))
	for i, c := range s.cols {
		parses[i] = s.parse(c.Name)
	}
	width := len(names)
	for {
		rec := first
		first = nil
		if rec == nil {
			if rec, err = cr.next(); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
		}
		s.records++
		o := record{row: s.records, line: rec.line, raw: rec.raw, values: make([]*string, len(s.cols))}
		switch {
		case rec.problem != "":
			o.problem = rec.problem
		case len(rec.fields) > width:
			o.problem = fmt.Sprintf("too many columns: expected %d, found %d", width, len(rec.fields))
		case len(rec.fields) < width:
			o.problem = fmt.Sprintf("missing columns: expected %d, found %d", width, len(rec.fields))
		}
		if o.problem == "" {
			for i, f := range rec.fields {
				j := at[i]
				if j < 0 {
					continue
				}
				if !utf8.Valid(f) {
					o.problem = fmt.Sprintf("invalid encoding (column %s): the value is not valid UTF-8", s.cols[j].Name)
					break
				}
				v := string(f)
				if (!rec.quoted[i] || !s.spec.CSV.QuotedNullsAreText) && contains(nulls, v) || isNullToken(v, parses[j]) {
					continue
				}
				v = s.prepare(j, v)
				o.values[j] = &v
			}
		}
		if o.problem == "" && !utf8.Valid(rec.raw) {
			o.problem = "invalid encoding: the record is not valid UTF-8"
		}
		if o.problem != "" {
			s.shapeBad++
			o.values = nil
		}
		if err := writeRecord(out, o); err != nil {
			return err
		}
	}
	return nil
}

// csvColumns names a CSV object's columns (from its header record, or
// the schema's when it has none; first is then the first record, or
// nil) and maps them onto the staged columns: at[i] is the staged column
// file column i is read as, -1 for none. It sets s.cols (inferred ones
// included), s.present and the drift notes.
func (s *stager) csvColumns(first *csvRecord, d format.CSVDialect) (names []string, at []int, err error) {
	var skip []bool
	if d.Header {
		cells := make([]string, len(first.fields))
		for i, f := range first.fields {
			cells[i] = string(f)
		}
		cols, err := format.NameCSVColumns(cells, func() (*format.CSVShape, error) {
			rr, err := s.openData()
			if err != nil {
				return nil, err
			}
			defer rr.Close()
			return format.ScanCSVShape(rr, d)
		})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s.spec.ObjectKey, err)
		}
		names, skip = cols.Names, cols.Skip
		s.drift = append(s.drift, cols.Notes...)
	} else {
		width := len(s.cols)
		if first != nil && len(first.fields) > width {
			width = len(first.fields)
		}
		for i := 0; i < width; i++ {
			if i < len(s.spec.Schema) {
				names = append(names, s.spec.Schema[i].Name)
			} else if i < len(s.cols) {
				names = append(names, s.cols[i].Name)
			} else {
				names = append(names, fmt.Sprintf("column%d", i+1))
			}
		}
		skip = make([]bool, len(names))
	}
	// Which file column each staged column reads.
	at = make([]int, len(names)) // file column -> staged column, -1 for none
	if s.infer {
		for i, n := range names {
			at[i] = -1
			if skip[i] {
				continue
			}
			at[i] = len(s.cols)
			s.cols = append(s.cols, column{Name: n, Type: "STRING"})
		}
		s.present = make([]bool, len(s.cols))
		for i := range s.present {
			s.present[i] = true
		}
	} else {
		s.present = make([]bool, len(s.cols))
		read := 0
		for i, n := range names {
			at[i] = -1
			if skip[i] {
				continue
			}
			if j, ok := lookupCol(s.cols, s.fileName(n)); ok && !s.present[j] {
				at[i] = j
				s.present[j] = true
				read++
				continue
			}
			s.noteExtra(n)
		}
		if read == 0 && d.Header {
			return nil, nil, fmt.Errorf("none of the file's columns %v is in the schema (is the delimiter right?)", names)
		}
		s.noteMissing()
	}
	return names, at, nil
}

func contains(list []string, v string) bool {
	for _, l := range list {
		if l == v {
			return true
		}
	}
	return false
}

// noRecords handles a CSV object without even a header: nothing to
// load, the declared columns staged empty.
func (s *stager) noRecords() error {
	if s.infer {
		return errors.New("the file is empty and no schema says its columns")
	}
	s.present = make([]bool, len(s.cols))
	return nil
}

// noteMissing records the schema columns the file lacks.
func (s *stager) noteMissing() {
	for i, c := range s.cols {
		if !s.present[i] {
			s.drift = append(s.drift, fmt.Sprintf("column %q is missing from the file; loaded as NULL", c.Name))
			s.missing = append(s.missing, c.Name)
		}
	}
}

// noteExtra records a file column the schema lacks.
func (s *stager) noteExtra(name string) {
	for _, e := range s.extra {
		if strings.EqualFold(e.Name, name) {
			return
		}
	}
	s.drift = append(s.drift, fmt.Sprintf("extra column %q is not in the schema; ignored", name))
	s.extra = append(s.extra, schema.Field{Name: name, Type: schema.TypeString, Mode: schema.ModeNullable})
}

// resolveDialect detects what the spec leaves empty of the CSV dialect
// and checks a declared delimiter against the schema (see
// format.ResolveCSVDialect); what it found is drift.
func (s *stager) resolveDialect() error {
	var known func(string) bool
	if len(s.cols) > 0 {
		known = func(name string) bool { _, ok := lookupCol(s.cols, s.fileName(strings.TrimSpace(name))); return ok }
	}
	notes, err := sqlplan.ResolveCSVDialect(&s.spec.CSV, known, s.openData)
	s.drift = append(s.drift, notes...)
	return err
}

// kindSet is what kinds of JSON values a column held.
type kindSet struct{ str, intNum, floatNum, boolean, nested bool }

// readJSON reads a JSON Lines object or a JSON array into the load
// file: format.NormalizeJSON finds the records that are not objects (or
// not JSON), which are set aside with its reason; each object's members
// are read as text.
func (s *stager) readJSON(out *bufio.Writer) error {
	r, err := s.openData()
	if err != nil {
		return err
	}
	defer r.Close()
	norm, err := os.CreateTemp(s.w.tempDirOf(), "shp-bq-norm-*.jsonl")
	if err != nil {
		return err
	}
	defer os.Remove(norm.Name())
	defer norm.Close()
	nw := bufio.NewWriterSize(norm, 1<<20)
	var badErr error
	_, _, err = format.NormalizeJSON(r, nw, s.spec.Format == format.JSONL, func(n int64, raw []byte, reason string) error {
		s.records++
		s.shapeBad++
		badErr = writeRecord(out, record{row: n, line: n, raw: raw, problem: reason})
		return badErr
	})
	if err != nil {
		return fmt.Errorf("read json: %w", err)
	}
	if err := nw.Flush(); err != nil {
		return err
	}
	if _, err := norm.Seek(0, io.SeekStart); err != nil {
		return err
	}
	index := map[string]int{} // file key -> staged column
	if !s.infer {
		s.present = make([]bool, len(s.cols))
	}
	parses := map[int]warehouse.ColumnParse{}
	dec := json.NewDecoder(bufio.NewReaderSize(norm, 1<<20))
	dec.UseNumber()
	for {
		var rec json.RawMessage
		if err := dec.Decode(&rec); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("read json: %w", err)
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(rec, &members); err != nil {
			return fmt.Errorf("read json: %w", err)
		}
		var line int64
		_ = json.Unmarshal(members[format.LineField], &line)
		delete(members, format.LineField)
		raw := stripLine(rec)
		s.records++
		o := record{row: line, line: line, raw: raw}
		keys := make([]string, 0, len(members))
		for k := range members {
			keys = append(keys, k)
		}
		// First-seen order: the order of the record's members.
		sort.Slice(keys, func(i, j int) bool { return memberOffset(rec, keys[i]) < memberOffset(rec, keys[j]) })
		for _, k := range keys {
			j, seen := index[k]
			if !seen {
				j = -1
				if s.infer {
					j = len(s.cols)
					s.cols = append(s.cols, column{Name: k, Type: "STRING"})
					s.jsonKinds = append(s.jsonKinds, kindSet{})
				} else if c, ok := lookupCol(s.cols, s.fileName(k)); ok {
					j = c
				} else {
					s.noteExtra(k)
				}
				index[k] = j
			}
			if j < 0 {
				continue
			}
			if !s.infer {
				s.present[j] = true
			}
			v, kind, isNull := format.JSONText(members[k])
			if isNull {
				continue
			}
			if s.infer {
				ks := &s.jsonKinds[j]
				switch kind {
				case 's':
					ks.str = true
				case 'i':
					ks.intNum = true
				case 'f':
					ks.floatNum = true
				case 'b':
					ks.boolean = true
				default:
					ks.nested = true
				}
			}
			p, ok := parses[j]
			if !ok {
				p = s.parse(s.cols[j].Name)
				parses[j] = p
			}
			if isNullToken(v, p) {
				continue
			}
			for len(o.values) <= j {
				o.values = append(o.values, nil)
			}
			vv := s.prepare(j, v)
			o.values[j] = &vv
		}
		if err := writeRecord(out, o); err != nil {
			return err
		}
	}
	if badErr != nil {
		return badErr
	}
	if s.infer {
		s.present = make([]bool, len(s.cols))
		for i := range s.present {
			s.present[i] = true
		}
		if len(s.cols) == 0 {
			return errors.New("no record has a member, and no schema says the columns")
		}
	} else {
		s.noteMissing()
	}
	return nil
}

// stripLine removes the member format.NormalizeJSON spliced in.
func stripLine(rec []byte) []byte {
	prefix := `{"` + format.LineField + `":`
	s := string(rec)
	if !strings.HasPrefix(s, prefix) {
		return rec
	}
	i := len(prefix)
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '-') {
		i++
	}
	if i < len(s) && s[i] == ',' {
		return []byte("{" + s[i+1:])
	}
	return []byte("{" + s[i:])
}

// memberOffset finds where a member's key is in a record, for the order
// of first-seen keys.
func memberOffset(rec []byte, key string) int {
	k, _ := json.Marshal(key)
	if i := strings.Index(string(rec), string(k)+":"); i >= 0 {
		return i
	}
	if i := strings.Index(string(rec), string(k)); i >= 0 {
		return i
	}
	return len(rec)
}

// rawSchema is the load file's table: position and line, raw text and
// problem, and one STRING column per staged column.
func (s *stager) rawSchema() bq.Schema {
	sch := bq.Schema{
		{Name: rowCol, Type: bq.IntegerFieldType},
		{Name: lineCol, Type: bq.IntegerFieldType},
		{Name: rawCol, Type: bq.StringFieldType},
		{Name: errCol, Type: bq.StringFieldType},
	}
	for i := range s.cols {
		sch = append(sch, &bq.FieldSchema{Name: fmt.Sprintf("c%d", i), Type: bq.StringFieldType})
	}
	return sch
}

// load creates the raw table (with its expiration) and loads the load
// file into it through the API.
func (s *stager) load(ctx context.Context, f *os.File) error {
	t, err := s.createStaging(ctx, s.raw, s.rawSchema())
	if err != nil {
		return fmt.Errorf("create the raw staging table: %w", err)
	}
	if s.records == 0 {
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	src := bq.NewReaderSource(f)
	src.SourceFormat = bq.JSON
	src.Schema = s.rawSchema()
	job, err := s.runLoad(ctx, t, src, s.step("load"))
	if err != nil {
		return fmt.Errorf("load job %s: %w", job, err)
	}
	return nil
}

// createStaging creates a staging table of shp's dataset with its
// expiration and labels.
func (s *stager) createStaging(ctx context.Context, name string, sch bq.Schema) (*bq.Table, error) {
	ds, tbl := tableName(name)
	t := s.w.client.Dataset(ds).Table(tbl)
	cctx, cancel := s.w.call(ctx)
	defer cancel()
	return t, t.Create(cctx, &bq.TableMetadata{Schema: sch, ExpirationTime: time.Now().Add(s.w.expiry), Labels: s.w.labels(s.meta)})
}

// runLoad runs a load job from src into the existing table t (appended
// to; an empty table either way) and waits for it; it returns the job's
// id, for messages.
func (s *stager) runLoad(ctx context.Context, t *bq.Table, src bq.LoadSource, m jobMeta) (string, error) {
	w := s.w
	loader := t.LoaderFrom(src)
	loader.WriteDisposition = bq.WriteAppend
	loader.CreateDisposition = bq.CreateNever
	loader.Labels = w.labels(m)
	loader.JobID = w.jobID(m)
	loader.Location = w.cfg.Location
	cctx, cancel := w.call(ctx)
	defer cancel()
	job, err := loader.Run(cctx)
	if err != nil {
		return loader.JobID, err
	}
	_, err = w.waitJob(cctx, m, job)
	return job.ID(), err
}

// inferTypes gives the columns of an object without a schema the
// narrowest type every value converts to: from the JSON values' kinds,
// or, for CSV, by trying each type on the loaded text in one query.
func (s *stager) inferTypes(ctx context.Context) error {
	if s.parquetTypes {
		return nil
	}
	if s.spec.Format != format.CSV {
		for i, k := range s.jsonKinds {
			switch {
			case k.nested:
				s.cols[i].Type = "JSON"
			case k.str:
				s.cols[i].Type = "STRING"
			case k.boolean && !k.intNum && !k.floatNum:
				s.cols[i].Type = "BOOL"
			case k.floatNum && !k.boolean:
				s.cols[i].Type = "FLOAT64"
			case k.intNum && !k.boolean:
				s.cols[i].Type = "INT64"
			default:
				s.cols[i].Type = "STRING"
			}
		}
		return nil
	}
	if len(s.cols) == 0 {
		return nil
	}
	tries := []string{"INT64", "FLOAT64", "BOOL", "DATE", "TIMESTAMP"}
	var aggs []string
	for i := range s.cols {
		c := ident(fmt.Sprintf("c%d", i))
		aggs = append(aggs, "COUNTIF("+c+" IS NOT NULL)")
		for _, t := range tries {
			aggs = append(aggs, fmt.Sprintf("COUNTIF(%s IS NOT NULL AND %s IS NULL)", c, convert(c, column{Type: t}, warehouse.ColumnParse{}, false)))
		}
	}
	rows, _, err := s.w.queryRows(ctx, s.step("infer"), "SELECT "+strings.Join(aggs, ", ")+" FROM "+stagingRef(s.raw)+" WHERE "+ident(errCol)+" IS NULL")
	if err != nil {
		return fmt.Errorf("infer the columns' types: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	per := len(tries) + 1
	for i := range s.cols {
		if n, _ := rows[0][i*per].(int64); n == 0 {
			continue // no value: text
		}
		for k, t := range tries {
			if bad, _ := rows[0][i*per+1+k].(int64); bad == 0 {
				s.cols[i].Type = t
				break
			}
		}
	}
	return nil
}

// convert is the GoogleSQL that reads text t (a STRING expression) as a
// value of column c: NULL when it does not convert. monthFirst reads
// slash dates month first.
func convert(t string, c column, p warehouse.ColumnParse, monthFirst bool) string {
	src := t
	if p.Thousands != "" {
		src = "REPLACE(" + src + ", " + literal(p.Thousands) + ", '')"
	}
	if p.DecimalComma {
		src = "REPLACE(REPLACE(" + src + ", '.', ''), ',', '.')"
	}
	trimmed := "TRIM(" + src + ")"
	var alts []string
	layouts := append([]string(nil), p.Layouts...)
	if c.Format != "" {
		layouts = append([]string{c.Format}, layouts...)
	}
	switch c.Type {
	case "STRING":
		return t
	case "BYTES":
		// shp read the value (see prepare): base64 behind "b64:" when
		// it read, as it is when it did not.
		return "IF(STARTS_WITH(" + t + ", 'b64:'), SAFE.FROM_BASE64(SUBSTR(" + t + ", 5)), NULL)"
	case "INT64":
		return "SAFE_CAST(" + trimmed + " AS INT64)"
	case "FLOAT64":
		v := "SAFE_CAST(" + trimmed + " AS FLOAT64)"
		// A number too large for a double is not infinity.
		return fmt.Sprintf("IF(IS_INF(%s) AND NOT REGEXP_CONTAINS(LOWER(%s), 'inf'), NULL, %s)", v, trimmed, v)
	case "NUMERIC", "BIGNUMERIC":
		prec, scale := c.Precision, c.Scale
		if prec == 0 {
			prec, scale = 38, 9
			if c.Type == "BIGNUMERIC" {
				prec, scale = 76, 38
			}
		}
		v := "SAFE_CAST(" + trimmed + " AS " + c.Type + ")"
		// The value as written, when it fits the precision and scale:
		// never rounded. A plain decimal is checked by its digits (the
		// emulator's BIGNUMERIC is not exact), one with an exponent by
		// rounding it.
		frac := fmt.Sprintf(`(\.\d{0,%d}0*)?`, scale)
		if scale == 0 {
			frac = `(\.0*)?`
		}
		plain := fmt.Sprintf(`^[+-]?0*(\d{1,%d}%s|\.\d{0,%d}0*|%s)$`, max(prec-scale, 1), frac, max(scale, 0), `0+`)
		if prec-scale == 0 {
			plain = fmt.Sprintf(`^[+-]?0*%s$`, frac)
		}
		return fmt.Sprintf("IF(REGEXP_CONTAINS(%[1]s, r'^[+-]?[0-9.]+$'), IF(REGEXP_CONTAINS(%[1]s, r'%[2]s'), %[3]s, NULL), "+
			"IF(REGEXP_CONTAINS(%[1]s, r'^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)[eE][+-]?[0-9]+$') AND %[3]s = ROUND(%[3]s, %[4]d) AND ABS(%[3]s) < CAST('1e%[5]d' AS BIGNUMERIC), %[3]s, NULL))",
			trimmed, plain, v, scale, prec-scale)
	case "BOOL":
		return "CASE LOWER(" + trimmed + ") WHEN 'true' THEN TRUE WHEN 't' THEN TRUE WHEN '1' THEN TRUE " +
			"WHEN 'false' THEN FALSE WHEN 'f' THEN FALSE WHEN '0' THEN FALSE END"
	case "DATE":
		// "Jan 05 2026" reads as a date, as DuckDB reads it (the
		// layouts of sqlplan.DateLayouts; one with a time of day only
		// at midnight). Only a date: the emulator's cast drops a time
		// of day, which must set the row aside.
		alts = append(alts, "IF(REGEXP_CONTAINS("+trimmed+", r'^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$'), SAFE_CAST("+trimmed+" AS DATE), NULL)")
		for _, l := range sqlplan.DateLayouts {
			guard := "REGEXP_CONTAINS(" + trimmed + ", " + literal(layoutPattern(l)) + ")"
			if strings.Contains(l, "%H") {
				dt := "SAFE.PARSE_DATETIME(" + literal(strptimeToBQ(l)) + ", " + trimmed + ")"
				alts = append(alts, "IF("+guard+" AND DATETIME_TRUNC("+dt+", DAY) = "+dt+", DATE("+dt+"), NULL)")
				continue
			}
			alts = append(alts, "IF("+guard+", SAFE.PARSE_DATE("+literal(strptimeToBQ(l))+", "+trimmed+"), NULL)")
		}
		for _, l := range layouts {
			alts = append(alts, "SAFE.PARSE_DATE("+literal(strptimeToBQ(l))+", "+trimmed+")")
		}
		if monthFirst {
			alts = append(alts, "IF(REGEXP_CONTAINS("+trimmed+", r'^\\d{1,2}/\\d{1,2}/\\d{4}$'), SAFE.PARSE_DATE('%m/%d/%Y', "+trimmed+"), NULL)")
		}
	case "DATETIME", "TIMESTAMP":
		alts = append(alts, "SAFE_CAST("+trimmed+" AS "+c.Type+")")
		for _, l := range sqlplan.DateLayouts {
			alts = append(alts, "IF(REGEXP_CONTAINS("+trimmed+", "+literal(layoutPattern(l))+"), SAFE.PARSE_"+c.Type+"("+literal(strptimeToBQ(l))+", "+trimmed+"), NULL)")
		}
		for _, l := range layouts {
			alts = append(alts, "SAFE.PARSE_"+c.Type+"("+literal(strptimeToBQ(l))+", "+trimmed+")")
		}
		if monthFirst {
			alts = append(alts, "IF(REGEXP_CONTAINS("+trimmed+", r'^\\d{1,2}/\\d{1,2}/\\d{4}$'), CAST(SAFE.PARSE_DATE('%m/%d/%Y', "+trimmed+") AS "+c.Type+"), NULL)")
		}
		alts = append(alts, epochExpr(trimmed, p.EpochUnit, c.Type))
	case "TIME":
		alts = append(alts, "SAFE_CAST("+trimmed+" AS TIME)")
		for _, l := range layouts {
			alts = append(alts, "SAFE.PARSE_TIME("+literal(strptimeToBQ(l))+", "+trimmed+")")
		}
	case "JSON":
		return "SAFE.PARSE_JSON(" + t + ")"
	default:
		return "SAFE_CAST(" + trimmed + " AS " + c.Type + ")"
	}
	var out []string
	for _, a := range alts {
		if a != "" {
			out = append(out, a)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return "COALESCE(" + strings.Join(out, ", ") + ")"
}

// layoutPattern is a regular expression the text of a date in strptime
// layout l matches: its separators where the layout has them (the
// emulator's PARSE_DATE takes "2026-02-30" for "%Y/%m/%d" and rolls it
// over into March; BigQuery refuses both).
func layoutPattern(l string) string {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(l); i++ {
		if l[i] != '%' || i+1 == len(l) {
			b.WriteString(regexp.QuoteMeta(l[i : i+1]))
			continue
		}
		i++
		switch l[i] {
		case 'Y':
			b.WriteString(`\d{4}`)
		case 'b', 'B':
			b.WriteString(`[A-Za-z]+`)
		default:
			b.WriteString(`\d{1,2}`)
		}
	}
	b.WriteString("$")
	return b.String()
}

// epochExpr reads a number as a Unix time in unit ("s", "ms", "us");
// "" without a unit.
func epochExpr(t, unit, typ string) string {
	fn := map[string]string{"s": "TIMESTAMP_SECONDS", "ms": "TIMESTAMP_MILLIS", "us": "TIMESTAMP_MICROS"}[unit]
	if fn == "" {
		return ""
	}
	e := "SAFE." + fn + "(SAFE_CAST(" + t + " AS INT64))"
	if typ == "DATETIME" {
		return "DATETIME(" + e + ", 'UTC')"
	}
	return e
}

// literal quotes a GoogleSQL string literal.
func literal(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`)
	return "'" + r.Replace(s) + "'"
}

// expiration is the DDL option that makes a staging table expire.
func (w *Warehouse) expiration() string {
	return fmt.Sprintf("OPTIONS(expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL %d SECOND))", int64(w.expiry.Seconds()))
}

// typeRows types the raw table in one script: the converted values and
// each record's reasons into a temporary table, the good rows into the
// staging table (numbered in file order), the others into the
// quarantine staging table; then the raw table is dropped and the first
// rows set aside are read for the summary.
func (s *stager) typeRows(ctx context.Context) (*warehouse.Staged, error) {
	keys := map[string]bool{}
	for _, k := range s.spec.Key {
		keys[strings.ToLower(k)] = true
	}
	var convs, reasons []string
	for i, c := range s.cols {
		out := ident("v_" + strconv.Itoa(i))
		if !s.present[i] {
			convs = append(convs, "CAST(NULL AS "+c.Type+") AS "+out)
		} else {
			t := ident(fmt.Sprintf("c%d", i))
			conv := t
			if !s.typedRaw {
				conv = convert(t, c, s.parse(c.Name), s.spec.MonthFirst)
			}
			convs = append(convs, conv+" AS "+out)
			if c.Type != "STRING" && !s.typedRaw {
				reasons = append(reasons, fmt.Sprintf("IF(%s IS NOT NULL AND %s IS NULL, FORMAT('CAST (column %%s): could not convert \"%%s\" to %%s; ', %s, %s, %s), '')",
					t, out, literal(c.Name), t, literal(c.typeName())))
			}
		}
		switch {
		case keys[strings.ToLower(c.Name)]:
			reasons = append(reasons, fmt.Sprintf("IF(%s IS NULL AND %s, %s, '')", out, nullOnly(s.present[i], i), literal(`NULL: merge key column "`+c.Name+`" is NULL; `)))
		case c.Required:
			reasons = append(reasons, fmt.Sprintf("IF(%s IS NULL AND %s, %s, '')", out, nullOnly(s.present[i], i), literal(`NULL: required column "`+c.Name+`" is NULL; `)))
		}
	}
	reason := "CAST(NULL AS STRING)"
	if len(reasons) > 0 {
		reason = "NULLIF(RTRIM(CONCAT(" + strings.Join(reasons, ", ") + "), '; '), '')"
	}
	var sel []string
	for i, c := range s.cols {
		sel = append(sel, ident("v_"+strconv.Itoa(i))+" AS "+ident(c.Name))
	}
	conv := "__shp_" + s.w.instance + "_" + strconv.FormatInt(s.w.seq.Add(1), 10)
	script := fmt.Sprintf(`CREATE TEMP TABLE %[1]s AS
SELECT *, COALESCE(%[5]s, %[6]s) AS __shp_reason FROM (SELECT *, %[7]s FROM %[8]s);
CREATE TABLE %[9]s %[10]s AS
SELECT ROW_NUMBER() OVER (ORDER BY %[2]s) - 1 AS %[2]s, %[3]s, %[11]s FROM %[1]s WHERE __shp_reason IS NULL;
CREATE TABLE %[12]s %[10]s AS
SELECT %[3]s AS line, __shp_reason AS reason, %[4]s AS raw FROM %[1]s WHERE __shp_reason IS NOT NULL;
DROP TABLE %[13]s;
SELECT COALESCE(line, 0) AS line, reason, (SELECT COUNT(*) FROM %[12]s) AS n FROM %[12]s ORDER BY line LIMIT 5;`,
		conv, ident(rowCol), ident(lineCol), ident(rawCol), ident(errCol), reason, strings.Join(convs, ", "), stagingRef(s.raw),
		stagingRef(s.table), s.w.expiration(), strings.Join(sel, ", "), stagingRef(s.qtable), stagingRef(s.raw))
	if len(s.cols) == 0 {
		return nil, errors.New("no column to stage")
	}
	rows, _, err := s.w.queryRows(ctx, s.step("type"), script)
	if err != nil {
		return nil, fmt.Errorf("type the rows: %w", err)
	}
	st := &warehouse.Staged{
		Table:       s.table,
		ObjectKey:   s.spec.ObjectKey,
		Fingerprint: s.spec.Fingerprint,
		ContentHash: s.spec.ContentHash,
		Drift:       s.drift,
		Extra:       s.extra,
		Missing:     s.missing,
		Columns:     engineColumns(s.cols),
		Index:       ident(rowCol),
	}
	for _, r := range rows {
		if len(st.Samples) == 0 {
			st.Quarantined, _ = r[2].(int64)
		}
		line, _ := r[0].(int64)
		st.Samples = append(st.Samples, warehouse.QuarantineSample{Line: line, Reason: str(r[1])})
	}
	st.Loaded = s.records - st.Quarantined
	return st, nil
}

// nullOnly is the condition under which a NULL in column i is the
// record's own (not a value that did not convert, which has its reason).
func nullOnly(present bool, i int) string {
	if !present {
		return "TRUE"
	}
	return ident(fmt.Sprintf("c%d", i)) + " IS NULL"
}
