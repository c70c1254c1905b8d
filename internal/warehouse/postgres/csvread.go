package postgres

import (
	"bytes"
	"errors"
	"io"
	"unicode/utf8"
)

// maxLineSize is the longest CSV record DuckDB's reader reads (its
// max_line_size); a longer one is set aside.
const maxLineSize = 2_000_000

// maxRaw caps the raw text kept with a quarantined record.
const maxRaw = 64 << 10

// csvRecord is one record of a CSV file.
type csvRecord struct {
	// line is the record's line as DuckDB's CSV reader numbers it: line
	// breaks outside quoted fields counted, blank lines included.
	line int64
	// raw is the record as written (without its line break), capped at
	// maxRaw bytes.
	raw []byte
	// fields are the record's values, unquoted and unescaped; quoted says
	// which were quoted; written are the values as written between the
	// quotes (a quote doubled).
	fields  [][]byte
	quoted  []bool
	written [][]byte
	// problem is a structural fault of the record: errUnterminated (a
	// quote that never closes), errUnquoted (text after a closing quote)
	// or errTooLong.
	problem error
	// badFields are the fields (0-based) with bytes that are not UTF-8.
	badFields []int
	// problemField is the field of a structural fault.
	problemField int
}

var (
	errUnterminated = errors.New("Value with unterminated quote found.")
	errUnquoted     = errors.New("Value with text after its closing quote found.")
	errTooLong      = errors.New("Maximum line size of 2000000 bytes exceeded.")
)

// csvReader splits CSV text into records the way DuckDB's CSV reader (and
// format.CountCSV, which counts the records in) does: records end at \n,
// \r\n or \r outside quotes; a quote opens a quoted field only at the
// start of a field (or after one space there); inside one a doubled quote
// is a quote and line breaks and delimiters are data; blank lines are no
// records; a UTF-8 byte order mark at the start is dropped.
type csvReader struct {
	r            io.Reader
	delim, quote byte
	buf          []byte // unread input: buf[pos:end]
	pos, end     int
	eof          bool
	line         int64 // the line the next record starts on
	started      bool

	special [256]bool // delimiter, quote, line breaks
	rec     csvRecord
	starts  []int // field boundaries within the record's text
	ends    []int
	esc     []bool // the field holds a doubled quote
	data    []byte // unescaped field values
}

func newCSVReader(r io.Reader, delim, quote byte) *csvReader {
	c := &csvReader{r: r, delim: delim, quote: quote, buf: make([]byte, 1<<20), line: 1}
	c.special[delim], c.special['\n'], c.special['\r'] = true, true, true
	if quote != 0 {
		c.special[quote] = true
	}
	return c
}

// fill reads more input, keeping buf[keep:end].
func (c *csvReader) fill(keep int) error {
	if c.eof {
		return io.EOF
	}
	if keep > 0 {
		n := copy(c.buf, c.buf[keep:c.end])
		c.pos -= keep
		c.end = n
	}
	if c.end == len(c.buf) {
		grown := make([]byte, 2*len(c.buf))
		copy(grown, c.buf[:c.end])
		c.buf = grown
	}
	n, err := c.r.Read(c.buf[c.end:])
	c.end += n
	if err == io.EOF {
		c.eof = true
		if n > 0 {
			return nil
		}
		return io.EOF
	}
	if err != nil {
		return err
	}
	return nil
}

// Field states, those of DuckDB's CSV state machine.
const (
	csFieldStart = iota // start of a field
	csOneSpace          // one space at the start of a field
	csPlain             // in an unquoted field
	csQuoted            // in a quoted field
	csAfterQuote        // just after a quote in a quoted field
	csInvalid           // text after a closing quote
)

