package sqlsource

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/shp-dev/shp/internal/arrowmem"
	"github.com/shp-dev/shp/internal/format"
)

// batchRows is how many rows an Arrow record batch holds.
const batchRows = 16 << 10

// batchPoolBytes bounds the released batch buffers an extractor keeps
// for its next batches: a few batches' worth.
const batchPoolBytes = 16 << 20

// UseBatches implements source.BatchExtractor. A PostgreSQL source
// whose server stores text as UTF-8, or a MySQL source whose server sends
// results in UTF-8, and whose query binds no parameter, writes its chunks
// as Arrow IPC streams from now on (Format says so): typed batches, read
// with a binary COPY from PostgreSQL and as the MySQL driver decodes
// them, which a warehouse scans without parsing text. Any other source
// keeps writing CSV.
func (x *extractor) UseBatches(ctx context.Context) (bool, error) {
	if len(x.args) > 0 || x.unbound != nil {
		return false, nil
	}
	var ok func(string) bool
	var query string
	switch x.eng.(type) {
	case *pgEngine:
		query, ok = "SHOW server_encoding", func(enc string) bool { return strings.EqualFold(enc, "UTF8") }
	case *mysqlEngine:
		query, ok = "SELECT @@character_set_results", utf8Results
	default:
		return false, nil
	}
	enc, _, err := x.eng.scalar(ctx, query, nil)
	if err != nil {
		return false, fmt.Errorf("source %s: %w", x.name, err)
	}
	if x.batches = ok(enc); x.batches && x.pool == nil {
		x.pool = arrowmem.NewPool(batchPoolBytes)
	}
	return x.batches, nil
}

// batchCopier is an engine that writes a query's rows as typed batches:
// an Arrow IPC stream whose last column numbers them, its buffers from
// mem.
type batchCopier interface {
	copyArrow(ctx context.Context, query string, w io.Writer, mem memory.Allocator) (int64, error)
}

// pgColumn is how one result column of a binary COPY becomes an Arrow
// column.
type pgColumn struct {
	name string
	kind byte // 'i' integer, 'o' oid, 'f' float4, 'd' float8, 'b' bool, 't' text as sent, 's' text by a cast
}

// batchKind is how a PostgreSQL type travels in a batch: integers,
// floats and booleans in their binary form, text types as they are (a
// char(n) keeps its padding, which a cast to text would strip), and every
// other type as its text (cast in the query), which the warehouse
// converts exactly as it converts the CSV path's text.
func batchKind(oid uint32) byte {
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return 'i'
	case pgtype.OIDOID:
		return 'o'
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID:
		return 't'
	case pgtype.Float4OID:
		return 'f'
	case pgtype.Float8OID:
		return 'd'
	case pgtype.BoolOID:
		return 'b'
	}
	return 's'
}

// copyArrow writes the rows of query to w as an Arrow IPC stream (LZ4
// compressed batches) read with a binary COPY, and returns how many it
// wrote.
func (e *pgEngine) copyArrow(ctx context.Context, query string, w io.Writer, mem memory.Allocator) (int64, error) {
	conn, err := e.connect(ctx)
	if err != nil {
		return 0, err
	}
	sd, err := conn.PgConn().Prepare(ctx, "", query, nil)
	if err != nil {
		return 0, err
	}
	cols := make([]pgColumn, len(sd.Fields))
	var sel []string
	var fields []arrow.Field
	for i, f := range sd.Fields {
		c := pgColumn{name: f.Name, kind: batchKind(f.DataTypeOID)}
		cols[i] = c
		q := pgx.Identifier{f.Name}.Sanitize()
		if c.kind == 's' {
			q += "::text"
		}
		sel = append(sel, q)
		fields = append(fields, arrow.Field{Name: f.Name, Type: arrowType(c.kind), Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: format.LineField, Type: arrow.PrimitiveTypes.Int64})
	sch := arrow.NewSchema(fields, nil)
	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		_, err := conn.PgConn().CopyTo(ctx, bw, "COPY (SELECT "+strings.Join(sel, ", ")+" FROM ("+query+") AS shp_b) TO STDOUT WITH (FORMAT binary)")
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		copied <- err
	}()
	n, err := writeBatches(bufio.NewReaderSize(pr, 1<<20), cols, sch, w, mem)
	pr.CloseWithError(errors.New("stopped reading")) // the COPY ends if the writer failed
	cerr := <-copied
	if err != nil {
		return n, err // a failed COPY's error is in it, wrapped
	}
	return n, cerr
}

