package format

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The sample SniffCSV looks at: the first SniffBytes of the (decompressed)
// file, and of those at most SniffRecords records.
const (
	SniffBytes   = 64 << 10
	SniffRecords = 100
)

// DelimiterCandidates are the delimiters SniffCSV tries, in the order it
// prefers them when two read the sample equally well.
var DelimiterCandidates = []byte{',', ';', '\t', '|'}

// QuoteCandidates are the quote characters SniffCSV tries, preferred in
// this order.
var QuoteCandidates = []byte{'"', '\''}

// PeekSample reads the first SniffBytes of r for SniffCSV without losing
// them: rest reads r from its first byte. truncated says r has more bytes
// than the sample. A read error is not returned here: rest returns it
// after the bytes read before it.
func PeekSample(r io.Reader) (sample []byte, truncated bool, rest io.Reader) {
	br := bufio.NewReaderSize(r, SniffBytes)
	b, err := br.Peek(SniffBytes)
	return b, err == nil, br
}

// Sniffed is the dialect SniffCSV chose and how well it reads the sample.
type Sniffed struct {
	Delimiter byte
	Quote     byte
	// Found is false when no candidate read more than one field in the
	// first record: Delimiter and Quote are then the defaults (or the
	// fixed ones).
	Found bool
	// Fields is the usual number of fields per record, and Consistent
	// the number of the sample's records that have it.
	Fields, Consistent int
}

// SniffCSV chooses the delimiter and the quote character of a CSV file
// from a sample of its first bytes, as DuckDB's and Python's sniffers do:
// each candidate pair (DelimiterCandidates × QuoteCandidates) splits the
// sample's records, quotes respected as CountCSV respects them. A pair
// counts only if its first record has more than one field. For each
// delimiter the first quote stands unless another reads a larger share of
// the records with the same number of fields; then the delimiter whose
// records most often have the same number of fields wins, then the one
// with more fields, then the earlier candidate. A delim or quote other than 0 is
// fixed (declared) and not detected. truncated says the sample is cut
// short of the file's end, so its last record may be partial and is left
// out. A sample no candidate splits gets ',' and '"'.
func SniffCSV(sample []byte, truncated bool, delim, quote byte) Sniffed {
	delims, quotes := DelimiterCandidates, QuoteCandidates
	if delim != 0 {
		delims = []byte{delim}
	}
	if quote != 0 {
		quotes = []byte{quote}
	}
	best := Sniffed{Delimiter: ',', Quote: '"'}
	if delim != 0 {
		best.Delimiter = delim
	}
	if quote != 0 {
		best.Quote = quote
	}
	if best.Quote == best.Delimiter {
		best.Quote = '\''
	}
	for _, d := range delims {
		// The first quote that splits the sample stands unless another
		// reads a larger share of its records consistently: a quote
		// character that is not one cuts quoted line breaks into more
		// records, which may happen to agree.
		var pick Sniffed
		share := 0.0
		for _, q := range quotes {
			if d == q {
				continue
			}
			counts := sampleFieldCounts(sample, truncated, d, q)
			if len(counts) == 0 || counts[0] < 2 {
				continue
			}
			fields, consistent := modalCount(counts)
			if s := float64(consistent) / float64(len(counts)); !pick.Found || s > share {
				pick, share = Sniffed{Delimiter: d, Quote: q, Found: true, Fields: fields, Consistent: consistent}, s
			}
		}
		if pick.Found && (!best.Found || pick.Consistent > best.Consistent || (pick.Consistent == best.Consistent && pick.Fields > best.Fields)) {
			best = pick
		}
	}
	return best
}

// sampleFieldCounts splits up to SniffRecords records of sample and
// returns their numbers of fields.
func sampleFieldCounts(sample []byte, truncated bool, delim, quote byte) []int {
	var counts []int
	sc := fieldScanner{delim: delim, quote: quote, record: func(fields []bool, _ []string) bool {
		counts = append(counts, len(fields))
		return len(counts) < SniffRecords
	}}
	sc.feed(bytes.TrimPrefix(sample, utf8BOM))
	if !truncated {
		sc.finish()
	}
	return counts
}

