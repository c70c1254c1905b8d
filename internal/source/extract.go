package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/schema"
)

// An Extractor is a source that produces rows rather than files: a table
// or query of a database, or an HTTP API. It writes what it extracts as
// files (CSV or JSON Lines) into chunks that the pipeline stages and loads
// exactly like the files of an object source, so quarantine, validation
// and row accounting apply alike.
//
// Adding a source type is writing an Extractor and registering its
// factory:
//
//	func init() { source.RegisterExtractor("mytype", newMySource) }
//
//	func newMySource(ctx context.Context, s source.Spec) (source.Extractor, error) {
//		var cfg myConfig
//		if err := source.Decode(s, &cfg); err != nil { return nil, err }
//		return &mySource{cfg: cfg}, nil
//	}
//
// and declaring the keys it decodes, so that sources.yaml is checked
// against them and the reference lists them (see package spec):
//
//	func init() {
//		spec.Register(spec.Spec{Kind: spec.KindSource, Name: "mytype", Extracting: true,
//			Fields: []spec.Field{{Name: "url", Type: spec.String, Required: true, Doc: "..."}}})
//	}
//
// Extract streams: it writes each row to the chunk as it reads it, and
// never holds a whole response or table in memory.
type Extractor interface {
	// Format is the format of the chunks Extract writes.
	Format() format.Format
	// Discover returns the columns the extraction yields.
	Discover(ctx context.Context) (schema.Schema, error)
	// Extract writes the rows after req.Since (all rows when it is "")
	// into chunks from sink, and returns the new watermark.
	Extract(ctx context.Context, req ExtractRequest, sink Sink) (*Extraction, error)
	// Close releases the source's connections.
	Close() error
}

// BatchExtractor is an extractor that can write typed batches (Arrow IPC
// streams, format.Arrow) instead of text, for a warehouse that scans
// them without parsing. UseBatches switches it, when its source allows,
// before Extract; Format then says which it writes.
type BatchExtractor interface {
	UseBatches(ctx context.Context) (bool, error)
}

// ExtractRequest says what to extract.
type ExtractRequest struct {
	// Since is the watermark of the last committed extraction, "" for none.
	Since string
	// Full re-extracts everything whatever Since says.
	Full bool
	// Schema is the types the rows will be loaded as (what Discover
	// reported, or the schema the user declared); nil when unknown. An
	// extractor writes each value in the notation of its column's type
	// here, and a value that type cannot hold exactly (a decimal with
	// more decimals than its NUMERIC) so that the load rejects it rather
	// than rounding it.
	Schema schema.Schema
}

// Extraction is what an extraction did, for the metadata store and lineage.
type Extraction struct {
	// Watermark is the high-water mark after this extraction: the largest
	// watermark value extracted, or Since when nothing new was found.
	Watermark string
	// Query is the query or request made, without secrets.
	Query string
	// Rows and Bytes extracted; Attempts made (retries included).
	Rows, Bytes int64
	Attempts    int
	// Adjustments say how the extraction changed itself to get through,
	// e.g. a smaller chunk after a statement timeout.
	Adjustments []string
}

// RetryLog is a source that keeps its retried failures (with their
// errors) for the self-healing engine's record.
type RetryLog interface {
	// TakeRetries returns the failures retried since the last call.
	TakeRetries() []resilience.Retry
}

// ErrResponseShape marks a response whose shape is not the one the
// source's settings read: an API whose envelope changed (no value at
// records_path), an HTML page where JSON was expected, records that are
// not objects. Retrying cannot fix it: the connectors wrap it together
// with resilience.ErrPermanent, so it fails on the first attempt, and the
// self-healing engine diagnoses it as a configuration change.
var ErrResponseShape = errors.New("the response shape changed")

// Sink hands out chunk files. A chunk is staged and loaded as one object.
type Sink interface {
	// Chunk opens a new chunk; its rows are counted by the extractor.
	Chunk(ctx context.Context) (Chunk, error)
}

// Chunk is one file being written. Commit keeps it with its row count;
// Discard throws it away, so that a retried chunk is written afresh and
// no row is counted twice.
type Chunk interface {
	io.Writer
	Commit(rows int64) error
	Discard()
}

// ExtractorFactory opens an Extractor for a Spec of its type.
type ExtractorFactory func(ctx context.Context, s Spec) (Extractor, error)

