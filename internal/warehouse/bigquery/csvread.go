package bigquery

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// maxRaw caps the raw text kept with a record set aside.
const maxRaw = 64 << 10

// maxRecord is the longest CSV record read; a longer one is set aside
// (the load would refuse a field that long anyway).
const maxRecord = 8 << 20

// csvRecord is one record of a CSV file.
type csvRecord struct {
	line    int64    // the record's line as DuckDB numbers it: line breaks outside quotes counted, blank lines included
	raw     []byte   // the record as written, without its line break (capped at maxRaw)
	fields  [][]byte // values, unquoted
	quoted  []bool   // which values were quoted
	problem string   // a structural fault: an unterminated quote, text after a closing quote, too long
}

// csvReader splits CSV text into records as format.CountCSV counts them
// (DuckDB's reader, quote = escape): records end at \n, \r\n or a lone
// \r outside quotes; a quote opens a quoted field only at the start of a
// field (or after one space there); inside one a doubled quote is a
// quote, and line breaks and delimiters are data; blank lines are no
// records; a leading UTF-8 byte order mark is dropped.
type csvReader struct {
	br           *bufio.Reader
	delim, quote byte
	line         int64 // the line the next byte is on
	started      bool
}

func newCSVReader(r io.Reader, delim, quote byte) *csvReader {
	br := bufio.NewReaderSize(r, 256<<10)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	return &csvReader{br: br, delim: delim, quote: quote, line: 1}
}

// next reads the next record; io.EOF when there is none.
func (c *csvReader) next() (*csvRecord, error) {
	for {
		rec, blank, err := c.read()
		if err != nil {
			return nil, err
		}
		if !blank {
			return rec, nil
		}
	}
}

// read reads one physical record; blank says it was an empty line.
func (c *csvReader) read() (rec *csvRecord, blank bool, err error) {
	rec = &csvRecord{line: c.line}
	var field []byte
	var raw []byte
	size := 0
	inQuotes, quoted, afterQuote := false, false, false
	atStart := true // at the start of a field
	leadSpace := false
	any := false // the record has a byte
	endField := func() {
		rec.fields = append(rec.fields, field)
		rec.quoted = append(rec.quoted, quoted)
		field, quoted, afterQuote, atStart, leadSpace = nil, false, false, true, false
	}
	for {
		b, err := c.br.ReadByte()
		if err == io.EOF {
			if !any {
				return nil, false, io.EOF
			}
			if inQuotes {
				rec.problem = "unterminated quote: the quoted field that opens on this line never closes"
			}
			endField()
			rec.raw = raw
			return rec, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		size++
		if size > maxRecord && rec.problem == "" {
			rec.problem = "the record is longer than 8 MiB"
		}
		if !inQuotes && (b == '\n' || b == '\r') {
			if b == '\r' {
				if nb, err := c.br.Peek(1); err == nil && nb[0] == '\n' {
					_, _ = c.br.ReadByte()
				}
			}
			c.line++
			if !any {
				return nil, true, nil
			}
			endField()
			rec.raw = raw
			return rec, false, nil
		}
		any = true
		if len(raw) < maxRaw {
			raw = append(raw, b)
		}
		switch {
		case inQuotes:
			if b == c.quote {
				if nb, err := c.br.Peek(1); err == nil && nb[0] == c.quote {
					_, _ = c.br.ReadByte()
					size++
					if len(raw) < maxRaw {
						raw = append(raw, c.quote)
					}
					field = append(field, c.quote)
					continue
				}
				inQuotes, afterQuote = false, true
				continue
			}
			field = append(field, b)
		case b == c.delim:
			endField()
		case c.quote != 0 && b == c.quote && (atStart || leadSpace):
			inQuotes, quoted, atStart, leadSpace = true, true, false, false
			field = field[:0]
		case afterQuote:
			if rec.problem == "" {
				rec.problem = "text after a closing quote"
			}
			field = append(field, b)
		default:
			leadSpace = atStart && b == ' '
			atStart = false
			field = append(field, b)
		}
	}
}

var errNoHeader = errors.New("the file has no header record")
