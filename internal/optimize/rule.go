package optimize

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Input is what a rule reads: one table, how the recorded queries read
// it, and the warehouse it lives in.
type Input struct {
	Table Table
	Usage Usage
	// Warehouse is the engine: duckdb, postgres or bigquery.
	Warehouse string
	Options   Options
}

// Options are the rules' thresholds.
type Options struct {
	// MinRows: a table with fewer rows is read fast whatever its layout;
	// no layout change is recommended for it.
	MinRows int64
	// MinQueries: a table read fewer times tells too little.
	MinQueries int64
	// PartitionShare: the part of a table's queries that must filter a
	// date or timestamp column by range for it to partition by it.
	PartitionShare float64
	// ClusterShare: the part of a table's queries that must filter a
	// column by equality for it to cluster (or sort) by it.
	ClusterShare float64
}

// DefaultOptions are the thresholds when the project sets none.
var DefaultOptions = Options{MinRows: 1_000_000, MinQueries: 5, PartitionShare: 0.5, ClusterShare: 0.2}

// Change is what a recommendation would do to a table.
type Change struct {
	// Kind is partition, cluster, sort, index or type (Types: the
	// columns' narrower types); advice is a change to
	// the queries, not the table (Columns: those no query names), which
	// nothing tries or applies.
	Kind string `json:"kind"`
	// Columns are the columns it is by, in order.
	Columns []string `json:"columns"`
	// Granularity of a partition: DAY, MONTH. On a sort, the first column
	// is sorted by its DAY, MONTH or YEAR (a DuckDB partition), then the
	// others, then the first itself.
	Granularity string `json:"granularity,omitempty"`
	// RequireFilter: queries must filter by the partition column.
	RequireFilter bool `json:"require_partition_filter,omitempty"`
	// Method of an index: btree or brin.
	Method string `json:"method,omitempty"`
	// Types of a type change: each column's new type, in Columns' order.
	Types []string `json:"types,omitempty"`
}

// String says the change as a person reads it.
func (c Change) String() string {
	s := c.Kind + " by " + strings.Join(c.Columns, ", ")
	switch {
	case c.Kind == "advice":
		s = "name the columns the queries use instead of SELECT *"
		if len(c.Columns) > 0 {
			s += " (never named: " + strings.Join(c.Columns, ", ") + ")"
		}
	case c.Kind == "preaggregate":
		s = "pre-aggregate the whole table into one row"
		if len(c.Columns) > 0 {
			first := c.Columns[0]
			if c.Granularity != "" { // of the first column: a timestamp's day
				first = "the " + strings.ToLower(c.Granularity) + " of " + first
			}
			s = "pre-aggregate by " + strings.Join(append([]string{first}, c.Columns[1:]...), ", ")
		}
		s += " (a materialised view or a summary table refreshed after each load)"
	case c.Kind == "type":
		parts := make([]string, len(c.Columns))
		for i, col := range c.Columns {
			parts[i] = col
			if i < len(c.Types) {
				parts[i] += " to " + c.Types[i]
			}
		}
		s = "narrow " + strings.Join(parts, ", ")
	case c.Kind == "sort" && c.Granularity != "" && len(c.Columns) > 0:
		s = "sort by the " + strings.ToLower(c.Granularity) + " of " + c.Columns[0]
		if len(c.Columns) > 1 {
			s += ", then " + strings.Join(c.Columns[1:], ", ")
		}
	case c.Granularity != "":
		s += " (" + strings.ToLower(c.Granularity) + ")"
	}
	if c.Method != "" {
		s = c.Method + " index on " + strings.Join(c.Columns, ", ")
	}
	if c.RequireFilter {
		s += ", partition filter required"
	}
	return s
}

// Advice reports whether the change is advice, not a layout change: a
// change to the queries (advice) or a pre-aggregate to build beside the
// table (preaggregate). Nothing tries, applies or reverts advice.
func (c Change) Advice() bool { return c.Kind == "advice" || c.Kind == "preaggregate" }

// Recommendation is a rule's proposal for a table, with its evidence,
// the benefit it expects and the risk.
type Recommendation struct {
	Rule     string   `json:"rule"`
	Table    string   `json:"table"`
	Change   Change   `json:"change"`
	Evidence []string `json:"evidence"`
	Benefit  string   `json:"benefit"`
	Risk     string   `json:"risk"`
}

// Rule reads a table's workload and recommends changes (none when the
// workload would not gain).
type Rule interface {
	Name() string
	Recommend(in Input) []Recommendation
}

var (
	rulesMu sync.Mutex
	rules   = map[string]Rule{}
)

// Register adds a rule; each rule's file registers it in init. A second
// rule of the same name panics (a programming error).
func Register(r Rule) {
	rulesMu.Lock()
	defer rulesMu.Unlock()
	if _, dup := rules[r.Name()]; dup {
		panic("optimize: rule " + r.Name() + " registered twice")
	}
	rules[r.Name()] = r
}

// Rules lists the registered rules by name.
func Rules() []Rule {
	rulesMu.Lock()
	defer rulesMu.Unlock()
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Recommend runs every rule on a table; nothing when the table is too
// small or too rarely read for any layout to matter.
func Recommend(in Input) []Recommendation {
	if in.Options == (Options{}) {
		in.Options = DefaultOptions
	}
	if in.Table.Rows < in.Options.MinRows || in.Usage.Queries < in.Options.MinQueries {
		return nil
	}
	var out []Recommendation
	for _, r := range Rules() {
		out = append(out, r.Recommend(in)...)
	}
	return out
}

// isTemporal reports whether an engine type is a date or a timestamp.
func isTemporal(typ string) bool {
	t := strings.ToUpper(typ)
	return strings.HasPrefix(t, "DATE") || strings.HasPrefix(t, "TIMESTAMP")
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// sameColumns reports whether a layout already has the columns in order.
func sameColumns(have, want []string) bool {
	return len(have) >= len(want) && slices.EqualFunc(have[:len(want)], want, strings.EqualFold)
}
