package optimize

import (
	"fmt"
	"strings"
)

// partitionRule partitions a table by the date or timestamp column most
// of its queries filter by range, so that they read only the partitions
// in range: BigQuery PARTITION BY (requiring a partition filter when
// every query has one), PostgreSQL declarative range partitions. DuckDB
// has no partitions: its table is sorted by the month of that column,
// then by the columns most filtered by equality, so that a month's rows
// stay together as a partition's would, clustered within it, and the
// zone maps skip what a filter on either rules out.
type partitionRule struct{}

func init() { Register(partitionRule{}) }

func (partitionRule) Name() string { return "partition" }

func (partitionRule) Recommend(in Input) []Recommendation {
	u := in.Usage
	var col string
	for _, c := range u.ranked(u.Range, in.Options.PartitionShare) {
		if isTemporal(in.Table.ColumnType(c)) {
			col = c
			break
		}
	}
	if col == "" || strings.EqualFold(in.Table.Layout.PartitionBy, col) {
		return nil
	}
	share := u.Share(u.Range[col])
	if in.Warehouse == "duckdb" {
		return zonedSort(in, col, share)
	}
	if in.Warehouse != "bigquery" && in.Warehouse != "postgres" {
		return nil
	}
	ch := Change{Kind: "partition", Columns: []string{col}, Granularity: "DAY"}
	risk := "queries without a filter on " + col + " read every partition; rewriting the table takes a copy of it"
	if in.Warehouse == "postgres" {
		ch.Granularity = "MONTH"
		risk += ", locks out loads while it is copied, and does not carry its indexes over; rows of a month after those it has " +
			"go to its default partition, which a range over such months reads whole"
	}
	// Every query of the table filters by the column: queries that do not
	// can be refused (BigQuery only).
	if in.Warehouse == "bigquery" && u.Range[col]+u.Equality[col] >= u.Queries {
		ch.RequireFilter = true
	}
	return []Recommendation{{
		Rule: "partition", Table: in.Table.Name, Change: ch,
		Evidence: []string{fmt.Sprintf("%s of %d queries (%d shapes) filter %s by range", pct(share), u.Queries, u.Shapes, col),
			fmt.Sprintf("%s is %s; the table has %d rows", col, in.Table.ColumnType(col), in.Table.Rows)},
		Benefit: "queries with a range on " + col + " read only the partitions in range",
		Risk:    risk,
	}}
}

// zonedSort is DuckDB's partition: the table sorted by the month of col,
// then by up to three columns most filtered by equality. A table already
// sorted (by a change applied before) is left as it is.
func zonedSort(in Input, col string, share float64) []Recommendation {
	if len(in.Table.Layout.SortedBy) > 0 {
		return nil
	}
	u := in.Usage
	cols := []string{col}
	evidence := []string{fmt.Sprintf("%s of %d queries (%d shapes) filter %s by range", pct(share), u.Queries, u.Shapes, col)}
	for _, c := range u.ranked(u.Equality, in.Options.ClusterShare) {
		if len(cols) == maxClusterColumns {
			break
		}
		if in.Table.ColumnType(c) != "" && !strings.EqualFold(c, col) {
			cols = append(cols, c)
			evidence = append(evidence, fmt.Sprintf("%s of %d queries filter %s by equality", pct(u.Share(u.Equality[c])), u.Queries, c))
		}
	}
	evidence = append(evidence, fmt.Sprintf("%s is %s; the table has %d rows", col, in.Table.ColumnType(col), in.Table.Rows))
	within := ""
	if len(cols) > 1 {
		within = ", sorted within each month by " + strings.Join(cols[1:], ", ")
	}
	return []Recommendation{{
		Rule: "partition", Table: in.Table.Name, Change: Change{Kind: "sort", Columns: cols, Granularity: "MONTH"},
		Evidence: evidence,
		Benefit: "each month's rows stay together as a partition's would" + within +
			": DuckDB's zone maps skip the months out of a range, and within a month the row groups an equality filter rules out",
		Risk: "the table is rewritten in that order (a copy of it for a while), losing the order it had; " +
			"a range narrower than a month reads its whole month; each batch committed later is sorted in itself, after the rows before it",
	}}
}
