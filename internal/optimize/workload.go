package optimize

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// SourceImport is the source of the records imported from the
// warehouse's own history of queries.
const SourceImport = "import"

// Record is one query run against the warehouse, as the history keeps
// it.
type Record struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// Source is who ran it: "shp" (a load, a validation, a repair),
	// "user" (shp query, the API) or "import" (the warehouse's own
	// history of other users' queries).
	Source   string `json:"source"`
	Pipeline string `json:"pipeline,omitempty"`
	RunID    string `json:"run_id,omitempty"`
	// Text is the query as it ran (replayed by trials).
	Text        string        `json:"text"`
	Fingerprint string        `json:"fingerprint"`
	Duration    time.Duration `json:"duration_ns"`
	Rows        int64         `json:"rows"`
	// BytesScanned is what the engine read or processed, when it says
	// (0 otherwise); BytesBilled what it billed (BigQuery); RowsScanned
	// the rows its scans read (DuckDB's profiler).
	BytesScanned int64 `json:"bytes_scanned"`
	BytesBilled  int64 `json:"bytes_billed,omitempty"`
	RowsScanned  int64 `json:"rows_scanned,omitempty"`
	// Calls counts the runs an imported record stands for (1 for one
	// run); Duration and BytesScanned are their totals.
	Calls int64  `json:"calls"`
	Error string `json:"error,omitempty"`
}

// Column is a table's column and its engine type.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// IntDigits is, for a wide decimal (a DECIMAL of more than 18
	// digits, a BIGNUMERIC), the most digits the integer part of a value has, as the
	// engine measured them (nil when not measured).
	IntDigits *int `json:"int_digits,omitempty"`
}

// Table is what the rules know of a table: its size, columns and layout.
type Table struct {
	Name    string   `json:"name"`
	Rows    int64    `json:"rows"`
	Bytes   int64    `json:"bytes"`
	Columns []Column `json:"columns"`
	Layout  Layout   `json:"layout"`
}

// Column finds a column by its name ignoring case.
func (t Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return Column{}, false
}

// ColumnType returns a column's type ("" when the table has no such
// column).
func (t Table) ColumnType(name string) string {
	c, _ := t.Column(name)
	return c.Type
}

// Layout is how a table is laid out: partitioned, clustered (BigQuery),
// sorted (DuckDB), indexed (PostgreSQL).
type Layout struct {
	PartitionBy string     `json:"partition_by,omitempty"`
	ClusterBy   []string   `json:"cluster_by,omitempty"`
	SortedBy    []string   `json:"sorted_by,omitempty"`
	Indexes     [][]string `json:"indexes,omitempty"`
}

// Usage sums up how the recorded queries read one table.
type Usage struct {
	Table string `json:"table"`
	// Queries counts the runs of queries that read it (an imported
	// record counts its calls); Shapes counts their fingerprints.
	Queries int64         `json:"queries"`
	Shapes  int           `json:"shapes"`
	Time    time.Duration `json:"time_ns"`
	// RowsScanned, BytesScanned and BytesBilled sum what the engine said
	// the queries read (those it measured).
	RowsScanned  int64 `json:"rows_scanned,omitempty"`
	BytesScanned int64 `json:"bytes_scanned,omitempty"`
	BytesBilled  int64 `json:"bytes_billed,omitempty"`
	// By column: how many query runs filter it by range or by equality,
	// group by it, join on it, or name it at all.
	Range    map[string]int64 `json:"range"`
	Equality map[string]int64 `json:"equality"`
	GroupBy  map[string]int64 `json:"group_by"`
	Join     map[string]int64 `json:"join"`
	Named    map[string]int64 `json:"named"`
	// Filtered counts the query runs with any filter on the table.
	Filtered int64 `json:"filtered"`
	// SelectStar counts the query runs that select every column.
	SelectStar int64 `json:"select_star"`
	// Top are the shapes that took the most time, slowest first, with a
	// record of each (for trials to replay).
	Top []Shape `json:"top"`
}

