package postgres

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

func (s *stager) csvOptions() (delim, quote string, nulls []string) {
	return sqlplan.CSVDefaults(s.spec.CSV)
}

// dialect is the file's CSV dialect for shp's scanners.
func (s *stager) dialect() (format.CSVDialect, error) {
	delim, quote, _ := s.csvOptions()
	if len(delim) != 1 || len(quote) != 1 {
		return format.CSVDialect{}, fmt.Errorf("the PostgreSQL warehouse reads CSV delimiters and quotes of one byte, not %q and %q", delim, quote)
	}
	return format.CSVDialect{Header: !s.spec.CSV.NoHeader, Delimiter: delim[0], Quote: quote[0]}, nil
}

// resolveDialect detects the delimiter and quote the spec leaves empty,
// and checks a declared delimiter against the declared columns, as the
// DuckDB warehouse does (see format.ResolveCSVDialect).
func (s *stager) resolveDialect(declared []declaredColumn) error {
	var known func(string) bool
	if len(declared) > 0 {
		known = func(name string) bool { _, ok := lookup(declared, s.fileName(name)); return ok }
	}
	notes, err := sqlplan.ResolveCSVDialect(&s.spec.CSV, known, s.open)
	s.drift = append(s.drift, notes...)
	return err
}

// csvColumns settles the dialect and reads the header: the reader's
// columns, named as format.NameCSVColumns names them, or after the schema
// (then column1..N) without a header.
func (s *stager) csvColumns(declared []declaredColumn) (format.CSVColumns, error) {
	if err := s.resolveDialect(declared); err != nil {
		return format.CSVColumns{}, err
	}
	d, err := s.dialect()
	if err != nil {
		return format.CSVColumns{}, err
	}
	r, err := s.open()
	if err != nil {
		return format.CSVColumns{}, err
	}
	header, err := format.CSVHeader(r, d)
	r.Close()
	if err != nil {
		return format.CSVColumns{}, fmt.Errorf("read header: %w", err)
	}
	if s.spec.CSV.NoHeader {
		return sqlplan.HeaderlessColumns(len(header), s.spec.Schema), nil
	}
	cols, err := format.NameCSVColumns(header, func() (*format.CSVShape, error) {
		r, err := s.open()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return format.ScanCSVShape(r, d)
	})
	if err != nil {
		return cols, err
	}
	s.drift = append(s.drift, cols.Notes...)
	return cols, nil
}

// csvField is what becomes of one field of a record.
type csvField struct {
	stage int        // the staging column it is read into; -1 for none
	guess *typeGuess // an extra column's type, as read
}

