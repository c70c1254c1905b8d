package optimize

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/quality"
)

// preaggregateRule finds recurring queries that aggregate a whole table
// (a dashboard's totals, its breakdown by region) and recommends a
// pre-aggregate that would serve them: a materialised view, or a summary
// table rebuilt after each load, keyed by what the queries group by.
//
// A query shape is a candidate when it
//   - recurs: it ran at least Options.MinQueries times (and at least
//     twice);
//   - reads one table, with no join, in a read-only SELECT (or WITH ...
//     SELECT): a join's pre-aggregate is another design;
//   - reads the whole table: no filter at all, or only a range on one
//     date or timestamp column of the table ("the last 30 days") that the
//     table's layout does not prune by (no partition, cluster, sort or
//     index on it: when it has one, the queries read only their range,
//     and are no full scans). Such a rollup is served by a daily
//     pre-aggregate that keeps the date (a timestamp's day) as its first
//     key, and reads the days in range of it. An equality filter, or a
//     range on any other column, selects rows: partitioning or clustering
//     serves it, a pre-aggregate keyed by that column rarely pays;
//   - aggregates: it groups by columns of the table (a GROUP BY 1 or an
//     alias read as the column it names), or its SELECT list calls an
//     aggregate function with no GROUP BY (the whole table's totals). A
//     GROUP BY the table lacks a column for (an expression the analyser
//     cannot name) is left out: the key would be incomplete.
//
// Shapes with the same keys are one pre-aggregate (a summary of sales by
// region serves its count and its sum). At most maxPreaggregates per
// table, the one whose queries took the most time first.
//
// BigQuery answers COUNT(*) of a whole table from its metadata, billing
// nothing: such a query alone asks for no pre-aggregate there.
//
// It is advice: nothing tries or applies it (Change.Advice). shp cannot
// know how many distinct values the keys have: a key nearly as distinct
// as the rows (an id, a raw timestamp) makes a pre-aggregate as large as
// the table, which the risk says.
type preaggregateRule struct{}

func init() { Register(preaggregateRule{}) }

func (preaggregateRule) Name() string { return "preaggregate" }

// maxPreaggregates is how many pre-aggregates a table is recommended at
// most.
const maxPreaggregates = 3

// rollup is the shapes one pre-aggregate would serve.
type rollup struct {
	keys        []string // the table's own names, the range-filtered date first
	granularity string   // DAY when the first key is a timestamp filtered by range
	rangeCol    string   // the column filtered by range, if any
	shapes      []Shape
	time        time.Duration
}

