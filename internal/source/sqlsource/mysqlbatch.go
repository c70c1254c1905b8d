package sqlsource

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shp-dev/shp/internal/format"
)

// utf8Results reports whether MySQL's character_set_results sends text
// as UTF-8, which Arrow's text columns must be.
func utf8Results(charset string) bool {
	switch strings.ToLower(charset) {
	case "utf8mb4", "utf8mb3", "utf8":
		return true
	}
	return false
}

// myKind is how a MySQL result column becomes an Arrow column: 'i' a
// signed integer (and the unsigned ones that fit), 'u' BIGINT UNSIGNED,
// 'f' FLOAT, 'd' DOUBLE, 'n' DECIMAL (see decimalColumn), 'y' bytes,
// 's' text as sent (dates, times, JSON, strings).
func myKind(dbType string, bytes bool) byte {
	if bytes {
		return 'y'
	}
	switch dbType {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "YEAR",
		"UNSIGNED TINYINT", "UNSIGNED SMALLINT", "UNSIGNED MEDIUMINT", "UNSIGNED INT":
		return 'i'
	case "UNSIGNED BIGINT":
		return 'u'
	case "FLOAT":
		return 'f'
	case "DOUBLE":
		return 'd'
	case "DECIMAL":
		return 'n'
	}
	return 's'
}

// maxDecimalDigits is the most digits an Arrow Decimal128 (and DuckDB's
// DECIMAL) holds.
const maxDecimalDigits = 38

// decimalColumn is the Arrow type of a DECIMAL result column of scale
// decimals and precision digits: a Decimal128 of 38 digits and the same
// scale, which holds every value of the column exactly (the warehouse
// casts it to the declared precision, where a value can only fail to
// fit, never round). ok is false for a column Arrow cannot hold, which
// stays text.
func decimalColumn(precision, scale int64, known bool) (t arrow.DataType, ok bool) {
	if !known || precision > maxDecimalDigits || scale < 0 || scale > precision {
		return nil, false
	}
	return &arrow.Decimal128Type{Precision: maxDecimalDigits, Scale: int32(scale)}, true
}

// parseDecimal reads a DECIMAL's text as MySQL writes it (an optional
// sign, digits, and a point followed by up to scale decimals) as a
// 128-bit integer of scale decimals.
func parseDecimal(b []byte, scale int32) (decimal128.Num, error) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	var hi, lo uint64
	digits, decimals := 0, int32(-1)
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if digits++; digits > maxDecimalDigits {
				return decimal128.Num{}, errors.New("more than 38 digits")
			}
			h, l := bits.Mul64(lo, 10)
			l, carry := bits.Add64(l, uint64(c-'0'), 0)
			hi, lo = hi*10+h+carry, l
			if decimals >= 0 {
				decimals++
			}
		case c == '.' && decimals < 0:
			decimals = 0
		default:
			return decimal128.Num{}, fmt.Errorf("%q is not a decimal", b)
		}
	}
	if digits == 0 {
		return decimal128.Num{}, fmt.Errorf("%q is not a decimal", b)
	}
	if decimals > scale {
		return decimal128.Num{}, fmt.Errorf("%q has more than %d decimals", b, scale)
	}
	for ; max(decimals, 0) < scale; decimals = max(decimals, 0) + 1 {
		if digits++; digits > maxDecimalDigits {
			return decimal128.Num{}, errors.New("more than 38 digits")
		}
		h, l := bits.Mul64(lo, 10)
		hi, lo = hi*10+h, l
	}
	n := decimal128.New(int64(hi), lo)
	if neg {
		n = n.Negate()
	}
	return n, nil
}

// copyArrow writes the rows of query to w as an Arrow IPC stream (LZ4
// compressed batches) and returns how many it wrote. The rows are read
// from the driver as it decodes them, without database/sql's conversion
// of each value to text.
func (e *mysqlEngine) copyArrow(ctx context.Context, query string, w io.Writer, mem memory.Allocator) (int64, error) {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var n int64
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("mysql driver connection %T cannot query", dc)
		}
		rows, err := q.QueryContext(ctx, query, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		n, err = writeRowBatches(rows, e.binary, w, mem)
		return err
	})
	return n, err
}

