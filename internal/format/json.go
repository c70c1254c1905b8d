package format

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// LineField is the member NormalizeJSON splices into every record.
const LineField = "__shp_line"

// MaxJSONRecordBytes is the longest JSON record NormalizeJSON accepts; a
// longer one is passed to bad. It leaves room for the spliced line number
// under DuckDB's default maximum_object_size of 16 MiB, and bounds memory.
const MaxJSONRecordBytes = 16<<20 - 64

// MaxRawBytes caps the raw text NormalizeJSON passes to bad.
const MaxRawBytes = 64 << 10

// BadFunc receives a record NormalizeJSON cannot pass on: n is its 1-based
// physical line (JSON Lines) or element index (array), raw its text (capped
// at MaxRawBytes) and reason why. An error from it stops NormalizeJSON.
type BadFunc func(n int64, raw []byte, reason string) error

// NormalizeJSON streams JSON Lines (lines=true) or one top-level JSON array
// (lines=false) from r and writes JSON Lines to w: each record is the
// original object's bytes with "__shp_line":N spliced in as its first
// member, where N is the 1-based physical line for JSON Lines and the
// 1-based element index for an array. Records are not re-encoded.
//
// Records that are not objects, are malformed, are not valid UTF-8 or are
// longer than MaxJSONRecordBytes go to bad instead, with a reason such as
// "invalid JSON: unexpected end of input at offset 13" (offsets count bytes
// from the start of the line or element) or "record is a JSON array, not an
// object". Blank lines are skipped and counted as neither. A leading UTF-8
// byte order mark is ignored.
//
// An array that does not start with '[', is truncated or has junk after its
// closing ']' is an error naming the byte offset; the records before that
// point have been written and counted. NormalizeJSON returns the number of
// records written (good) and passed to bad (badCount).
func NormalizeJSON(r io.Reader, w io.Writer, lines bool, bad func(n int64, raw []byte, reason string) error) (good, badCount int64, err error) {
	n := &normalizer{w: w, bad: bad}
	br := bufio.NewReaderSize(r, 1<<20)
	if b, _ := br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	if lines {
		err = n.lines(br)
	} else {
		err = n.array(br)
	}
	return n.good, n.badCount, err
}

type normalizer struct {
	w        io.Writer
	bad      BadFunc
	good     int64
	badCount int64
	out      []byte // scratch for one output record
	acc      []byte // a line or element longer than the read buffer
	valid    jsonValidator
}

// isJSONSpace reports JSON's insignificant whitespace.
func isJSONSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r'
}

func trimJSONSpace(b []byte) (trimmed []byte, lead int) {
	for lead < len(b) && isJSONSpace(b[lead]) {
		lead++
	}
	end := len(b)
	for end > lead && isJSONSpace(b[end-1]) {
		end--
	}
	return b[lead:end], lead
}

func capRaw(b []byte) []byte {
	if len(b) > MaxRawBytes {
		return b[:MaxRawBytes]
	}
	return b
}

// record checks one trimmed record (lead bytes of whitespace were trimmed
// from its front) and writes it or passes it to bad.
func (n *normalizer) record(num int64, raw, rec []byte, lead int, tooLong bool) error {
	var reason string
	switch {
	case tooLong:
		reason = fmt.Sprintf("record is longer than %d bytes", MaxJSONRecordBytes)
	case !utf8.Valid(rec):
		reason = fmt.Sprintf("invalid UTF-8 at offset %d", lead+invalidUTF8Offset(rec))
	default:
		if err := n.valid.validate(rec); err != nil {
			reason = fmt.Sprintf("invalid JSON: %s at offset %d", err.msg, lead+err.off)
		} else if rec[0] != '{' {
			reason = fmt.Sprintf("record is a JSON %s, not an object", jsonKind(rec[0]))
		} else {
			return n.emit(num, rec)
		}
	}
	n.badCount++
	if err := n.bad(num, capRaw(raw), reason); err != nil {
		return fmt.Errorf("record %d: %w", num, err)
	}
	return nil
}