// stageCSV reads a CSV file record by record: records whose shape is
// wrong (field count, encoding, quotes) are set aside with DuckDB's
// reasons, the others are converted column by column.
func (s *stager) stageCSV(ctx context.Context, declared []declaredColumn) error {
	cols, err := s.csvColumns(declared)
	if err != nil {
		return err
	}
	header := cols.Names
	d, _ := s.dialect()
	_, _, nulls := s.csvOptions()
	var inferred []colType
	if len(declared) == 0 {
		if inferred, err = s.inferCSV(d, len(header), nulls); err != nil {
			return err
		}
	}
	plan := make([]csvField, len(header))
	inFile := map[string]bool{}
	for i, h := range header {
		plan[i].stage = -1
		if cols.Skip[i] {
			continue
		}
		if len(declared) == 0 {
			c, err := s.newColumn(h, inferred[i], func(colType) bool { return true })
			if err != nil {
				return err
			}
			plan[i].stage = len(s.cols)
			s.cols = append(s.cols, c)
			continue
		}
		dc, ok := lookup(declared, s.fileName(h))
		if !ok {
			plan[i].guess = s.noteExtra(h)
			continue
		}
		c, err := s.newColumn(dc.Name, dc.Type, func(t colType) bool { return s.ownConversion(dc.Name, t) })
		if err != nil {
			return err
		}
		c.native = !c.own
		inFile[strings.ToLower(dc.Name)] = true
		plan[i].stage = len(s.cols)
		s.cols = append(s.cols, c)
	}
	if len(declared) > 0 && len(inFile) == 0 {
		return fmt.Errorf("none of the file's columns %v is in the schema (is the delimiter right?)", header)
	}
	for _, dc := range declared {
		if !inFile[strings.ToLower(dc.Name)] {
			s.noteMissing(dc.Name)
			c, err := s.newColumn(dc.Name, dc.Type, nil)
			if err != nil {
				return err
			}
			s.cols = append(s.cols, c)
		}
	}
	if err := s.create(ctx); err != nil {
		return err
	}
	r, err := s.open()
	if err != nil {
		return err
	}
	defer r.Close()
	cr := newCSVReader(r, d.Delimiter, d.Quote)
	skipHeader := d.Header
	quotedNullsAreText := s.spec.CSV.QuotedNullsAreText
	isNull := func(f []byte, quoted bool) bool {
		if quoted && quotedNullsAreText {
			return false
		}
		for _, n := range nulls {
			if len(n) == len(f) && n == str(f) {
				return true
			}
		}
		return false
	}
	var reasons []string
	for {
		rec, err := cr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read csv: %w", err)
		}
		if skipHeader {
			skipHeader = false
			continue
		}
		if reason := s.csvShapeProblem(rec, header); reason != "" {
			if err := s.badRow(ctx, rec.line, reason, questionMarks(rec.raw), true); err != nil {
				return err
			}
			continue
		}
		// Text columns need no check of their own when the record has no
		// NUL (the reader checked it is UTF-8).
		valid := bytes.IndexByte(rec.raw, 0) < 0 && len(rec.raw) < maxRaw
		for i, c := range s.cols {
			s.vals[i] = val{null: true}
			c.valid = valid
		}
		s.arena = s.arena[:0]
		// DuckDB's reader converts its own columns first: a value one of
		// them cannot take sets the line aside, raw as written.
		reasons = reasons[:0]
		for i, p := range plan {
			if p.stage < 0 {
				if p.guess != nil && !isNull(rec.fields[i], rec.quoted[i]) {
					p.guess.add(str(rec.fields[i]))
				}
				continue
			}
			c := s.cols[p.stage]
			if c.own || isNull(rec.fields[i], rec.quoted[i]) {
				continue
			}
			text := str(rec.fields[i])
			if ok, detail := c.convert(text, &s.vals[p.stage], &s.arena); !ok {
				s.vals[p.stage] = val{null: true}
				// DuckDB's reader quotes the field as written, but for
				// the types it casts from text after reading it
				quoted := str(rec.written[i])
				if c.t.kind == kBytes || c.t.kind == kJSONB || c.t.kind == kJSON {
					quoted = text
				}
				reasons = append(reasons, castReason(c.name, c.t, quoted, detail, true))
			}
		}
		if len(reasons) > 0 {
			if err := s.badRow(ctx, rec.line, strings.Join(reasons, "; "), rec.raw, true); err != nil {
				return err
			}
			continue
		}
		for i, p := range plan {
			if p.stage < 0 {
				continue
			}
			c := s.cols[p.stage]
			if !c.own || isNull(rec.fields[i], rec.quoted[i]) {
				continue
			}
			text := str(rec.fields[i])
			if ok, detail := c.convert(text, &s.vals[p.stage], &s.arena); !ok {
				s.vals[p.stage] = val{null: true}
				reasons = append(reasons, castReason(c.name, c.t, text, detail, false))
			}
		}
		if len(reasons) > 0 {
			raw := s.csvRowJSON(rec, plan, isNull)
			if err := s.badRow(ctx, rec.line, strings.Join(reasons, "; "), raw, true); err != nil {
				return err
			}
			continue
		}
		if err := s.goodRow(ctx, rec.line); err != nil {
			return err
		}
	}
	return nil
}