// Shape is one fingerprint's queries on a table.
type Shape struct {
	Fingerprint string        `json:"fingerprint"`
	Normalized  string        `json:"normalized"`
	Calls       int64         `json:"calls"`
	Time        time.Duration `json:"time_ns"`
	// RowsScanned and BytesScanned sum what its runs read.
	RowsScanned  int64  `json:"rows_scanned,omitempty"`
	BytesScanned int64  `json:"bytes_scanned,omitempty"`
	Example      Record `json:"example"`
	Query        Query  `json:"query"`
}

// NamedFold counts the query runs that name a column, its name matched
// ignoring case.
func (u Usage) NamedFold(col string) int64 {
	var n int64
	for name, k := range u.Named {
		if strings.EqualFold(name, col) {
			n += k
		}
	}
	return n
}

// Share is the part of the table's query runs for which n holds.
func (u Usage) Share(n int64) float64 {
	if u.Queries == 0 {
		return 0
	}
	return float64(n) / float64(u.Queries)
}

// topShapes is how many shapes Usage.Top keeps.
const topShapes = 20

// Summarize reads the records (failed ones left out) and sums up how
// they read each table, by table name.
func Summarize(records []Record) map[string]*Usage {
	out := map[string]*Usage{}
	shapes := map[string]map[string]*Shape{}
	for _, r := range records {
		if r.Error != "" {
			continue
		}
		q := Analyze(r.Text)
		calls := max(r.Calls, 1)
		for _, table := range q.Tables {
			u := out[table]
			if u == nil {
				u = &Usage{Table: table, Range: map[string]int64{}, Equality: map[string]int64{}, GroupBy: map[string]int64{},
					Join: map[string]int64{}, Named: map[string]int64{}}
				out[table] = u
				shapes[table] = map[string]*Shape{}
			}
			u.Queries += calls
			u.Time += r.Duration
			u.RowsScanned += r.RowsScanned
			u.BytesScanned += r.BytesScanned
			u.BytesBilled += r.BytesBilled
			if q.SelectStar {
				u.SelectStar += calls
			}
			count := func(m map[string]int64, refs []ColumnRef) {
				seen := map[string]bool{}
				for _, c := range refs {
					if c.Table == table && !seen[c.Column] {
						seen[c.Column] = true
						m[c.Column] += calls
					}
				}
			}
			count(u.GroupBy, q.GroupBy)
			count(u.Join, q.Joins)
			count(u.Named, q.Columns)
			var ranges, equals []ColumnRef
			for _, f := range q.Filters {
				if f.Kind == Range {
					ranges = append(ranges, f.ColumnRef)
				} else {
					equals = append(equals, f.ColumnRef)
				}
			}
			count(u.Range, ranges)
			count(u.Equality, equals)
			for _, f := range q.Filters {
				if f.Table == table {
					u.Filtered += calls
					break
				}
			}
			s := shapes[table][q.Fingerprint]
			if s == nil {
				s = &Shape{Fingerprint: q.Fingerprint, Normalized: q.Normalized, Example: r, Query: q}
				shapes[table][q.Fingerprint] = s
			} else if s.Example.Source == SourceImport && r.Source != SourceImport {
				s.Example = r // a query that ran with its values, to replay
			}
			s.Calls += calls
			s.Time += r.Duration
			s.RowsScanned += r.RowsScanned
			s.BytesScanned += r.BytesScanned
		}
	}
	for table, u := range out {
		u.Shapes = len(shapes[table])
		for _, s := range shapes[table] {
			u.Top = append(u.Top, *s)
		}
		slices.SortFunc(u.Top, func(a, b Shape) int {
			return cmp.Or(cmp.Compare(b.Time, a.Time), cmp.Compare(b.Calls, a.Calls), strings.Compare(a.Fingerprint, b.Fingerprint))
		})
		u.Top = u.Top[:min(len(u.Top), topShapes)]
	}
	return out
}

// ranked lists the columns of m by count, most first (then by name), with
// a share of the table's queries of at least minShare.
func (u Usage) ranked(m map[string]int64, minShare float64) []string {
	var cols []string
	for c, n := range m {
		if u.Share(n) >= minShare {
			cols = append(cols, c)
		}
	}
	slices.SortFunc(cols, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b)) })
	return cols
}