// writeRowBatches writes a driver's rows as Arrow record batches to w,
// an IPC stream; binary says which columns hold bytes. Its last column
// numbers the rows from 1.
func writeRowBatches(rows driver.Rows, binary []bool, w io.Writer, mem memory.Allocator) (int64, error) {
	names := rows.Columns()
	typed, _ := rows.(driver.RowsColumnTypeDatabaseTypeName)
	kinds := make([]byte, len(names))
	fields := make([]arrow.Field, 0, len(names)+1)
	scaled, _ := rows.(driver.RowsColumnTypePrecisionScale)
	scales := make([]int32, len(names))
	for i, name := range names {
		dbType := ""
		if typed != nil {
			dbType = typed.ColumnTypeDatabaseTypeName(i)
		}
		kinds[i] = myKind(dbType, i < len(binary) && binary[i])
		t := arrowType(kinds[i])
		if kinds[i] == 'n' {
			var p, sc int64
			var known bool
			if scaled != nil {
				p, sc, known = scaled.ColumnTypePrecisionScale(i)
			}
			if dt, ok := decimalColumn(p, sc, known); ok {
				t, scales[i] = dt, int32(sc)
			} else {
				kinds[i] = 's' // as text
			}
		}
		fields = append(fields, arrow.Field{Name: name, Type: t, Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: format.LineField, Type: arrow.PrimitiveTypes.Int64})
	bw := newBatchWriter(arrow.NewSchema(fields, nil), w, mem)
	defer bw.release()
	dest := make([]driver.Value, len(names))
	var text []byte
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return bw.total, err
		}
		for i, v := range dest {
			var err error
			if kinds[i] == 'n' {
				err = appendDecimal(bw.b.Field(i), v, scales[i])
			} else {
				text, err = appendDriverValue(bw.b.Field(i), kinds[i], v, text)
			}
			if err != nil {
				return bw.total, fmt.Errorf("row %d, column %q: %w", bw.total+1, names[i], err)
			}
		}
		if err := bw.endRow(); err != nil {
			return bw.total, err
		}
	}
	return bw.total, bw.close()
}

// appendDecimal appends a DECIMAL value, text as the driver sends it, to
// a Decimal128 builder of scale decimals.
func appendDecimal(fb array.Builder, v driver.Value, scale int32) error {
	switch x := v.(type) {
	case nil:
		fb.AppendNull()
		return nil
	case []byte:
		n, err := parseDecimal(x, scale)
		if err != nil {
			return err
		}
		fb.(*array.Decimal128Builder).Append(n)
		return nil
	}
	return fmt.Errorf("unexpected %T value for a DECIMAL", v)
}

// appendDriverValue appends one value as the driver decoded it (nil,
// int64, uint64, float32, float64 or bytes) to its column's builder of
// kind; text is scratch space for a number written as text, returned
// for reuse.
func appendDriverValue(fb array.Builder, kind byte, v driver.Value, text []byte) ([]byte, error) {
	if v == nil {
		fb.AppendNull()
		return text, nil
	}
	switch kind {
	case 'i':
		switch n := v.(type) {
		case int64:
			fb.(*array.Int64Builder).Append(n)
			return text, nil
		case uint64:
			if n > math.MaxInt64 {
				return text, fmt.Errorf("integer %d out of range", n)
			}
			fb.(*array.Int64Builder).Append(int64(n))
			return text, nil
		case []byte:
			i, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil {
				return text, err
			}
			fb.(*array.Int64Builder).Append(i)
			return text, nil
		}
	case 'u':
		switch n := v.(type) {
		case uint64:
			fb.(*array.Uint64Builder).Append(n)
			return text, nil
		case int64:
			if n < 0 {
				return text, fmt.Errorf("unsigned integer %d out of range", n)
			}
			fb.(*array.Uint64Builder).Append(uint64(n))
			return text, nil
		case []byte:
			u, err := strconv.ParseUint(string(n), 10, 64)
			if err != nil {
				return text, err
			}
			fb.(*array.Uint64Builder).Append(u)
			return text, nil
		}
	case 'f', 'd':
		switch f := v.(type) {
		case float32:
			fb.(*array.Float64Builder).Append(float32Value(f))
			return text, nil
		case float64:
			fb.(*array.Float64Builder).Append(f)
			return text, nil
		case []byte:
			d, err := strconv.ParseFloat(string(f), 64)
			if err != nil {
				return text, err
			}
			fb.(*array.Float64Builder).Append(d)
			return text, nil
		}
	case 'y':
		if b, ok := v.([]byte); ok {
			fb.(*array.BinaryBuilder).Append(b)
			return text, nil
		}
	default:
		sb := fb.(*array.StringBuilder)
		switch x := v.(type) {
		case []byte:
			sb.BinaryBuilder.Append(x)
			return text, nil
		case string:
			sb.Append(x)
			return text, nil
		case int64:
			text = strconv.AppendInt(text[:0], x, 10)
		case uint64:
			text = strconv.AppendUint(text[:0], x, 10)
		case float32:
			text = strconv.AppendFloat(text[:0], float64(x), 'g', -1, 32)
		case float64:
			text = strconv.AppendFloat(text[:0], x, 'g', -1, 64)
		default:
			return text, fmt.Errorf("unexpected %T value", v)
		}
		sb.BinaryBuilder.Append(text)
		return text, nil
	}
	return text, fmt.Errorf("unexpected %T value for a column of kind %c", v, kind)
}

// float32Value reads a float4 as its shortest text reads as a float8, as
// the server writes it in text: 0.1 stays 0.1, not 0.10000000149011612.
func float32Value(f float32) float64 {
	d, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	if err != nil {
		return float64(f) // NaN and infinities
	}
	return d
}