// next reads the next record; io.EOF after the last.
func (c *csvReader) next() (*csvRecord, error) {
	if !c.started {
		c.started = true
		for c.end-c.pos < 3 && !c.eof {
			if err := c.fill(c.pos); err != nil && err != io.EOF {
				return nil, err
			}
		}
		if c.end-c.pos >= 3 && bytes.Equal(c.buf[c.pos:c.pos+3], []byte{0xef, 0xbb, 0xbf}) {
			c.pos += 3
		}
	}
	// Skip blank lines.
	for {
		if c.pos >= c.end {
			if err := c.fill(c.pos); err != nil {
				return nil, err
			}
			continue
		}
		b := c.buf[c.pos]
		if b == '\n' {
			c.pos++
			c.line++
			continue
		}
		if b == '\r' {
			c.pos++
			if c.pos >= c.end {
				_ = c.fill(c.pos)
			}
			if c.pos < c.end && c.buf[c.pos] == '\n' {
				c.pos++
			}
			c.line++
			continue
		}
		break
	}
	if c.fast() {
		return &c.rec, nil
	}
	start := c.pos
	c.starts, c.ends, c.esc = c.starts[:0], c.ends[:0], c.esc[:0]
	c.rec.quoted = c.rec.quoted[:0]
	c.rec.problem = nil
	c.rec.line = c.line
	state := csFieldStart
	fieldStart := 0 // offsets relative to start
	i := c.pos
	esc := false
	quoted := false
	tooLong := false
	invalid := false // text after a closing quote
	var skipped int  // bytes of an over-long record dropped
	endField := func(end int) {
		c.starts = append(c.starts, fieldStart)
		c.ends = append(c.ends, end)
		c.esc = append(c.esc, esc)
		c.rec.quoted = append(c.rec.quoted, quoted)
		esc, quoted = false, false
	}
	recEnd := -1 // offset of the record's end (its line break or EOF)
	newline := 0 // bytes of the line break
	for recEnd < 0 {
		if i >= c.end {
			if i-start > maxLineSize && !tooLong {
				tooLong = true
			}
			if tooLong && i-start > maxRaw {
				// Keep the record's first maxRaw bytes only.
				drop := i - start - maxRaw
				copy(c.buf[start+maxRaw:], c.buf[i:c.end])
				c.end -= drop
				i -= drop
				skipped += drop
			}
			off := i - start
			if err := c.fill(start); err != nil {
				if err != io.EOF {
					return nil, err
				}
				start = c.pos
				i = start + off
				recEnd = i - start
				break
			}
			start = c.pos
			i = start + off
			continue
		}
		b := c.buf[i]
		if state == csQuoted {
			// Jump to the next quote.
			j := bytes.IndexByte(c.buf[i:c.end], c.quote)
			if j < 0 {
				i = c.end
				continue
			}
			i += j + 1
			state = csAfterQuote
			continue
		}
		switch {
		case b == '\n' || b == '\r':
			recEnd = i - start
			newline = 1
			if b == '\r' {
				if i+1 >= c.end {
					off := i - start
					_ = c.fill(start)
					start = c.pos
					i = start + off
				}
				if i+1 < c.end && c.buf[i+1] == '\n' {
					newline = 2
				}
			}
		case b == c.delim:
			if state == csAfterQuote {
				endField(i - start - 1)
			} else {
				endField(i - start)
			}
			state = csFieldStart
			fieldStart = i - start + 1
			i++
		case c.quote != 0 && b == c.quote:
			switch state {
			case csFieldStart, csOneSpace:
				state, quoted = csQuoted, true
				fieldStart = i - start + 1
			case csAfterQuote:
				state, esc = csQuoted, true
			}
			i++
		case b == ' ' && state == csFieldStart:
			state = csOneSpace
			i++
		case state == csAfterQuote || state == csInvalid:
			if !invalid {
				c.rec.problemField = len(c.starts)
			}
			state, invalid = csInvalid, true
			i++
		default:
			state = csPlain
			i++
			// Ordinary bytes: skip to the next one that matters.
			for i < c.end && !c.special[c.buf[i]] {
				i++
			}
		}
	}
	// The last field.
	end := recEnd
	switch state {
	case csAfterQuote:
		endField(end - 1)
	case csQuoted:
		c.rec.problem = errUnterminated
		c.rec.problemField = len(c.starts)
		endField(end)
	default:
		endField(end)
	}
	if invalid && c.rec.problem == nil {
		c.rec.problem = errUnquoted
	}
	if tooLong || recEnd+skipped > maxLineSize {
		c.rec.problem = errTooLong
	}
	text := c.buf[start : start+recEnd]
	// Count the line breaks inside quoted fields: they are not lines.
	c.line++
	c.pos = start + recEnd + newline
	if c.pos > c.end {
		c.pos = c.end
	}
	raw := text
	if len(raw) > maxRaw {
		raw = raw[:maxRaw]
	}
	c.rec.raw = raw
	c.rec.badFields = c.rec.badFields[:0]
	valid := utf8.Valid(text)
	c.data = c.data[:0]
	c.rec.fields = c.rec.fields[:0]
	c.rec.written = c.rec.written[:0]
	for k := range c.starts {
		s, e := c.starts[k], c.ends[k]
		if s > len(text) {
			s = len(text)
		}
		if e > len(text) {
			e = len(text)
		}
		if e < s {
			e = s
		}
		f := text[s:e]
		c.rec.written = append(c.rec.written, f)
		if c.esc[k] {
			at := len(c.data)
			for x := 0; x < len(f); x++ {
				c.data = append(c.data, f[x])
				if f[x] == c.quote && x+1 < len(f) && f[x+1] == c.quote {
					x++
				}
			}
			f = c.data[at:]
		}
		if !valid && !utf8.Valid(f) {
			c.rec.badFields = append(c.rec.badFields, k)
		}
		c.rec.fields = append(c.rec.fields, f)
	}
	return &c.rec, nil
}

// fast reads the next record when it is a whole line in the buffer
// without a quote or a carriage return inside: most records of most
// files. It reports false, having read nothing, otherwise.
func (c *csvReader) fast() bool {
	nl := bytes.IndexByte(c.buf[c.pos:c.end], '\n')
	if nl < 0 || nl > maxLineSize {
		return false
	}
	line := c.buf[c.pos : c.pos+nl]
	if c.quote != 0 && bytes.IndexByte(line, c.quote) >= 0 {
		return false
	}
	next := c.pos + nl + 1
	if cr := bytes.IndexByte(line, '\r'); cr >= 0 {
		if cr != len(line)-1 {
			return false
		}
		line = line[:cr]
	}
	c.rec.line = c.line
	c.rec.problem = nil
	c.rec.raw = line
	if len(line) > maxRaw {
		c.rec.raw = line[:maxRaw]
	}
	c.rec.fields = c.rec.fields[:0]
	c.rec.quoted = c.rec.quoted[:0]
	c.rec.badFields = c.rec.badFields[:0]
	from := 0
	for i, b := range line {
		if b == c.delim {
			c.rec.fields = append(c.rec.fields, line[from:i])
			from = i + 1
		}
	}
	c.rec.fields = append(c.rec.fields, line[from:])
	for range c.rec.fields {
		c.rec.quoted = append(c.rec.quoted, false)
	}
	c.rec.written = append(c.rec.written[:0], c.rec.fields...)
	if !utf8.Valid(line) {
		for k, f := range c.rec.fields {
			if !utf8.Valid(f) {
				c.rec.badFields = append(c.rec.badFields, k)
			}
		}
	}
	c.line++
	c.pos = next
	return true
}