func (preaggregateRule) Recommend(in Input) []Recommendation {
	minCalls := max(in.Options.MinQueries, 2)
	var rollups []*rollup
	byKey := map[string]*rollup{}
	for _, sh := range in.Usage.Top {
		if sh.Calls < minCalls {
			continue
		}
		r, ok := preaggregateKey(in, sh)
		if !ok {
			continue
		}
		key := strings.ToLower(strings.Join(r.keys, "\x00")) + "\x00" + r.granularity
		if have := byKey[key]; have != nil {
			have.shapes = append(have.shapes, sh)
			have.time += sh.Time
			have.rangeCol = cmp.Or(have.rangeCol, r.rangeCol)
			continue
		}
		r.shapes, r.time = []Shape{sh}, sh.Time
		byKey[key] = r
		rollups = append(rollups, r)
	}
	// The most time first (the order of Top, the slowest shape first, on
	// a tie).
	slices.SortStableFunc(rollups, func(a, b *rollup) int { return cmp.Compare(b.time, a.time) })
	rollups = rollups[:min(len(rollups), maxPreaggregates)]
	out := make([]Recommendation, 0, len(rollups))
	for _, r := range rollups {
		out = append(out, Recommendation{
			Rule: "preaggregate", Table: in.Table.Name,
			Change:   Change{Kind: "preaggregate", Columns: r.keys, Granularity: r.granularity},
			Evidence: preaggregateEvidence(in, r),
			Benefit:  preaggregateBenefit(in, r),
			Risk:     preaggregateRisk(in, r),
		})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// preaggregateKey reads a shape: whether a pre-aggregate would serve it,
// and its keys.
func preaggregateKey(in Input, sh Shape) (*rollup, bool) {
	q := sh.Query
	if len(q.Tables) != 1 || len(q.Joins) > 0 || !ReadOnly(sh.Example.Text) {
		return nil, false
	}
	r := &rollup{}
	for _, f := range q.Filters {
		typ := in.Table.ColumnType(f.Column)
		if f.Kind != Range || !isTemporal(typ) || r.rangeCol != "" && !strings.EqualFold(r.rangeCol, f.Column) {
			return nil, false
		}
		r.rangeCol = tableColumnName(in.Table, f.Column)
	}
	if r.rangeCol != "" && prunes(in.Table.Layout, r.rangeCol) {
		return nil, false // it reads only its range: no full scan
	}
	var groups []string
	for _, g := range q.GroupBy {
		if in.Table.ColumnType(g.Column) == "" {
			return nil, false // a key the table has no column for
		}
		if c := tableColumnName(in.Table, g.Column); !slices.Contains(groups, c) {
			groups = append(groups, c)
		}
	}
	if len(groups) == 0 && !q.Aggregates {
		return nil, false // it reads rows, not totals
	}
	if in.Warehouse != "postgres" && len(q.Filters) == 0 && len(groups) == 0 && countsOnly(q.Normalized) {
		// BigQuery counts a table's rows from its metadata, DuckDB from
		// its row groups' counts, reading no column; PostgreSQL scans.
		return nil, false
	}
	if r.rangeCol != "" {
		r.keys = append(r.keys, r.rangeCol)
		// A timestamp kept as it is would be nearly a key per row: its
		// day, unless the queries group by it (as they choose).
		if !slices.Contains(groups, r.rangeCol) && !strings.EqualFold(in.Table.ColumnType(r.rangeCol), "DATE") {
			r.granularity = "DAY"
		}
	}
	for _, g := range groups {
		if g != r.rangeCol {
			r.keys = append(r.keys, g)
		}
	}
	if r.keys == nil {
		r.keys = []string{}
	}
	return r, true
}

// prunes reports whether a layout lets a range on the column read less
// than the whole table: the table is partitioned, clustered or sorted by
// it, or an index starts with it.
func prunes(l Layout, col string) bool {
	if strings.EqualFold(l.PartitionBy, col) || slices.ContainsFunc(l.ClusterBy, func(c string) bool { return strings.EqualFold(c, col) }) ||
		slices.ContainsFunc(l.SortedBy, func(c string) bool { return strings.EqualFold(c, col) }) {
		return true
	}
	return hasIndex(l, []string{col})
}

// tableColumnName is a column's name as the table spells it.
func tableColumnName(t Table, name string) string {
	if c, ok := t.Column(name); ok {
		return c.Name
	}
	return name
}

// countsOnly reports whether a normalised query is SELECT count(*) (or
// count(1), count(?)), perhaps several, perhaps named, and no other item.
func countsOnly(normalized string) bool {
	t := tokenize(normalized)
	if len(t) < 2 || t[0].upper() != "SELECT" {
		return false
	}
	i := 1
	for {
		if i+3 >= len(t) || t[i].upper() != "COUNT" || t[i+1].text != "(" || t[i+3].text != ")" ||
			!(t[i+2].text == "*" || isLiteral(t[i+2])) {
			return false
		}
		i += 4
		if i < len(t) && t[i].upper() == "AS" {
			i++
		}
		if i < len(t) && t[i].isIdent() && t[i].upper() != "FROM" {
			i++
		}
		if i < len(t) && t[i].text == "," {
			i++
			continue
		}
		return i < len(t) && t[i].upper() == "FROM"
	}
}

func preaggregateEvidence(in Input, r *rollup) []string {
	u := in.Usage
	var ev []string
	for n, sh := range r.shapes {
		if n == maxPreaggregates {
			ev = append(ev, fmt.Sprintf("and %d more shapes with the same keys", len(r.shapes)-n))
			break
		}
		s := fmt.Sprintf("%d runs took %s", sh.Calls, sh.Time.Round(time.Millisecond))
		if u.Time > 0 {
			s += fmt.Sprintf(" (%s of the table's query time)", pct(float64(sh.Time)/float64(u.Time)))
		}
		if sh.RowsScanned > 0 {
			s += fmt.Sprintf(", reading %d rows", sh.RowsScanned)
		}
		ev = append(ev, s+": "+clipText(sh.Normalized, 160))
	}
	if r.rangeCol != "" {
		kept := r.rangeCol
		if r.granularity != "" {
			kept = "the " + strings.ToLower(r.granularity) + " of " + r.rangeCol
		}
		ev = append(ev, fmt.Sprintf("no filter but a range on %s (%s), which the pre-aggregate keeps as its first key (%s); the table has %d rows",
			r.rangeCol, in.Table.ColumnType(r.rangeCol), kept, in.Table.Rows))
	} else {
		ev = append(ev, fmt.Sprintf("they filter nothing: each run reads every one of the table's %d rows", in.Table.Rows))
	}
	return ev
}

// preaggregateSQL is the pre-aggregate's SELECT, as the warehouse writes
// it: its keys, then a placeholder for the queries' aggregates.
func preaggregateSQL(in Input, r *rollup) string {
	q := func(name string) string { return preaggregateName(name, in.Warehouse) }
	var keys []string
	for n, k := range r.keys {
		switch {
		case n == 0 && r.granularity != "" && in.Warehouse == "bigquery":
			keys = append(keys, "DATE("+q(k)+")")
		case n == 0 && r.granularity != "":
			keys = append(keys, "date_trunc('"+strings.ToLower(r.granularity)+"', "+q(k)+")")
		default:
			keys = append(keys, q(k))
		}
	}
	const aggs = "<the queries' aggregates>"
	if len(keys) == 0 {
		return "SELECT " + aggs + " FROM " + q(in.Table.Name)
	}
	return "SELECT " + strings.Join(keys, ", ") + ", " + aggs + " FROM " + q(in.Table.Name) + " GROUP BY " + strings.Join(keys, ", ")
}

// preaggregateName writes a name as SQL reads it: bare when it is in lower case
// (or any case, in BigQuery), quoted otherwise.
// reservedNames are keywords that no clause starts but a column named so
// must be quoted in (beside clauseWords).
var reservedNames = map[string]bool{"USER": true, "DEFAULT": true, "CHECK": true, "PRIMARY": true, "REFERENCES": true, "COLUMN": true,
	"CONSTRAINT": true, "FOREIGN": true, "UNIQUE": true, "TO": true, "DO": true, "ANALYSE": true, "ANALYZE": true, "GRANT": true,
	"WINDOW": true, "ARRAY": true, "COLLATE": true, "SYMMETRIC": true, "TIME": true}

func preaggregateName(name, warehouse string) string {
	// A keyword (order, group, date ...) is quoted too.
	plain := name != "" && !(name[0] >= '0' && name[0] <= '9') && !clauseWords[strings.ToUpper(name)] && !reservedNames[strings.ToUpper(name)]
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || warehouse == "bigquery" && (c >= 'A' && c <= 'Z' || c == '.' || c == '-')) {
			plain = false
		}
	}
	switch {
	case plain:
		return name
	case warehouse == "bigquery":
		return quality.BigQuery.Ident(name)
	}
	return quality.Postgres.Ident(name)
}