var extractors = newTypeRegistry[Extractor]("RegisterExtractor")

// RegisterExtractor makes an extracting source type available to
// NewExtractor. It panics if f is nil or typ is already registered.
func RegisterExtractor(typ string, f ExtractorFactory) { extractors.register(typ, f) }

// ExtractorTypes returns the registered extracting source types, sorted.
func ExtractorTypes() []string { return extractors.types() }

// IsExtractor reports whether typ is a registered extracting source type.
func IsExtractor(typ string) bool { return extractors.lookup(typ) != nil }

// NewExtractor opens the extracting source s. Its errors, and the errors,
// queries and retries of the extractor it returns, have s's secrets masked
// (Redactor).
func NewExtractor(ctx context.Context, s Spec) (Extractor, error) {
	f := extractors.lookup(s.Type)
	if f == nil {
		return nil, fmt.Errorf("source %q: type %q does not extract (extracting types: %s)", s.Name, s.Type, extractors.joinedTypes())
	}
	red := Redactor(s)
	ex, err := f(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", s.Name, red.Error(err))
	}
	return &redactedExtractor{Extractor: ex, red: red}, nil
}

// Decode reads a source's Settings into dst, a pointer to a struct with
// json tags. A key the struct does not know, or a value of the wrong type,
// is an error naming the source and the key.
func Decode(s Spec, dst any) error {
	raw, err := json.Marshal(s.Settings)
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return fmt.Errorf("%s must be %s, got a %s", te.Field, article(te.Type.Kind().String()), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return fmt.Errorf("unknown key %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return err
	}
	return nil
}

func article(kind string) string {
	switch kind {
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	case "slice":
		return "a list"
	case "map", "struct":
		return "a mapping"
	case "bool":
		return "true or false"
	}
	return "a " + kind
}

// Duration is a duration in settings: "30s", "1h30m", or a number of
// seconds.
type Duration time.Duration

// UnmarshalJSON reads "1h30m" or seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		*d = Duration(time.Duration(x * float64(time.Second)))
		return nil
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("duration %q: use a number and a unit, such as 30s, 5m or 1h", x)
		}
		*d = Duration(p)
		return nil
	}
	return fmt.Errorf("duration must be a string such as 30s, got %s", b)
}

// Secret reads a secret from the environment variable env or the file
// path (trailing newline removed); "" when neither is set. The value never
// appears in errors.
func Secret(what, env, path string) (string, error) {
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("%s: environment variable %s is not set", what, env)
		}
		return v, nil
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s: read secret file: %w", what, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}

// Retry configures how a connector retries transient failures.
type Retry struct {
	// Attempts in all (default 5).
	Attempts int `json:"attempts"`
	// InitialInterval is the first wait (default 200ms); each wait doubles
	// up to MaxInterval (default 30s), with jitter.
	InitialInterval Duration `json:"initial_interval"`
	MaxInterval     Duration `json:"max_interval"`
	// BreakerFailures consecutive failures open the source's circuit
	// breaker for BreakerCooldown (defaults 5 and 30s; -1 disables it).
	BreakerFailures int      `json:"breaker_failures"`
	BreakerCooldown Duration `json:"breaker_cooldown"`
}

// Policy is the resilience policy of these settings, with a rate limit in
// requests per second (0 for none) and a timeout per attempt (0 for none).
func (r Retry) Policy(ratePerSecond float64, timeout time.Duration) (resilience.Policy, error) {
	if r.Attempts < 0 || ratePerSecond < 0 || timeout < 0 || r.InitialInterval < 0 || r.MaxInterval < 0 {
		return resilience.Policy{}, fmt.Errorf("retry attempts, intervals, rate_limit and timeout must not be negative")
	}
	p := resilience.Policy{
		MaxAttempts: r.Attempts, BaseDelay: time.Duration(r.InitialInterval), MaxDelay: time.Duration(r.MaxInterval),
		Timeout: timeout, RatePerSecond: ratePerSecond, Burst: 1, BreakerCooldown: time.Duration(r.BreakerCooldown),
	}
	switch {
	case r.BreakerFailures > 0:
		p.BreakerFailures = uint32(r.BreakerFailures)
	case r.BreakerFailures == 0:
		p.BreakerFailures = 5
	}
	return p, nil
}