// emit writes {"__shp_line":num, followed by the object's members.
func (n *normalizer) emit(num int64, obj []byte) error {
	out := append(n.out[:0], `{"`+LineField+`":`...)
	out = strconv.AppendInt(out, num, 10)
	rest := obj[1:]
	if t, _ := trimJSONSpace(rest); len(t) == 1 { // only the closing brace
		out = append(out, '}')
	} else {
		out = append(out, ',')
		out = append(out, rest...)
	}
	out = append(out, '\n')
	n.out = out
	if _, err := n.w.Write(out); err != nil {
		return fmt.Errorf("write record %d: %w", num, err)
	}
	n.good++
	return nil
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func jsonKind(first byte) string {
	switch first {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// lines handles JSON Lines.
func (n *normalizer) lines(br *bufio.Reader) error {
	var num int64
	for {
		line, tooLong, err := n.readLine(br)
		if err != nil && err != io.EOF {
			return fmt.Errorf("read line %d: %w", num+1, err)
		}
		if err == io.EOF && len(line) == 0 && !tooLong {
			return nil
		}
		num++
		line = bytes.TrimSuffix(line, []byte{'\r'})
		rec, lead := trimJSONSpace(line)
		if len(rec) > 0 || tooLong {
			if rerr := n.record(num, line, rec, lead, tooLong); rerr != nil {
				return rerr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// readLine returns the next line without its '\n'. A line longer than
// MaxJSONRecordBytes comes back cut to MaxRawBytes with tooLong set, and the
// rest of it is skipped. err is io.EOF for the last line, which may be
// empty.
func (n *normalizer) readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = br.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], false, nil
	}
	if err != bufio.ErrBufferFull {
		return line, false, err
	}
	n.acc = append(n.acc[:0], line...)
	for {
		line, err = br.ReadSlice('\n')
		if err == nil {
			line = line[:len(line)-1]
		}
		if !tooLong {
			if len(n.acc)+len(line) > MaxJSONRecordBytes {
				tooLong = true
				n.acc = n.acc[:min(len(n.acc), MaxRawBytes)]
			} else {
				n.acc = append(n.acc, line...)
			}
		}
		if err != bufio.ErrBufferFull {
			return n.acc, tooLong, err
		}
	}
}

// Array parser states.
const (
	arrStart = iota // before '['
	arrFirst        // after '[', before the first element or ']'
	arrNext         // after ',', before an element
	arrElem         // inside an element
	arrDone         // after the closing ']'
)

// array handles one top-level JSON array. It finds element boundaries with
// a small structural scanner (strings, escapes, nesting) and validates each
// element on its own, so a malformed element is one bad record.
func (n *normalizer) array(br *bufio.Reader) error {
	var (
		state    = arrStart
		offset   int64 // bytes consumed before buf
		num      int64 // elements seen
		depth    int
		inString bool
		escaped  bool
		tooLong  bool
		elem     []byte
	)
	endElem := func() error {
		num++
		rec, _ := trimJSONSpace(elem)
		err := n.record(num, rec, rec, 0, tooLong)
		elem, tooLong, depth = elem[:0], false, 0
		return err
	}
	add := func(b []byte) {
		if tooLong {
			return
		}
		if len(elem)+len(b) > MaxJSONRecordBytes {
			tooLong = true
			elem = append(elem, b[:max(0, min(len(b), MaxRawBytes-len(elem)))]...)
			return
		}
		elem = append(elem, b...)
	}
	buf := make([]byte, 256<<10)
	for {
		nr, rerr := br.Read(buf)
		b := buf[:nr]
		i, start := 0, 0 // start: first byte of b not yet added to elem
		for i < len(b) {
			c := b[i]
			switch state {
			case arrStart, arrFirst, arrNext, arrDone:
				if isJSONSpace(c) {
					i++
					continue
				}
				switch {
				case state == arrStart && c == '[':
					state = arrFirst
				case state == arrStart:
					return fmt.Errorf("malformed JSON array: expected '[' at offset %d, found %q", offset+int64(i), c)
				case state == arrDone:
					return fmt.Errorf("malformed JSON array: unexpected %q after the closing ']' at offset %d", c, offset+int64(i))
				case c == ']' && state == arrFirst:
					state = arrDone
				case c == ']' || c == ',':
					return fmt.Errorf("malformed JSON array: unexpected %q at offset %d, expected an element", c, offset+int64(i))
				default:
					state, start = arrElem, i
					continue
				}
				i++
			case arrElem:
				if inString {
					if escaped {
						escaped = false
						i++
						continue
					}
					seg := b[i:]
					q := bytes.IndexByte(seg, '"')
					limit := len(seg)
					if q >= 0 {
						limit = q
					}
					if bs := bytes.IndexByte(seg[:limit], '\\'); bs >= 0 {
						escaped = true
						i += bs + 1
						continue
					}
					if q < 0 {
						i = len(b)
						continue
					}
					inString = false
					i += q + 1
					continue
				}
				switch c {
				case '"':
					inString = true
				case '{', '[':
					depth++
				case '}', ']':
					if depth > 0 {
						depth--
						break
					}
					if c == '}' {
						break // stray brace: the element will not validate
					}
					fallthrough
				case ',':
					if depth > 0 {
						break
					}
					add(b[start:i])
					if err := endElem(); err != nil {
						return err
					}
					state = arrNext
					if c == ']' {
						state = arrDone
					}
				}
				i++
			}
		}
		if state == arrElem {
			add(b[start:])
		}
		offset += int64(nr)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("read JSON at offset %d: %w", offset, rerr)
		}
	}
	switch state {
	case arrDone:
		return nil
	case arrStart:
		return fmt.Errorf("malformed JSON array: expected '[' at offset %d, found end of input", offset)
	}
	return fmt.Errorf("malformed JSON array: unexpected end of input at offset %d (truncated after %d elements)", offset, num)
}