func preaggregateBenefit(in Input, r *rollup) string {
	sel := preaggregateSQL(in, r)
	switch in.Warehouse {
	case "bigquery":
		return "a materialised view (CREATE MATERIALIZED VIEW ... AS " + sel + ") keeps the totals: " +
			"BigQuery refreshes it incrementally from the rows appended since, and rewrites matching queries to read it, " +
			"so they read and bill its rows rather than the table's"
	case "postgres":
		s := "a materialised view (CREATE MATERIALIZED VIEW ... AS " + sel + ")"
		if len(r.keys) > 0 {
			s += " with a unique index on its keys, refreshed after each load by REFRESH MATERIALIZED VIEW CONCURRENTLY (readers are not blocked)"
		} else {
			s += ", refreshed after each load by REFRESH MATERIALIZED VIEW"
		}
		return s + ": the queries read its few rows instead of a sequential scan of the table; PostgreSQL does not rewrite queries to it, so they must name the view"
	case "duckdb":
		return "a summary table written by a second pipeline step after each load (CREATE OR REPLACE TABLE ... AS " + sel +
			"): the queries read its few rows instead of the table; DuckDB has no materialised views and rewrites no query to it, so they must name the summary table"
	}
	return "a summary table (" + sel + ") rebuilt after each load: the queries read its few rows instead of the table"
}

func preaggregateRisk(in Input, r *rollup) string {
	s := "it is advice, for the queries' owners: "
	if len(r.keys) > 0 {
		s += "shp cannot tell how many distinct values " + strings.Join(r.keys, ", ") + " have, and keys nearly as distinct as the rows " +
			"(an id, a raw timestamp) make a pre-aggregate as large as the table, gaining nothing; "
	}
	s += "it takes storage; it serves only the keys and aggregates it keeps (a COUNT(DISTINCT ...) cannot be summed from its groups')"
	switch in.Warehouse {
	case "bigquery":
		return s + "; its refresh is billed, and a load that updates or deletes rows (a merge, a replace) invalidates it until refreshed, " +
			"the queries reading the table meanwhile; only some aggregates (COUNT, SUM, AVG, MIN, MAX, ...) refresh incrementally"
	case "postgres":
		return s + "; it is stale between refreshes (rows loaded since are missing), and each refresh re-reads the whole table on every load"
	}
	return s + "; it is stale between refreshes (rows loaded since are missing), and each rebuild re-reads the whole table on every load"
}