// modalCount is the most frequent count (the larger on a tie) and how
// often it occurs.
func modalCount(counts []int) (value, times int) {
	freq := map[int]int{}
	for _, c := range counts {
		freq[c]++
	}
	for v, n := range freq {
		if n > times || (n == times && v > value) {
			value, times = v, n
		}
	}
	return value, times
}

// CSVChoice is the dialect ResolveCSVDialect settled on.
type CSVChoice struct {
	Delimiter, Quote byte
	// Notes say what was detected or changed, for the run's drift:
	// `detected delimiter ";"`. A comma and a double quote found by
	// detection are the defaults and have no note.
	Notes []string
}

// ResolveCSVDialect completes a CSV dialect from a sample of the file
// (see PeekSample). delim and quote are the declared ones, 0 when not
// declared: those are detected with SniffCSV.
//
// A declared delimiter is checked first, when known is given (it reports
// whether a header name is a column of the schema) and the file has a
// header: if its header reads none of the schema's columns and exactly one
// other candidate delimiter reads some, that one is used and a note names
// both. Otherwise the declared delimiter stands (the reader then says that
// no column is in the schema). An undeclared quote is detected with the
// delimiter so chosen.
func ResolveCSVDialect(sample []byte, truncated bool, delim, quote byte, header bool, known func(name string) bool) CSVChoice {
	var c CSVChoice
	if delim != 0 && known != nil && header {
		q := quote
		if q == 0 {
			q = '"'
		}
		if headerReads(sample, delim, q, known) == 0 {
			var alt byte
			var reads, found int
			for _, d := range DelimiterCandidates {
				if d == delim || d == q {
					continue
				}
				if n := headerReads(sample, d, q, known); n > 0 {
					alt, reads = d, n
					found++
				}
			}
			if found == 1 {
				c.Notes = append(c.Notes, fmt.Sprintf("the declared delimiter %s reads none of the schema's columns; read with delimiter %s, which reads %d of them",
					quoteByte(delim), quoteByte(alt), reads))
				delim = alt
			}
		}
	}
	c.Delimiter, c.Quote = delim, quote
	if delim != 0 && quote != 0 {
		return c
	}
	sn := SniffCSV(sample, truncated, delim, quote)
	c.Delimiter, c.Quote = sn.Delimiter, sn.Quote
	if delim == 0 && sn.Delimiter != ',' {
		c.Notes = append(c.Notes, fmt.Sprintf("detected delimiter %s", quoteByte(sn.Delimiter)))
	}
	if quote == 0 && sn.Quote != '"' {
		c.Notes = append(c.Notes, fmt.Sprintf("detected quote character %s", quoteByte(sn.Quote)))
	}
	return c
}

// headerReads counts the names of the sample's first record that known
// knows.
func headerReads(sample []byte, delim, quote byte, known func(string) bool) int {
	names, err := CSVHeader(bytes.NewReader(sample), CSVDialect{Delimiter: delim, Quote: quote})
	if err != nil {
		return 0
	}
	n := 0
	for _, name := range names {
		if name = strings.TrimSpace(name); name != "" && known(name) {
			n++
		}
	}
	return n
}

// quoteByte writes a delimiter for a message: ";" or "\t".
func quoteByte(b byte) string { return fmt.Sprintf("%q", string(b)) }

// CSVHeader returns the fields of the first non-empty record of r, split
// as CountCSV splits records (a quote opens a quoted field only at the
// start of a field, a doubled quote inside one is a quote). A leading
// UTF-8 byte order mark is dropped; fields are not trimmed. It reads only
// a little past the first record and gives up on a record longer than 1
// MiB. An input with no record is an error.
func CSVHeader(r io.Reader, d CSVDialect) ([]string, error) {
	if d.Delimiter == 0 {
		d.Delimiter = ','
	}
	var header []string
	done := false
	sc := fieldScanner{delim: d.Delimiter, quote: d.Quote, capture: true, record: func(_ []bool, texts []string) bool {
		header, done = texts, true
		return false
	}}
	br := bufio.NewReaderSize(r, 4096)
	if b, _ := br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	buf := make([]byte, 4096)
	var read int64
	for !done {
		n, err := br.Read(buf)
		sc.feed(buf[:n])
		read += int64(n)
		if done {
			break
		}
		if read > maxHeaderBytes {
			return nil, fmt.Errorf("csv header: the first record is longer than %d bytes", maxHeaderBytes)
		}
		if errors.Is(err, io.EOF) {
			sc.finish()
			break
		}
		if err != nil {
			return nil, fmt.Errorf("csv header: read at byte %d: %w", read, err)
		}
	}
	if !done {
		return nil, errors.New("csv header: the file has no records")
	}
	return header, nil
}