// pgCopySignature starts a binary COPY stream.
const pgCopySignature = "PGCOPY\n\xff\r\n\x00"

// writeBatches decodes a binary COPY stream of cols into Arrow record
// batches of sch written to w as an IPC stream, their buffers from mem.
// sch has a column more than cols, the last: each row's number in the
// stream, from 1. Each batch's builders are sized from the batch before,
// so a stream of batches reuses the memory of the first.
func writeBatches(r *bufio.Reader, cols []pgColumn, sch *arrow.Schema, w io.Writer, mem memory.Allocator) (int64, error) {
	head := make([]byte, len(pgCopySignature)+8)
	if _, err := io.ReadFull(r, head); err != nil {
		return 0, fmt.Errorf("binary copy header: %w", err)
	}
	if string(head[:len(pgCopySignature)]) != pgCopySignature {
		return 0, errors.New("binary copy header: not a binary COPY stream")
	}
	if ext := binary.BigEndian.Uint32(head[len(pgCopySignature)+4:]); ext > 0 {
		if _, err := r.Discard(int(ext)); err != nil {
			return 0, fmt.Errorf("binary copy header: %w", err)
		}
	}
	bw := newBatchWriter(sch, w, mem)
	defer bw.release()
	var word [4]byte
	field := make([]byte, 0, 256)
	for {
		if _, err := io.ReadFull(r, word[:2]); err != nil {
			return bw.total, fmt.Errorf("binary copy row %d: %w", bw.total+1, err)
		}
		nf := int16(binary.BigEndian.Uint16(word[:2]))
		if nf == -1 {
			break
		}
		if int(nf) != len(cols) {
			return bw.total, fmt.Errorf("binary copy row %d: %d fields, want %d", bw.total+1, nf, len(cols))
		}
		for i, c := range cols {
			if _, err := io.ReadFull(r, word[:4]); err != nil {
				return bw.total, fmt.Errorf("binary copy row %d: %w", bw.total+1, err)
			}
			l := int32(binary.BigEndian.Uint32(word[:4]))
			fb := bw.b.Field(i)
			if l < 0 {
				fb.AppendNull()
				continue
			}
			if cap(field) < int(l) {
				field = make([]byte, l)
			}
			field = field[:l]
			if _, err := io.ReadFull(r, field); err != nil {
				return bw.total, fmt.Errorf("binary copy row %d: %w", bw.total+1, err)
			}
			if err := appendValue(fb, c.kind, field); err != nil {
				return bw.total, fmt.Errorf("binary copy row %d, column %q: %w", bw.total+1, c.name, err)
			}
		}
		if err := bw.endRow(); err != nil {
			return bw.total, err
		}
	}
	return bw.total, bw.close()
}

// batchWriter writes rows appended to its builders as Arrow record
// batches of batchRows rows, an IPC stream with LZ4 compression. The last
// column of its schema is the row's number, which endRow fills. Each
// batch's builders are sized from the batch before, so a stream of
// batches reuses the memory of the first through a pooling allocator.
type batchWriter struct {
	b           *array.RecordBuilder
	iw          *ipc.Writer
	line        *array.Int64Builder
	rows, total int64
	data        []int // each string column's bytes in the last batch
}

