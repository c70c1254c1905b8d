package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/shp-dev/shp/internal/format"
)

// pqColumn is a top-level column of a Parquet file and how DuckDB reads
// it.
type pqColumn struct {
	name  string
	index int     // leaf column index
	t     colType // the type DuckDB gives it
	// logical interpretation
	decimal    bool
	scale      int
	prec       int
	date       bool
	timestamp  bool
	tsUnit     int64 // divisor to microseconds: 1000 (ns), 1 (us), or multiplier -1000 (ms)
	utc        bool
	timeOfDay  bool
	text       bool // a UTF-8 string
	json       bool
	uuid       bool
	unsigned   bool
	bits       int // an integer's width, from its logical type
	kind       parquet.Kind
	fixedBytes bool
}

// openParquet opens the file and describes its top-level columns.
func openParquet(path string) (*parquet.File, *os.File, []pqColumn, error) {
	pf, f, leaves, err := format.OpenFlatParquet(path, "PostgreSQL")
	if err != nil {
		return nil, nil, nil, err
	}
	cols := make([]pqColumn, len(leaves))
	for i, c := range leaves {
		cols[i] = describeParquet(c)
	}
	return pf, f, cols, nil
}

func describeParquet(c *parquet.Column) pqColumn {
	t := c.Type()
	l := format.DescribeParquet(t)
	p := pqColumn{name: c.Name(), index: c.Index(), kind: t.Kind(),
		text: l.Text, json: l.JSON, uuid: l.UUID, decimal: l.Decimal, scale: l.Scale, prec: l.Precision,
		date: l.Date, timestamp: l.Timestamp, utc: l.UTC, timeOfDay: l.TimeOfDay, unsigned: l.Unsigned, bits: l.Bits}
	if p.timestamp || p.timeOfDay {
		p.tsUnit = unitDivisor(l.Unit)
	}
	if p.kind == parquet.Int96 {
		p.timestamp, p.tsUnit = true, 1
	}
	p.fixedBytes = p.kind == parquet.FixedLenByteArray
	switch {
	case p.decimal:
		p.t = decimalType(p.prec, p.scale)
	case p.date:
		p.t = tDate
	case p.timestamp && p.utc:
		p.t = tTimestamptz
	case p.timestamp:
		p.t = tTimestamp
	case p.timeOfDay:
		p.t = tTime
	case p.json:
		p.t = tJSONB
	case p.text, p.uuid:
		p.t = tVarchar
	default:
		switch p.kind {
		case parquet.Boolean:
			p.t = tBoolean
		case parquet.Int32:
			// DuckDB's TINYINT, SMALLINT and unsigned integers become the
			// narrowest PostgreSQL integer that holds them.
			switch {
			case p.bits == 8 || p.bits == 16 && !p.unsigned:
				p.t = tSmallint
			case p.bits == 16:
				p.t = tInteger
			case p.unsigned:
				p.t = tBigint
			default:
				p.t = tInteger
			}
		case parquet.Int64:
			p.t = tBigint
			if p.unsigned {
				p.t = decimalType(20, 0)
			}
		case parquet.Float:
			p.t = tReal
		case parquet.Double:
			p.t = tDouble
		default:
			p.t = tBytea
		}
	}
	return p
}

// unitDivisor is a time unit as tsUnit holds it.
func unitDivisor(u time.Duration) int64 {
	switch u {
	case time.Nanosecond:
		return 1000
	case time.Millisecond:
		return -1000
	}
	return 1
}

func (p *pqColumn) micros(v int64) int64 {
	switch {
	case p.tsUnit == -1000:
		return v * 1000
	case p.tsUnit > 1:
		return floorDiv(v, p.tsUnit)
	}
	return v
}

