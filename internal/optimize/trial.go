package optimize

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// RewriteTable writes a query with every reference to a table (by its
// name, alone or as the last part of a qualified name) replaced by
// another name, written as given; the rest of the text is kept as it is.
// Column references qualified by the table's name follow it.
func RewriteTable(sql, table, to string) string {
	toks := tokenize(sql)
	var b strings.Builder
	last := 0
	for i, t := range toks {
		if !t.isIdent() || t.name() != table && !strings.EqualFold(t.text, table) || t.kind == tokQuoted && t.text != table {
			continue
		}
		if t.pos < last {
			continue // part of a name already rewritten
		}
		// A name after a dot is a column, or the table's last part; a
		// table's qualifiers go with it.
		start := t.pos
		for j := i; j >= 2 && toks[j-1].text == "." && toks[j-2].isIdent() && toks[j-2].pos >= last; j -= 2 {
			start = toks[j-2].pos
		}
		// table.column: the table part only.
		if i > 0 && toks[i-1].text == "." && start == t.pos {
			continue
		}
		// A column of the same name: followed by an operator or a comma
		// in a SELECT list would be ambiguous; a name is a table where a
		// table may stand (after FROM, JOIN, INTO, UPDATE, a comma in a
		// FROM list) or as a qualifier (followed by a dot).
		prev := ""
		for j := i - 1; j >= 0; j-- {
			if toks[j].text == "." || toks[j].isIdent() && j < i && toks[j+1].text == "." {
				continue
			}
			prev = toks[j].upper()
			break
		}
		qualifier := i+1 < len(toks) && toks[i+1].text == "."
		if !qualifier && prev != "FROM" && prev != "JOIN" && prev != "INTO" && prev != "UPDATE" && prev != "," && prev != "TABLE" {
			continue
		}
		b.WriteString(sql[last:start])
		b.WriteString(to)
		last = t.end
	}
	b.WriteString(sql[last:])
	return b.String()
}

// ErrUnsupported: the warehouse does not make this kind of change (yet);
// the recommendation is recorded, declined with the reason.
var ErrUnsupported = errors.New("not a change this warehouse makes")

// ErrChangedSince: a revert is refused because the table changed since
// the change was applied (rows a commit added, a column a repair widened):
// restoring it as it was would lose them.
var ErrChangedSince = errors.New("the table changed since the change was applied")

// ErrUntried: the warehouse makes the change but does not try it on a
// copy (BigQuery's clustering, which a trial would bill twice over and a
// dry run cannot measure); the recommendation is recorded proposed,
// untried, with the reason.
var ErrUntried = errors.New("not tried on a copy")

// Engine is what the optimisation layer needs of a warehouse: a table's
// size, columns and layout; a change tried on a copy with queries
// replayed on both; a change applied, and undone.
type Engine interface {
	// Describe reads a table: rows, bytes, columns and layout.
	Describe(ctx context.Context, table string) (Table, error)
	// Trial copies the table with the change, runs each query on the
	// table and on the copy (rewritten with RewriteTable), and drops the
	// copy.
	Trial(ctx context.Context, table string, change Change, queries []string) ([]Timing, error)
	// Apply makes the change and returns what Revert needs to undo it.
	Apply(ctx context.Context, table string, change Change) (undo string, err error)
	// Revert undoes an applied change.
	Revert(ctx context.Context, table, undo string) error
}

// Timing is one query replayed before and after a change.
type Timing struct {
	Query  string        `json:"query"`
	Before time.Duration `json:"before_ns"`
	After  time.Duration `json:"after_ns"`
	// BytesBefore and BytesAfter are the bytes the query read on each
	// layout, RowsScannedBefore and RowsScannedAfter the rows its scans
	// read (what the engine's profiler or plan says; 0 when it does not).
	BytesBefore       int64  `json:"bytes_before,omitempty"`
	BytesAfter        int64  `json:"bytes_after,omitempty"`
	RowsScannedBefore int64  `json:"rows_scanned_before,omitempty"`
	RowsScannedAfter  int64  `json:"rows_scanned_after,omitempty"`
	Rows              int64  `json:"rows"`
	SameResult        bool   `json:"same_result"`
	ErrorAfter        string `json:"error_after,omitempty"`
	ErrorBefore       string `json:"error_before,omitempty"`
}