// arrowType is the Arrow type of a column of kind: 'i' and 'o' integers,
// 'u' unsigned ones, 'f' and 'd' floats, 'b' booleans, 'y' bytes, else
// text.
func arrowType(kind byte) arrow.DataType {
	switch kind {
	case 'i', 'o':
		return arrow.PrimitiveTypes.Int64
	case 'u':
		return arrow.PrimitiveTypes.Uint64
	case 'f', 'd':
		return arrow.PrimitiveTypes.Float64
	case 'b':
		return arrow.FixedWidthTypes.Boolean
	case 'y':
		return arrow.BinaryTypes.Binary
	}
	return arrow.BinaryTypes.String
}

// dataBuilder is a builder of variable-length values: text, bytes.
type dataBuilder interface {
	DataLen() int
	ReserveData(n int)
}

func newBatchWriter(sch *arrow.Schema, w io.Writer, mem memory.Allocator) *batchWriter {
	b := array.NewRecordBuilder(mem, sch)
	return &batchWriter{
		b:    b,
		iw:   ipc.NewWriter(w, ipc.WithSchema(sch), ipc.WithLZ4(), ipc.WithAllocator(mem)),
		line: b.Field(len(sch.Fields()) - 1).(*array.Int64Builder),
		data: make([]int, len(sch.Fields())),
	}
}

// endRow numbers the row whose values were appended, and writes a batch
// when it is full.
func (bw *batchWriter) endRow() error {
	bw.total++
	bw.line.Append(bw.total)
	if bw.rows++; bw.rows == batchRows {
		return bw.flush()
	}
	return nil
}

// flush writes the rows appended as a batch and sizes the builders for
// the next.
func (bw *batchWriter) flush() error {
	for i, fb := range bw.b.Fields() {
		if sb, ok := fb.(dataBuilder); ok {
			bw.data[i] = sb.DataLen()
		}
	}
	rec := bw.b.NewRecordBatch()
	err := bw.iw.Write(rec)
	rec.Release()
	bw.rows = 0
	for i, fb := range bw.b.Fields() {
		fb.Reserve(batchRows)
		if sb, ok := fb.(dataBuilder); ok {
			sb.ReserveData(bw.data[i])
		}
	}
	return err
}

// close writes the last batch (the only one, empty, for no rows) and
// ends the stream.
func (bw *batchWriter) close() error {
	if bw.rows > 0 || bw.total == 0 {
		if err := bw.flush(); err != nil {
			return err
		}
	}
	return bw.iw.Close()
}

func (bw *batchWriter) release() { bw.b.Release() }

// appendValue appends one binary COPY value of kind to its builder.
func appendValue(fb array.Builder, kind byte, v []byte) error {
	switch kind {
	case 'i':
		var n int64
		switch len(v) {
		case 2:
			n = int64(int16(binary.BigEndian.Uint16(v)))
		case 4:
			n = int64(int32(binary.BigEndian.Uint32(v)))
		case 8:
			n = int64(binary.BigEndian.Uint64(v))
		default:
			return fmt.Errorf("an integer of %d bytes", len(v))
		}
		fb.(*array.Int64Builder).Append(n)
	case 'o':
		if len(v) != 4 {
			return fmt.Errorf("an oid of %d bytes", len(v))
		}
		fb.(*array.Int64Builder).Append(int64(binary.BigEndian.Uint32(v)))
	case 'f':
		if len(v) != 4 {
			return fmt.Errorf("a float4 of %d bytes", len(v))
		}
		fb.(*array.Float64Builder).Append(float32Value(math.Float32frombits(binary.BigEndian.Uint32(v))))
	case 'd':
		if len(v) != 8 {
			return fmt.Errorf("a float8 of %d bytes", len(v))
		}
		fb.(*array.Float64Builder).Append(math.Float64frombits(binary.BigEndian.Uint64(v)))
	case 'b':
		if len(v) != 1 {
			return fmt.Errorf("a bool of %d bytes", len(v))
		}
		fb.(*array.BooleanBuilder).Append(v[0] != 0)
	default:
		fb.(*array.StringBuilder).BinaryBuilder.Append(v)
	}
	return nil
}