// text writes a value as DuckDB's CAST(value AS VARCHAR) of the type it
// reads it as.
func (p *pqColumn) textOf(dst []byte, v parquet.Value) []byte {
	switch {
	case p.decimal:
		neg, dig := p.unscaled(v)
		return appendDecimalText(dst, neg, dig, p.scale)
	case p.date:
		return appendDuckDate(dst, int64(v.Int32()))
	case p.timestamp:
		if p.kind == parquet.Int96 {
			i96 := v.Int96()
			nanos := int64(uint64(i96[0]) | uint64(i96[1])<<32)
			days := int64(i96[2]) - 2440588
			return appendDuckTimestamp(dst, days*microsPerDay+nanos/1000, p.utc)
		}
		return appendDuckTimestamp(dst, p.micros(v.Int64()), p.utc)
	case p.timeOfDay:
		if p.kind == parquet.Int32 {
			return appendDuckTime(dst, p.micros(int64(v.Int32())))
		}
		return appendDuckTime(dst, p.micros(v.Int64()))
	case p.uuid:
		b := v.ByteArray()
		if len(b) == 16 {
			h := hex.EncodeToString(b)
			return append(dst, h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:]...)
		}
		return appendDuckBlob(dst, string(b))
	case p.text:
		return append(dst, v.ByteArray()...)
	}
	switch p.kind {
	case parquet.Boolean:
		return strconv.AppendBool(dst, v.Boolean())
	case parquet.Int32:
		if p.unsigned {
			return strconv.AppendUint(dst, uint64(v.Uint32()), 10)
		}
		return strconv.AppendInt(dst, int64(v.Int32()), 10)
	case parquet.Int64:
		if p.unsigned {
			return strconv.AppendUint(dst, v.Uint64(), 10)
		}
		return strconv.AppendInt(dst, v.Int64(), 10)
	case parquet.Float:
		return appendDuckFloat32(dst, v.Float())
	case parquet.Double:
		return appendDuckDouble(dst, v.Double())
	}
	return appendDuckBlob(dst, string(v.ByteArray()))
}

// jsonOf writes a value as DuckDB's json_object writes the type it reads
// it as.
func (p *pqColumn) jsonOf(dst []byte, v parquet.Value) []byte {
	if v.IsNull() {
		return append(dst, "null"...)
	}
	switch {
	case p.decimal:
		neg, dig := p.unscaled(v)
		if p.prec <= 18 {
			return appendYYDouble(dst, decimalToFloat(dig, neg, p.scale, p.prec))
		}
		return appendDecimalText(dst, neg, dig, p.scale)
	case p.date, p.timestamp, p.timeOfDay, p.uuid, p.text && !p.json:
		return appendJSONString(dst, string(p.textOf(nil, v)))
	case p.json:
		out, err := rewriteJSON(dst, string(v.ByteArray()), styleDuck, true)
		if err != nil {
			return appendJSONString(dst, string(v.ByteArray()))
		}
		return out
	}
	switch p.kind {
	case parquet.Boolean, parquet.Int32, parquet.Int64:
		return p.textOf(dst, v)
	case parquet.Float:
		return appendYYDouble(dst, float64(v.Float()))
	case parquet.Double:
		return appendYYDouble(dst, v.Double())
	}
	return appendJSONString(dst, string(p.textOf(nil, v)))
}

// unscaled is a decimal value's sign and digits.
func (p *pqColumn) unscaled(v parquet.Value) (bool, []byte) {
	n := format.ParquetUnscaled(v, p.kind)
	neg := n.Sign() < 0
	n.Abs(n)
	if n.Sign() == 0 {
		return false, nil
	}
	return neg, []byte(n.String())
}

// valueAt finds a row's value of a leaf column.
func valueAt(row parquet.Row, leaf int) parquet.Value {
	if leaf < len(row) && row[leaf].Column() == leaf {
		return row[leaf]
	}
	for _, v := range row {
		if v.Column() == leaf {
			return v
		}
	}
	return parquet.Value{}
}