// CSVShape is the field layout of a CSV file's data records (the header,
// with CSVDialect.Header, is not among them).
type CSVShape struct {
	Records int64
	// FieldCounts counts the records by their number of fields.
	FieldCounts map[int]int64
	// NonEmpty counts, for each field position, the records with a
	// value there that is not empty or blanks only.
	NonEmpty []int64
}

// Filled reports how many records have a value in field i (0-based).
func (s *CSVShape) Filled(i int) int64 {
	if i < len(s.NonEmpty) {
		return s.NonEmpty[i]
	}
	return 0
}

// UsualFields is the most frequent number of fields of a record (the
// larger on a tie), 0 without records.
func (s *CSVShape) UsualFields() int {
	value, times := 0, int64(0)
	for v, n := range s.FieldCounts {
		if n > times || (n == times && v > value) {
			value, times = v, n
		}
	}
	return value
}

// ScanCSVShape reads all of r and reports its records' field layout,
// split as CountCSV splits them.
func ScanCSVShape(r io.Reader, d CSVDialect) (*CSVShape, error) {
	if d.Delimiter == 0 {
		d.Delimiter = ','
	}
	shape := &CSVShape{FieldCounts: map[int]int64{}}
	skip := d.Header
	sc := fieldScanner{delim: d.Delimiter, quote: d.Quote, record: func(fields []bool, _ []string) bool {
		if skip {
			skip = false
			return true
		}
		shape.Records++
		shape.FieldCounts[len(fields)]++
		for len(shape.NonEmpty) < len(fields) {
			shape.NonEmpty = append(shape.NonEmpty, 0)
		}
		for i, filled := range fields {
			if filled {
				shape.NonEmpty[i]++
			}
		}
		return true
	}}
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	buf := make([]byte, 64<<10)
	var read int64
	for {
		n, err := br.Read(buf)
		sc.feed(buf[:n])
		read += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("scan csv at byte %d: %w", read, err)
		}
	}
	sc.finish()
	return shape, nil
}

// CSVColumns are the reader's columns for a CSV header, see NameCSVColumns.
type CSVColumns struct {
	// Names are the columns in file order, as many as the reader is to
	// expect fields per record.
	Names []string
	// Skip marks the columns declared to the reader but not read: trailing
	// columns with no name and no value.
	Skip []bool
	// Notes say what was named or skipped, for the run's drift.
	Notes []string
}

