package sqlplan

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// The steps of staging and committing that do not depend on the engine.

// StageFormat calls the stager of format f: csv, json (JSON lines or a
// JSON document) or parquet.
func StageFormat(f format.Format, csv, json, parquet func() error) error {
	switch f {
	case format.CSV:
		return csv()
	case format.JSONL, format.JSON:
		return json()
	case format.Parquet:
		return parquet()
	}
	return fmt.Errorf("unsupported format %q", f)
}

// ResolveCSVDialect detects the delimiter and quote that csv leaves
// empty, and the header, from a sample of the file open opens, and sets
// them in csv. known says whether a name is a declared column (nil when
// no schema is declared); with both set and nothing to check the header
// against, the file is not read. It returns the notes of the dialect,
// csv's own first, for the object's drift.
func ResolveCSVDialect(csv *warehouse.CSVOptions, known func(name string) bool, open func() (io.ReadCloser, error)) ([]string, error) {
	notes := append([]string(nil), csv.Notes...)
	delim, quote := csv.Delimiter, csv.Quote
	if len(delim) > 1 || len(quote) > 1 {
		return notes, nil
	}
	if delim != "" && quote != "" && (known == nil || csv.NoHeader) {
		return notes, nil
	}
	r, err := open()
	if err != nil {
		return notes, err
	}
	defer r.Close()
	sample, truncated, _ := format.PeekSample(r)
	byteOf := func(v string) byte {
		if v == "" {
			return 0
		}
		return v[0]
	}
	c := format.ResolveCSVDialect(sample, truncated, byteOf(delim), byteOf(quote), !csv.NoHeader, known)
	csv.Delimiter, csv.Quote = string(c.Delimiter), string(c.Quote)
	return append(notes, c.Notes...), nil
}

// CheckMode refuses a commit whose write mode is unknown, or a merge
// without key columns.
func CheckMode(spec warehouse.CommitSpec) error {
	switch spec.Mode {
	case warehouse.ModeAppend, warehouse.ModeReplace:
		return nil
	case warehouse.ModeMerge:
		if len(spec.Key) == 0 {
			return errors.New("merge needs key columns")
		}
		return nil
	}
	return fmt.Errorf("unknown write mode %q", spec.Mode)
}

// StagingTables are the tables staging an object leaves: its rows and
// its quarantined lines.
func StagingTables(o *warehouse.Staged) []string {
	return []string{o.Table, o.Table + "_q"}
}

// Clear deletes what a commit replaces before it writes, through exec
// (a statement with d's placeholders and its values): for a full refresh
// (spec.Rebuild) the target's rows and the pipeline's quarantined rows
// and ledger entries; for a replace that writes objects, the target's
// rows. target, qtable and ledger are quoted references.
func Clear(d quality.Dialect, exec func(sql string, args ...any) error, spec warehouse.CommitSpec, target, qtable, ledger string) error {
	switch {
	case spec.Rebuild:
		for _, f := range []Frag{
			{SQL: "DELETE FROM " + target},
			{SQL: "DELETE FROM " + qtable + " WHERE pipeline = ?", Args: []any{spec.Pipeline}},
			{SQL: "DELETE FROM " + ledger + " WHERE pipeline = ?", Args: []any{spec.Pipeline}},
		} {
			if err := exec(Bind(d, f.SQL), f.Args...); err != nil {
				return fmt.Errorf("clear for full refresh: %w", err)
			}
		}
	case spec.Mode == warehouse.ModeReplace && len(spec.Objects) > 0:
		if err := exec("DELETE FROM " + target); err != nil {
			return fmt.Errorf("replace: %w", err)
		}
	}
	return nil
}

// CSVDefaults are csv's delimiter, quote and null values, with the
// defaults where it leaves them empty: a comma, a double quote, and the
// empty string as the one null value.
func CSVDefaults(csv warehouse.CSVOptions) (delim, quote string, nulls []string) {
	delim, quote, nulls = csv.Delimiter, csv.Quote, csv.NullValues
	if delim == "" {
		delim = ","
	}
	if quote == "" {
		quote = `"`
	}
	if len(nulls) == 0 {
		nulls = []string{""}
	}
	return delim, quote, nulls
}

// HeaderlessColumns names the n columns of a CSV file without a header:
// after the declared schema's fields in order, then column<i> (from 1).
func HeaderlessColumns(n int, declared schema.Schema) format.CSVColumns {
	names := make([]string, n)
	for i := range names {
		if i < len(declared) {
			names[i] = declared[i].Name
		} else {
			names[i] = fmt.Sprintf("column%d", i+1)
		}
	}
	return format.CSVColumns{Names: names, Skip: make([]bool, n)}
}

// ValueSample gathers a column's distinct non-empty values, trimmed, in
// the order they come, up to a limit: the values of a file that an
// Inspector's Overlap looks for in a target.
type ValueSample struct {
	// Values are the values gathered, each once.
	Values []string
	limit  int
	seen   map[string]bool
}

// NewValueSample gathers up to limit values.
func NewValueSample(limit int) *ValueSample {
	return &ValueSample{limit: limit, seen: map[string]bool{}}
}

// Add gathers v, trimmed, unless it is empty or gathered already (a copy:
// v may share a reader's buffer), and says whether more are wanted.
func (s *ValueSample) Add(v string) bool {
	v = strings.TrimSpace(v)
	if v != "" && !s.seen[v] {
		s.seen[v] = true
		s.Values = append(s.Values, strings.Clone(v))
	}
	return len(s.Values) < s.limit
}

// DateLayouts are the textual date and time layouts (strptime) every
// engine reads into DATE, DATETIME and TIMESTAMP columns beyond ISO 8601,
// in PostgreSQL's default MDY order (its DateStyle reads "1/2/2016" as
// January 2nd). Those with a time of day ('%H') read into a DATE only
// at midnight.
//
// Layouts whose day and month can be swapped ("03/04/2026") are not among
// them: such a value is set aside, and the self-healing engine reads the
// column with one layout only when the whole batch tells which it is.
var DateLayouts = []string{"%b %d %Y %H:%M:%S", "%b %d %Y %H:%M", "%b %d %Y", "%B %d %Y", "%B %d, %Y", "%b %d, %Y",
	"%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%d %b %Y", "%d %B %Y"}
