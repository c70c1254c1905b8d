package bigquery

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/shp-dev/shp/internal/format"
)

// pqColumn is a top-level column of a Parquet file and how its values
// read as text.
type pqColumn struct {
	name      string
	kind      parquet.Kind
	text      bool // a UTF-8 string
	decimal   bool
	scale     int
	precision int
	date      bool
	timestamp bool
	utc       bool
	timeOfDay bool
	unsigned  bool
	unit      time.Duration // of a timestamp or time of day
}

// describeParquet reads a leaf column's logical type.
func describeParquet(c *parquet.Column) pqColumn {
	t := c.Type()
	l := format.DescribeParquet(t)
	return pqColumn{name: c.Name(), kind: t.Kind(), text: l.Text, decimal: l.Decimal, scale: l.Scale, precision: l.Precision,
		date: l.Date, timestamp: l.Timestamp, utc: l.UTC, timeOfDay: l.TimeOfDay, unsigned: l.Unsigned, unit: l.Unit}
}

// bqType is the BigQuery type a Parquet column's values have, for a
// file without a schema.
func (p pqColumn) bqType() column {
	switch {
	case p.text:
		return column{Type: "STRING"}
	case p.decimal:
		return column{Type: "NUMERIC", Precision: p.precision, Scale: p.scale}
	case p.date:
		return column{Type: "DATE"}
	case p.timestamp && p.utc:
		return column{Type: "TIMESTAMP"}
	case p.timestamp:
		return column{Type: "DATETIME"}
	case p.timeOfDay:
		return column{Type: "TIME"}
	}
	switch p.kind {
	case parquet.Boolean:
		return column{Type: "BOOL"}
	case parquet.Int32, parquet.Int64:
		return column{Type: "INT64"}
	case parquet.Float, parquet.Double:
		return column{Type: "FLOAT64"}
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return column{Type: "BYTES"}
	}
	return column{Type: "STRING"}
}

// loadType is the type a load job reads the column's values into when
// they are the very values shp's reading gives; ok is false for the
// rest (32-bit floats, unsigned and INT96 integers, timestamps other
// than UTC in microseconds (the emulator reads milliseconds as
// microseconds and misreads local ones, which real BigQuery may not),
// times of day, bytes, decimals wider than NUMERIC).
func (p pqColumn) loadType() (c column, ok bool) {
	switch {
	case p.text:
		return column{Type: "STRING"}, true
	case p.decimal:
		if p.scale > 9 || p.precision-p.scale > 29 || p.kind != parquet.Int32 && p.kind != parquet.Int64 && p.kind != parquet.FixedLenByteArray && p.kind != parquet.ByteArray {
			return column{}, false
		}
		return column{Type: "NUMERIC", Precision: p.precision, Scale: p.scale}, true
	case p.date:
		return column{Type: "DATE"}, p.kind == parquet.Int32
	case p.timestamp:
		return column{Type: "TIMESTAMP"}, p.utc && p.unit == time.Microsecond && p.kind == parquet.Int64
	case p.timeOfDay, p.unsigned:
		return column{}, false
	}
	switch p.kind {
	case parquet.Boolean:
		return column{Type: "BOOL"}, true
	case parquet.Int32, parquet.Int64:
		return column{Type: "INT64"}, true
	case parquet.Double:
		return column{Type: "FLOAT64"}, true
	}
	return column{}, false
}

// text renders a value as the text its column's type reads.
func (p pqColumn) textOf(v parquet.Value) (string, error) {
	switch {
	case p.decimal:
		n := format.ParquetUnscaled(v, p.kind)
		return new(big.Rat).SetFrac(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p.scale)), nil)).FloatString(p.scale), nil
	case p.date:
		return time.Unix(int64(v.Int32())*86400, 0).UTC().Format("2006-01-02"), nil
	case p.timestamp:
		var t time.Time
		switch p.unit {
		case time.Millisecond:
			t = time.UnixMilli(v.Int64()).UTC()
		case time.Nanosecond:
			t = time.Unix(0, v.Int64()).UTC()
		default:
			t = time.UnixMicro(v.Int64()).UTC()
		}
		s := t.Format("2006-01-02 15:04:05.999999")
		if p.utc {
			s += "+00"
		}
		return s, nil
	case p.timeOfDay:
		d := time.Duration(v.Int64()) * p.unit
		if p.kind == parquet.Int32 {
			d = time.Duration(v.Int32()) * p.unit
		}
		return time.Time{}.Add(d).Format("15:04:05.999999"), nil
	}
	switch p.kind {
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean()), nil
	case parquet.Int32:
		return strconv.FormatInt(int64(v.Int32()), 10), nil
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10), nil
	case parquet.Float:
		return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32), nil
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64), nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray()), nil
	}
	return "", fmt.Errorf("parquet column %q: values of kind %s are not read", p.name, p.kind)
}

// download copies the staged object into a temporary file.
func (s *stager) download() (string, error) {
	r, err := s.openData()
	if err != nil {
		return "", err
	}
	defer r.Close()
	f, err := os.CreateTemp(s.w.tempDirOf(), "shp-bq-*.parquet")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("fetch %s: %w", s.spec.URI, err)
	}
	return f.Name(), nil
}

// readParquet reads a flat Parquet object's rows, each value as text,
// into the load file: a row's line is its number, its raw text the row
// as JSON.
func (s *stager) readParquet(out *bufio.Writer) error {
	path := s.spec.Path
	if path == "" { // staged on Cloud Storage: fetched now that a load job did not take it
		local, err := s.download()
		if err != nil {
			return err
		}
		defer os.Remove(local)
		path = local
	}
	pf, f, leaves, err := format.OpenFlatParquet(path, "BigQuery")
	if err != nil {
		return err
	}
	defer f.Close()
	cols := make([]pqColumn, len(leaves))
	for i, c := range leaves {
		cols[i] = describeParquet(c)
	}
	at := make([]int, len(cols))
	if s.infer {
		for i, c := range cols {
			bc := c.bqType()
			bc.Name = c.name
			at[i] = len(s.cols)
			s.cols = append(s.cols, bc)
		}
		s.present = make([]bool, len(s.cols))
		for i := range s.present {
			s.present[i] = true
		}
		s.parquetTypes = true
	} else {
		s.present = make([]bool, len(s.cols))
		for i, c := range cols {
			at[i] = -1
			if j, ok := lookupCol(s.cols, s.fileName(c.name)); ok && !s.present[j] {
				at[i] = j
				s.present[j] = true
				continue
			}
			s.noteExtra(c.name)
		}
		s.noteMissing()
	}
	return format.ForEachParquetRow(pf, func(_ int64, row parquet.Row) error {
		s.records++
		o := record{row: s.records, line: s.records, values: make([]*string, len(s.cols))}
		raw := map[string]any{}
		for _, v := range row {
			i := v.Column()
			if i < 0 || i >= len(cols) || v.IsNull() {
				continue
			}
			t, terr := cols[i].textOf(v)
			if terr != nil {
				o.problem = terr.Error()
				continue
			}
			raw[cols[i].name] = t
			if j := at[i]; j >= 0 {
				if isNullToken(t, s.parse(s.cols[j].Name)) {
					continue
				}
				tt := t
				if s.cols[j].Type == "BYTES" && !cols[i].text {
					tt = "b64:" + base64(v.ByteArray())
				} else {
					tt = s.prepare(j, t)
				}
				o.values[j] = &tt
			}
		}
		o.raw, _ = json.Marshal(raw)
		if o.problem != "" {
			s.shapeBad++
			o.values = nil
		}
		return writeRecord(out, o)
	})
}
