// Package format detects input file formats and provides streaming scanners
// that account for every input record: a CSV record counter that agrees with
// DuckDB's CSV reader, a JSON normaliser that tags every record with its line
// number, and a Parquet row counter that reads only the footer.
package format

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// Format is the record format of an input file.
type Format string

// The supported formats.
const (
	CSV     Format = "csv"     // comma (or otherwise) separated values
	JSONL   Format = "jsonl"   // JSON Lines: one JSON object per line
	JSON    Format = "json"    // a top-level JSON array of objects
	Parquet Format = "parquet" // Apache Parquet
	// Arrow is an Apache Arrow IPC stream: typed batches, written only by
	// shp's own extractors (see source.BatchExtractor), never a source's.
	// Its last column, LineField, numbers its rows from 1.
	Arrow Format = "arrow"
)

// Compression is the compression wrapped around an input file.
type Compression string

// The supported compressions.
const (
	None Compression = "none" // not compressed
	Gzip Compression = "gzip" // gzip, possibly several concatenated members
	// Auto asks Decompress to sniff the gzip magic number.
	Auto Compression = "auto"
)

// Detect derives the format and compression of an object from its key's
// extension: .csv, .jsonl, .ndjson, .json and .parquet, each optionally
// followed by .gz (except .parquet, which compresses internally). Matching
// ignores case. An unknown extension is an error naming the key.
func Detect(key string) (Format, Compression, error) {
	name := strings.ToLower(path.Base(key))
	c := None
	if trimmed, ok := strings.CutSuffix(name, ".gz"); ok {
		c, name = Gzip, trimmed
	}
	switch path.Ext(name) {
	case ".csv":
		return CSV, c, nil
	case ".jsonl", ".ndjson":
		return JSONL, c, nil
	case ".json":
		return JSON, c, nil
	case ".parquet":
		if c == Gzip {
			return "", "", fmt.Errorf("object %q: gzip-wrapped Parquet is not supported; Parquet compresses its pages itself", key)
		}
		return Parquet, None, nil
	}
	return "", "", fmt.Errorf("object %q: cannot tell the format from the extension (want .csv, .jsonl, .ndjson, .json or .parquet, optionally + .gz)", key)
}

// gzipMagic starts every gzip member (RFC 1952).
var gzipMagic = [2]byte{0x1f, 0x8b}

// SniffCompression peeks at the first bytes of br, without consuming them,
// and reports Gzip if they are the gzip magic number, else None. An input
// shorter than the magic number is None.
func SniffCompression(br *bufio.Reader) (Compression, error) {
	b, err := br.Peek(len(gzipMagic))
	if len(b) == len(gzipMagic) && b[0] == gzipMagic[0] && b[1] == gzipMagic[1] {
		return Gzip, nil
	}
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("sniff compression: %w", err)
	}
	return None, nil
}

// Decompress returns a reader of r's decompressed bytes. With Auto it sniffs
// the gzip magic number first. Closing the result does not close r.
func Decompress(r io.Reader, c Compression) (io.ReadCloser, error) {
	switch c {
	case None, "":
		return io.NopCloser(r), nil
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip header: %w", err)
		}
		return zr, nil
	case Auto:
		br, ok := r.(*bufio.Reader)
		if !ok {
			br = bufio.NewReader(r)
		}
		sniffed, err := SniffCompression(br)
		if err != nil {
			return nil, err
		}
		return Decompress(br, sniffed)
	}
	return nil, fmt.Errorf("unknown compression %q (want none, gzip or auto)", c)
}

// OpenFile opens a local file and decompresses it; closing the result
// closes the file.
func OpenFile(path string, c Compression) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := Decompress(bufio.NewReader(f), c)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return fileReader{r, f}, nil
}

type fileReader struct {
	io.ReadCloser
	f *os.File
}

func (r fileReader) Close() error {
	err := r.ReadCloser.Close()
	if ferr := r.f.Close(); err == nil {
		err = ferr
	}
	return err
}
