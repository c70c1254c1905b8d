package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// stageCopy streams a source object into the staging bucket and, on the
// way, counts its records with a scanner independent of the warehouse's
// reader. That count is the "rows in" side of the run's accounting.
// Parquet is counted from its footer after the copy, so it returns 0.
// hash gets the object's bytes as they are copied, text (when not nil)
// its bytes decompressed as they are counted, and profile (when not nil)
// a JSON object's records.
//
// A CSV object's dialect is settled here, once, from the first bytes of
// the stream (see resolveCSV): csv gets what the counter used, for the
// warehouse's reader to use too. sch, when declared, checks a declared
// delimiter.
func (r *Runner) stageCopy(ctx context.Context, key string, in io.Reader, f format.Format, c format.Compression,
	csv *warehouse.CSVOptions, sch schema.Schema, bytes, rows *atomic.Int64, hash, text io.Writer, profile *format.JSONProfile) (int64, error) {
	in = io.TeeReader(in, hash)
	if f == format.Parquet {
		_, err := r.Staging.Put(ctx, key, &countingReader{r: in, n: bytes})
		return 0, err
	}
	pr, pw := io.Pipe()
	type counted struct {
		n   int64
		err error
	}
	done := make(chan counted, 1)
	go func() {
		n, err := countRecords(pr, f, c, csv, sch, rows, text, profile)
		// Keep draining so the copy never blocks on a counter that stopped.
		_, _ = io.Copy(io.Discard, pr)
		done <- counted{n, err}
	}()
	_, err := r.Staging.Put(ctx, key, io.TeeReader(&countingReader{r: in, n: bytes}, pw))
	pw.CloseWithError(err)
	res := <-done
	if err != nil {
		return 0, err
	}
	if res.err != nil {
		return 0, fmt.Errorf("count records: %w", res.err)
	}
	return res.n, nil
}

func countRecords(r io.Reader, f format.Format, c format.Compression, csv *warehouse.CSVOptions, sch schema.Schema, rows *atomic.Int64,
	text io.Writer, profile *format.JSONProfile) (int64, error) {
	rc, err := format.Decompress(r, c)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var dr io.Reader = rc
	if text != nil {
		dr = io.TeeReader(rc, text)
	}
	switch f {
	case format.CSV:
		d, rest := resolveCSV(dr, csv, sch)
		n, err := format.CountCSV(rest, d)
		rows.Store(n)
		return n, err
	case format.JSON, format.JSONL:
		var out io.Writer = io.Discard
		if profile != nil {
			out = profile
		}
		good, bad, err := format.NormalizeJSON(dr, out, f == format.JSONL, func(int64, []byte, string) error { return nil })
		rows.Store(good + bad)
		return good + bad, err
	}
	return 0, fmt.Errorf("cannot count records of format %q", f)
}

// resolveCSV settles a CSV object's dialect from a sample of its
// decompressed bytes (format.ResolveCSVDialect): a delimiter or quote
// that opts leaves empty is detected, and a declared delimiter that reads
// none of sch's columns gives way to the one alternative that does. opts
// gets the result and its notes; rest reads the stream from its start.
func resolveCSV(r io.Reader, opts *warehouse.CSVOptions, sch schema.Schema) (format.CSVDialect, io.Reader) {
	d := format.CSVDialect{Header: !opts.NoHeader, Delimiter: ',', Quote: '"'}
	if len(opts.Delimiter) > 1 || len(opts.Quote) > 1 {
		// A multi-byte character: counted by its first byte, as declared.
		if opts.Delimiter != "" {
			d.Delimiter = opts.Delimiter[0]
		}
		if opts.Quote != "" {
			d.Quote = opts.Quote[0]
		}
		return d, r
	}
	sample, truncated, rest := format.PeekSample(r)
	var known func(string) bool
	if len(sch) > 0 {
		known = func(name string) bool { _, ok := sch.Lookup(name); return ok }
	}
	byteOf := func(v string) byte {
		if v == "" {
			return 0
		}
		return v[0]
	}
	c := format.ResolveCSVDialect(sample, truncated, byteOf(opts.Delimiter), byteOf(opts.Quote), !opts.NoHeader, known)
	opts.Delimiter, opts.Quote = string(c.Delimiter), string(c.Quote)
	opts.Notes = append(opts.Notes, c.Notes...)
	d.Delimiter, d.Quote = c.Delimiter, c.Quote
	return d, rest
}

func parquetRows(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return format.ParquetRowCount(f, st.Size())
}

// parquetRowsAt counts a staged Parquet object's rows from its footer,
// read by ranges.
func parquetRowsAt(ctx context.Context, open func(context.Context) (io.ReaderAt, int64, error)) (int64, error) {
	ra, size, err := open(ctx)
	if err != nil {
		return 0, err
	}
	return format.ParquetRowCount(ra, size)
}

// countingReader counts bytes read, for progress.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progressTicker reports progress until the returned stop is called.
func (r *Runner) progressTicker(pipeline, object string, index, total int, started time.Time, bytes, rows *atomic.Int64) func() {
	if r.OnProgress == nil {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.OnProgress(Progress{Pipeline: pipeline, Object: object, Index: index, Total: total,
					Bytes: bytes.Load(), Rows: rows.Load(), Elapsed: r.now().Sub(started)})
			}
		}
	}()
	return func() { close(stop); <-finished }
}

// utf8Watch is an io.Writer that remembers whether every byte written
// to it so far is UTF-8: a character split between two writes is kept
// until the next one.
type utf8Watch struct {
	tail    []byte // the start of a character the last write ended in
	invalid bool
}

// Write implements io.Writer; it never fails.
func (u *utf8Watch) Write(p []byte) (int, error) {
	if u.invalid {
		return len(p), nil
	}
	b := p
	if len(u.tail) > 0 {
		b = append(u.tail, p...)
		u.tail = u.tail[:0]
	}
	// Hold back an incomplete character at the end (at most 3 bytes).
	cut := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-3; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(b[:cut]) {
		u.invalid = true
		return len(p), nil
	}
	u.tail = append(u.tail[:0], b[cut:]...)
	return len(p), nil
}

// valid reports whether everything written was UTF-8, the end included.
func (u *utf8Watch) valid() bool { return !u.invalid && len(u.tail) == 0 }