// NameCSVColumns turns a header's cells (trimmed here, a byte order mark
// dropped) into the reader's columns. Cells without a name, as Excel
// writes for trailing empty columns and R and pandas for row names, are
// named as pandas names them, "Unnamed: " and the 0-based position
// ("Unnamed: 0"), except trailing ones whose column has no value in any
// record: those are skipped. Only then is the file's shape (see
// ScanCSVShape) asked for; the reader expects as many fields as most
// records have, at least up to the last read column and at most as many
// as the header has. A generated name that a header cell already has gets
// ".1", ".2" ... appended. A name given twice, or a header without any
// name, is an error.
func NameCSVColumns(header []string, shape func() (*CSVShape, error)) (CSVColumns, error) {
	names := make([]string, len(header))
	last := -1
	seen := map[string]bool{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		names[i] = strings.TrimSpace(h)
		if names[i] == "" {
			continue
		}
		last = i
		if seen[strings.ToLower(names[i])] {
			return CSVColumns{}, fmt.Errorf("header names column %q twice", names[i])
		}
		seen[strings.ToLower(names[i])] = true
	}
	out := CSVColumns{Names: names, Skip: make([]bool, len(names))}
	if last == len(names)-1 && len(seen) == len(names) {
		return out, nil // every cell has a name
	}
	if last < 0 {
		return CSVColumns{}, errors.New("the header has no column names")
	}
	sh, err := shape()
	if err != nil {
		return CSVColumns{}, err
	}
	read := last + 1
	for i := read; i < len(names); i++ {
		if sh.Filled(i) > 0 {
			read = i + 1
		}
	}
	width := sh.UsualFields()
	width = max(width, read)
	width = min(width, len(names))
	out.Names, out.Skip = names[:width], out.Skip[:width]
	for i := 0; i < width; i++ {
		if names[i] != "" {
			continue
		}
		name := fmt.Sprintf("Unnamed: %d", i)
		for n := 1; seen[strings.ToLower(name)]; n++ {
			name = fmt.Sprintf("Unnamed: %d.%d", i, n)
		}
		seen[strings.ToLower(name)] = true
		out.Names[i] = name
		if i >= read {
			out.Skip[i] = true
			continue
		}
		out.Notes = append(out.Notes, fmt.Sprintf("header column %d has no name; read as %q", i+1, name))
	}
	switch skipped := len(header) - read; {
	case skipped == 1:
		out.Notes = append(out.Notes, fmt.Sprintf("header column %d has no name and no value in any row; not read", read+1))
	case skipped > 1:
		out.Notes = append(out.Notes, fmt.Sprintf("header columns %d to %d have no name and no value in any row; not read", read+1, len(header)))
	}
	return out, nil
}

// Field scanner states, those of DuckDB's CSV state machine (quote =
// escape) that CountCSV follows.
const (
	stRecordStart = iota
	stAfterDelim
	stOneSpace // one space at the start of a field: a quote still opens it
	stStandard
	stQuoted
	stUnquoted // just after the quote that closed a quoted field
	stInvalid
)

// fieldScanner splits CSV bytes into records and fields the way CountCSV
// counts records. It reports each record's fields to record (whether each
// has a value and, with capture, its text); record returns false to stop.
type fieldScanner struct {
	delim, quote byte
	capture      bool
	record       func(filled []bool, texts []string) bool

	state   int
	hasData bool // the current record has at least one byte
	stopped bool
	filled  []bool
	texts   []string
	cur     bool // the current field has a value
	text    []byte
}

func (s *fieldScanner) data(c byte) {
	if c != ' ' && c != '\t' {
		s.cur = true
	}
	if s.capture {
		s.text = append(s.text, c)
	}
}

func (s *fieldScanner) endField() {
	s.filled = append(s.filled, s.cur)
	if s.capture {
		s.texts = append(s.texts, string(s.text))
		s.text = s.text[:0]
	}
	s.cur = false
}

func (s *fieldScanner) endRecord() {
	s.endField()
	if !s.record(s.filled, s.texts) {
		s.stopped = true
	}
	s.filled, s.texts = s.filled[:0], nil
}

func (s *fieldScanner) feed(b []byte) {
	for _, c := range b {
		if s.stopped {
			return
		}
		if s.state == stQuoted {
			if c == s.quote {
				s.state = stUnquoted
			} else {
				s.data(c)
			}
			continue
		}
		switch {
		case c == '\n' || c == '\r':
			if s.hasData {
				s.endRecord()
			}
			s.hasData, s.state = false, stRecordStart
			continue
		case c == s.delim:
			s.endField()
			s.state = stAfterDelim
		case s.quote != 0 && c == s.quote:
			switch s.state {
			case stRecordStart, stAfterDelim, stOneSpace:
				s.state = stQuoted
			case stUnquoted:
				s.state = stQuoted // a doubled quote: one quote of data
				s.data(c)
			default:
				s.state = stStandard
				s.data(c)
			}
		case c == ' ' && (s.state == stRecordStart || s.state == stAfterDelim):
			s.state = stOneSpace
			s.data(c)
		case s.state == stUnquoted:
			s.state = stInvalid
			s.data(c)
		default:
			s.state = stStandard
			s.data(c)
		}
		s.hasData = true
	}
}

// finish ends the last record at the end of the input.
func (s *fieldScanner) finish() {
	if s.hasData && !s.stopped {
		s.endRecord()
	}
	s.hasData = false
}
