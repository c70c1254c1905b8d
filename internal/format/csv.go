package format

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CSVDialect says how CountCSV splits a CSV file into records.
type CSVDialect struct {
	Header    bool // the first non-empty record names the columns and is not counted
	Delimiter byte // field separator; 0 means ','
	Quote     byte // quote character; 0 means no quoting at all
}

// CountCSVRecords counts the data records of a comma-separated file the way
// DuckDB's CSV reader splits them; see CountCSV, which also takes the
// delimiter (it decides where a quoted field may open).
func CountCSVRecords(r io.Reader, header bool, quote byte) (int64, error) {
	return CountCSV(r, CSVDialect{Header: header, Delimiter: ',', Quote: quote})
}

// CountCSV counts the data records of a CSV file the way DuckDB's CSV
// reader (quote = escape) splits them:
//
//   - a record ends at \n, \r\n or a lone \r outside quotes;
//   - a quote opens a quoted field only at the start of a field (at the start
//     of a record, after a delimiter, or after one space there), elsewhere it
//     is data; inside a quoted field a doubled quote is an escaped quote, and
//     newlines and delimiters are data, so a quoted field may span lines;
//   - completely empty lines are skipped, not counted;
//   - with d.Header the first non-empty record is not counted;
//   - a final record without a trailing newline counts, and an unterminated
//     quote swallows the rest of the input into one record;
//   - a UTF-8 byte order mark at the start is ignored.
//
// It streams r through a fixed buffer and finds separators with
// bytes.IndexByte, so it runs at memory speed on unquoted data.
func CountCSV(r io.Reader, d CSVDialect) (int64, error) {
	if d.Delimiter == 0 {
		d.Delimiter = ','
	}
	switch {
	case d.Delimiter == '\n' || d.Delimiter == '\r':
		return 0, fmt.Errorf("csv delimiter %q: a line break cannot separate fields", d.Delimiter)
	case d.Quote == '\n' || d.Quote == '\r':
		return 0, fmt.Errorf("csv quote %q: a line break cannot quote fields", d.Quote)
	case d.Quote != 0 && d.Quote == d.Delimiter:
		return 0, fmt.Errorf("csv quote %q is also the delimiter", d.Quote)
	}
	br := bufio.NewReaderSize(r, 16)
	if b, _ := br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	c := csvCounter{delim: d.Delimiter, quote: d.Quote, prev1: clsBoundary, prev2: clsBoundary}
	buf := make([]byte, 256<<10)
	var offset int64
	for {
		n, err := br.Read(buf)
		c.scan(buf[:n])
		offset += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read csv at byte %d: %w", offset, err)
		}
	}
	if c.hasData {
		c.records++
	}
	if d.Header && c.records > 0 {
		c.records--
	}
	return c.records, nil
}

var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// Byte classes remembered for the last two bytes outside quotes; they decide
// whether a quote opens a quoted field.
const (
	clsBoundary   uint8 = iota // start of a record, or a delimiter
	clsSpace                   // a space
	clsOther                   // anything else, including a literal quote
	clsCloseQuote              // the quote that closed a quoted field
)

type csvCounter struct {
	delim, quote byte
	inQuote      bool  // inside a quoted field
	hasData      bool  // the current record has at least one byte
	prev1, prev2 uint8 // classes of the last two bytes outside quotes
	records      int64 // non-empty records ended so far
}

func (c *csvCounter) class(b byte) uint8 {
	switch b {
	case c.delim, '\n', '\r':
		return clsBoundary
	case ' ':
		return clsSpace
	}
	return clsOther
}

// opensQuote reports whether a quote read now, outside quotes, opens a
// quoted field: DuckDB's state machine goes to QUOTED only from the record
// separator, delimiter, start, single-space and just-closed-quote states.
func (c *csvCounter) opensQuote() bool {
	switch c.prev1 {
	case clsBoundary, clsCloseQuote:
		return true
	case clsSpace:
		return c.prev2 == clsBoundary && c.delim != ' '
	}
	return false
}

func (c *csvCounter) scan(buf []byte) {
	for len(buf) > 0 {
		if c.inQuote {
			i := bytes.IndexByte(buf, c.quote)
			if i < 0 {
				return
			}
			c.inQuote = false
			c.prev1 = clsCloseQuote
			buf = buf[i+1:]
			continue
		}
		i := -1
		if c.quote != 0 {
			i = bytes.IndexByte(buf, c.quote)
		}
		if i < 0 {
			c.scanPlain(buf)
			return
		}
		c.scanPlain(buf[:i])
		if c.opensQuote() {
			c.inQuote = true
		} else {
			c.prev2, c.prev1 = c.prev1, clsOther
		}
		c.hasData = true
		buf = buf[i+1:]
	}
}

// scanPlain counts the records ended in b, which holds no quote character
// and is outside quotes.
func (c *csvCounter) scanPlain(b []byte) {
	if len(b) == 0 {
		return
	}
	if len(b) >= 2 {
		c.prev2, c.prev1 = c.class(b[len(b)-2]), c.class(b[len(b)-1])
	} else {
		c.prev2, c.prev1 = c.prev1, c.class(b[0])
	}
	hasCR := bytes.IndexByte(b, '\r') >= 0
	for {
		j := bytes.IndexByte(b, '\n')
		seg := b
		if j >= 0 {
			seg = b[:j]
		}
		if hasCR {
			for {
				k := bytes.IndexByte(seg, '\r')
				if k < 0 {
					break
				}
				if k > 0 || c.hasData {
					c.records++
				}
				c.hasData = false
				seg = seg[k+1:]
			}
		}
		if j < 0 {
			if len(seg) > 0 {
				c.hasData = true
			}
			return
		}
		if len(seg) > 0 || c.hasData {
			c.records++
		}
		c.hasData = false
		b = b[j+1:]
	}
}

// maxHeaderBytes bounds how much ReadCSVHeader reads looking for the end of
// the first record.
const maxHeaderBytes = 1 << 20

// ReadCSVHeader returns the fields of the first record of r with
// encoding/csv semantics (quote '"', lazy quotes, empty lines skipped),
// given the delimiter. A leading UTF-8 byte order mark is dropped. It reads
// only a little past the first record, and gives up on a record longer than
// 1 MiB. An input with no record is an error.
func ReadCSVHeader(r io.Reader, delim rune) ([]string, error) {
	lr := &io.LimitedReader{R: r, N: maxHeaderBytes + 1}
	cr := csv.NewReader(lr)
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	rec, err := cr.Read()
	if lr.N <= 0 {
		return nil, fmt.Errorf("csv header: the first record is longer than %d bytes", maxHeaderBytes)
	}
	if errors.Is(err, io.EOF) {
		return nil, errors.New("csv header: the file has no records")
	}
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	if len(rec) > 0 {
		rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
	}
	return rec, nil
}
