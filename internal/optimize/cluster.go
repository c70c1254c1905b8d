package optimize

import (
	"fmt"
	"slices"
	"strings"
)

// clusterRule clusters a table by up to four columns its queries filter
// by equality, most filtered first: BigQuery CLUSTER BY; in DuckDB two
// candidates, the table sorted by them (with a date column most queries
// filter by range last), so that its zone maps skip the row groups a
// filter rules out, and an ART index on the first, which finds a few
// rows without reordering the table (its load order may be what its
// range filters rely on): the trial keeps what gains; in PostgreSQL a
// B-tree index on them (a BRIN index for a date column filtered by
// range).
type clusterRule struct{}

func init() { Register(clusterRule{}) }

func (clusterRule) Name() string { return "cluster" }

// maxClusterColumns is BigQuery's limit, and enough for a sort.
const maxClusterColumns = 4

func (clusterRule) Recommend(in Input) []Recommendation {
	u := in.Usage
	// Only the table's own columns: a name the history gives that the
	// table lacks (a column of another source the query read) is none.
	cols := slices.DeleteFunc(u.ranked(u.Equality, in.Options.ClusterShare), func(c string) bool { return in.Table.ColumnType(c) == "" })
	var rangeCol string
	for _, c := range u.ranked(u.Range, in.Options.PartitionShare) {
		if isTemporal(in.Table.ColumnType(c)) {
			rangeCol = c
			break
		}
	}
	evidence := func(cols []string) []string {
		var ev []string
		for _, c := range cols {
			if n := u.Equality[c]; n > 0 {
				ev = append(ev, fmt.Sprintf("%s of %d queries filter %s by equality", pct(u.Share(n)), u.Queries, c))
			} else {
				ev = append(ev, fmt.Sprintf("%s of %d queries filter %s by range", pct(u.Share(u.Range[c])), u.Queries, c))
			}
		}
		return append(ev, fmt.Sprintf("the table has %d rows", in.Table.Rows))
	}
	switch in.Warehouse {
	case "duckdb":
		var out []Recommendation
		// Sorted by the column already, its row groups skip as well as an
		// index would find.
		sorted := len(in.Table.Layout.SortedBy) > 0 && len(cols) > 0 && strings.EqualFold(in.Table.Layout.SortedBy[0], cols[0])
		if len(cols) > 0 && !hasIndex(in.Table.Layout, cols[:1]) && !sorted {
			c := cols[:1]
			out = append(out, Recommendation{Rule: "cluster", Table: in.Table.Name, Change: Change{Kind: "index", Columns: c, Method: "art"},
				Evidence: evidence(c),
				Benefit:  "an ART index finds the few rows a filter on " + c[0] + " selects without scanning the table, and keeps its order",
				Risk: "the index is kept in memory and maintained by every commit; it helps selective filters only; " +
					"DuckDB does not alter the type of an indexed table's column, so a load that widens a column fails until the index is reverted"})
		}
		sortCols := slices.Clone(cols)
		if rangeCol != "" && !slices.Contains(sortCols, rangeCol) {
			sortCols = append(sortCols, rangeCol)
		}
		sortCols = sortCols[:min(len(sortCols), maxClusterColumns)]
		if len(sortCols) > 0 && !sameColumns(in.Table.Layout.SortedBy, sortCols) {
			out = append(out, Recommendation{Rule: "cluster", Table: in.Table.Name, Change: Change{Kind: "sort", Columns: sortCols},
				Evidence: evidence(sortCols),
				Benefit:  "DuckDB's zone maps skip the row groups whose " + strings.Join(sortCols, ", ") + " cannot match a filter",
				Risk:     "the table is rewritten in that order (a copy of it for a while), losing the order it had; each batch committed later is sorted in itself, after the rows before it"})
		}
		return out
	case "bigquery":
		cols = cols[:min(len(cols), maxClusterColumns)]
		if len(cols) == 0 || sameColumns(in.Table.Layout.ClusterBy, cols) {
			return nil
		}
		return []Recommendation{{Rule: "cluster", Table: in.Table.Name, Change: Change{Kind: "cluster", Columns: cols},
			Evidence: evidence(cols),
			Benefit:  "BigQuery reads only the blocks whose " + strings.Join(cols, ", ") + " can match a filter, and bills less",
			Risk: "the change is to the table's metadata only: rows written from then on are clustered, the rows already there keep " +
				"their layout until they are written again (rewrite them, billed, to cluster them now); a dry run cannot show the gain, " +
				"so it is not tried on a copy: the queries' bytes billed after it tell"}}
	case "postgres":
		var out []Recommendation
		if len(cols) > 0 && !hasIndex(in.Table.Layout, cols[:1]) {
			c := cols[:min(len(cols), 2)]
			out = append(out, Recommendation{Rule: "cluster", Table: in.Table.Name, Change: Change{Kind: "index", Columns: c, Method: "btree"},
				Evidence: evidence(c),
				Benefit:  "an index scan instead of a sequential scan for selective filters on " + strings.Join(c, ", "),
				Risk:     "writes maintain the index; it takes disk"})
		}
		if rangeCol != "" && !hasIndex(in.Table.Layout, []string{rangeCol}) {
			out = append(out, Recommendation{Rule: "cluster", Table: in.Table.Name, Change: Change{Kind: "index", Columns: []string{rangeCol}, Method: "brin"},
				Evidence: evidence([]string{rangeCol}),
				Benefit:  "a BRIN index lets range scans on " + rangeCol + " skip the blocks out of range (rows arrive in its order)",
				Risk:     "a BRIN index helps only while rows stay in " + rangeCol + " order"})
		}
		return out
	}
	return nil
}

func hasIndex(l Layout, cols []string) bool {
	for _, ix := range l.Indexes {
		if sameColumns(ix, cols) {
			return true
		}
	}
	return false
}