// Verdict is what a trial shows.
type Verdict struct {
	Timings []Timing `json:"timings"`
	// Speedup is the replayed queries' time before over after.
	Speedup float64 `json:"speedup"`
	// Slowest is the worst ratio of after over before of one query; Best
	// the best ratio of before over after.
	Slowest float64 `json:"slowest"`
	Best    float64 `json:"best"`
	// ScannedBefore and ScannedAfter sum the rows the replayed queries'
	// scans read on each layout; BytesBefore and BytesAfter their bytes
	// (where the engine measures them).
	ScannedBefore int64 `json:"rows_scanned_before,omitempty"`
	ScannedAfter  int64 `json:"rows_scanned_after,omitempty"`
	BytesBefore   int64 `json:"bytes_before,omitempty"`
	BytesAfter    int64 `json:"bytes_after,omitempty"`
	// Unchanged counts the queries that read the same pages and rows on
	// both layouts: their times do not count towards Slowest.
	Unchanged int `json:"unchanged,omitempty"`
	// Accept: faster by at least the thresholds' MinSpeedup in all, no
	// query slower by more than MaxSlowdown, every result the same.
	Accept bool   `json:"accept"`
	Why    string `json:"why"`
}

// Thresholds are what a trial must show for a change to be proposed.
type Thresholds struct {
	// MinSpeedup is the gain a change must show on the replayed queries
	// in all.
	MinSpeedup float64
	// MaxSlowdown is how much slower one query may get.
	MaxSlowdown float64
	// MinQueryGain: a change that makes one query this much faster and
	// none slower than MaxSlowdown is worth it, whatever the total.
	MinQueryGain float64
}

// DefaultThresholds: 1.2x in all or 2x on one query, none more than 10%
// slower.
var DefaultThresholds = Thresholds{MinSpeedup: 1.2, MaxSlowdown: 1.1, MinQueryGain: 2}