// csvShapeProblem is the reason DuckDB's CSV reader sets a record aside
// for its shape: an unterminated or misplaced quote, a line too long, the
// wrong number of fields, bytes that are not UTF-8.
func (s *stager) csvShapeProblem(rec *csvRecord, header []string) string {
	name := func(i int) string {
		if i >= 0 && i < len(header) {
			return header[i]
		}
		return ""
	}
	switch rec.problem {
	case errTooLong:
		return "LINE SIZE OVER MAXIMUM: " + errTooLong.Error()
	case errUnterminated, errUnquoted:
		if n := name(rec.problemField); n != "" {
			return fmt.Sprintf("UNQUOTED VALUE (column %s): %s", n, rec.problem.Error())
		}
		return "UNQUOTED VALUE: " + rec.problem.Error()
	}
	switch n := len(rec.fields); {
	case n < len(header):
		return fmt.Sprintf("MISSING COLUMNS (column %s): Expected Number of Columns: %d Found: %d",
			strings.Join(header[n:], ", "), len(header), n)
	case n > len(header):
		return fmt.Sprintf("TOO MANY COLUMNS: Expected Number of Columns: %d Found: %d", len(header), len(header)+1)
	}
	if len(rec.badFields) > 0 {
		names := make([]string, len(rec.badFields))
		for i, f := range rec.badFields {
			names[i] = name(f)
		}
		return fmt.Sprintf("INVALID ENCODING (column %s): Invalid unicode (byte sequence mismatch) detected. This file is not utf-8 encoded.", strings.Join(names, ", "))
	}
	return ""
}

// questionMarks writes bytes that are not UTF-8 as '?', as DuckDB's
// reader does in the raw line it keeps.
func questionMarks(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			out = append(out, '?')
			b = b[1:]
			continue
		}
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return out
}

// csvRowJSON is the raw text of a CSV row shp's conversion set aside, as
// the DuckDB warehouse writes it: the staging columns as JSON, a column
// shp converts as its text (what it converted to, or what it read).
func (s *stager) csvRowJSON(rec *csvRecord, plan []csvField, isNull func([]byte, bool) bool) []byte {
	fileOf := make(map[int]int, len(plan))
	for i, p := range plan {
		if p.stage >= 0 {
			fileOf[p.stage] = i
		}
	}
	b := append(s.json[:0], '{')
	for k, c := range s.cols {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c.name)
		b = append(b, ':')
		i, ok := fileOf[k]
		switch {
		case !ok || isNull(rec.fields[i], rec.quoted[i]):
			b = append(b, "null"...)
		case c.own:
			// coalesce(CAST(value AS VARCHAR), the text read)
			if v := &s.vals[k]; !v.null {
				b = appendJSONString(b, string(duckText(nil, c.t, v)))
			} else {
				b = appendJSONString(b, str(rec.fields[i]))
			}
		default:
			b = duckJSON(b, c.t, &s.vals[k])
		}
	}
	b = append(b, '}')
	s.json = b
	return b
}

// inferCSV reads the file once for the types of its columns when no
// schema declares them.
func (s *stager) inferCSV(d format.CSVDialect, n int, nulls []string) ([]colType, error) {
	r, err := s.open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	guesses := make([]typeGuess, n)
	cr := newCSVReader(r, d.Delimiter, d.Quote)
	skip := d.Header
	for {
		rec, err := cr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read csv: %w", err)
		}
		if skip {
			skip = false
			continue
		}
		if rec.problem != nil || len(rec.fields) != n || len(rec.badFields) > 0 {
			continue
		}
	fields:
		for i, f := range rec.fields {
			if rec.quoted[i] && s.spec.CSV.QuotedNullsAreText {
				guesses[i].add(str(f))
				continue
			}
			for _, nv := range nulls {
				if nv == str(f) {
					continue fields
				}
			}
			guesses[i].add(str(f))
		}
	}
	out := make([]colType, n)
	for i := range guesses {
		out[i] = guesses[i].result()
	}
	return out, nil
}