// stageParquet reads a Parquet file row by row; with a declared schema
// every column is converted from DuckDB's text of its value, and rows
// whose values do not fit are set aside, line being the row number.
func (s *stager) stageParquet(ctx context.Context, declared []declaredColumn) error {
	pf, f, fileCols, err := openParquet(s.spec.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	s.hasLine = true
	var from []int // file column of each staging column; -1 for none
	if len(declared) == 0 {
		for i, fc := range fileCols {
			c, err := s.newColumn(fc.name, fc.t, nil)
			if err != nil {
				return err
			}
			s.cols = append(s.cols, c)
			from = append(from, i)
		}
	} else {
		as := make([]int, len(declared))
		for i := range as {
			as[i] = -1
		}
		for i, fc := range fileCols {
			found := false
			for k, d := range declared {
				if strings.EqualFold(d.Name, s.fileName(fc.name)) && as[k] < 0 {
					as[k], found = i, true
					break
				}
			}
			if !found {
				g := s.noteExtra(fc.name)
				*g = typeGuessOf(fc.t)
				if fc.t.kind == kDecimal || fc.t.kind == kTimestamptz || fc.t.kind == kTimestamp || fc.t.kind == kBytes {
					s.extra[len(s.extra)-1].Type = SchemaType(fc.t.name)
					s.extraGuess[len(s.extraGuess)-1] = nil
				}
			}
		}
		for k, d := range declared {
			if as[k] < 0 {
				s.noteMissing(d.Name)
			}
			c, err := s.newColumn(d.Name, d.Type, nil)
			if err != nil {
				return err
			}
			s.cols = append(s.cols, c)
			from = append(from, as[k])
		}
	}
	if err := s.create(ctx); err != nil {
		return err
	}
	var reasons []string
	var text []byte
	return format.ForEachParquetRow(pf, func(n int64, row parquet.Row) error {
		s.arena = s.arena[:0]
		reasons = reasons[:0]
		for ci, c := range s.cols {
			s.vals[ci] = val{null: true}
			k := from[ci]
			if k < 0 {
				continue
			}
			v := valueAt(row, fileCols[k].index)
			if v.IsNull() {
				continue
			}
			text = fileCols[k].textOf(text[:0], v)
			t := str(text)
			if ok, detail := c.convert(t, &s.vals[ci], &s.arena); !ok {
				s.vals[ci] = val{null: true}
				reasons = append(reasons, castReason(c.name, c.t, t, detail, false))
			} else if s.vals[ci].s != "" || s.vals[ci].orig != "" {
				// text values alias the scratch buffer: keep a copy
				s.vals[ci].s = strings.Clone(s.vals[ci].s)
				s.vals[ci].orig = strings.Clone(s.vals[ci].orig)
			}
		}
		if len(reasons) > 0 {
			b := append(s.json[:0], '{')
			first := true
			for _, k := range from {
				if k < 0 {
					continue
				}
				if !first {
					b = append(b, ',')
				}
				first = false
				b = appendJSONString(b, fileCols[k].name)
				b = append(b, ':')
				b = fileCols[k].jsonOf(b, valueAt(row, fileCols[k].index))
			}
			s.json = append(b, '}')
			return s.badRow(ctx, n, strings.Join(reasons, "; "), s.json, true)
		}
		return s.goodRow(ctx, n)
	})
}

// parquetValues calls add with the text of each value of a column until
// it returns false.
func parquetValues(path, column string, add func(string) bool) error {
	pf, f, cols, err := openParquet(path)
	if err != nil {
		return err
	}
	defer f.Close()
	idx := -1
	for i, c := range cols {
		if c.name == column {
			idx = i
		}
	}
	if idx < 0 {
		return nil
	}
	stop := errors.New("enough")
	var text []byte
	err = format.ForEachParquetRow(pf, func(_ int64, row parquet.Row) error {
		v := valueAt(row, cols[idx].index)
		if v.IsNull() {
			return nil
		}
		text = cols[idx].textOf(text[:0], v)
		if !add(string(text)) {
			return stop
		}
		return nil
	})
	if errors.Is(err, stop) {
		return nil
	}
	return err
}