// Judge reads a trial's timings against the thresholds (the defaults
// when th is zero).
func Judge(ts []Timing, th Thresholds) Verdict {
	if th == (Thresholds{}) {
		th = DefaultThresholds
	}
	v := Verdict{Timings: ts}
	var before, after time.Duration
	for _, t := range ts {
		if t.ErrorBefore != "" {
			continue // a query that failed before says nothing
		}
		if t.ErrorAfter != "" {
			v.Why = fmt.Sprintf("a replayed query failed after the change (%s): %s", clipText(t.ErrorAfter, 120), clipText(t.Query, 120))
			return v
		}
		if !t.SameResult {
			v.Why = fmt.Sprintf("a replayed query gave another result after the change: %s", clipText(t.Query, 120))
			return v
		}
		before += t.Before
		if t.BytesBefore > 0 && t.BytesBefore == t.BytesAfter && t.RowsScannedBefore == t.RowsScannedAfter {
			// It read the very same pages and rows on both layouts: the
			// change did not touch it, and its difference in time is the
			// machine's, counted as none. (DuckDB measures no bytes from
			// memory: there a reordered table's compression can slow a
			// query that reads as many rows, so its times count.)
			v.Unchanged++
			after += t.Before
		} else {
			after += t.After
			if t.Before > 0 && t.After > 0 {
				v.Slowest = max(v.Slowest, float64(t.After)/float64(t.Before))
				v.Best = max(v.Best, float64(t.Before)/float64(t.After))
			}
		}
		v.ScannedBefore += t.RowsScannedBefore
		v.ScannedAfter += t.RowsScannedAfter
		v.BytesBefore += t.BytesBefore
		v.BytesAfter += t.BytesAfter
	}
	if before == 0 || after == 0 {
		v.Why = "no replayed query ran"
		return v
	}
	v.Speedup = float64(before) / float64(after)
	switch {
	case v.Slowest > th.MaxSlowdown:
		v.Why = fmt.Sprintf("one replayed query got %.2fx slower (at most %.2fx allowed); all ran %.2fx as fast", v.Slowest, th.MaxSlowdown, v.Speedup)
	case v.Speedup >= th.MinSpeedup:
		v.Accept = true
		v.Why = fmt.Sprintf("the replayed queries ran %.1fx as fast in all; the slowest one %.2fx its time", v.Speedup, v.Slowest)
	case v.Best >= th.MinQueryGain:
		// Some queries much faster, none slower: worth it, though the
		// others' time hides the gain in the total.
		v.Accept = true
		v.Why = fmt.Sprintf("the queries it serves ran up to %.1fx as fast, none slower than %.2fx its time (all %.2fx as fast)", v.Best, v.Slowest, v.Speedup)
	default:
		v.Why = fmt.Sprintf("the replayed queries ran %.2fx as fast (the best one %.2fx): below the %.2fx a change must gain", v.Speedup, v.Best, th.MinSpeedup)
	}
	if v.Unchanged > 0 {
		v.Why += fmt.Sprintf(" (%d that read the same pages and rows on both left out of the slowest)", v.Unchanged)
	}
	return v
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Result is what a replayed query returned, as a trial compares it: its
// rows, and a sum of their hashes (the order of the rows does not count).
type Result struct {
	Rows int64
	Sum  uint64
}

// Add counts one row of values. Floating-point values count to 9
// significant digits: a sum over rows in another order differs in its
// last bits, and is the same result.
func (r *Result) Add(vals []any) {
	h := fnv.New64a()
	for _, v := range vals {
		switch f := v.(type) {
		case float64:
			fmt.Fprintf(h, "%.9g\x00", f)
		case float32:
			fmt.Fprintf(h, "%.9g\x00", f)
		default:
			fmt.Fprintf(h, "%v\x00", v)
		}
	}
	r.Sum += h.Sum64()
	r.Rows++
}

// Replay runs a query n times with run: the fastest run counts, with the
// last run's result.
func Replay(n int, run func() (Result, error)) (time.Duration, Result, error) {
	var best time.Duration
	var res Result
	for i := range max(n, 1) {
		start := time.Now()
		r, err := run()
		if err != nil {
			return 0, Result{}, err
		}
		if d := time.Since(start); i == 0 || d < best {
			best = d
		}
		res = r
	}
	return best, res, nil
}

// Compare times each query before a change and after it (each a Replay)
// and says whether the results are the same.
func Compare(queries []string, before, after func(q string) (time.Duration, Result, error)) []Timing {
	var out []Timing
	for _, q := range queries {
		t := Timing{Query: q}
		b, rb, err := before(q)
		if err != nil {
			t.ErrorBefore = err.Error()
			out = append(out, t)
			continue
		}
		a, ra, err := after(q)
		if err != nil {
			t.ErrorAfter = err.Error()
		}
		t.Before, t.After, t.Rows, t.SameResult = b, a, rb.Rows, err == nil && ra == rb
		out = append(out, t)
	}
	return out
}

// Scanned is what one run of a query read: the rows its scans read and
// the bytes, as the engine measures them.
type Scanned struct {
	Rows, Bytes int64
}

// Measure runs a query once more to read what it scans (outside the
// timed runs: measuring has its own cost).
type Measure func(q string) (Scanned, error)

// CompareCopies replays each query on two copies of a table, base and
// changed (their names as the query may write them), each query
// rewritten for each copy and run n times with run (Replay); then, when
// measure is not nil, measures what each query that ran on both read on
// each.
func CompareCopies(queries []string, table, base, changed string, n int, run func(q string) (Result, error), measure Measure) []Timing {
	on := func(name string) func(string) (time.Duration, Result, error) {
		return func(q string) (time.Duration, Result, error) {
			q = RewriteTable(q, table, name)
			return Replay(n, func() (Result, error) { return run(q) })
		}
	}
	ts := Compare(queries, on(base), on(changed))
	if measure == nil {
		return ts
	}
	for i, t := range ts {
		if t.ErrorBefore != "" || t.ErrorAfter != "" {
			continue
		}
		b, errB := measure(RewriteTable(t.Query, table, base))
		a, errA := measure(RewriteTable(t.Query, table, changed))
		if errB == nil && errA == nil {
			ts[i].RowsScannedBefore, ts[i].RowsScannedAfter = b.Rows, a.Rows
			ts[i].BytesBefore, ts[i].BytesAfter = b.Bytes, a.Bytes
		}
	}
	return ts
}
